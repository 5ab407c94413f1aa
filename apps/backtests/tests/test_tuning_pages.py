"""The tuning pages: a trader launches from the form (same validation as the API), the run page (live
progress while running, cancel; headline, windows, heat map, results and apply when done); a viewer only
sees."""

from __future__ import annotations

from typing import Any

import pytest

from apps.backtests import tuning_services
from apps.backtests.models import TuningRun, TuningTrial
from apps.strategy.models import StrategyConfig

from .test_tuning_services import create, finished_breakout_run
from .tuning_support import CODE, DAYS, store_bars

pytestmark = pytest.mark.django_db


def form(**kw: str) -> dict[str, str]:
    out = {
        "strategy": "ma_cross",
        "date_from": str(DAYS[0]),
        "date_to": str(DAYS[-1]),
        "codes": CODE,
        "ranges": "fast=3,5\nslow=10..30:5",
        "method": "grid",
        "objective": "return_pct",
        "in_sample_days": "2",
        "out_sample_days": "1",
    }
    out.update(kw)
    return out


def test_parse_ranges() -> None:
    from apps.backtests.tuning_views import parse_ranges

    assert parse_ranges("fast=3..10\nrate=0.5..2:0.25\nslow=10, 20,30\n\n") == (
        {"fast": {"min": "3", "max": "10"}, "rate": {"min": "0.5", "max": "2", "step": "0.25"},
         "slow": {"values": ["10", "20", "30"]}},
        [],
    )  # fmt: skip
    assert parse_ranges("fast")[1] and parse_ranges("fast=")[1]


def test_a_trader_launches_from_the_page_and_sees_the_results(
    trader_client: Any, fanned: list[int], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    store_bars()
    page = trader_client.get("/backtests/tuning/")
    assert page.status_code == 200 and b'id="tuning-form"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = trader_client.post("/backtests/tuning/", form())
    run = TuningRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/tuning/{run.pk}/"
    assert fanned == [run.pk] and run.trials_total == 20
    text = trader_client.get(f"/backtests/tuning/{run.pk}/").content.decode()
    run.refresh_from_db()
    assert run.status == "done"
    assert 'data-final="1"' in text and 'id="tuning-headline"' in text
    assert f'data-k="value"><b>{run.result["headline"]["value"]}</b>' in text
    assert text.count('data-window="') == 2 and text.count('data-chosen="1"') == 2
    assert text.count('data-trial="') == 20
    assert 'id="tuning-heatmap" data-x="fast" data-y="slow" data-sample="is"' in text
    assert text.count('class="heat-cell"') == 10  # 2 fast × 5 slow
    assert 'id="tuning-apply"' not in text  # ma_cross is a research strategy: nothing to apply
    oos = trader_client.get(
        f"/backtests/tuning/{run.pk}/?x=slow&y=fast&sample=oos"
    ).content.decode()
    assert 'data-x="slow" data-y="fast" data-sample="oos"' in oos
    assert "tuning.js" not in text  # final: no polling
    listing = trader_client.get("/backtests/tuning/").content.decode()
    assert f'data-run="{run.pk}" data-status="done"' in listing


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"ranges": "fast"}, "ranges"),
        ({"ranges": ""}, "ranges"),
        ({"ranges": "nope=1,2"}, "nope"),
        ({"ranges": "fast=9..2"}, "fast"),
        ({"in_sample_days": "9"}, "in_sample_days"),
        ({"method": "random"}, "trials"),
        ({"codes": "12"}, "codes"),
    ],
)
def test_bad_input_redisplays_the_form_naming_the_field(
    trader_client: Any,
    fanned: list[int],
    change: dict[str, str],
    field: str,
) -> None:
    response = trader_client.post("/backtests/tuning/", form(**change))
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    assert not TuningRun.objects.exists() and fanned == []


def test_a_running_run_polls_and_can_be_cancelled(trader_client: Any) -> None:
    run = create()
    TuningRun.objects.filter(pk=run.pk).update(status="running")
    TuningTrial.objects.filter(run=run, window=0).update(status="done")
    text = trader_client.get(f"/backtests/tuning/{run.pk}/").content.decode()
    assert 'data-final="0"' in text and 'value="50"' in text and "tuning.js" in text
    assert f'data-api="/api/v1/tuning/{run.pk}?trials=0"' in text
    assert 'id="tuning-cancel"' in text and 'id="tuning-headline"' not in text
    assert trader_client.post(f"/backtests/tuning/{run.pk}/cancel").status_code == 302
    run.refresh_from_db()
    assert run.cancel_requested and run.status == "cancelled" and run.finished_at is not None
    assert TuningTrial.objects.filter(run=run, status="cancelled").count() == 10


def test_apply_from_the_page(trader_client: Any) -> None:
    run = finished_breakout_run()
    text = trader_client.get(f"/backtests/tuning/{run.pk}/").content.decode()
    assert 'id="tuning-apply"' in text
    assert trader_client.post(f"/backtests/tuning/{run.pk}/apply").status_code == 302
    run.refresh_from_db()
    config = StrategyConfig.objects.filter(strategy="opening_breakout").first()
    assert run.applied_version == config.version and f"#{run.pk}" in config.reason
    assert (
        'id="tuning-applied"' in trader_client.get(f"/backtests/tuning/{run.pk}/").content.decode()
    )


def test_a_viewer_sees_but_cannot_launch_cancel_or_apply(
    viewer_client: Any,
    fanned: list[int],
) -> None:
    run = finished_breakout_run()
    other = create()
    page = viewer_client.get("/backtests/tuning/").content.decode()
    assert 'id="tuning-form"' not in page and f'data-run="{run.pk}"' in page
    detail = viewer_client.get(f"/backtests/tuning/{run.pk}/").content.decode()
    assert 'id="tuning-apply"' not in detail and 'id="tuning-headline"' in detail
    assert (
        'id="tuning-cancel"'
        not in viewer_client.get(f"/backtests/tuning/{other.pk}/").content.decode()
    )
    assert viewer_client.post("/backtests/tuning/", form()).status_code == 403
    assert viewer_client.post(f"/backtests/tuning/{other.pk}/cancel").status_code == 403
    assert viewer_client.post(f"/backtests/tuning/{run.pk}/apply").status_code == 403
    other.refresh_from_db()
    assert not other.cancel_requested and TuningRun.objects.count() == 2 and fanned == []
    run.refresh_from_db()
    assert run.applied_version is None


def test_pages_need_a_login(client: Any) -> None:
    assert client.get("/backtests/tuning/").status_code == 302
    assert client.get("/backtests/tuning/1/").status_code == 302


def test_a_missing_run_is_404(viewer_client: Any) -> None:
    assert viewer_client.get("/backtests/tuning/999999/").status_code == 404
    assert tuning_services.tuning_cancel(999999) is False
