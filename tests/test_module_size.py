"""No module over 600 lines outside tests and migrations: a module that grows past it gets split by
responsibility (a `services/` package re-exporting its public names, say) instead of growing on."""

from __future__ import annotations

import os
from pathlib import Path

MAX_LINES = 600
ROOT = Path(__file__).resolve().parents[1]
# Directories that are not ours or hold no product code; tests and migrations may run long.
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "var", "static", "tests", "migrations"}


def _modules() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        found += [
            Path(folder, name)
            for name in files
            if name.endswith(".py") and not name.startswith("test_") and name != "conftest.py"
        ]
    return found


def test_the_walk_sees_the_project() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert "manage.py" in names and "stockagent/settings.py" in names
    assert not any("/tests/" in n or "/migrations/" in n for n in names)


def test_no_module_over_600_lines() -> None:
    too_long = {}
    for path in _modules():
        with path.open("rb") as fh:
            lines = sum(1 for _ in fh)
        if lines > MAX_LINES:
            too_long[path.relative_to(ROOT).as_posix()] = lines
    assert not too_long, (
        f"modules over {MAX_LINES} lines (split them by responsibility): "
        + ", ".join(f"{name} ({n})" for name, n in sorted(too_long.items()))
    )
