"""Runs over stored bars: results in the backtest's own tables, metrics, cancel, the command and the task."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from apps.backtests import selectors, services
from apps.backtests.models import BacktestFill, BacktestOrder, BacktestRun, BacktestTrade
from apps.backtests.services import BacktestInvalid, backtest_cancel, backtest_create
from apps.backtests.tasks import run_backtest
from apps.market.models import MinuteBar
from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory
from apps.trades.models import Fill, Order, Trade
from krx import calendar

from .bars import DAY, path_bars, wave

pytestmark = pytest.mark.django_db

CODE = "005930"
DAYS = [
    DAY,
    calendar.next_trading_day(DAY),
    calendar.next_trading_day(calendar.next_trading_day(DAY)),
]


@pytest.fixture
def stored_bars() -> None:
    InstrumentFactory(code=CODE, name="삼성전자")
    rows = [
        MinuteBarFactory.build(
            instrument_id=CODE, time=b.end, open=b.open, high=b.high, low=b.low, close=b.close,
            volume=b.volume,
        )
        for day in DAYS
        for b in path_bars(CODE, wave(), day)
    ]  # fmt: skip
    MinuteBar.objects.bulk_create(rows)


def create(**kw: object) -> BacktestRun:
    args: dict[str, object] = {
        "strategy": "ma_cross",
        "date_from": DAYS[0],
        "date_to": DAYS[-1],
        "codes": [CODE],
        "overrides": {"fast": "5", "slow": "20"},
    }
    args.update(kw)
    return backtest_create(**args)  # type: ignore[arg-type]


def test_a_run_stores_its_own_books_and_metrics(stored_bars: None) -> None:
    run = services.backtest_execute(create().pk)
    assert run.status == "done", run.error
    assert run.progress == 100 and run.days_done == run.days_total == 3
    assert run.bars == 3 * len(path_bars(CODE, wave()))
    trades = list(run.trades.all())
    assert len(trades) >= 12
    fills = list(BacktestFill.objects.filter(run=run).select_related("order"))
    recomputed = sum(
        f.amount - f.commission - f.tax if f.order.side == "sell" else -(f.amount + f.commission)
        for f in fills
    )
    assert sum(t.pnl for t in trades) == recomputed == run.metrics["total_pnl"]
    assert run.metrics["total_trades"] == len(trades)
    assert run.metrics["patterns"][0]["pattern"].startswith("ma_cross|")
    assert len(run.equity) == 3 and run.equity[-1][1] == run.metrics["final_equity"]
    assert BacktestOrder.objects.filter(run=run).count() == len(trades) * 2
    # The live books never see a backtest.
    assert not Order.objects.exists() and not Fill.objects.exists() and not Trade.objects.exists()


def test_cancel_stops_the_run_after_the_day_in_progress(
    stored_bars: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = create()
    real = selectors.iter_days

    def cancelling(days: list[dt.date], codes: list[str], **kw: bool) -> Iterator[object]:
        for i, item in enumerate(real(days, codes, **kw)):
            if i == 1:
                assert backtest_cancel(run.pk)
            yield item

    monkeypatch.setattr(selectors, "iter_days", cancelling)
    done = services.backtest_execute(run.pk)
    assert done.status == "cancelled"
    assert done.days_done == 2 and done.days_total == 3 and done.progress == 66
    assert BacktestTrade.objects.filter(run=done).exists()  # what ran is kept


def test_the_tape_modes_first_day_carries_the_stored_day_before(stored_bars: None) -> None:
    """`iter_days(prev_bars=True)`: the first day carries the previous trading day's stored bars, later
    days and the bar mode none. A tape run with no stored day before says so with its results."""
    first, second = selectors.iter_days(DAYS[1:], [CODE], prev_bars=True)
    stored = path_bars(CODE, wave(), DAYS[0])
    assert [(b.end, b.close, b.volume) for b in first.prev_bars] == [
        (b.end, b.close, b.volume) for b in stored
    ]
    assert first.bases == {CODE: stored[-1].close} and not second.prev_bars
    assert first.prev_volume == {CODE: sum(b.volume for b in stored)}
    assert not next(selectors.iter_days(DAYS[1:], [CODE])).prev_bars
    tape = {"fill_model": "tape"}
    missing = services.backtest_execute(create(date_to=DAYS[0], options=tape).pk)
    assert missing.status == "done", missing.error
    assert missing.data_note.startswith(
        f"Day 1 ({DAYS[0]}): no stored previous trading day "
        f"({calendar.previous_trading_day(DAYS[0])}) for 1/1 codes ({CODE})"
    )
    found = services.backtest_execute(create(date_from=DAYS[1], date_to=DAYS[1], options=tape).pk)
    assert found.status == "done" and found.data_note.startswith("apps.market minute bars")


def test_a_queued_run_cancelled_never_starts(stored_bars: None) -> None:
    run = create()
    assert backtest_cancel(run.pk)
    done = services.backtest_execute(run.pk)
    assert done.status == "cancelled" and done.bars == 0
    assert not backtest_cancel(run.pk)


def test_bad_requests_store_nothing() -> None:
    with pytest.raises(BacktestInvalid) as err:
        create(strategy="nope")
    assert "strategy" in err.value.errors
    with pytest.raises(BacktestInvalid) as err:
        create(overrides={"fast": "30", "slow": "20"})
    assert "slow" in err.value.errors
    with pytest.raises(BacktestInvalid):
        create(date_to=DAYS[0] - dt.timedelta(days=1))
    assert not BacktestRun.objects.exists()


def test_the_command_prints_the_metrics(stored_bars: None) -> None:
    out = StringIO()
    call_command(
        "backtest", "--strategy", "ma_cross", "--from", str(DAYS[0]), "--to", str(DAYS[1]),
        "--codes", CODE, "--set", "fast=3", "--set", "slow=12", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "done" in text and "win rate" in text and "profit factor" in text
    run = BacktestRun.objects.get()
    assert run.params == {"fast": 3, "slow": 12} and run.metrics["days"] == 2


def test_the_task_runs_a_queued_run(stored_bars: None) -> None:
    run = create(universe="all", codes=[])
    assert run_backtest.apply(args=[run.pk]).get() == "done"
    run.refresh_from_db()
    assert run.status == "done" and run.metrics["total_trades"] > 0


def test_opening_breakout_over_stored_bars_reads_news_and_daily_bars() -> None:
    from apps.market.tests.factories import DailyBarFactory
    from apps.news.tests.factories import NewsItemFactory

    from .bars import at
    from .test_runner import A, B, breakout_day

    for code in (A, B):
        InstrumentFactory(code=code)
    day = breakout_day([])
    MinuteBar.objects.bulk_create(
        [
            MinuteBarFactory.build(
                instrument_id=b.code, time=b.end, open=b.open, high=b.high, low=b.low,
                close=b.close, volume=b.volume,
            )
            for b in day.bars
        ]
    )  # fmt: skip
    DailyBarFactory(instrument_id=A, date=DAY, prev_close=70_000)
    NewsItemFactory(code=A, published_at=at(DAY, "08:40"), score=85)
    NewsItemFactory(code=A, published_at=at(DAY, "15:40"), score=10)  # after the close: unseen
    run = create(
        strategy="opening_breakout", date_from=DAY, date_to=DAY, codes=[A, B],
        overrides={"top_n": 1, "news_threshold": 70},
    )  # fmt: skip
    done = services.backtest_execute(run.pk)
    assert done.status == "done", done.error
    (trade,) = done.trades.all()
    assert (trade.code, trade.news_score, trade.volume_rank) == (A, 85, 1)
    assert done.metrics["patterns"][0]["pattern"].startswith("opening_breakout|news:70+|rank:1-3")


def test_long_runs_are_not_cut_by_the_global_soft_time_limit(settings) -> None:
    from apps.backtests.tasks import tuning_trial_task

    for task in (run_backtest, tuning_trial_task):
        assert task.soft_time_limit is not None
        assert settings.CELERY_TASK_SOFT_TIME_LIMIT < task.soft_time_limit < task.time_limit
