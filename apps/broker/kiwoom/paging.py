"""Kiwoom's continuation queries (연속조회), paged to exhaustion.

REST pages continue through response *headers* (`cont-yn: Y`, `next-key`), with the same body
re-sent; the WebSocket condition search continues through *body* fields (`cont_yn`/`next_key`).
A known public wrapper stopped after page one by reading the body; this module is the one place
that gets it right, with a page cap and a guard against a server repeating its cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

DEFAULT_MAX_PAGES = 500


@dataclass(frozen=True)
class Page:
    body: dict[str, Any]
    more: bool
    next_key: str
    day: date  # the KST trading day the response belongs to (for HHMMSS-only fields)


Fetch = Callable[[str | None], Awaitable[Page]]


async def iter_pages(
    fetch: Fetch, max_pages: int | None = DEFAULT_MAX_PAGES
) -> AsyncIterator[Page]:
    """Call `fetch(None)` then `fetch(next_key)` while the server says there is more."""
    cursor: str | None = None
    seen: set[str] = set()
    count = 0
    while True:
        page = await fetch(cursor)
        count += 1
        yield page
        if not page.more or not page.next_key:
            return
        if page.next_key in seen:
            # A server that hands back a cursor twice would loop forever; stop instead.
            return
        if max_pages is not None and count >= max_pages:
            return
        seen.add(page.next_key)
        cursor = page.next_key


async def collect_pages(fetch: Fetch, max_pages: int | None = DEFAULT_MAX_PAGES) -> list[Page]:
    return [page async for page in iter_pages(fetch, max_pages)]
