"""`apps.broker.feedhold`: the realtime feed's sockets are not read during an order's critical stretch,
read again when the last stretch closes or after `MAX_HOLD_SECONDS` (the frames sent meanwhile, read
afterwards in order, none lost: `test_client_ws.py`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apps.broker import feedhold


class Transport:
    def __init__(self) -> None:
        self.reading = True
        self.closing = False
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.reading = False
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.reading = True
        self.calls.append("resume")

    def is_closing(self) -> bool:
        return self.closing


@pytest.fixture
def transport() -> Any:
    t = Transport()
    feedhold.register(t)
    yield t
    feedhold.unregister(t)


async def test_a_stretch_pauses_every_feed_socket_until_the_last_one_closes(transport: Any) -> None:
    first = feedhold.hold()
    assert not transport.reading and feedhold.active()
    with feedhold.stretch():  # an overlapping order
        first()
        first()  # a release is idempotent
        assert not transport.reading
    assert transport.reading and not feedhold.active()
    assert transport.calls == ["pause", "resume"]


async def test_a_long_stretch_reads_the_feed_again_after_the_bound(
    transport: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedhold, "MAX_HOLD_SECONDS", 0.01)
    release = feedhold.hold()
    await asyncio.sleep(0.05)
    assert transport.reading  # a slow order never holds the feed longer
    release()
    assert transport.calls == ["pause", "resume"] and not feedhold.active()


async def test_a_closed_socket_is_forgotten(transport: Any) -> None:
    transport.closing = True
    with feedhold.stretch():
        pass
    assert transport.calls == []
    assert transport not in feedhold._transports
