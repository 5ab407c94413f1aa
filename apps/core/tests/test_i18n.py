"""The English catalogue is complete and compiled: every Korean UI string has an English translation."""

from __future__ import annotations

import re

from django.conf import settings

PO = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _entries(text: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of every active entry, with wrapped continuation lines joined."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r'^(msgid|msgstr|msgid_plural|msgstr\[\d+\]|msgctxt) "(.*)"$', line)
            if m:
                current = m.group(1)
                fields[current] = m.group(2)
            elif current and line.startswith('"'):
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            out.append((fields["msgid"], fields.get("msgstr", fields.get("msgstr[0]", ""))))
    return out


def test_every_message_has_an_english_translation():
    text = PO.read_text(encoding="utf-8")
    entries = _entries(text)
    assert len(entries) > 100
    missing = [msgid for msgid, msgstr in entries if not msgstr]
    assert missing == [], (
        f"untranslated (run makemessages -l en, translate, compilemessages): {missing}"
    )
    assert "#, fuzzy" not in text.split("\n\n", 1)[1]


def test_compiled_catalogue_is_committed():
    mo = PO.with_suffix(".mo")
    assert mo.exists()
    assert mo.stat().st_size > 0
