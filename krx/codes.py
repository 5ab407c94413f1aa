"""KRX stock codes: the one rule for what a code is, and the one way to clean one up.

A KRX short code is six characters: a digit, then five digits or capital letters. Most are all digits
(`005930`); preferred shares may end in a letter (`00104K`) and since 2024 new listings may carry letters
after the first digit (`0001A0`). Kiwoom sends codes with a one-letter market prefix (`A005930`,
`A0001A0`), which is not part of the code.

Framework-free (no Django): imported by the apps, the importers, the Kiwoom client and the simulator.
"""

from __future__ import annotations

import re

# For regex users (URL patterns, HTML `pattern=`): no anchors, so it can be embedded.
STOCK_CODE_PATTERN = "[0-9][0-9A-Z]{5}"
_STOCK_CODE = re.compile(STOCK_CODE_PATTERN)
_PREFIXED = re.compile(f"[A-Za-z]({STOCK_CODE_PATTERN})")


def is_stock_code(value: object) -> bool:
    """True for a clean KRX short code (`005930`, `00104K`, `0001A0`); no prefix, no spaces, capitals."""
    return isinstance(value, str) and _STOCK_CODE.fullmatch(value) is not None


def strip_market_prefix(raw: str) -> str:
    """`A005930` → `005930`, `A0001A0` → `0001A0` (surrounding spaces dropped); anything that is not a
    one-letter prefix before a code is returned stripped but otherwise unchanged, so a foreign ticker
    (`AAPL`, `TSLA123`) keeps its letters."""
    s = raw.strip()
    if m := _PREFIXED.fullmatch(s.upper()):
        return m.group(1)
    return s


def clean_stock_code(raw: str) -> str | None:
    """What a person or a file wrote (`" a005930 "`, `0001a0`) as a clean code, or None if it is not one."""
    code = strip_market_prefix(raw).upper()
    return code if is_stock_code(code) else None
