"""`manage.py import_index_bars FILE... [--code KS11]`: KOSPI/KOSDAQ daily index bars from KRX files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.reports.index_import import IndexFileError, index_import


class Command(BaseCommand):
    help = "Import index daily bars (Date,Close,Comp,Open,High,Low,Volume,Amount CSV files)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="CSV files or folders of them (year_ks11/...)")
        parser.add_argument("--code", help="index code when the folder name does not give it")

    def handle(self, *args, **options) -> None:
        paths: list[Path] = []
        for name in options["files"]:
            path = Path(name)
            if path.is_dir():
                paths.extend(sorted(path.glob("*.csv")))
            elif path.is_file():
                paths.append(path)
            else:
                raise CommandError(f"{name}: no such file or folder")
        try:
            count = index_import(paths, options["code"])
        except IndexFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{count} index bars imported from {len(paths)} files")
