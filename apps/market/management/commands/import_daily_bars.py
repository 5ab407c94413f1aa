"""manage.py import_daily_bars FILE... — KRX all-stock daily files (.csv or .csv.gz)."""

from django.core.management.base import BaseCommand, CommandParser

from apps.market.importers import read_daily_file
from apps.market.management.commands._bulk import import_files
from apps.market.services import daily_bars_load


class Command(BaseCommand):
    help = (
        "Import KRX all-stock daily OHLCV files (columns by name; gz ok). One transaction a file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+")

    def handle(self, *args: object, **options: object) -> None:
        import_files(
            self, options["files"], read_daily_file, daily_bars_load, int(options["verbosity"])
        )
