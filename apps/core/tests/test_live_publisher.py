"""The background live publisher: hand-over order, coalescing of keyed snapshots, a bounded queue, a flush
that waits for the sends, and a producer that never waits for the channel layer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from apps.core import live


class SlowLayer:
    """A channel layer whose first send waits for `release`: what is handed over meanwhile queues up."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.release = threading.Event()

    async def group_send(self, group: str, message: dict) -> None:
        # A threading.Event set by the test thread: polled, since it cannot be awaited.
        while not self.release.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        self.sent.append((group, message["event"]))


@pytest.fixture
def layer(monkeypatch) -> SlowLayer:
    fake = SlowLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def _close_publishers(monkeypatch) -> Iterator[None]:
    made: list[live.LivePublisher] = []
    original = live.LivePublisher.__init__

    def init(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(live.LivePublisher, "__init__", init)
    yield
    for pub in made:
        pub.close(1)


def _submit(pub: live.LivePublisher, kind: str, data: dict, key: str | None = None) -> None:
    pub.submit(live.LIVE_GROUP, live._message(kind, data), None if key is None else (kind, key))


def test_order_kept_and_keyed_snapshots_coalesced(layer: SlowLayer) -> None:
    pub = live.LivePublisher()
    _submit(pub, "order_filled", {"n": 0})  # taken at once; its send blocks until release
    time.sleep(0.05)
    _submit(pub, "position_update", {"code": "A", "qty": 1}, key="A")
    _submit(pub, "order_filled", {"n": 1})
    _submit(pub, "position_update", {"code": "B", "qty": 5}, key="B")
    _submit(pub, "position_update", {"code": "A", "qty": 2}, key="A")  # replaces A:1, goes last
    started = time.perf_counter()
    _submit(pub, "order_filled", {"n": 2})
    assert time.perf_counter() - started < 0.05  # the producer never waits for the layer
    layer.release.set()
    assert pub.flush(5)
    assert [e["data"] for _, e in layer.sent] == [
        {"n": 0},
        {"n": 1},
        {"code": "B", "qty": 5},
        {"code": "A", "qty": 2},
        {"n": 2},
    ]
    assert pub.stats.coalesced == 1 and pub.stats.sent == 5 and pub.stats.dropped == 0


def test_bounded_queue_drops_the_oldest(layer: SlowLayer) -> None:
    pub = live.LivePublisher(max_pending=3)
    _submit(pub, "x", {"n": 0})
    time.sleep(0.05)  # n=0 is in flight
    for n in range(1, 6):
        _submit(pub, "x", {"n": n})
    layer.release.set()
    assert pub.flush(5)
    assert [e["data"]["n"] for _, e in layer.sent] == [0, 3, 4, 5]
    assert pub.stats.dropped == 2


def test_flush_waits_for_the_send_in_flight(layer: SlowLayer) -> None:
    pub = live.LivePublisher()
    _submit(pub, "x", {"n": 0})
    assert pub.flush(0.1) is False  # still blocked in the layer
    layer.release.set()
    assert pub.flush(5) is True and len(layer.sent) == 1


def test_a_failing_layer_is_logged_not_raised(monkeypatch, caplog) -> None:
    class Broken:
        async def group_send(self, group: str, message: dict) -> None:
            raise ConnectionError("redis down")

    monkeypatch.setattr(live, "get_channel_layer", lambda: Broken())
    pub = live.LivePublisher()
    _submit(pub, "x", {"n": 0})
    assert pub.flush(5)
    assert pub.stats.failed == 1
    assert "live push failed for x" in caplog.text
