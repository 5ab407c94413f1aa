"""Kiwoom REST TR bodies served by the simulator (PROTOCOL.md §4), one module per TR family.

Owns one handler per TR (stkinfo, mrkcond, chart, rkinfo, acnt, ordr groups), request validation,
`cont-yn`/`next-key` paging and the exact field names/encodings of each response. Handlers read
the market and the account through `MarketAdapter` (adapter.py), which returns the engine's DTOs
(dto.py); the HTTP envelope (auth, errors, throttling, faults, headers) lives in server.py.
"""

from __future__ import annotations

from .acnt import ka00001, ka10075, ka10076, kt00001, kt00004, kt00018
from .chart import ka10080, ka10081
from .common import TrEntry
from .mrkcond import ka10004
from .ordr import kt10000, kt10001, kt10002, kt10003
from .rkinfo import ka10023, ka10027, ka10030, ka10032
from .stkinfo import ka10001, ka10099

__all__ = ["TR_TABLE", "TrEntry"]


TR_TABLE: dict[str, TrEntry] = {
    "ka00001": TrEntry("acnt", ka00001),
    "ka10001": TrEntry("stkinfo", ka10001),
    "ka10099": TrEntry("stkinfo", ka10099),
    "ka10004": TrEntry("mrkcond", ka10004),
    "ka10080": TrEntry("chart", ka10080),
    "ka10081": TrEntry("chart", ka10081),
    "ka10032": TrEntry("rkinfo", ka10032),
    "ka10023": TrEntry("rkinfo", ka10023),
    "ka10027": TrEntry("rkinfo", ka10027),
    "ka10030": TrEntry("rkinfo", ka10030),
    "kt00001": TrEntry("acnt", kt00001),
    "kt00018": TrEntry("acnt", kt00018),
    "kt00004": TrEntry("acnt", kt00004),
    "ka10075": TrEntry("acnt", ka10075),
    "ka10076": TrEntry("acnt", ka10076),
    "kt10000": TrEntry("ordr", kt10000, is_order=True),
    "kt10001": TrEntry("ordr", kt10001, is_order=True),
    "kt10002": TrEntry("ordr", kt10002, is_order=True),
    "kt10003": TrEntry("ordr", kt10003, is_order=True),
}
