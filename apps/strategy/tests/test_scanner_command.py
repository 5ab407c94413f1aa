"""`manage.py scan`: one manual run now, its table printed."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.broker.backends import get_broker, reset_broker
from apps.broker.backends.memory import MemoryBroker
from apps.strategy import scanner
from apps.strategy.scanner_models import ScanSnapshot
from apps.strategy.tests.test_scanner_service import broker_with_rankings
from krx import KST

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory(settings, monkeypatch):
    settings.BROKER_BACKEND = "memory"
    reset_broker()
    import apps.news.scores

    # No news: the news app is tested on its own.
    monkeypatch.setattr(apps.news.scores, "get_score", lambda code: None)
    monkeypatch.setattr(scanner, "publish_soon", lambda *a, **k: None)
    monkeypatch.setattr(scanner, "exchange_now", lambda: dt.datetime(2025, 2, 4, 14, 0, tzinfo=KST))
    broker = get_broker()
    assert isinstance(broker, MemoryBroker)
    yield broker
    reset_broker()


def test_scan_prints_the_table(memory) -> None:
    memory.rankings_data = broker_with_rankings().rankings_data
    out = StringIO()
    call_command("scan", "--top", "3", stdout=out)
    text = out.getvalue()
    snapshot = ScanSnapshot.objects.get()
    assert snapshot.trigger == "manual" and snapshot.slot is None and snapshot.row_count == 3
    assert f"scan {snapshot.pk} at 2025-02-04T05:00:00+00:00" in text
    assert "  1 000001  가나전자" in text and "9,000,000,000" in text


def test_scan_fails_loudly_without_rankings(memory) -> None:
    from apps.broker.contract import BrokerUnavailable

    for _ in range(3):
        memory.fail_next(BrokerUnavailable("down"))
    with pytest.raises(CommandError, match="no ranking answered"):
        call_command("scan", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="--top"):
        call_command("scan", "--top", "0")
