"""One scanner run on the in-memory broker: stored with its rows, the risk configuration's exclusions
dropped, news scores (present, none, unavailable), a failed ranking, the once-per-slot row, the
publications after the commit, and the selectors the engine reads."""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
from decimal import Decimal

import pytest
import redis
from django.conf import settings

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import BrokerUnavailable, RankingKind
from apps.market.tests.factories import InstrumentFactory
from apps.news.contract import NewsScore, NewsUnavailable
from apps.strategy import scanner
from apps.strategy.engine.events import Candidate, ScanEvent
from apps.strategy.scanner_models import NewsStatus, ScanRow, ScanSnapshot, ScanTrigger
from apps.strategy.scanner_selectors import latest_candidates, scan_event, snapshot_at
from apps.strategy.tests.test_scanner_merge import row
from krx import KST

pytestmark = pytest.mark.django_db

AT = dt.datetime(2025, 2, 4, 9, 5, 12, tzinfo=KST)
SLOT = dt.datetime(2025, 2, 4, 9, 5, tzinfo=KST)


def broker_with_rankings() -> MemoryBroker:
    broker = MemoryBroker()
    broker.rankings_data = {
        RankingKind.TRADING_VALUE: [
            row(1, "000001", value=9_000_000_000, name="가나전자"),
            row(2, "A000002", value=7_000_000_000, name="관리종목"),  # a prefix left on
            row(3, "000003", value=5_000_000_000, name="다라스팩1호"),
            row(4, "000004", value=3_000_000_000, name="마바화학"),
        ],
        RankingKind.VOLUME_SURGE: [
            row(1, "000004", surge="200.00"),
            row(2, "000005", price=1_000, volume=2_000_000),
        ],
        RankingKind.CHANGE_RATE: [row(1, "000005", rate="29.95")],
    }
    return broker


@pytest.fixture
def no_news_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """No news for any stock (the news service answers "none")."""
    import apps.news.scores

    monkeypatch.setattr(apps.news.scores, "get_score", lambda code: None)


