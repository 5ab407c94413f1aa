"""`manage.py tune --strategy NAME --from DATE --to DATE (--codes …|--universe …) --range P=SPEC …
--in-sample N --out-sample N [--step N] [--method grid|random --trials N --seed S] [--objective …]`:
create a tuning run and run its trials here one after another (or `--queue`: fan them out to the
`reports` workers), then print the per-window choice and the out-of-sample headline."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backtests import tuning
from apps.backtests.models import TuningRun
from apps.backtests.tuning_services import (
    TuningInvalid,
    dispatch,
    trial_execute,
    tuning_create,
    tuning_finish,
)

from .backtest import _date


class Command(BaseCommand):
    help = "Tune a strategy's parameters (grid or random search, walk-forward) over stored bars."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strategy", required=True)
        parser.add_argument("--from", dest="date_from", required=True, type=_date)
        parser.add_argument("--to", dest="date_to", required=True, type=_date)
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--codes", nargs="+", default=[])
        group.add_argument("--universe", choices=["all", "KOSPI", "KOSDAQ", "KONEX"])
        parser.add_argument(
            "--range", dest="ranges", action="append", default=[], metavar="PARAM=SPEC",
            help="fast=3..10, rate=0.5..2:0.25 or slow=10,20,30 (repeatable)",
        )  # fmt: skip
        parser.add_argument("--set", dest="overrides", action="append", default=[],
                            metavar="PARAM=VALUE", help="a fixed parameter (repeatable)")  # fmt: skip
        parser.add_argument("--method", choices=tuning.METHODS, default="grid")
        parser.add_argument("--trials", type=int, help="random search: parameter sets to draw")
        parser.add_argument("--seed", type=int, help="random search: the generator's seed")
        parser.add_argument("--objective", choices=tuning.OBJECTIVES, default="return_pct")
        parser.add_argument("--in-sample", type=int, required=True, help="trading days")
        parser.add_argument("--out-sample", type=int, required=True, help="trading days")
        parser.add_argument("--step", type=int, help="trading days (default: --out-sample)")
        parser.add_argument("--budget", type=int, help="the strategy's budget, KRW")
        parser.add_argument("--cash", type=int, help="the account's starting cash, KRW")
        parser.add_argument("--queue", action="store_true", help="fan the trials out to workers")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        ranges, bad = tuning.parse_range_lines("\n".join(opts["ranges"]))
        if bad:
            raise CommandError(f"--range needs PARAM=min..max[:step] or PARAM=v1,v2: {bad[0]}")
        overrides = {}
        for item in opts["overrides"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--set needs PARAM=VALUE: {item}")
            overrides[key.strip()] = value.strip()
        options = {k: v for k, v in {"budget_krw": opts["budget"], "cash_krw": opts["cash"]}.items()
                   if v is not None}  # fmt: skip
        try:
            run = tuning_create(
                strategy=opts["strategy"], date_from=opts["date_from"], date_to=opts["date_to"],
                ranges=ranges, in_sample_days=opts["in_sample"], out_sample_days=opts["out_sample"],
                step_days=opts["step"], method=opts["method"], trials=opts["trials"],
                seed=opts["seed"], objective=opts["objective"], codes=opts["codes"],
                universe=opts["universe"] or "", overrides=overrides, options=options,
            )  # fmt: skip
        except TuningInvalid as exc:
            raise CommandError(json.dumps(exc.errors, ensure_ascii=False)) from None
        if opts["queue"]:
            dispatch(run.pk)
            self.stdout.write(f"tuning #{run.pk}: {run.trials_total} trials queued")
            return
        for n, pk in enumerate(run.trials.order_by("index").values_list("pk", flat=True), 1):
            trial_execute(pk)
            if not opts["json"] and (n % 10 == 0 or n == run.trials_total):
                self.stdout.write(f"  {n} / {run.trials_total} trials")
        tuning_finish(run.pk)
        run.refresh_from_db()
        self._print(run, opts["json"])

    def _print(self, run: TuningRun, as_json: bool) -> None:
        result = run.result or {}
        if as_json:
            self.stdout.write(json.dumps({"id": run.pk, "status": run.status, "seed": run.seed, **result},
                                         ensure_ascii=False, indent=2))  # fmt: skip
            return
        if run.status == "failed":
            raise CommandError(f"tuning #{run.pk} failed: {run.error}")
        self.stdout.write(
            f"tuning #{run.pk} {run.strategy} {run.date_from}…{run.date_to}: {run.status}, "
            f"{run.param_sets} sets × {len(run.windows)} windows"
            + (f", seed {run.seed}" if run.seed is not None else "")
        )
        for w in result.get("windows", []):
            self.stdout.write(
                f"  window {w['index']}: in-sample {w['is_from']}…{w['is_to']} → "
                f"{json.dumps(w['params'])} (score {w['is_score']}); out-of-sample "
                f"{w['oos_from']}…{w['oos_to']}: score {w['oos_score']}, P&L {w['oos_total_pnl']}"
            )
        head = result.get("headline") or {}
        self.stdout.write(
            f"out-of-sample headline ({run.objective}): {head.get('value')} — return "
            f"{head.get('return_pct')} %, P&L {head.get('total_pnl')}, trades {head.get('total_trades')}"
        )
        self.stdout.write(f"chosen parameters: {json.dumps(run.best_params, ensure_ascii=False)}")
