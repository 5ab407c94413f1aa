"""The backtests API: roles, validation (400 naming the field, nothing stored), queueing, detail, cancel."""

from __future__ import annotations

from typing import Any

import pytest

from apps.backtests import services, tasks
from apps.backtests.models import BacktestRun

from .test_services import CODE, DAYS, stored_bars  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

URL = "/api/v1/backtests"


def body(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "strategy": "ma_cross",
        "date_from": str(DAYS[0]),
        "date_to": str(DAYS[-1]),
        "codes": [CODE],
        "params": {"fast": 5, "slow": "20"},
    }
    out.update(kw)
    return out


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`backtests.run` as the worker would run it, recorded (the on-commit hand-off)."""
    sent: list[int] = []

    def delay(run_id: int) -> None:
        sent.append(run_id)
        services.backtest_execute(run_id)

    monkeypatch.setattr(tasks.run_backtest, "delay", delay)
    return sent


def as_user(api_client: Any, user: Any) -> Any:
    api_client.force_authenticate(user)
    return api_client


def test_a_trader_launches_a_run_that_the_worker_runs(
    api_client: Any, trader: Any, stored_bars: None, queued: list[int],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    client = as_user(api_client, trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, body(options={"cash_krw": 200_000_000}), format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued" and queued == [run_id]
    run = BacktestRun.objects.get(pk=run_id)
    assert run.created_by == trader and run.params == {"fast": 5, "slow": 20}
    assert run.options["cash_krw"] == 200_000_000
    detail = client.get(f"{URL}/{run_id}").json()
    assert detail["status"] == "done" and detail["progress"] == 100 and detail["is_final"]
    assert detail["metrics"]["total_trades"] == len(detail["trades"]) > 0, detail["metrics"][
        "signals"
    ]
    assert len(detail["equity"]) == 3
    point = detail["equity"][-1]
    assert point["equity"] == detail["metrics"]["final_equity"]
    assert {"time", "drawdown_krw", "drawdown_pct"} <= set(point)
    assert detail["params"] == {"fast": 5, "slow": 20} and detail["codes"] == [CODE]
    trade = detail["trades"][0]
    assert {"entry_time", "exit_time", "entry_price", "exit_price", "pnl", "quantity"} <= set(trade)
    assert sum(t["pnl"] for t in detail["trades"]) == detail["metrics"]["total_pnl"]


def test_a_run_in_the_tape_mode_trades_on_the_simulator_s_tape(
    api_client: Any, trader: Any, stored_bars: None, queued: list[int],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    client = as_user(api_client, trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, body(options={"fill_model": "tape"}), format="json")
    assert response.status_code == 202, response.content
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.options["fill_model"] == "tape"
    detail = client.get(f"{URL}/{run.pk}").json()
    assert detail["status"] == "done" and detail["metrics"]["total_trades"] > 0
    assert sum(t["pnl"] for t in detail["trades"]) == detail["metrics"]["total_pnl"]


def test_the_list_is_paginated_and_filtered(api_client: Any, viewer: Any) -> None:
    for _ in range(3):
        services.backtest_create(
            strategy="ma_cross", date_from=DAYS[0], date_to=DAYS[0], codes=[CODE]
        )
    client = as_user(api_client, viewer)
    page = client.get(URL, {"limit": 2}).json()
    assert page["count"] == 3 and page["count_exact"] and len(page["results"]) == 2
    assert page["next"] and page["results"][0]["id"] > page["results"][1]["id"]
    assert page["results"][0]["status"] == "queued" and "metrics" not in page["results"][0]
    assert client.get(URL, {"status": "done"}).json()["count"] == 0
    assert client.get(URL, {"strategy": "ma_cross"}).json()["count"] == 3
    assert client.get(URL, {"status": "bogus"}).status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"date_from": "2025-13-01"}, "date_from"),
        ({"date_to": str(DAYS[0]), "date_from": str(DAYS[-1])}, "date_to"),
        ({"codes": ["12"]}, "codes"),
        ({"codes": [], "universe": "NYSE"}, "universe"),
        ({"codes": []}, "universe"),
        ({"params": {"fast": "30", "slow": "20"}}, "slow"),
        ({"params": {"fast": "abc"}}, "fast"),
        ({"params": {"nope": 1}}, "nope"),
        ({"options": {"participation": "2"}}, "options"),
        ({"options": {"cash_krw": -1}}, "options"),
        ({"options": {"fill_model": "ticks"}}, "options"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    api_client: Any, trader: Any, queued: list[int], change: dict[str, Any], field: str,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    client = as_user(api_client, trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, body(**change), format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert field in data or field in data.get("errors", {}), data
    assert not BacktestRun.objects.exists() and queued == []


def test_a_viewer_reads_but_cannot_launch_or_cancel(
    api_client: Any, viewer: Any, queued: list[int]
) -> None:
    run = services.backtest_create(
        strategy="ma_cross", date_from=DAYS[0], date_to=DAYS[0], codes=[CODE]
    )
    client = as_user(api_client, viewer)
    assert client.get(f"{URL}/{run.pk}").status_code == 200
    assert client.post(URL, body(), format="json").status_code == 403
    assert client.post(f"{URL}/{run.pk}/cancel").status_code == 403
    run.refresh_from_db()
    assert BacktestRun.objects.count() == 1 and run.status == "queued" and not run.cancel_requested
    assert queued == []


def test_anonymous_gets_nothing(api_client: Any) -> None:
    assert api_client.get(URL).status_code in (401, 403)
    assert api_client.post(URL, body(), format="json").status_code in (401, 403)


def test_cancel_a_queued_run_then_a_finished_one_is_409(api_client: Any, trader: Any) -> None:
    run = services.backtest_create(
        strategy="ma_cross", date_from=DAYS[0], date_to=DAYS[0], codes=[CODE]
    )
    client = as_user(api_client, trader)
    response = client.post(f"{URL}/{run.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client.post(f"{URL}/{run.pk}/cancel").status_code == 409
    assert client.post(f"{URL}/999999/cancel").status_code == 404
    assert client.get(f"{URL}/999999").status_code == 404


def test_cancel_a_running_run_sets_the_flag(api_client: Any, trader: Any) -> None:
    run = services.backtest_create(
        strategy="ma_cross", date_from=DAYS[0], date_to=DAYS[0], codes=[CODE]
    )
    BacktestRun.objects.filter(pk=run.pk).update(status="running")
    response = as_user(api_client, trader).post(f"{URL}/{run.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["cancel_requested"] and response.json()["status"] == "running"
