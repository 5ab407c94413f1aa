"""The query-count check of every list page and list API (issue 17): the number of SQL statements of one
request must not grow with the number of rows it lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def assert_flat_queries(
    get: Callable[[], Any],
    grow: Callable[[], Any],
    ceiling: int,
    assert_max_num_queries: Any,
) -> Any:
    """`get()` with few rows (at most `ceiling` queries), `grow()` (ten times the rows), `get()` again: the
    second request may not make more queries than the first. Returns the second response."""
    with assert_max_num_queries(ceiling) as few:
        first = get()
    assert first.status_code == 200, first.status_code
    grow()
    with assert_max_num_queries(len(few.captured_queries)):
        second = get()
    assert second.status_code == 200, second.status_code
    return second
