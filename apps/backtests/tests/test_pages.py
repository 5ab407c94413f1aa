"""The backtest pages: a trader launches from the form (same validation as the API and the command), the
list, the detail (progress while running, metrics/chart/trades when done), cancel; a viewer only sees."""

from __future__ import annotations

from typing import Any

import pytest

from apps.backtests import services, tasks
from apps.backtests.models import BacktestRun

from .test_services import CODE, DAYS, stored_bars  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def form(**kw: str) -> dict[str, str]:
    out = {
        "strategy": "ma_cross",
        "date_from": str(DAYS[0]),
        "date_to": str(DAYS[-1]),
        "codes": CODE,
        "params": "fast=5\nslow=20",
    }
    out.update(kw)
    return out


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []

    def delay(run_id: int) -> None:
        sent.append(run_id)
        services.backtest_execute(run_id)

    monkeypatch.setattr(tasks.run_backtest, "delay", delay)
    return sent


def test_a_trader_launches_from_the_page_and_sees_the_results(
    trader_client: Any, stored_bars: None, worker: list[int],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    page = trader_client.get("/backtests/")
    assert page.status_code == 200 and b'id="backtest-form"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = trader_client.post("/backtests/", form())
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{run.pk}/"
    assert worker == [run.pk] and run.params == {"fast": 5, "slow": 20}
    run.refresh_from_db()
    assert run.status == "done"
    detail = trader_client.get(f"/backtests/{run.pk}/")
    text = detail.content.decode()
    assert 'id="backtest-metrics"' in text and 'id="chart-equity"' in text
    assert 'id="backtest-series"' in text and "chart.umd.min.js" in text
    assert text.count("<tr>") > run.trades.count()  # one row per trade
    assert 'id="backtest-cancel"' not in text  # finished
    listing = trader_client.get("/backtests/").content.decode()
    assert f'data-run="{run.pk}" data-status="done"' in listing


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"params": "fast=30\nslow=20"}, "slow"),
        ({"params": "fast"}, "params"),
        ({"codes": "", "universe": ""}, "universe"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"codes": "12"}, "codes"),
        ({"cash_krw": "-5"}, "cash_krw"),
    ],
)
def test_bad_input_redisplays_the_form_naming_the_field(
    trader_client: Any, worker: list[int], change: dict[str, str], field: str
) -> None:
    response = trader_client.post("/backtests/", form(**change))
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    assert not BacktestRun.objects.exists() and worker == []


def test_a_running_run_polls_and_can_be_cancelled(trader_client: Any) -> None:
    run = services.backtest_create(
        strategy="ma_cross", date_from=DAYS[0], date_to=DAYS[-1], codes=[CODE]
    )
    BacktestRun.objects.filter(pk=run.pk).update(status="running", progress=33, days_total=3)
    text = trader_client.get(f"/backtests/{run.pk}/").content.decode()
    assert 'data-final="0"' in text and 'value="33"' in text and "backtest.js" in text
    assert f'data-api="/api/v1/backtests/{run.pk}"' in text
    assert 'id="backtest-cancel"' in text and 'id="backtest-metrics"' not in text
    response = trader_client.post(f"/backtests/{run.pk}/cancel")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.cancel_requested


def test_a_viewer_sees_but_cannot_launch_or_cancel(viewer_client: Any, worker: list[int]) -> None:
    run = services.backtest_create(
        strategy="ma_cross", date_from=DAYS[0], date_to=DAYS[0], codes=[CODE]
    )
    page = viewer_client.get("/backtests/").content.decode()
    assert 'id="backtest-form"' not in page and f'data-run="{run.pk}"' in page
    detail = viewer_client.get(f"/backtests/{run.pk}/").content.decode()
    assert 'id="backtest-cancel"' not in detail and 'id="backtest-bar"' in detail
    assert viewer_client.post("/backtests/", form()).status_code == 403
    assert viewer_client.post(f"/backtests/{run.pk}/cancel").status_code == 403
    run.refresh_from_db()
    assert BacktestRun.objects.count() == 1 and not run.cancel_requested and worker == []


def test_pages_need_a_login(client: Any) -> None:
    assert client.get("/backtests/").status_code == 302
    assert client.get("/backtests/1/").status_code == 302


def test_a_missing_run_is_404(viewer_client: Any) -> None:
    assert viewer_client.get("/backtests/999999/").status_code == 404
    assert viewer_client.get("/backtests/?page=zz").status_code == 200


def test_the_fill_model_is_chosen_on_the_page_stored_and_shown(
    trader_client: Any, stored_bars: None, worker: list[int],  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    page = trader_client.get("/backtests/").content.decode()
    assert 'name="fill_model"' in page and 'value="tape"' in page and 'value="bars"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = trader_client.post("/backtests/", form(fill_model="tape"))
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and worker == [run.pk]
    assert run.options["fill_model"] == "tape"
    # the runner took the tape path: its spec carries the stored option
    assert services.run_spec(run.strategy, run.params, run.options).fill_model == "tape"
    run.refresh_from_db()
    assert run.status == "done", run.error
    detail = trader_client.get(f"/backtests/{run.pk}/").content.decode()
    assert 'data-fill-model="tape"' in detail and "테이프 모델" in detail


def test_a_bad_fill_model_is_refused_naming_the_field(
    trader_client: Any, worker: list[int]
) -> None:
    response = trader_client.post("/backtests/", form(fill_model="ticks"))
    text = response.content.decode()
    assert response.status_code == 400 and 'data-field="fill_model"' in text
    assert "체결 모델은 bars 또는 tape 중 하나입니다 (받은 값: ticks)." in text
    assert not BacktestRun.objects.exists() and worker == []


def test_the_api_refuses_a_bad_fill_model_with_the_same_message(trader_client: Any) -> None:
    body = {"strategy": "ma_cross", "date_from": str(DAYS[0]), "date_to": str(DAYS[-1]),
            "codes": [CODE], "options": {"fill_model": "ticks"}}  # fmt: skip
    response = trader_client.post("/api/v1/backtests", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["options"]["fill_model"] == [
        "체결 모델은 bars 또는 tape 중 하나입니다 (받은 값: ticks)."
    ]
    assert not BacktestRun.objects.exists()
