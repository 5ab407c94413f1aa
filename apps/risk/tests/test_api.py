"""The risk API, the system switch and the risk page: traders change, viewers only read."""

from __future__ import annotations

import pytest

from apps.core.models import RuntimeFlag
from apps.risk.models import RiskConfig, RiskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_trader(api_client, trader):
    api_client.force_authenticate(trader)
    return api_client


@pytest.fixture
def as_viewer(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


def test_anyone_logged_in_reads_config_and_state(as_viewer) -> None:
    config = as_viewer.get("/api/v1/risk/config").json()
    assert config["version"] == 1 and config["stop_loss_pct"] == "-3.00"
    assert config["weight_pct"] == "10.00" and config["warnings"] == []
    state = as_viewer.get("/api/v1/risk/state").json()
    assert state["state"] == "active" and state["opening_equity"] == 100_000_000
    for key in (
        "pnl",
        "realized_pnl",
        "unrealized_pnl",
        "loss_budget_left",
        "exposure",
        "positions",
    ):
        assert key in state
    assert as_viewer.get("/api/v1/risk/config/history").json()[0]["version"] == 1


def test_anonymous_gets_nothing(api_client) -> None:
    assert api_client.get("/api/v1/risk/config").status_code in (401, 403)


def test_viewer_cannot_change_anything(as_viewer) -> None:
    put = as_viewer.put("/api/v1/risk/config", {"max_positions": 2, "reason": "x"}, format="json")
    assert put.status_code == 403
    for path in ("halt", "reduce", "resume"):
        assert as_viewer.post(f"/api/v1/risk/{path}", {"reason": "x"}).status_code == 403
    for path in ("start", "stop"):
        assert as_viewer.post(f"/api/v1/system/{path}", {"reason": "x"}).status_code == 403
    assert RiskConfig.objects.count() == 1
    assert RiskStatus.objects.get(pk=1).state == "active"


def test_trader_puts_a_new_version(as_trader) -> None:
    put = as_trader.put(
        "/api/v1/risk/config",
        {"stop_loss_pct": "-7", "max_positions": 4, "reason": "변동성 장세"},
        format="json",
    )
    assert put.status_code == 200, put.content
    body = put.json()
    assert body["version"] == 2 and body["max_positions"] == 4 and body["author"] == "trader1"
    assert body["warnings"]  # -7% is outside the seed's band
    assert as_trader.get("/api/v1/risk/config").json()["version"] == 2


def test_a_bad_put_names_the_fields_and_changes_nothing(as_trader) -> None:
    put = as_trader.put(
        "/api/v1/risk/config",
        {"stop_loss_pct": "-20", "max_positions": 0, "weight_pct": "abc", "reason": "x"},
        format="json",
    )
    assert put.status_code == 400
    assert set(put.json()["errors"]) == {"stop_loss_pct", "max_positions", "weight_pct"}
    missing_reason = as_trader.put("/api/v1/risk/config", {"max_positions": 3}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()["errors"]
    assert as_trader.put("/api/v1/risk/config", [1, 2], format="json").status_code == 400
    assert RiskConfig.objects.count() == 1


def test_trader_halts_reduces_resumes(as_trader) -> None:
    assert as_trader.post("/api/v1/risk/halt", {"reason": "점검"}).json()["state"] == "halted"
    assert as_trader.post("/api/v1/risk/reduce", {}).json()["state"] == "reducing"
    body = as_trader.post("/api/v1/risk/resume", {"reason": "ok"}).json()
    assert body["state"] == "active"


def test_system_start_and_stop_go_through_the_gate(as_trader) -> None:
    RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=False)
    assert as_trader.post("/api/v1/system/start", {}).status_code == 400  # a reason is required
    start = as_trader.post("/api/v1/system/start", {"reason": "장 시작"})
    assert start.json() == {
        "state": "active",
        "switch": True,
        "entries_allowed": True,
        "changed": True,
    }
    as_trader.post("/api/v1/risk/halt", {"reason": "x"})
    assert as_trader.post("/api/v1/system/stop", {}).json()["entries_allowed"] is False
    assert not RuntimeFlag.objects.get(key="trading-enabled").enabled


# --------------------------------------------------------------------------------------------- the page
def test_viewer_reads_the_page_without_controls(viewer_client) -> None:
    html = viewer_client.get("/risk/").content.decode()
    assert 'id="risk-state"' in html and "v1" in html
    assert 'id="risk-config-form"' not in html and 'id="risk-halt"' not in html
    assert viewer_client.post("/risk/config", {"reason": "x"}).status_code == 403
    assert viewer_client.post("/risk/state/halt", {"reason": "x"}).status_code == 403
    assert RiskConfig.objects.count() == 1 and RiskStatus.objects.get(pk=1).state == "active"


def _form(**overrides) -> dict:
    data = {
        "stop_loss_pct": "-4",
        "take_profit_pct": "",
        "trailing_stop_pct": "",
        "exit_before_close_minutes": "10",
        "weight_pct": "10",
        "max_positions": "5",
        "max_daily_loss_krw": "2000000",
        "max_daily_loss_pct": "2",
        "max_order_value": "10000000",
        "max_entries_per_minute": "5",
        "no_entry_before_close_minutes": "15",
        "excluded_kinds": ["halted", "administrative"],
        "reduce_at_pct": "80",
        "reason": "페이지에서",
    }
    data.update(overrides)
    return data


def test_trader_edits_on_the_page(trader_client) -> None:
    html = trader_client.get("/risk/").content.decode()
    assert 'id="risk-config-form"' in html and 'id="risk-halt"' in html
    assert "risk/_emergency_sell.html" not in html  # the partial is included, not named
    response = trader_client.post("/risk/config", _form())
    assert response.status_code == 302
    row = RiskConfig.objects.get(version=2)
    assert row.excluded_kinds == ["administrative", "halted"] and row.take_profit_pct is None
    bad = trader_client.post("/risk/config", _form(stop_loss_pct="-30"))
    assert bad.status_code == 400 and 'data-error="stop_loss_pct"' in bad.content.decode()
    assert RiskConfig.objects.count() == 2
    trader_client.post("/risk/state/halt", {"reason": "페이지"})
    assert RiskStatus.objects.get(pk=1).state == "halted"
    trader_client.post("/risk/state/resume", {"reason": ""})  # resuming needs a reason
    assert RiskStatus.objects.get(pk=1).state == "halted"


def test_the_page_is_in_english_too(trader_client) -> None:
    trader_client.cookies["django_language"] = "en"
    assert trader_client.get("/risk/").status_code == 200