@pytest.fixture
def news_scores(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A stand-in for `apps.news.scores`: code → score, None (no news) or an exception to raise."""
    table: dict[str, object] = {}

    def get_score(code: str) -> NewsScore | None:
        found = table.get(code)
        if isinstance(found, Exception):
            raise found
        if found is None:
            return None
        return NewsScore(code, int(found), "헤드라인", "테스트", AT)  # type: ignore[call-overload]

    module = types.ModuleType("apps.news.scores")
    module.get_score = get_score  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "apps.news.scores", module)
    return table


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(scanner, "publish_soon", lambda t, d, **kw: sent.append((t, d)))
    return sent


def test_a_run_is_stored_ranked_with_exclusions_and_news(
    news_scores, pushes, django_capture_on_commit_callbacks
) -> None:
    InstrumentFactory(code="000002", name="관리종목", is_administrative=True)
    InstrumentFactory(
        code="000003", name="다라스팩1호"
    )  # SPAC by name (excluded kinds: not by default)
    InstrumentFactory(code="000005", name="사아", is_halted=True)
    news_scores.update({"000001": 85, "000004": 40})
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = scanner.scan_run(broker_with_rankings(), at=AT, slot=SLOT)
    assert snapshot is not None
    assert (snapshot.day, snapshot.slot, snapshot.trigger) == (AT.date(), SLOT, "schedule")
    assert snapshot.sources == ["trading_value", "volume_surge", "change_rate"]
    assert snapshot.news == NewsStatus.OK and snapshot.error == ""
    assert snapshot.excluded == [
        {"code": "000002", "name": "관리종목", "kinds": ["administrative"]},
        {"code": "000005", "name": "종목000005", "kinds": ["halted"]},
    ]
    rows = list(ScanRow.objects.filter(snapshot=snapshot).order_by("rank"))
    assert [(r.rank, r.code, r.news_score) for r in rows] == [
        (1, "000001", 85),
        (2, "000003", None),
        (3, "000004", 40),
    ]
    assert rows[2].volume_ratio == Decimal("3.00") and rows[2].surge_rank == 1
    assert snapshot.row_count == 3
    ((kind, data),) = pushes
    assert kind == "scanner_update" and data["snapshot_id"] == snapshot.pk
    assert [item["code"] for item in data["items"]] == ["000001", "000003", "000004"]
    assert data["items"][2]["volume_ratio"] == "3.00" and data["at_kst"] == "09:05"


def test_the_configured_exclusions_apply(news_scores, pushes) -> None:
    from apps.risk.services.config import config_update

    InstrumentFactory(code="000003", name="다라스팩1호")
    config_update({"excluded_kinds": ["spac"]}, user=None, reason="스팩 제외")
    snapshot = scanner.scan_run(broker_with_rankings(), at=AT)
    assert snapshot is not None
    codes = list(snapshot.rows.values_list("code", flat=True))
    assert "000003" not in codes and "000002" in codes  # administrative is no longer excluded
    assert snapshot.excluded == [{"code": "000003", "name": "다라스팩1호", "kinds": ["spac"]}]


def test_news_unavailable_stores_no_scores_and_says_so(news_scores, pushes) -> None:
    news_scores.update({"000001": 90, "000002": NewsUnavailable("down")})
    snapshot = scanner.scan_run(broker_with_rankings(), at=AT)
    assert snapshot is not None and snapshot.news == NewsStatus.UNAVAILABLE
    scores = dict(snapshot.rows.values_list("code", "news_score"))
    assert scores["000001"] == 90 and {scores[c] for c in ("000002", "000003", "000004")} == {None}


def test_without_any_news_the_rows_have_no_score(no_news_app, pushes) -> None:
    snapshot = scanner.scan_run(broker_with_rankings(), at=AT)
    assert snapshot is not None
    assert set(snapshot.rows.values_list("news_score", flat=True)) == {None}


def test_a_failed_ranking_is_recorded_and_the_others_still_rank(no_news_app, pushes) -> None:
    broker = broker_with_rankings()
    broker.fail_next(BrokerUnavailable("ka10032 down"))
    snapshot = scanner.scan_run(broker, at=AT)
    assert snapshot is not None
    assert snapshot.sources == ["volume_surge", "change_rate"]
    assert "trading_value: BrokerUnavailable" in snapshot.error
    assert list(snapshot.rows.values_list("code", "value_krw", "value_estimated")) == [
        ("000005", 1_000 * 2_000_000, True),
        ("000004", 10_000 * 1_000, True),
    ]


def test_a_slot_is_stored_once(no_news_app, pushes, django_capture_on_commit_callbacks) -> None:
    assert scanner.scan_run(broker_with_rankings(), at=AT, slot=SLOT) is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert scanner.scan_run(broker_with_rankings(), at=AT, slot=SLOT) is None
    assert ScanSnapshot.objects.count() == 1 and pushes == []
    manual = scanner.scan_run(broker_with_rankings(), at=AT, trigger=ScanTrigger.MANUAL)
    assert manual is not None and manual.slot is None


def test_published_on_the_redis_channel_after_the_commit(
    no_news_app, pushes, django_capture_on_commit_callbacks
) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    pubsub.subscribe(scanner.scan_channel())
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            snapshot = scanner.scan_run(broker_with_rankings(), at=AT)
        assert pubsub.get_message(timeout=0.2) is None and pushes == []  # nothing before the commit
        for callback in callbacks:
            callback()
        message = pubsub.get_message(timeout=5)
        assert message is not None and message["channel"].decode() == scanner.scan_channel()
        assert snapshot is not None
        assert json.loads(message["data"]) == {
            "snapshot_id": snapshot.pk,
            "at": AT.astimezone(dt.UTC).isoformat(),
        }
        assert scanner.scan_channel() == f"{settings.REDIS_KEY_PREFIX}strategy:scan"
    finally:
        pubsub.close()
        client.close()


def test_selectors_give_the_engine_its_candidates(no_news_app, pushes) -> None:
    first = scanner.scan_run(broker_with_rankings(), at=AT)
    later = scanner.scan_run(broker_with_rankings(), at=AT + dt.timedelta(minutes=1), top_n=2)
    assert first is not None and later is not None
    assert latest_candidates(AT.date()) == [
        Candidate("000001", "가나전자", 1, 9_000_000_000, None, Decimal("1.00"), 10_000, None),
        Candidate("000002", "관리종목", 2, 7_000_000_000, None, Decimal("1.00"), 10_000, None),
    ]
    assert latest_candidates(dt.date(2025, 2, 5)) == []
    assert snapshot_at(at=AT + dt.timedelta(seconds=30)) == first
    event = scan_event(first.pk)
    assert isinstance(event, ScanEvent) and event.snapshot_id == first.pk
    assert len(event.candidates) == first.row_count and event.at == AT
    assert scan_event(first.pk + 1000) is None


def test_the_engine_feed_reads_the_scanners_candidates(no_news_app, pushes, monkeypatch) -> None:
    from apps.strategy import feeds

    assert scanner.scan_run(broker_with_rankings(), at=AT) is not None
    monkeypatch.setattr("apps.broker.backends.exchange_now", lambda: AT)
    candidates = feeds.latest_candidates()
    assert [c.code for c in candidates][:2] == ["000001", "000002"]
    assert feeds.scan_channel() == scanner.scan_channel()
    meta = feeds.latest_scan_meta()
    assert meta is not None and meta[1] == AT
