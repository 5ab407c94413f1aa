"""Strategy configuration: the seeded versions, the active settings, new versions (validation, history,
notification and live push), the API and the page — traders change, viewers only read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.notifications.models import Notification
from apps.strategy.engine.runner import REGISTRY, build_engine
from apps.strategy.models import StrategyConfig
from apps.strategy.selectors import active_settings, config_history
from apps.strategy.services import ConfigInvalid, config_toggle, config_update

from .factories import SignalFactory, StrategyConfigFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushes(monkeypatch) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "apps.core.live.publish_soon",
        lambda kind, data, group="live", key=None: sent.append((kind, data)),
    )
    return sent


@pytest.fixture
def as_trader(api_client, trader):
    api_client.force_authenticate(trader)
    return api_client


@pytest.fixture
def as_viewer(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


# ------------------------------------------------------------------ seed and reads
def test_the_migration_seeds_both_strategies_with_their_defaults() -> None:
    rows = {r.strategy: r for r in StrategyConfig.objects.all()}
    assert set(rows) == set(REGISTRY)
    for name, row in rows.items():
        assert row.version == 1
        assert row.params == REGISTRY[name].schema.to_json(REGISTRY[name].schema.defaults())
    assert rows["opening_breakout"].enabled and not rows["condition_entry"].enabled


def test_active_settings_are_typed_and_read_once_per_version(trader) -> None:
    settings = active_settings()
    assert list(settings) == ["opening_breakout", "condition_entry"]
    ob = settings["opening_breakout"]
    assert (ob.version, ob.enabled, ob.budget_krw) == (1, True, 10_000_000)
    assert ob.params["vwap_margin_pct"] == Decimal(0) and ob.params["top_n"] == 5
    assert settings["condition_entry"].params["condition_seqs"] == ()
    build_engine(settings)  # the engine accepts them as they are
    with CaptureQueriesContext(connection) as q:
        assert active_settings() == settings
    assert len(q) == 1  # only the active versions
    config_update("opening_breakout", {"params": {"top_n": 3}}, user=trader, reason="r")
    assert active_settings()["opening_breakout"].params["top_n"] == 3


def test_a_stored_set_the_code_no_longer_accepts_runs_switched_off() -> None:
    StrategyConfigFactory(version=2, params={"top_n": 1000})
    s = active_settings()["opening_breakout"]
    assert (s.version, s.enabled, s.params["top_n"]) == (2, False, 5)


# ------------------------------------------------------------------ services
def test_a_change_is_a_new_version_with_history_notification_and_push(
    trader, pushes, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        row, changed = config_update(
            "opening_breakout",
            {"params": {"top_n": "3", "vwap_margin_pct": "0.50"}, "budget_krw": 5_000_000},
            user=trader,
            reason="좁히기",
        )
    assert changed and row.version == 2 and row.author == trader and row.reason == "좁히기"
    assert row.params["top_n"] == 3 and row.params["vwap_margin_pct"] == "0.5"
    assert row.params["news_threshold"] == 70  # untouched fields keep their values
    assert StrategyConfig.objects.filter(strategy="opening_breakout").count() == 2
    [(kind, data)] = pushes
    assert kind == "strategy_config" and data["version"] == 2 and data["by"] == "trader1"
    assert {c["field"] for c in data["changes"]} == {"top_n", "vwap_margin_pct", "budget_krw"}
    note = Notification.objects.latest("id")
    assert "v2" in note.title and "top_n: 5 → 3" in note.body
    [(latest, changes), *_] = config_history("opening_breakout")
    assert latest == row and {(c.field, c.before, c.after) for c in changes} == {
        ("top_n", 5, 3),
        ("vwap_margin_pct", "0", "0.5"),
        ("budget_krw", 10_000_000, 5_000_000),
    }


def test_bad_values_name_every_field_and_write_nothing(trader, pushes) -> None:
    with pytest.raises(ConfigInvalid) as err:
        config_update(
            "opening_breakout",
            {
                "params": {"top_n": 0, "news_threshold": "x", "bogus": 1, "vwap_hold_bars": 2.5},
                "budget_krw": -1,
                "enabled": "yes",
            },
            user=trader,
            reason="",
        )
    assert set(err.value.errors) == {
        "top_n",
        "news_threshold",
        "bogus",
        "vwap_hold_bars",
        "budget_krw",
        "enabled",
        "reason",
    }
    assert StrategyConfig.objects.count() == 2 and pushes == []
    with pytest.raises(ConfigInvalid) as err:
        config_update("nope", {}, user=trader, reason="x")
    assert set(err.value.errors) == {"strategy"}
    with pytest.raises(ConfigInvalid) as err:  # across fields: the window must end after the range
        config_update(
            "opening_breakout",
            {"params": {"opening_range_minutes": 30, "entry_end_minutes": 20}},
            user=trader,
            reason="x",
        )
    assert set(err.value.errors) == {"entry_end_minutes"}


def test_no_change_writes_no_version(trader, pushes) -> None:
    row, changed = config_update(
        "opening_breakout",
        {"params": {"top_n": 5, "vwap_margin_pct": "0.00"}},
        user=trader,
        reason="x",
    )
    assert not changed and row.version == 1 and pushes == []


def test_toggle(trader, pushes, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        row, changed = config_toggle("condition_entry", True, user=trader)
    assert changed and row.enabled and row.version == 2 and row.reason == "전략 켜기"
    assert row.params == StrategyConfig.objects.get(strategy="condition_entry", version=1).params
    assert pushes[0][1]["enabled"] is True
    with pytest.raises(ConfigInvalid) as err:
        config_toggle("condition_entry", "on", user=trader)
    assert set(err.value.errors) == {"enabled"}


# ------------------------------------------------------------------ API
def test_anyone_logged_in_reads_the_config(as_viewer) -> None:
    body = as_viewer.get("/api/v1/strategy/config").json()
    names = [s["strategy"] for s in body["strategies"]]
    assert names == ["opening_breakout", "condition_entry"]
    ob = body["strategies"][0]
    assert ob["version"] == 1 and ob["enabled"] and ob["params"]["top_n"] == 5
    top_n = next(p for p in ob["schema"] if p["name"] == "top_n")
    assert (top_n["type"], top_n["default"], top_n["min"], top_n["max"]) == ("int", 5, 1, 100)
    history = as_viewer.get("/api/v1/strategy/config/history?strategy=opening_breakout").json()
    assert [h["version"] for h in history] == [1]
    assert as_viewer.get("/api/v1/strategy/config/history?strategy=x").status_code == 400


def test_anonymous_gets_nothing(api_client) -> None:
    assert api_client.get("/api/v1/strategy/config").status_code in (401, 403)


def test_viewer_cannot_change_anything(as_viewer) -> None:
    put = as_viewer.put(
        "/api/v1/strategy/config",
        {"strategy": "opening_breakout", "params": {"top_n": 3}, "reason": "x"},
        format="json",
    )
    assert put.status_code == 403
    post = as_viewer.post(
        "/api/v1/strategy/toggle", {"strategy": "opening_breakout", "enabled": False}, format="json"
    )
    assert post.status_code == 403
    assert StrategyConfig.objects.count() == 2


def test_trader_puts_a_new_version_and_toggles(as_trader) -> None:
    put = as_trader.put(
        "/api/v1/strategy/config",
        {"strategy": "opening_breakout", "params": {"news_threshold": 80}, "reason": "stricter"},
        format="json",
    )
    assert put.status_code == 200, put.content
    body = put.json()
    assert body["version"] == 2 and body["changed"] and body["params"]["news_threshold"] == 80
    assert body["author"] == "trader1"
    toggle = as_trader.post(
        "/api/v1/strategy/toggle", {"strategy": "opening_breakout", "enabled": False}, format="json"
    )
    assert toggle.status_code == 200 and toggle.json()["enabled"] is False
    assert toggle.json()["version"] == 3
    history = as_trader.get("/api/v1/strategy/config/history").json()
    assert history[0]["changes"] == [{"field": "enabled", "before": True, "after": False}]


def test_a_bad_put_is_a_400_naming_the_fields(as_trader) -> None:
    put = as_trader.put(
        "/api/v1/strategy/config",
        {"strategy": "opening_breakout", "params": {"top_n": 101}, "budget_krw": "lots"},
        format="json",
    )
    assert put.status_code == 400
    assert set(put.json()["errors"]) == {"top_n", "budget_krw", "reason"}
    bad = as_trader.put("/api/v1/strategy/config", {"strategy": "x", "reason": "r"}, format="json")
    assert bad.status_code == 400 and "strategy" in bad.json()["errors"]
    extra = as_trader.post(
        "/api/v1/strategy/toggle",
        {"strategy": "opening_breakout", "enabled": True, "x": 1},
        format="json",
    )
    assert extra.status_code == 400 and set(extra.json()["errors"]) == {"x"}
    assert StrategyConfig.objects.count() == 2


# ------------------------------------------------------------------ page
def test_the_page_shows_parameters_history_and_signals(trader_client, trader) -> None:
    SignalFactory()
    config_update("opening_breakout", {"params": {"top_n": 3}}, user=trader, reason="좁히기")
    page = trader_client.get("/strategy/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="strategy-opening_breakout"' in html and 'id="strategy-condition_entry"' in html
    assert "config-form" in html and 'data-action="toggle"' in html
    assert "장초 고가 10,100 돌파" in html and "news_score=85" in html
    assert "<code>top_n</code>: 5 → <b>3</b>" in html
    assert 'href="/strategy/"' in html  # the nav link


def test_viewer_reads_the_page_but_cannot_post(viewer_client) -> None:
    html = viewer_client.get("/strategy/").content.decode()
    assert "config-form" not in html and 'data-action="toggle"' not in html
    post = viewer_client.post(
        "/strategy/opening_breakout/config", {"p_top_n": "3", "budget_krw": "1", "reason": "x"}
    )
    assert post.status_code == 403
    assert (
        viewer_client.post("/strategy/opening_breakout/toggle", {"enabled": "0"}).status_code == 403
    )
    assert StrategyConfig.objects.count() == 2


def _form(**overrides: str) -> dict[str, str]:
    schema = REGISTRY["opening_breakout"].schema
    values = schema.to_json(schema.defaults())
    data = {
        f"p_{k}": ("true" if v is True else "false" if v is False else "" if v is None else str(v))
        for k, v in values.items()
    }
    data.update(budget_krw="10000000", reason="page")
    data.update(overrides)
    return data


def test_trader_saves_the_form_and_toggles_on_the_page(trader_client) -> None:
    saved = trader_client.post(
        "/strategy/opening_breakout/config", _form(p_top_n="7", p_max_extension_pct="")
    )
    assert saved.status_code == 302
    row = StrategyConfig.objects.get(strategy="opening_breakout", version=2)
    assert row.params["top_n"] == 7 and row.params["max_extension_pct"] is None
    trader_client.post("/strategy/condition_entry/toggle", {"enabled": "1", "reason": "demo"})
    row = StrategyConfig.objects.get(strategy="condition_entry", version=2)
    assert row.enabled and row.reason == "demo"
    assert trader_client.post("/strategy/nope/toggle", {"enabled": "1"}).status_code == 404


def test_a_bad_form_shows_the_error_at_its_field_and_saves_nothing(trader_client) -> None:
    page = trader_client.post(
        "/strategy/opening_breakout/config", _form(p_top_n="0", budget_krw="x", reason="")
    )
    assert page.status_code == 400
    html = page.content.decode()
    for field in ("top_n", "budget_krw", "reason"):
        assert f'data-error="{field}"' in html
    assert 'value="0"' in html  # the posted value stays in the form
    assert StrategyConfig.objects.count() == 2


def test_the_page_in_english(trader_client, settings) -> None:
    trader_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = trader_client.get("/strategy/").content.decode()
    assert "Opening leader breakout" in html and "Trading-value rank ≤ N" in html
    assert "Recent signals" in html and "Change history" in html


def test_the_page_queries_do_not_grow_with_rows(trader_client, trader) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as q:
            assert trader_client.get("/strategy/").status_code == 200
        return len(q)

    SignalFactory()
    config_update("opening_breakout", {"params": {"top_n": 2}}, user=trader, reason="r")
    before = count()
    for i in range(20):
        SignalFactory(code=f"{i:06d}")
        config_update("opening_breakout", {"params": {"top_n": 3 + i}}, user=trader, reason=f"r{i}")
        config_toggle("condition_entry", i % 2 == 0, user=trader)
    assert count() == before
