"""Tick → order on the wire, read off a packet capture of the loopback interface (`tcpdump`).

The benches' other stamps are taken by processes: the simulator stamps the tick just before its
WebSocket hub encodes the frame, and either the simulator's TR handler (after its wake-up and HTTP
parsing) or our socket transport's `write` stamps the order. A capture stamps both packets where they
cross the interface, with one kernel clock: the tick frame's segment as it leaves the simulator, the
order request's as it leaves us. That is "on the wire" in the plainest sense.

`Capture(port)` runs `tcpdump -i lo` on the simulator's port (nanosecond stamps, each packet written at
once) for the length of a `with`; `packets(path)` reads the file (pcap, Ethernet or Linux cooked
link types, IPv4/IPv6, TCP) with the standard library; `pair(...)` matches each tick segment (from the
simulator's port, carrying `tick_marker`) with the first order segment (to that port, carrying
`order_marker`) after it and before the next tick. Needs `tcpdump` (Debian: `apt-get install
tcpdump`) and the right to capture (root, or CAP_NET_RAW); `available()` says whether both hold.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Capture", "Packet", "available", "packets", "pair"]

_LINK_HEADER = {1: 14, 113: 16, 276: 20}  # Ethernet (lo), Linux cooked v1, v2


@dataclass(frozen=True)
class Packet:
    at: float  # seconds since the epoch, the capture's clock
    src_port: int
    dst_port: int
    payload: bytes


def available() -> bool:
    return shutil.which("tcpdump") is not None and (os.geteuid() == 0)


class Capture:
    """`tcpdump` on the loopback interface for TCP `port`, while inside the `with`."""

    def __init__(self, port: int, path: Path | None = None) -> None:
        self.port = port
        self.path = path or Path(tempfile.mkstemp(prefix="bench-", suffix=".pcap")[1])
        self.dropped: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Capture:
        command = [
            "tcpdump",
            "-i",
            "lo",
            "-U",
            "-n",
            "-B",
            "16384",
            "-s",
            "0",
            "--time-stamp-precision=nano",
            "-w",
        ]
        self._proc = subprocess.Popen(
            [*command, str(self.path), f"tcp port {self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # tcpdump says "listening on lo" once the capture is open.
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline and b"listening" not in line:
            line = self._proc.stderr.readline()
            if not line and self._proc.poll() is not None:
                raise RuntimeError("tcpdump did not start (is capturing allowed here?)")
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        time.sleep(0.2)  # the last packets reach the file
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            _, err = proc.communicate(timeout=10)
            for text in err.decode(errors="replace").splitlines():
                if "dropped by kernel" in text:
                    self.dropped = int(text.split()[0])
        if proc.poll() is None:
            proc.kill()


def packets(path: Path) -> Iterator[Packet]:
    """The TCP segments with a payload in a pcap file."""
    data = path.read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    link = _LINK_HEADER.get(linktype)
    if link is None:
        raise ValueError(f"{path}: link type {linktype} not read here")
    record = struct.Struct(endian + "IIII")
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = record.unpack_from(data, offset)
        offset += 16
        frame = data[offset : offset + caplen]
        offset += caplen
        at = sec + frac / (1e9 if nano else 1e6)
        segment = _tcp(frame[link:])
        if segment is not None and segment[2]:
            yield Packet(at, *segment)


def _tcp(ip: bytes) -> tuple[int, int, bytes] | None:
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        if ip[9] != 6:
            return None
        total = struct.unpack("!H", ip[2:4])[0]
        start, end = (ip[0] & 0x0F) * 4, total
    elif version == 6:
        if ip[6] != 6:  # extension headers do not occur on our loopback traffic
            return None
        start, end = 40, 40 + struct.unpack("!H", ip[4:6])[0]
    else:
        return None
    tcp = ip[start:end]
    if len(tcp) < 20:
        return None
    src, dst = struct.unpack("!HH", tcp[:4])
    return src, dst, bytes(tcp[(tcp[12] >> 4) * 4 :])


def pair(
    captured: list[Packet],
    port: int,
    tick_marker: bytes,
    order_marker: bytes,
    within: float = 0.1,
) -> list[float]:
    """Seconds from each tick segment to its order segment (ticks without an order within `within`
    seconds, or before the next tick, are left out)."""
    ticks = [p.at for p in captured if p.src_port == port and tick_marker in p.payload]
    orders = [p.at for p in captured if p.dst_port == port and order_marker in p.payload]
    out: list[float] = []
    j = 0
    for i, tick in enumerate(ticks):
        following = ticks[i + 1] if i + 1 < len(ticks) else float("inf")
        while j < len(orders) and orders[j] < tick:
            j += 1
        if j < len(orders) and orders[j] < following and orders[j] - tick <= within:
            out.append(orders[j] - tick)
            j += 1
    return out
