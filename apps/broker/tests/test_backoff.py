"""The broker package's one backoff policy, and that its users share it."""

from __future__ import annotations

import inspect

from hypothesis import given
from hypothesis import strategies as st

from apps.broker import backoff
from apps.broker.kiwoom import relay, rest, ws


@given(st.integers(min_value=1, max_value=60), st.sampled_from([0.02, 0.5, 1.0]))
def test_delay_grows_within_bounds(attempt: int, base: float) -> None:
    cap = 8.0
    delay = backoff.backoff_delay(attempt, base, cap)
    high = min(cap, base * 2 ** (attempt - 1))
    assert base / 2 <= delay <= high


def test_rest_ws_and_relay_use_the_one_helper() -> None:
    for module in (rest, ws, relay):
        assert module.backoff_delay is backoff.backoff_delay, module.__name__
        assert "random.uniform" not in inspect.getsource(module), module.__name__
