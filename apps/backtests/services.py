"""Writes of the backtests app: create a run, execute it (the runner over stored history), cancel it.

- `backtest_create` validates the strategy, the parameters (the strategy's own schema: `--set` values
  over the active configuration's, else the defaults) and the range, and stores a `queued` run.
- `backtest_execute(run_id)` claims a queued run (conditional UPDATE: one executor per run), replays it
  (`runner.run` over `selectors.iter_days`) with the risk configuration in force (its limits and exit
  policy), updating `progress`/`days_done` after each day and stopping when `cancel_requested` is set,
  then stores the orders, fills and trades (bulk, one transaction) and the metrics
  (`apps.reports.metrics`, the live learning metrics' module). A failure stores `failed` and the error.
- `backtest_cancel` sets the flag (a queued run is cancelled at once).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.reports import metrics as m
from apps.strategy.engine.params import ParamsInvalid
from apps.strategy.engine.runner import BUILTINS as REGISTRY
from krx import KST

from .models import BacktestFill, BacktestOrder, BacktestRun, BacktestTrade, RunStatus
from .runner import RunResult, RunSpec, run

log = logging.getLogger(__name__)

__all__ = [
    "BacktestInvalid",
    "backtest_cancel",
    "backtest_create",
    "backtest_execute",
    "backtest_launch",
    "metrics_of",
    "run_spec",
]

DEFAULT_BUDGET_KRW = 10_000_000
DEFAULT_CASH_KRW = 100_000_000


class BacktestInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid backtest: " + ", ".join(sorted(errors)))
        self.errors = errors


def _active(strategy: str) -> Any:
    from apps.strategy.selectors import active_settings

    return active_settings().get(strategy)


def backtest_create(
    *,
    strategy: str,
    date_from: dt.date,
    date_to: dt.date,
    codes: Sequence[str] = (),
    universe: str = "",
    overrides: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    user: Any = None,
) -> BacktestRun:
    from .selectors import UNIVERSES

    errors: dict[str, list[str]] = {}
    cls = REGISTRY.get(strategy)
    if cls is None:
        raise BacktestInvalid(
            {"strategy": [f"unknown strategy {strategy!r}: {', '.join(REGISTRY)}"]}
        )
    if date_to < date_from:
        errors["date_to"] = ["the range ends before it starts"]
    if not codes and universe not in UNIVERSES:
        errors["universe"] = [f"give codes or a universe: {', '.join(UNIVERSES)}"]
    active = _active(strategy)
    params: dict[str, Any] = {}
    try:
        base = cls.schema.load(active.params) if active is not None else None
        params = cls.schema.to_json(cls.schema.validate(dict(overrides or {}), base))
    except ParamsInvalid as exc:
        errors.update(exc.errors)
    opts = dict(options or {})
    opts.setdefault("budget_krw", active.budget_krw if active is not None else DEFAULT_BUDGET_KRW)
    opts.setdefault("cash_krw", DEFAULT_CASH_KRW)
    if errors:
        raise BacktestInvalid(errors)
    return BacktestRun.objects.create(
        strategy=strategy,
        params=params,
        options=opts,
        date_from=date_from,
        date_to=date_to,
        codes=sorted(set(codes)),
        universe="" if codes else universe,
        created_by=user if getattr(user, "pk", None) else None,
    )


def backtest_launch(data: Mapping[str, Any], user: Any = None) -> BacktestRun:
    """Create a run from a checked request body (`serializers.BacktestCreateSerializer`: the API and the
    page) and hand it to the `reports` worker (`backtests.run`) once the row is committed."""
    from .tasks import run_backtest

    row = backtest_create(
        strategy=data["strategy"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        codes=data.get("codes") or (),
        universe=data.get("universe") or "",
        overrides=data.get("params") or {},
        options=data.get("options") or {},
        user=user,
    )
    transaction.on_commit(lambda: run_backtest.delay(row.pk))
    return row


def backtest_cancel(run_id: int) -> bool:
    """Ask a run to stop (True when it was not finished)."""
    if BacktestRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    ):
        return True
    return bool(
        BacktestRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            cancel_requested=True
        )
    )


def _spec(row: BacktestRun) -> RunSpec:
    return run_spec(row.strategy, row.params, row.options or {})


def run_spec(strategy: str, params: Mapping[str, Any], opts: Mapping[str, Any]) -> RunSpec:
    """The runner's spec of a stored parameter set and run options, with the risk configuration in
    force (a backtest's, a tuning trial's)."""
    from apps.risk.selectors import active_config

    config = active_config()
    cls = REGISTRY[strategy]
    news = opts.get("assume_news_score")
    return RunSpec(
        strategy=strategy,
        params=cls.schema.load(params),
        budget_krw=int(opts.get("budget_krw", DEFAULT_BUDGET_KRW)),
        cash=int(opts.get("cash_krw", DEFAULT_CASH_KRW)),
        limits=config.limits,
        exit_policy=config.exit_policy,
        participation=Decimal(str(opts.get("participation", "0.1"))),
        slippage_ticks=int(opts.get("slippage_ticks", 1)),
        assume_news_score=int(news) if news is not None else None,
        fill_model=str(opts.get("fill_model", "bars")),
        tape_seed=int(getattr(settings, "KIWOOM_SIM_SEED", 7)),
        tape_conditions_path=getattr(settings, "KIWOOM_SIM_CONDITIONS_FILE", "") or None,
    )


def backtest_execute(run_id: int) -> BacktestRun:
    """Run a queued backtest to the end (or its cancellation); returns the stored row."""
    from . import selectors

    claimed = BacktestRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    row = BacktestRun.objects.get(pk=run_id)
    if not claimed:
        return row  # another worker has it, or it is finished/cancelled
    started = time.perf_counter()
    try:
        spec = _spec(row)
        days = selectors.days_of(row.date_from, row.date_to)
        codes = selectors.universe_codes(row.date_from, row.date_to, row.codes, row.universe)
        instruments = selectors.instruments_of(codes)
        row.days_total = len(days)
        BacktestRun.objects.filter(pk=run_id).update(days_total=len(days))

        def on_day(done: int, total: int) -> bool:
            progress = int(done * 100 / total) if total else 100
            BacktestRun.objects.filter(pk=run_id).update(days_done=done, progress=progress)
            return not BacktestRun.objects.filter(pk=run_id, cancel_requested=True).exists()

        result = run(
            spec,
            instruments,
            selectors.iter_days(days, codes, prev_bars=spec.fill_model == "tape"),
            total_days=len(days),
            on_day=on_day,
        )
        names = {i.code: (i.name, i.market) for i in instruments}
        _store(row, result, spec, names, time.perf_counter() - started)
    except Exception as exc:
        log.exception("backtest %s failed", run_id)
        BacktestRun.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED, error=repr(exc)[:2000], finished_at=timezone.now()
        )
    row.refresh_from_db()
    return row


def metrics_of(result: RunResult, start_equity: int) -> dict[str, Any]:
    """The run's metrics (apps.reports.metrics) as JSON: Decimals as strings."""
    trades = [
        m.ClosedTrade(
            exit_time=t.exit_time,
            pnl=t.pnl,
            return_pct=t.pnl_pct,
            entry_time=t.entry_time,
            strategy_tag=t.strategy_tag,
            news_score=t.news_score,
            volume_rank=t.volume_rank,
        )
        for t in result.books.trades
    ]
    curve = [start_equity, *result.minute_equity]
    equity = [m.EquityPoint(dt.datetime.min.replace(tzinfo=KST), v) for v in curve]
    got = m.compute_metrics(
        trades, start_equity=start_equity, equity=equity, sessions=result.sessions
    )
    final = result.equity[-1][1] if result.equity else start_equity
    # Each day's close: the series of the Sharpe-like ratio (and of a tuning's chained headline).
    daily = [value for _, value in result.equity]

    def pattern(p: m.PatternStats) -> dict[str, Any]:
        return {
            "pattern": p.label,
            "trades": p.trades,
            "wins": p.wins,
            "win_rate": str(p.win_rate),
            "avg_return_pct": str(p.avg_return_pct),
            "total_pnl": p.total_pnl,
        }

    return {
        "total_trades": got.total_trades,
        "wins": got.wins,
        "losses": got.losses,
        "win_rate": str(got.win_rate),
        "avg_return_pct": str(got.avg_return_pct),
        "profit_factor": None if got.profit_factor is None else str(got.profit_factor),
        "exposure": str(got.exposure),
        "max_drawdown_krw": got.max_drawdown_krw,
        "max_drawdown_pct": str(got.max_drawdown_pct),
        "total_pnl": got.total_pnl,
        "gross_profit": got.gross_profit,
        "gross_loss": got.gross_loss,
        "start_equity": start_equity,
        "final_equity": final,
        "return_pct": str(m.q(Decimal(final - start_equity) * 100 / start_equity))
        if start_equity
        else "0",
        "patterns": [pattern(p) for p in got.patterns],
        "best_pattern": pattern(got.best_pattern) if got.best_pattern else None,
        "worst_pattern": pattern(got.worst_pattern) if got.worst_pattern else None,
        "signals": dict(result.signals),
        "sharpe": _str(m.sharpe_ratio(m.period_returns([start_equity, *daily]))),
        "daily_equity": daily,
        "days": result.days,
        "bars": result.bars,
    }


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _store(
    row: BacktestRun,
    result: RunResult,
    spec: RunSpec,
    names: Mapping[str, tuple[str, str]],
    elapsed: float,
) -> None:
    books = result.books
    with transaction.atomic():
        orders = BacktestOrder.objects.bulk_create(
            [
                BacktestOrder(
                    run=row, seq=o.seq, code=o.code, name=names.get(o.code, ("", ""))[0],
                    market=names.get(o.code, ("", "KOSPI"))[1], side=o.side, quantity=o.quantity,
                    price=o.price, filled_quantity=o.filled_quantity, filled_amount=o.filled_amount,
                    avg_fill_price=(Decimal(o.filled_amount) / o.filled_quantity).quantize(
                        Decimal("0.01")) if o.filled_quantity else None,
                    commission=o.commission, tax=o.tax, status=o.status,
                    broker_order_no=o.order_no, strategy_tag=o.strategy_tag, cause=o.cause,
                    cause_ref=o.cause_ref[:100], reason=o.reason[:300],
                    reference_price=o.reference_price, message=o.message[:300],
                    news_score=o.news_score, volume_rank=o.volume_rank, created_at=o.created_at,
                    finished_at=o.finished_at,
                )
                for o in books.orders
            ],
            batch_size=2000,
        )  # fmt: skip
        by_seq = {o.seq: o for o in orders}
        cum: dict[int, tuple[int, int]] = {}
        fills = []
        for f in books.fills:
            qty, amount = cum.get(f.order_seq, (0, 0))
            qty, amount = qty + f.quantity, amount + f.amount
            cum[f.order_seq] = (qty, amount)
            fills.append(
                BacktestFill(
                    run=row, order=by_seq[f.order_seq], cum_quantity=qty, quantity=f.quantity,
                    price=Decimal(f.price), amount=f.amount, cum_amount=amount,
                    execution_no=f.execution_no, commission=f.commission, tax=f.tax,
                    executed_at=f.executed_at,
                )
            )  # fmt: skip
        BacktestFill.objects.bulk_create(fills, batch_size=2000)
        BacktestTrade.objects.bulk_create(
            [
                BacktestTrade(
                    run=row, date=t.day, code=t.code, name=names.get(t.code, ("", ""))[0],
                    entry_time=t.entry_time, exit_time=t.exit_time, entry_price=t.entry_price,
                    exit_price=t.exit_price, quantity=t.quantity, entry_amount=t.entry_amount,
                    exit_amount=t.exit_amount, pnl=t.pnl, pnl_pct=t.pnl_pct,
                    commission=t.commission, tax=t.tax, news_score=t.news_score,
                    volume_rank=t.volume_rank, strategy_tag=t.strategy_tag,
                    exit_order=by_seq.get(t.exit_order_seq), closed_position=t.closed_position,
                )
                for t in books.trades
            ],
            batch_size=2000,
        )  # fmt: skip
        row.metrics = metrics_of(result, spec.cash)
        row.equity = [[at.isoformat(), value] for at, value in result.equity]
        row.bars = result.bars
        row.elapsed_seconds = round(elapsed, 3)
        row.days_done = result.days
        row.status = RunStatus.CANCELLED if result.cancelled else RunStatus.DONE
        total = row.days_total
        row.progress = 100 if not result.cancelled or not total else result.days * 100 // total
        row.finished_at = timezone.now()
        row.data_note = _data_note(row, result.notes)
        row.save()


def _data_note(row: BacktestRun, notes: Sequence[str] = ()) -> str:
    """Where the bars came from (stated with the results): real minute data here covers one stock, so
    larger runs replay the bars the simulator generated and `market_backfill` stored. The run's own
    notes first (the tape mode's missing day before: `tape.TapeRun._check_prev_day`)."""
    source = (
        "apps.market minute bars as stored: real minute files where imported, "
        "otherwise bars generated by the simulator and stored by backfill"
    )
    return " ".join([*notes, source])[:300]
