"""Shared plumbing of the market import commands: one file at a time, a progress bar, errors as
CommandError naming file, line and reason."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.market.importers import ImportFileError
from apps.market.services import LoadResult, Progress


def import_files(
    command: BaseCommand,
    files: list[str],
    load: Callable[[Path, Progress], LoadResult],
    verbosity: int,
) -> None:
    for name in files:
        path = Path(name)
        with tqdm(
            desc=path.name, unit="row", unit_scale=True, file=sys.stderr, disable=verbosity < 1
        ) as bar:
            try:
                result = load(path, bar.update)
            except ImportFileError as exc:
                raise CommandError(f"{exc} (nothing from this file was written)") from exc
        command.stdout.write(
            f"{path}: {result.rows} rows, {result.changed} inserted or changed, "
            f"{result.instruments_created} new instruments"
        )
