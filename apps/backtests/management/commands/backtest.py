"""`manage.py backtest --strategy NAME --from DATE --to DATE [--codes …|--universe …] [--set k=v …]`:
create a run and replay it here (or `--queue`: on a Celery worker), then print its metrics."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backtests.models import BacktestRun
from apps.backtests.services import BacktestInvalid, backtest_create, backtest_execute


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from None


class Command(BaseCommand):
    help = "Backtest a strategy over stored minute bars and print its metrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strategy", required=True)
        parser.add_argument("--from", dest="date_from", required=True, type=_date)
        parser.add_argument("--to", dest="date_to", required=True, type=_date)
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--codes", nargs="+", default=[])
        group.add_argument("--universe", choices=["all", "KOSPI", "KOSDAQ", "KONEX"])
        parser.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="PARAM=VALUE",
            help="a strategy parameter (repeatable)",
        )
        parser.add_argument("--budget", type=int, help="the strategy's budget, KRW")
        parser.add_argument("--cash", type=int, help="the account's starting cash, KRW")
        parser.add_argument("--participation", help="share of each bar's volume we may take")
        parser.add_argument("--slippage-ticks", type=int, help="market-order slippage in ticks")
        parser.add_argument(
            "--assume-news-score",
            type=int,
            help="the news score of codes without stored news (a what-if)",
        )
        parser.add_argument(
            "--fill-model",
            choices=["bars", "tape"],
            help="bars (default): decide at bar closes, fill on the next bar; tape: the simulator's "
            "tape and matching, the model paper trading runs on (slower; with --set condition_seqs=… "
            "the simulator's own condition searches, KIWOOM_SIM_CONDITIONS_FILE)",
        )
        parser.add_argument("--queue", action="store_true", help="run on a Celery worker instead")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")  # fmt: skip

    def handle(self, *args: Any, **opts: Any) -> None:
        overrides = {}
        for item in opts["overrides"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--set needs PARAM=VALUE: {item}")
            overrides[key.strip()] = value.strip()
        options = {
            k: v
            for k, v in {
                "budget_krw": opts["budget"],
                "cash_krw": opts["cash"],
                "participation": opts["participation"],
                "slippage_ticks": opts["slippage_ticks"],
                "assume_news_score": opts["assume_news_score"],
                "fill_model": opts["fill_model"],
            }.items()
            if v is not None
        }
        try:
            run = backtest_create(
                strategy=opts["strategy"],
                date_from=opts["date_from"],
                date_to=opts["date_to"],
                codes=opts["codes"],
                universe=opts["universe"] or "",
                overrides=overrides,
                options=options,
            )
        except BacktestInvalid as exc:
            raise CommandError(json.dumps(exc.errors, ensure_ascii=False)) from None
        if opts["queue"]:
            from apps.backtests.tasks import run_backtest

            run_backtest.delay(run.pk)
            self.stdout.write(f"backtest #{run.pk} queued")
            return
        run = backtest_execute(run.pk)
        self._print(run, opts["json"])

    def _print(self, run: BacktestRun, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"id": run.pk, "status": run.status, **run.metrics},
                                         ensure_ascii=False, indent=2))  # fmt: skip
            return
        if run.status == "failed":
            raise CommandError(f"backtest #{run.pk} failed: {run.error}")
        mt = run.metrics
        self.stdout.write(
            f"backtest #{run.pk} {run.strategy} {run.date_from}…{run.date_to}: {run.status}, "
            f"{mt.get('days', 0)} days, {mt.get('bars', 0):,} bars in {run.elapsed_seconds or 0:.1f} s"
        )
        self.stdout.write(f"params {json.dumps(run.params, ensure_ascii=False)}")
        rows = [
            ("trades", mt.get("total_trades")), ("wins / losses", f"{mt.get('wins')} / {mt.get('losses')}"),
            ("win rate", mt.get("win_rate")), ("average return %", mt.get("avg_return_pct")),
            ("profit factor", mt.get("profit_factor")), ("exposure", mt.get("exposure")),
            ("total P&L (KRW)", f"{mt.get('total_pnl', 0):,}"),
            ("max drawdown", f"{mt.get('max_drawdown_krw', 0):,} KRW ({mt.get('max_drawdown_pct')} %)"),
            ("equity", f"{mt.get('start_equity', 0):,} → {mt.get('final_equity', 0):,} "
                       f"({mt.get('return_pct')} %)"),
            ("signals", json.dumps(mt.get("signals", {}))),
        ]  # fmt: skip
        for label, value in rows:
            self.stdout.write(f"  {label:<18} {value}")
        patterns = mt.get("patterns") or []
        if patterns:
            self.stdout.write("  per pattern (strategy × news × rank × entry time):")
            for p in patterns[:20]:
                self.stdout.write(
                    f"    {p['pattern']:<60} {p['trades']:>4} trades  win {p['win_rate']}  "
                    f"avg {p['avg_return_pct']} %  P&L {p['total_pnl']:,}"
                )
        self.stdout.write(run.data_note)
