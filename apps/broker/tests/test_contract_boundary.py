"""The contract stays vendor-neutral: Kiwoom's status text and modules stay inside `kiwoom/`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

import apps.broker.contract as contract

ROOT = Path(settings.BASE_DIR)
STATUS_WORDS = {"접수", "체결", "확인", "취소", "거부"}
# The one module that reads Kiwoom's status text, and the simulator, which writes it on the wire.
ALLOWED = {"apps/broker/kiwoom/mapping.py"}
ALLOWED_DIRS = ("apps/broker/simulator/",)
# Python modules of the apps (tests and the simulator excluded).
SOURCES = [
    p
    for p in sorted((ROOT / "apps").rglob("*.py"))
    if "/tests/" not in p.as_posix() and "/migrations/" not in p.as_posix()
]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _status_literals(path: Path) -> list[str]:
    """String constants that are a Kiwoom order-status word (a direction sign aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.strip().lstrip("+-")
            if text in STATUS_WORDS:
                found.append(f"{_rel(path)}:{node.lineno}: {node.value!r}")
    return found


def test_no_kiwoom_status_text_outside_the_mapping() -> None:
    offenders = [
        hit
        for path in SOURCES
        if _rel(path) not in ALLOWED and not _rel(path).startswith(ALLOWED_DIRS)
        for hit in _status_literals(path)
    ]
    assert offenders == []


def test_the_scan_would_catch_one() -> None:
    assert _status_literals(ROOT / "apps/broker/kiwoom/mapping.py")


def test_apps_import_only_the_contract_and_backends() -> None:
    pattern = re.compile(r"^\s*(?:from|import)\s+apps\.broker\.kiwoom\b", re.M)
    offenders = [
        _rel(p)
        for p in SOURCES
        if not _rel(p).startswith("apps/broker/") and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_contract_does_not_import_a_vendor() -> None:
    for path in Path(contract.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "kiwoom" not in re.sub(r"(?s)\"\"\".*?\"\"\"|#.*", "", text).lower(), path.name
