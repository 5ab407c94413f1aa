"""manage.py import_minute_bars FILE... — code,date,time_hhmm,OHLCV files (bar END minute, KST)."""

from django.core.management.base import BaseCommand, CommandParser

from apps.market.importers import read_minute_file
from apps.market.management.commands._bulk import import_files
from apps.market.services import minute_bars_load


class Command(BaseCommand):
    help = "Import 1-minute bar files (code,date,time_hhmm,open,high,low,close,volume)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+")

    def handle(self, *args: object, **options: object) -> None:
        import_files(
            self, options["files"], read_minute_file, minute_bars_load, int(options["verbosity"])
        )
