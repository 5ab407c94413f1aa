"""manage.py import_instruments FILE | --from-broker — the stock master CSV (Code, Name, Market,
Sector, ...) or the broker's ka10099 stock list."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.market.importers import ImportFileError
from apps.market.services import instruments_import_master, instruments_sync_from_broker


class Command(BaseCommand):
    help = "Create or update instruments from a stock master CSV or from the broker (ka10099)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?")
        parser.add_argument("--from-broker", action="store_true")
        parser.add_argument(
            "--markets",
            nargs="+",
            default=["KOSPI", "KOSDAQ"],
            choices=["KOSPI", "KOSDAQ", "KONEX"],
            help="markets to list with --from-broker (default: KOSPI KOSDAQ)",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["from_broker"]:
            from apps.broker.backends import get_broker
            from apps.broker.contract import BrokerError

            try:
                result = instruments_sync_from_broker(get_broker(), list(options["markets"]))
            except BrokerError as exc:
                raise CommandError(f"broker: {exc}") from exc
            self.stdout.write(
                f"broker: {result.rows} instruments, {result.instruments_created} new"
            )
            return
        if not options["file"]:
            raise CommandError("give a stock master FILE or --from-broker")
        path = Path(str(options["file"]))
        try:
            result = instruments_import_master(path)
        except ImportFileError as exc:
            raise CommandError(f"{exc} (nothing was written)") from exc
        self.stdout.write(f"{path}: {result.rows} instruments, {result.instruments_created} new")
