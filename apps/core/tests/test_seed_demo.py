"""seed_demo with the bundled simulator: its condition searches (read through the broker backends, the
simulator need not run) become switched-on conditions, the first two realtime."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.broker.backends import simulator_conditions
from apps.conditions.models import Condition

pytestmark = pytest.mark.django_db


def test_seed_demo_switches_on_the_simulators_conditions(settings) -> None:
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_ACCOUNT = "5000000010"
    settings.KIWOOM_SIM_CONDITIONS_FILE = ""
    defined = simulator_conditions()
    assert defined and defined[0].seq == "0" and defined[0].name
    out = StringIO()
    call_command("seed_demo", stdout=out)
    seeded = list(Condition.objects.filter(account="5000000010").order_by("seq"))
    assert [(c.seq, c.name) for c in seeded] == [(d.seq, d.name) for d in defined]
    assert all(c.active for c in seeded)
    assert [c.realtime for c in seeded[:3]] == [True, True, False]
    assert f"demo: {len(defined)} simulator condition searches switched on" in out.getvalue()


def test_a_bad_condition_file_is_reported_not_raised(settings, tmp_path) -> None:
    bad = tmp_path / "conditions.yaml"
    bad.write_text("conditions: [", encoding="utf-8")
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_ACCOUNT = "5000000010"
    settings.KIWOOM_SIM_CONDITIONS_FILE = str(bad)
    err = StringIO()
    call_command("seed_demo", stdout=StringIO(), stderr=err)
    assert "demo conditions not seeded" in err.getvalue()
    assert not Condition.objects.exists()


def test_with_the_simulator_the_opening_breakout_gets_the_demo_news_threshold(settings) -> None:
    """The bundled news scores ~40–70: version 2 lowers the threshold (70 → 50) once; a trader's own
    version is never overwritten, and without the simulator nothing changes."""
    from apps.core.management.commands.seed_demo import DEMO_BREAKOUT_PARAMS
    from apps.strategy.models import StrategyConfig
    from apps.strategy.services import config_update

    settings.KIWOOM_USE_SIMULATOR = False
    call_command("seed_demo", stdout=StringIO())
    assert StrategyConfig.objects.filter(strategy="opening_breakout").count() == 1

    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_ACCOUNT = "5000000010"
    settings.KIWOOM_SIM_CONDITIONS_FILE = ""
    out = StringIO()
    call_command("seed_demo", stdout=out)
    active = StrategyConfig.objects.filter(strategy="opening_breakout").order_by("-version")[0]
    assert active.version == 2 and active.author is None and active.enabled
    assert active.params["news_threshold"] == 50 == DEMO_BREAKOUT_PARAMS["news_threshold"]
    assert active.params["top_n"] == 10
    assert "demo: opening_breakout v2" in out.getvalue()
    call_command("seed_demo", stdout=StringIO())  # idempotent
    assert StrategyConfig.objects.filter(strategy="opening_breakout").count() == 2

    config_update("opening_breakout", {"params": {"news_threshold": 65}}, user=None, reason="t")
    call_command("seed_demo", stdout=StringIO())
    active = StrategyConfig.objects.filter(strategy="opening_breakout").order_by("-version")[0]
    assert active.version == 3 and active.params["news_threshold"] == 65
