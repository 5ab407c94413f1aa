"""manage.py import_instruments FILE — the stock master CSV (Code, Name, Market, Sector, ...)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.market.importers import ImportFileError
from apps.market.services import instruments_import_master


class Command(BaseCommand):
    help = "Create or update instruments from a stock master CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            result = instruments_import_master(path)
        except ImportFileError as exc:
            raise CommandError(f"{exc} (nothing was written)") from exc
        self.stdout.write(f"{path}: {result.rows} instruments, {result.instruments_created} new")
