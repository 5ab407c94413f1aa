"""When an order request's bytes went to our socket: asyncio's socket transport `write` (which sends at
once when the socket is free), stamped with `time.perf_counter()` — the request is on the wire then.
The benches' other "on the wire" stamp is the simulator's TR handler receiving it, which adds the
simulator process's wake-up and its HTTP parsing."""

from __future__ import annotations

import time


def socket_stamps(marker: bytes = b"api-id: kt1000") -> list[float]:
    """Install the stamp (once per process) and return the list it appends to: one stamp per request
    whose first bytes carry `marker` (kt10000–kt10003: the order TRs)."""
    from asyncio import selector_events

    transport = selector_events._SelectorSocketTransport
    installed: list[float] | None = getattr(transport, "_bench_written", None)
    if installed is not None:
        return installed
    written: list[float] = []
    original = transport.write

    def write(self, data):  # type: ignore[no-untyped-def]
        if marker in bytes(data[:2048]):
            written.append(time.perf_counter())
        return original(self, data)

    transport.write = write  # type: ignore[method-assign]
    transport._bench_written = written  # type: ignore[attr-defined]
    return written
