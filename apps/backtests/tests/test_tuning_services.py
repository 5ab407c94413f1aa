"""Tuning over stored bars: creating a run (validation names the field, stores nothing), running its
trials (each writes its own row; the in-sample choice and the out-of-sample headline), progress from the
rows, cancel (queued trials skip, a running one stops between days), the Celery group, apply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from apps.backtests import selectors, tuning_services
from apps.backtests.models import BacktestRun, TuningRun, TuningTrial
from apps.backtests.tuning import TuningInvalid
from apps.backtests.tuning_services import (
    progress_of,
    trial_execute,
    tuning_apply,
    tuning_cancel,
    tuning_create,
    tuning_finish,
)
from apps.strategy.models import StrategyConfig
from apps.trades.models import Order

from .bars import minute_ends
from .tuning_support import DAYS, body, store_bars

pytestmark = pytest.mark.django_db


@pytest.fixture
def bars() -> list:
    return store_bars()


def create(**kw: Any) -> TuningRun:
    data = body(**kw)
    data["date_from"] = dt.date.fromisoformat(data["date_from"])
    data["date_to"] = dt.date.fromisoformat(data["date_to"])
    data["overrides"] = data.pop("params", {})
    data["trials"] = data.pop("trials", None)
    return tuning_create(**data)


def run_all(run: TuningRun) -> TuningRun:
    for pk in run.trials.order_by("index").values_list("pk", flat=True):
        trial_execute(pk)
    run.refresh_from_db()
    return run


def test_a_run_has_one_trial_per_set_and_window() -> None:
    run = create()
    assert run.param_sets == 10 and run.trials_total == 20 and run.trials.count() == 20
    assert run.windows == [
        {"index": 0, "is_from": str(DAYS[0]), "is_to": str(DAYS[1]), "oos_from": str(DAYS[2]),
         "oos_to": str(DAYS[2])},
        {"index": 1, "is_from": str(DAYS[1]), "is_to": str(DAYS[2]), "oos_from": str(DAYS[3]),
         "oos_to": str(DAYS[3])},
    ]  # fmt: skip
    assert run.params == {"fast": 5, "slow": 20}  # the fixed set: the defaults here
    assert progress_of(run.pk) == {"queued": 20, "running": 0, "done": 0, "cancelled": 0,
                                   "failed": 0, "total": 20, "finished": 0, "progress": 0}  # fmt: skip


def test_a_random_run_stores_its_seed_and_is_reproducible() -> None:
    ranges = {"fast": {"min": 2, "max": 9}, "slow": {"min": 10, "max": 40}}
    first = create(method="random", trials=5, seed=None, ranges=ranges)
    assert first.seed is not None and first.param_sets == 5
    again = create(method="random", trials=5, seed=first.seed, ranges=ranges)
    sets = lambda r: [t.params for t in r.trials.filter(window=0)]  # noqa: E731
    assert sets(first) == sets(again)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"ranges": {"nope": {"values": [1]}}}, "nope"),
        ({"ranges": {"fast": {"min": 9, "max": 3}}}, "fast"),
        ({"ranges": {"fast": {"min": 1, "max": 200}, "slow": {"min": 201, "max": 400}}}, "ranges"),
        ({"method": "random", "trials": 5000}, "trials"),
        ({"in_sample_days": 4}, "in_sample_days"),
        ({"out_sample_days": 2, "step_days": 1}, "step_days"),
        ({"objective": "luck"}, "objective"),
        ({"params": {"fast": 0}}, "fast"),
        ({"codes": [], "universe": ""}, "universe"),
    ],
)
def test_bad_requests_name_the_field_and_store_nothing(change: dict, field: str) -> None:
    with pytest.raises(TuningInvalid) as caught:
        create(**change)
    assert field in caught.value.errors, caught.value.errors
    assert not TuningRun.objects.exists() and not TuningTrial.objects.exists()


def test_trials_run_and_the_headline_is_out_of_sample(bars: list) -> None:
    run = run_all(create())
    assert run.status == "done" and run.finished_at is not None, run.error
    trials = list(run.trials.all())
    assert {t.status for t in trials} == {"done"}
    assert all(t.worker and t.bars > 0 for t in trials)
    assert progress_of(run.pk)["progress"] == 100
    # Per window: the best in-sample score (ties: the earlier set) is chosen …
    headline_pnl = 0
    for w in run.result["windows"]:
        mine = [t for t in trials if t.window == w["index"]]
        best = max(mine, key=lambda t: (t.is_score, -t.set_index))
        assert w["set_index"] == best.set_index and w["params"] == best.params
        assert w["oos_total_pnl"] == best.oos_metrics["total_pnl"]
        assert best.oos_metrics["days"] == 1 and best.is_metrics["days"] == 2
        assert best.is_score == Decimal(best.is_metrics["total_pnl"])
        headline_pnl += best.oos_metrics["total_pnl"]
    # … and the headline adds up the chosen sets' out-of-sample results, nothing in-sample.
    head = run.result["headline"]
    assert head["total_pnl"] == headline_pnl and head["value"] == str(headline_pnl)
    assert head["windows"] == 2
    assert run.best_params == run.result["windows"][-1]["params"]
    # Nothing reached the live books nor the backtests' tables.
    assert not Order.objects.exists() and not BacktestRun.objects.exists()
    assert tuning_finish(run.pk) is False  # idempotent: aggregated once


def test_cancel_skips_queued_trials_and_stops_a_running_one_between_days(
    bars: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = create()
    ids = list(run.trials.order_by("index").values_list("pk", flat=True))
    trial_execute(ids[0])
    real = selectors.iter_days

    def cancelled_after_the_first_day(days: Any, codes: Any, **kw: Any) -> Iterator[Any]:
        for n, day in enumerate(real(days, codes, **kw)):
            if n == 0:  # the cancel lands while the trial runs its first day
                tuning_cancel(run.pk)
            yield day

    monkeypatch.setattr(selectors, "iter_days", cancelled_after_the_first_day)
    assert trial_execute(ids[1]) == "cancelled"
    stopped = TuningTrial.objects.get(pk=ids[1])
    assert stopped.bars == len(minute_ends(DAYS[0]))  # one day of its two in-sample days
    assert stopped.is_metrics == {}
    monkeypatch.setattr(selectors, "iter_days", real)
    assert trial_execute(ids[2]) == "cancelled"  # queued when cancelled: skipped, never run
    run.refresh_from_db()
    counts = progress_of(run.pk)
    assert counts["done"] == 1 and counts["cancelled"] == 19 and counts["progress"] == 100
    assert run.status == "cancelled" and run.finished_at is not None and run.cancel_requested
    assert TuningTrial.objects.get(pk=ids[2]).bars == 0
    assert tuning_cancel(run.pk) is False  # already finished


def test_the_group_runs_every_trial_and_the_chord_aggregates(
    bars: list, django_capture_on_commit_callbacks: Any
) -> None:
    from stockagent.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = tuning_services.tuning_launch(
                {**body(), "date_from": DAYS[0], "date_to": DAYS[-1]}
            )
    finally:
        app.conf.task_always_eager = old
    run.refresh_from_db()
    assert run.status == "done" and progress_of(run.pk)["done"] == 20


def test_the_group_is_one_task_per_trial_on_the_reports_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import celery

    sent: list[Any] = []
    monkeypatch.setattr(
        celery.canvas._chord, "apply_async", lambda self, *a, **k: sent.append(self)
    )
    run = create()
    tuning_services.dispatch(run.pk)
    (chord,) = sent
    header = list(chord.tasks)
    assert [s.task for s in header] == ["backtests.tuning_trial"] * 20
    assert [s.args[0] for s in header] == list(
        run.trials.order_by("index").values_list("pk", flat=True)
    )
    assert chord.body.task == "backtests.tuning_finish" and chord.body.args == (run.pk,)
    from stockagent.celery import app

    assert app.amqp.router.route({}, "backtests.tuning_trial")["queue"].name == "reports"


def finished_breakout_run() -> TuningRun:
    """A finished run of a live-configurable strategy (its trials' results written as a worker would)."""
    run = create(strategy="opening_breakout", ranges={"top_n": {"values": [3, 7]}})
    for trial in run.trials.all():
        score = Decimal(10 if trial.params["top_n"] == 7 else 1)
        metrics = {"days": 1, "return_pct": "0.1", "total_pnl": 100, "start_equity": 10**8}
        TuningTrial.objects.filter(pk=trial.pk).update(
            status="done", is_score=score, oos_score=1, is_metrics=metrics, oos_metrics=metrics
        )
    assert tuning_finish(run.pk)
    run.refresh_from_db()
    return run


def test_apply_writes_a_config_version_naming_the_run(trader: Any) -> None:
    run = finished_breakout_run()
    assert run.status == "done" and run.best_params["top_n"] == 7
    config, changed = tuning_apply(run.pk, trader)
    assert changed and config.params["top_n"] == 7 and config.params == run.best_params
    assert f"tuning run #{run.pk}" in config.reason and config.author == trader
    run.refresh_from_db()
    assert run.applied_version == config.version
    assert StrategyConfig.objects.filter(strategy="opening_breakout").first() == config  # active
    assert tuning_apply(run.pk, trader)[1] is False  # the same parameters again: no new version


def test_apply_needs_a_finished_run_of_a_configurable_strategy(bars: list) -> None:
    with pytest.raises(TuningInvalid) as caught:
        tuning_apply(create().pk, None)
    assert "run" in caught.value.errors
    with pytest.raises(TuningInvalid) as caught:  # ma_cross is a research strategy: no live config
        tuning_apply(run_all(create()).pk, None)
    assert "strategy" in caught.value.errors
    assert not StrategyConfig.objects.filter(reason__contains="tuning").exists()


def test_a_trial_runs_once_whichever_worker_gets_it(bars: list) -> None:
    """Celery may deliver a task twice (or two workers may hold copies): the conditional claim lets one
    run it; the other leaves the row alone."""
    run = create()
    pk = run.trials.order_by("index").values_list("pk", flat=True)[0]
    TuningTrial.objects.filter(pk=pk).update(status="running", worker="elsewhere:1")
    assert trial_execute(pk) == "running"  # someone else's: untouched
    trial = TuningTrial.objects.get(pk=pk)
    assert trial.worker == "elsewhere:1" and trial.bars == 0 and trial.is_metrics == {}
    TuningTrial.objects.filter(pk=pk).update(status="queued", worker="")
    assert trial_execute(pk) == "done"
    first = TuningTrial.objects.get(pk=pk)
    assert trial_execute(pk) == "done"  # a second delivery of a finished trial changes nothing
    assert TuningTrial.objects.get(pk=pk).finished_at == first.finished_at


def test_the_tune_command(bars: list, monkeypatch: pytest.MonkeyPatch) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    args = ["--strategy", "ma_cross", "--from", str(DAYS[0]), "--to", str(DAYS[-1]), "--codes",
            "005930", "--range", "fast=3,5", "--range", "slow=10..30:10", "--in-sample", "2",
            "--out-sample", "1", "--objective", "total_pnl"]  # fmt: skip
    call_command("tune", *args, stdout=out)
    run = TuningRun.objects.get()
    assert run.status == "done" and run.trials_total == 12
    text = out.getvalue()
    assert (
        "window 1:" in text
        and f"out-of-sample headline (total_pnl): {run.result['headline']['value']}" in text
    )
    with pytest.raises(CommandError, match="fast"):  # the later --range of a parameter wins
        call_command("tune", *args, "--range", "fast=9..2", stdout=StringIO())
    with pytest.raises(CommandError, match="--range"):
        call_command("tune", *args, "--range", "slow", stdout=StringIO())
    sent: list[int] = []
    import apps.backtests.management.commands.tune as tune

    monkeypatch.setattr(tune, "dispatch", sent.append)
    call_command("tune", *args, "--queue", stdout=StringIO())
    assert TuningRun.objects.count() == 2 and sent == [TuningRun.objects.first().pk]
