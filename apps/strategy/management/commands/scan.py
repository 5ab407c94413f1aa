"""`manage.py scan [--top N]`: run the opening scanner once now (any time of day) and print its table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.strategy.scanner import scan_run
from apps.strategy.scanner_models import ScanTrigger
from apps.strategy.scanner_selectors import snapshot_rows


def _num(value: object) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


class Command(BaseCommand):
    help = (
        "Run the opening scanner now: the trading-value, volume-surge and gainers rankings merged, "
        "risk exclusions dropped, news scores added; stored (a manual run) and published like a "
        "scheduled one. Prints the candidates."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--top", type=int, default=None, help="candidates kept (default STRATEGY_SCAN_TOP_N)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        top = options["top"]
        if top is not None and not 1 <= top <= 500:
            raise CommandError("--top must be between 1 and 500")
        snapshot = scan_run(trigger=ScanTrigger.MANUAL, top_n=top)
        if snapshot is None:  # pragma: no cover - a manual run has no slot to collide on
            raise CommandError("the run was not stored")
        self.stdout.write(
            f"scan {snapshot.pk} at {snapshot.at.isoformat()} (day {snapshot.day}), "
            f"{snapshot.row_count} candidates, {snapshot.duration_ms} ms, news {snapshot.news}"
        )
        if snapshot.error:
            self.stderr.write(f"ranking errors:\n{snapshot.error}")
        header = f"{'#':>3} {'code':<7} {'name':<16} {'price':>10} {'chg%':>7} {'value KRW':>18} "
        self.stdout.write(header + f"{'vol x':>7} {'news':>4}  ranks v/s/g")
        for r in snapshot_rows(snapshot):
            value = _num(r.value_krw) + ("~" if r.value_estimated else "")
            self.stdout.write(
                f"{r.rank:>3} {r.code:<7} {r.name[:16]:<16} {_num(r.price):>10} "
                f"{_num(r.change_pct):>7} {value:>18} {_num(r.volume_ratio):>7} "
                f"{_num(r.news_score):>4}  {_num(r.value_rank)}/{_num(r.surge_rank)}/{_num(r.gain_rank)}"
            )
        for e in snapshot.excluded:
            self.stdout.write(f"excluded {e['code']} {e['name']}: {', '.join(e['kinds'])}")
        if not snapshot.sources:
            raise CommandError("no ranking answered")
