"""krx stays free of Django and of the apps; the broker does not import the market app."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        if "tests" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        out[str(path.relative_to(ROOT))] = names
    return out


def test_krx_imports_neither_django_nor_apps() -> None:
    for path, names in _imports(ROOT / "krx").items():
        bad = {n for n in names if n.split(".")[0] in {"django", "apps", "stockagent"}}
        assert not bad, (path, bad)


def test_broker_does_not_import_market() -> None:
    for path, names in _imports(ROOT / "apps" / "broker").items():
        bad = {n for n in names if n.startswith("apps.market")}
        assert not bad, (path, bad)
