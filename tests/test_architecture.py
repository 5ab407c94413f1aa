"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and they name every app.

- `krx` and the Kiwoom client (`apps.broker.kiwoom`) import no Django and no app;
- the simulator (`apps.broker.simulator`) imports no Django and no app;
- the apps reach the broker only through `apps.broker.contract` and `apps.broker.backends`;
- Korea time has one definition, `krx.KST`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _apps() -> set[str]:
    """Every Django app of the project but the broker itself (`apps.<name>` with an apps.py)."""
    return {
        f"apps.{p.parent.name}"
        for p in (ROOT / "apps").glob("*/apps.py")
        if p.parent.name != "broker"
    }


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), "import-linter is missing: pip install -r requirements.txt"
    done = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"


def test_the_contracts_name_every_app() -> None:
    """A new app is covered from its first commit: forbidden to the Kiwoom client and the simulator,
    and held to the broker contract itself."""
    contracts = _contracts()
    apps = _apps()
    assert {"apps.core", "apps.market", "apps.conditions", "apps.notifications"} <= apps
    for key in ("kiwoom-framework-free", "simulator-standalone"):
        forbidden = set(contracts[key]["forbidden_modules"])
        assert "django" in forbidden
        assert apps <= forbidden, f"{key}: add {sorted(apps - forbidden)} to forbidden_modules"
    sources = set(contracts["broker-through-contract"]["source_modules"])
    assert apps <= sources, f"broker-through-contract: add {sorted(apps - sources)}"
    assert set(contracts["krx-framework-free"]["forbidden_modules"]) >= {"django", "apps"}


def test_one_kst() -> None:
    """Korea time is `krx.KST`, defined once in krx/markets.py; everything else imports it."""
    pattern = re.compile(r"ZoneInfo\(\s*[\"']Asia/Seoul[\"']\s*\)|timedelta\(\s*hours\s*=\s*9\s*\)")
    offenders = []
    for folder in ("apps", "krx", "stockagent", "bench", "tests", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "krx" / "markets.py":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "use `from krx import KST`:\n" + "\n".join(offenders)
