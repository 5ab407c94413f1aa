"""The embedded (SQLite) import path, end to end: migrate a fresh SQLite database and run the
import commands in a subprocess (the suite's own database is PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from apps.market.tests.test_importers import DAILY_2021, DAILY_2025, MINUTE, write

pytestmark = pytest.mark.slow


def _manage(db: Path, tmp_path: Path, *args: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "stockagent.settings",
        "DATABASE_URL": f"sqlite:///{db}",
        "STOCKAGENT_VAR_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args, "--skip-checks", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sqlite_import_then_reimport_reports_no_change(tmp_path: Path) -> None:
    db = tmp_path / "embedded.sqlite3"
    _manage(db, tmp_path, "migrate")
    daily = write(tmp_path, "marcap-2025.csv.gz", DAILY_2025)
    older = write(tmp_path, "marcap-2021.csv", DAILY_2021)
    minute = write(tmp_path, "005930_1min.csv", MINUTE)

    first = _manage(db, tmp_path, "import_daily_bars", str(daily), str(older))
    assert "3 rows, 3 inserted or changed, 2 new instruments" in first
    assert "2 rows, 2 inserted or changed, 2 new instruments" in first
    again = _manage(db, tmp_path, "import_daily_bars", str(daily), str(older))
    assert "3 rows, 0 inserted or changed, 0 new instruments" in again
    assert "2 rows, 0 inserted or changed, 0 new instruments" in again

    corrected = write(tmp_path, "fix.csv", DAILY_2025.replace("53700.0,", "53800.0,", 1))
    assert "3 rows, 1 inserted or changed" in _manage(
        db, tmp_path, "import_daily_bars", str(corrected)
    )

    assert "3 rows, 3 inserted or changed" in _manage(
        db, tmp_path, "import_minute_bars", str(minute)
    )
    assert "3 rows, 0 inserted or changed" in _manage(
        db, tmp_path, "import_minute_bars", str(minute)
    )
