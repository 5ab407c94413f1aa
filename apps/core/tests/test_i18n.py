"""The English catalogue is complete and compiled: every Korean UI string has an English translation."""

from __future__ import annotations

import re

from django.conf import settings

PO = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"


def test_every_message_has_an_english_translation():
    text = PO.read_text(encoding="utf-8")
    entries = re.findall(r'^msgid "(.+)"\nmsgstr "(.*)"$', text, flags=re.MULTILINE)
    assert entries
    missing = [msgid for msgid, msgstr in entries if not msgstr]
    assert missing == [], (
        f"untranslated (run makemessages -l en, translate, compilemessages): {missing}"
    )
    assert "#, fuzzy" not in text.split("\n\n", 1)[1]


def test_compiled_catalogue_is_committed():
    mo = PO.with_suffix(".mo")
    assert mo.exists()
    assert mo.stat().st_size > 0
