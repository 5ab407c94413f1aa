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
    for module in (rest, relay):
        assert module.backoff_delay is backoff.backoff_delay, module.__name__
    assert ws.reconnect_delay is backoff.reconnect_delay
    for module in (rest, ws, relay):
        assert "random.uniform" not in inspect.getsource(module), module.__name__


@given(st.integers(min_value=1, max_value=60), st.sampled_from([0.02, 0.5, 1.0]))
def test_reconnect_is_quick_at_first_then_backs_off(attempt: int, base: float) -> None:
    delay = backoff.reconnect_delay(attempt, base, cap=30.0, quick=8)
    if attempt <= 8:
        assert base <= delay <= 2 * base  # a restarted server is found within ~2·base of its return
    else:
        assert base <= delay <= min(30.0, 2 * base * 2 ** (attempt - 9))


def test_reconnects_to_a_dead_server_slow_down() -> None:
    # ~1 attempt a second while a restart is likely, then fewer and fewer: 40 attempts span minutes.
    assert sum(backoff.reconnect_delay(a, 0.5) for a in range(1, 9)) <= 8.0
    assert sum(backoff.reconnect_delay(a, 0.5) for a in range(1, 41)) >= 300.0
