"""Shared plumbing of the market import commands: a progress bar per file, errors as CommandError naming
file, line and reason, and the next file parsed while the current one is written.

Each file is still its own transaction, written in the order given: a bad file stops the command after
the files before it were committed and before anything of its own is written. Parsing ahead only
overlaps the CPU work of reading file N+1 with the database work of writing file N (COPY waits on the
server, which runs on another core)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.market.importers import ImportFileError
from apps.market.services import LoadResult, Progress


def import_files(
    command: BaseCommand,
    files: list[str],
    read: Callable[[Path], pd.DataFrame],
    load: Callable[[pd.DataFrame, str, Progress], LoadResult],
    verbosity: int,
) -> None:
    paths = [Path(name) for name in files]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-read")
    try:
        ahead: Future[pd.DataFrame] | None = pool.submit(read, paths[0]) if paths else None
        for i, path in enumerate(paths):
            assert ahead is not None
            try:
                frame = ahead.result()
            except ImportFileError as exc:
                raise CommandError(f"{exc} (nothing from this file was written)") from exc
            ahead = pool.submit(read, paths[i + 1]) if i + 1 < len(paths) else None
            with tqdm(
                desc=path.name, unit="row", unit_scale=True, file=sys.stderr, disable=verbosity < 1
            ) as bar:
                try:
                    result = load(frame, str(path), bar.update)
                except ImportFileError as exc:
                    raise CommandError(f"{exc} (nothing from this file was written)") from exc
            off_grid = frame.attrs.get("off_grid_rows", 0)
            command.stdout.write(
                f"{path}: {result.rows} rows, {result.changed} inserted or changed, "
                f"{result.instruments_created} new instruments"
                + (
                    f", {off_grid} rows with integrated KRX+NXT prices between KRX ticks "
                    "(stored as given)"
                    if off_grid
                    else ""
                )
            )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
