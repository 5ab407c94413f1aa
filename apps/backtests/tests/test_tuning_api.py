"""The tuning API: roles, validation (400 naming the field, nothing stored), the fan-out, detail with
trials, progress and the out-of-sample headline, cancel, apply, the list's query count."""

from __future__ import annotations

from typing import Any

import pytest

from apps.backtests.models import TuningRun, TuningTrial
from apps.strategy.models import StrategyConfig

from .test_tuning_services import create, finished_breakout_run
from .tuning_support import body, store_bars

pytestmark = pytest.mark.django_db

URL = "/api/v1/tuning"


def as_user(api_client: Any, user: Any) -> Any:
    api_client.force_authenticate(user)
    return api_client


def test_a_trader_launches_a_run_and_reads_its_trials_and_headline(
    api_client: Any, trader: Any, fanned: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    store_bars()
    client = as_user(api_client, trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, body(), format="json")
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["status"] == "queued" and fanned == [data["id"]] and data["trials_total"] == 20
    detail = client.get(f"{URL}/{data['id']}").json()
    assert detail["status"] == "done" and detail["is_final"]
    assert detail["progress"]["progress"] == 100 and detail["progress"]["done"] == 20
    assert len(detail["trials"]) == 20 and detail["trials"][0]["is_metrics"]["days"] == 2
    head = detail["headline"]
    chosen = [w["oos_total_pnl"] for w in detail["result"]["windows"]]
    assert head["total_pnl"] == sum(chosen) and head["objective"] == "total_pnl"
    assert detail["best_params"] == detail["result"]["windows"][-1]["params"]
    assert TuningRun.objects.get().created_by == trader


def test_the_list_counts_progress_in_one_query(
    api_client: Any, viewer: Any, django_assert_max_num_queries: Any
) -> None:
    runs = [create() for _ in range(3)]
    TuningTrial.objects.filter(run=runs[1], window=0).update(status="done")
    client = as_user(api_client, viewer)
    with django_assert_max_num_queries(4):
        page = client.get(URL, {"limit": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2
    assert page["results"][-1]["progress"] == {
        "queued": 10, "running": 0, "done": 10, "cancelled": 0, "failed": 0, "total": 20,
        "finished": 10, "progress": 50,
    }  # fmt: skip
    assert client.get(URL, {"status": "queued", "strategy": "ma_cross"}).json()["count"] == 3
    assert client.get(URL, {"status": "bogus"}).status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"ranges": {}}, "ranges"),
        ({"ranges": {"fast": 3}}, "ranges"),
        ({"ranges": {"nope": {"values": [1, 2]}}}, "nope"),
        ({"ranges": {"fast": {"min": 9, "max": 2}}}, "fast"),
        ({"ranges": {"fast": {"min": 1, "max": 200}, "slow": {"min": 201, "max": 400}}}, "ranges"),
        ({"method": "random"}, "trials"),
        ({"method": "random", "trials": 3000}, "trials"),
        ({"in_sample_days": 0}, "in_sample_days"),
        ({"in_sample_days": 9}, "in_sample_days"),
        ({"out_sample_days": 2, "step_days": 1}, "step_days"),
        ({"objective": "luck"}, "objective"),
        ({"codes": ["12"]}, "codes"),
        ({"codes": []}, "universe"),
        ({"params": {"slow": 0}}, "slow"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    api_client: Any, trader: Any, fanned: list[int], change: dict[str, Any], field: str,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    client = as_user(api_client, trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, body(**change), format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert field in data or field in data.get("errors", {}), data
    assert not TuningRun.objects.exists() and not TuningTrial.objects.exists() and fanned == []


def test_a_viewer_reads_but_cannot_launch_cancel_or_apply(
    api_client: Any, viewer: Any, fanned: list[int]
) -> None:
    run = create()
    client = as_user(api_client, viewer)
    assert client.get(f"{URL}/{run.pk}").status_code == 200
    assert client.post(URL, body(), format="json").status_code == 403
    assert client.post(f"{URL}/{run.pk}/cancel").status_code == 403
    assert client.post(f"{URL}/{run.pk}/apply").status_code == 403
    run.refresh_from_db()
    assert TuningRun.objects.count() == 1 and not run.cancel_requested and fanned == []


def test_anonymous_gets_nothing(api_client: Any) -> None:
    assert api_client.get(URL).status_code in (401, 403)
    assert api_client.post(URL, body(), format="json").status_code in (401, 403)


def test_cancel_then_409(api_client: Any, trader: Any) -> None:
    run = create()
    client = as_user(api_client, trader)
    response = client.post(f"{URL}/{run.pk}/cancel")
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["status"] == "cancelled" and got["is_final"] and got["progress"]["cancelled"] == 20
    assert client.post(f"{URL}/{run.pk}/cancel").status_code == 409
    assert client.post(f"{URL}/999999/cancel").status_code == 404
    assert client.get(f"{URL}/999999").status_code == 404


def test_apply_writes_a_version_naming_the_run(api_client: Any, trader: Any) -> None:
    run = finished_breakout_run()
    client = as_user(api_client, trader)
    response = client.post(f"{URL}/{run.pk}/apply")
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["changed"] and got["params"]["top_n"] == 7 and f"#{run.pk}" in got["reason"]
    config = StrategyConfig.objects.get(strategy="opening_breakout", version=got["version"])
    assert config.author == trader
    assert client.get(f"{URL}/{run.pk}").json()["applied_version"] == got["version"]
    unfinished = create()
    response = client.post(f"{URL}/{unfinished.pk}/apply")
    assert response.status_code == 400 and "run" in response.json()["errors"]
    assert client.post(f"{URL}/999999/apply").status_code == 404
