"""The conditions API: roles, switches, "search now" on the memory broker, results, events and list sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.broker import backends
from apps.broker.contract import BrokerUnavailable
from apps.conditions import services
from apps.conditions.models import (
    Condition,
    ConditionEvent,
    ConditionMember,
    ConditionRun,
    EventKind,
    Source,
)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/conditions"


def make_condition(seq: str = "001", name: str = "급등주", **kwargs) -> Condition:
    kwargs.setdefault("active", True)
    return Condition.objects.create(seq=seq, name=name, **kwargs)


def make_event(cond: Condition, code: str, at: datetime, kind: str = EventKind.ENTRY, **kw):
    return ConditionEvent.objects.create(
        condition=cond,
        code=code,
        name=kw.pop("name", f"종목{code}"),
        kind=kind,
        at=at,
        recorded_at=at,
        price=kw.pop("price", 10_000),
        change_rate=kw.pop("change_rate", Decimal("1.50")),
        source=kw.pop("source", Source.POLL),
    )


@pytest.fixture
def memory_broker(settings):
    settings.BROKER_BACKEND = "memory"
    backends.reset_broker()
    yield backends.get_broker()
    backends.reset_broker()


@pytest.fixture
def as_trader(api_client, trader):
    api_client.force_authenticate(trader)
    return api_client


@pytest.fixture
def as_viewer(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


# --- roles -----------------------------------------------------------------------------------------------
def test_anonymous_is_refused(api_client):
    cond = make_condition()
    for url in (BASE, f"{BASE}/{cond.pk}", f"{BASE}/{cond.pk}/results", f"{BASE}/events"):
        assert api_client.get(url).status_code in (401, 403), url
    assert api_client.patch(f"{BASE}/{cond.pk}", {"active": False}, format="json").status_code in (
        401,
        403,
    )


def test_viewer_reads_but_cannot_write(as_viewer, memory_broker):
    cond = make_condition(last_error="timeout")
    body = as_viewer.get(BASE).json()
    assert body == [
        {
            "id": cond.pk,
            "seq": "001",
            "name": "급등주",
            "account": "",
            "active": True,
            "realtime": False,
            "notify_entry": True,
            "notify_exit": False,
            "alert_hold_seconds": 0,
            "listed": True,
            "member_count": 0,
            "last_checked_at": None,
            "last_error": "timeout",
        }
    ]
    assert as_viewer.get(f"{BASE}/{cond.pk}").json()["name"] == "급등주"
    assert as_viewer.get(f"{BASE}/{cond.pk}/results").status_code == 200
    assert as_viewer.patch(f"{BASE}/{cond.pk}", {"active": False}, format="json").status_code == 403
    assert as_viewer.post(f"{BASE}/{cond.pk}/search").status_code == 403
    assert as_viewer.post(f"{BASE}/sync").status_code == 403
    cond.refresh_from_db()
    assert cond.active is True
    assert memory_broker.calls == []


def test_token_auth_reads(api_client, viewer):
    from apps.core.security import issue_token

    make_condition()
    token = issue_token(viewer)  # stored hashed: the raw token is only returned
    response = api_client.get(BASE, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert len(response.json()) == 1


def test_unknown_condition_is_404(as_trader):
    assert as_trader.get(f"{BASE}/999999").status_code == 404
    assert as_trader.patch(f"{BASE}/999999", {"active": True}, format="json").status_code == 404


# --- switches --------------------------------------------------------------------------------------------
def test_trader_toggles(as_trader):
    cond = make_condition(active=False)
    response = as_trader.patch(f"{BASE}/{cond.pk}", {"notify_exit": True}, format="json")
    assert response.status_code == 200
    assert response.json()["notify_exit"] is True
    # realtime needs the poll as a safety net: switching it on switches active on too
    response = as_trader.patch(f"{BASE}/{cond.pk}", {"realtime": True}, format="json")
    assert response.status_code == 200
    assert response.json()["active"] is True and response.json()["realtime"] is True
    cond.refresh_from_db()
    assert (cond.active, cond.realtime, cond.notify_exit) == (True, True, True)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "바꾼 이름"}, "name"),
        ({"active": False, "member_count": 5}, "member_count"),
        ({"active": "yes"}, "active"),
        ({"notify_entry": None}, "notify_entry"),
        ({}, "detail"),
    ],
)
def test_bad_toggle_is_400_and_nothing_saved(as_trader, body, field):
    cond = make_condition()
    response = as_trader.patch(f"{BASE}/{cond.pk}", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    cond.refresh_from_db()
    assert (cond.name, cond.active, cond.member_count, cond.notify_entry) == (
        "급등주",
        True,
        0,
        True,
    )


def test_eleventh_realtime_condition_is_refused(as_trader, settings):
    settings.CONDITIONS_MAX_REALTIME = 10
    for i in range(10):
        make_condition(seq=f"{i:03d}", name=f"조건{i}", realtime=True)
    cond = make_condition(seq="010", name="열한번째", active=False)
    response = as_trader.patch(
        f"{BASE}/{cond.pk}", {"realtime": True, "active": True}, format="json"
    )
    assert response.status_code == 400
    assert "10" in response.json()["detail"]
    cond.refresh_from_db()
    assert (cond.realtime, cond.active) == (False, False)


# --- search now ------------------------------------------------------------------------------------------
def test_search_now_records_baseline_then_entries_and_exits(as_trader, memory_broker):
    cond = make_condition(seq="007", name="돌파")
    memory_broker.add_condition("007", "돌파", ["005930", "000660"])
    memory_broker.set_quote("005930", 71_000, "삼성전자")
    response = as_trader.post(f"{BASE}/{cond.pk}/search")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["result"]["baseline"] is True
    assert body["result"]["member_count"] == 2
    assert body["events"] == []
    assert [m["code"] for m in body["members"]] == ["000660", "005930"]
    assert body["last_run"]["source"] == Source.MANUAL
    assert body["condition"]["member_count"] == 2

    memory_broker.add_condition("007", "돌파", ["005930", "035720"])
    body = as_trader.post(f"{BASE}/{cond.pk}/search").json()
    assert body["result"]["baseline"] is False
    assert (body["result"]["entries"], body["result"]["exits"]) == (1, 1)
    assert {(e["code"], e["kind"], e["source"]) for e in body["events"]} == {
        ("035720", "entry", "manual"),
        ("000660", "exit", "manual"),
    }
    assert [m["code"] for m in body["members"]] == ["005930", "035720"]
    assert ConditionRun.objects.filter(condition=cond, source=Source.MANUAL).count() == 2
    assert ("condition_search", ("007",)) in memory_broker.calls


def test_search_now_broker_failure_is_502_and_recorded(as_trader, memory_broker):
    cond = make_condition(seq="007")
    memory_broker.add_condition("007", "돌파", ["005930"])
    memory_broker.fail_next(BrokerUnavailable("websocket closed"))
    response = as_trader.post(f"{BASE}/{cond.pk}/search")
    assert response.status_code == 502
    body = response.json()
    assert "websocket closed" in body["detail"]
    assert body["result"]["error"] == "websocket closed"
    assert body["last_run"]["error"] == "websocket closed"
    assert body["last_run"]["ok"] is False
    cond.refresh_from_db()
    assert cond.last_error == "websocket closed"
    assert not ConditionMember.objects.filter(condition=cond).exists()


def test_search_now_refuses_unlisted_condition(as_trader, memory_broker):
    cond = make_condition(listed=False)
    response = as_trader.post(f"{BASE}/{cond.pk}/search")
    assert response.status_code == 400
    assert memory_broker.calls == []


@pytest.mark.django_db(transaction=True)
def test_search_now_calls_the_broker_outside_a_transaction(api_client, trader, memory_broker):
    """Even with ATOMIC_REQUESTS on, the view is non-atomic: the broker is never called in a transaction."""
    api_client.force_authenticate(trader)
    cond = make_condition(seq="007")
    memory_broker.add_condition("007", "돌파", ["005930"])
    seen: list[bool] = []
    original = memory_broker.condition_search

    def spy(seq: str):
        seen.append(connection.in_atomic_block)
        return original(seq)

    memory_broker.condition_search = spy
    old = connection.settings_dict.get("ATOMIC_REQUESTS", False)
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    try:
        assert api_client.post(f"{BASE}/{cond.pk}/search").status_code == 200
    finally:
        connection.settings_dict["ATOMIC_REQUESTS"] = old
    assert seen == [False]


# --- results ---------------------------------------------------------------------------------------------
def test_results_lists_current_members_and_last_run(as_viewer):
    cond = make_condition(seq="003")
    now = timezone.now()
    services.snapshot_apply(
        cond.pk,
        [
            services.Observation("005930", "삼성전자", 71_000, Decimal("2.15"), 1_234_567),
            services.Observation("000660", "SK하이닉스"),
        ],
        source=Source.POLL,
        observed_at=now,
        at=now,
    )
    services.realtime_apply(
        cond.pk, [services.RealtimeChange("000660", entered=False, at=timezone.now())]
    )
    body = as_viewer.get(f"{BASE}/{cond.pk}/results").json()
    assert body["condition"]["id"] == cond.pk
    assert body["members"] == [
        {
            "code": "005930",
            "name": "삼성전자",
            "price": 71_000,
            "change": None,
            "change_rate": "2.15",
            "volume": 1_234_567,
            "entered_at": body["members"][0]["entered_at"],
        }
    ]
    assert body["members"][0]["entered_at"].endswith("+09:00")
    assert body["last_run"]["source"] == "poll"
    assert body["last_run"]["baseline"] is True
    assert body["last_run"]["member_count"] == 2


def test_results_of_a_never_checked_condition(as_viewer):
    cond = make_condition()
    body = as_viewer.get(f"{BASE}/{cond.pk}/results").json()
    assert body["members"] == [] and body["last_run"] is None


# --- events ----------------------------------------------------------------------------------------------
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 09:00 KST


@pytest.fixture
def events():
    a = make_condition(seq="001", name="A")
    b = make_condition(seq="002", name="B")
    rows = [
        make_event(a, "005930", T0),
        make_event(a, "000660", T0 + timedelta(minutes=1), kind=EventKind.EXIT),
        make_event(b, "005930", T0 + timedelta(minutes=2), source=Source.REALTIME),
        make_event(a, "005930", T0 + timedelta(days=1), kind=EventKind.EXIT),
    ]
    return a, b, rows


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [e["id"] for e in response.json()["results"]]


def test_events_newest_first_all_and_per_condition(as_viewer, events):
    a, b, rows = events
    body = as_viewer.get(f"{BASE}/events").json()
    assert body["count"] == 4
    assert [e["id"] for e in body["results"]] == [rows[3].pk, rows[2].pk, rows[1].pk, rows[0].pk]
    first = body["results"][-1]
    assert first == {
        "id": rows[0].pk,
        "condition": a.pk,
        "condition_seq": "001",
        "condition_name": "A",
        "code": "005930",
        "name": "종목005930",
        "kind": "entry",
        "at": "2026-11-23T09:00:00+09:00",
        "price": 10_000,
        "change": None,
        "change_rate": "1.50",
        "price_source": "",
        "source": "poll",
    }
    assert ids(as_viewer.get(f"{BASE}/{a.pk}/events")) == [rows[3].pk, rows[1].pk, rows[0].pk]
    assert ids(as_viewer.get(f"{BASE}/{b.pk}/events")) == [rows[2].pk]
    assert as_viewer.get(f"{BASE}/999999/events").status_code == 404


def test_events_filters(as_viewer, events):
    a, _, rows = events
    assert ids(as_viewer.get(f"{BASE}/events", {"code": "005930"})) == [
        rows[3].pk,
        rows[2].pk,
        rows[0].pk,
    ]
    # the shared code rule: Kiwoom's market prefix and lower case are cleaned, not refused
    assert ids(as_viewer.get(f"{BASE}/events", {"code": " a005930"})) == ids(
        as_viewer.get(f"{BASE}/events", {"code": "005930"})
    )
    assert as_viewer.get(f"{BASE}/events", {"code": "A05930"}).status_code == 400
    assert ids(as_viewer.get(f"{BASE}/events", {"kind": "exit"})) == [rows[3].pk, rows[1].pk]
    assert ids(as_viewer.get(f"{BASE}/{a.pk}/events", {"kind": "entry", "code": "005930"})) == [
        rows[0].pk
    ]
    # aware datetime; since inclusive, until exclusive
    assert ids(
        as_viewer.get(
            f"{BASE}/events",
            {"since": "2026-11-23T09:01:00+09:00", "until": "2026-11-23T00:02:00Z"},
        )
    ) == [rows[1].pk]
    # naive values are Korea time
    assert ids(as_viewer.get(f"{BASE}/events", {"since": "2026-11-23T09:02:00"})) == [
        rows[3].pk,
        rows[2].pk,
    ]
    # dates: since = start of the day, until = end of the day (KST)
    assert ids(as_viewer.get(f"{BASE}/events", {"since": "2026-11-23", "until": "2026-11-23"})) == [
        rows[2].pk,
        rows[1].pk,
        rows[0].pk,
    ]
    assert ids(as_viewer.get(f"{BASE}/events", {"since": "2026-11-24"})) == [rows[3].pk]
    # an unencoded '+' arrives as a space
    assert ids(as_viewer.get(f"{BASE}/events", {"until": "2026-11-23T09:00:30 09:00"})) == [
        rows[0].pk
    ]


def test_events_paging(as_viewer, events):
    _, _, rows = events
    body = as_viewer.get(f"{BASE}/events", {"page_size": 3}).json()
    assert body["count"] == 4 and body["next"] and body["previous"] is None
    assert len(body["results"]) == 3
    page2 = as_viewer.get(f"{BASE}/events", {"page_size": 3, "page": 2}).json()
    assert [e["id"] for e in page2["results"]] == [rows[0].pk]
    assert page2["next"] is None
    big = as_viewer.get(f"{BASE}/events", {"page_size": 100_000})
    assert big.status_code == 200 and len(big.json()["results"]) == 4  # capped, not refused
    assert as_viewer.get(f"{BASE}/events", {"page": 9}).status_code == 404


@pytest.mark.parametrize(
    "params, name",
    [
        ({"code": "5930"}, "code"),
        ({"code": "00593$"}, "code"),
        ({"kind": "enter"}, "kind"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-11-23T10:00:00+09:00", "until": "2026-11-23T09:00:00+09:00"}, "until"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_events_bad_parameters_are_400_naming_the_parameter(as_viewer, events, params, name):
    a, _, _ = events
    for url in (f"{BASE}/events", f"{BASE}/{a.pk}/events"):
        response = as_viewer.get(url, params)
        assert response.status_code == 400, (url, params)
        assert name in response.json()


# --- sync ------------------------------------------------------------------------------------------------
def test_sync_from_broker(as_trader, memory_broker, settings):
    settings.KIWOOM_ACCOUNT = ""
    kept = make_condition(seq="001", name="옛 이름")
    gone = make_condition(seq="009", name="지운 조건")
    memory_broker.add_condition("001", "새 이름", [])
    memory_broker.add_condition("002", "신규", [])
    response = as_trader.post(f"{BASE}/sync")
    assert response.status_code == 200
    assert response.json() == {
        "created": ["002"],
        "renamed": ["001"],
        "unlisted": ["009"],
        "relisted": [],
    }
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.name == "새 이름" and gone.listed is False
    assert Condition.objects.get(seq="002").active is False


def test_sync_broker_failure_is_502(as_trader, memory_broker):
    make_condition(seq="001")
    memory_broker.fail_next(BrokerUnavailable("login expired"))
    response = as_trader.post(f"{BASE}/sync")
    assert response.status_code == 502
    assert "login expired" in response.json()["detail"]
    assert Condition.objects.get(seq="001").listed is True


def test_trader_sets_the_alert_hold_and_a_bad_value_changes_nothing(as_trader):
    cond = make_condition()
    url = f"{BASE}/{cond.pk}"
    response = as_trader.patch(url, {"alert_hold_seconds": 90}, format="json")
    assert response.status_code == 200 and response.json()["alert_hold_seconds"] == 90
    for bad in (-1, 3601, "60", True, 1.5):
        response = as_trader.patch(url, {"alert_hold_seconds": bad}, format="json")
        assert response.status_code == 400, bad
        assert "alert_hold_seconds" in response.json()
    cond.refresh_from_db()
    assert cond.alert_hold_seconds == 90
