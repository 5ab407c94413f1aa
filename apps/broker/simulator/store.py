"""State store of the simulator: the exchange snapshot as one JSON file, written atomically
(temp file in the same directory + fsync + rename), so a crash never leaves a torn file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace `path` with the JSON of `state`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is no file yet."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
