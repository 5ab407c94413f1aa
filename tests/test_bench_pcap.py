"""bench/_pcap.py on handmade capture files: the TCP payloads and their stamps are read back (IPv4 and IPv6,
nanosecond and microsecond files), and each tick is paired with the first order after it, never with one
after the next tick. A real capture runs in the bench (`strategy_signal_latency.py --pcap`), not here."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM = 40123
CLIENT = 51000


@pytest.fixture(scope="module")
def pcap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_pcap", ROOT / "bench" / "_pcap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_pcap"] = module
    spec.loader.exec_module(module)
    return module


def segment(src: int, dst: int, payload: bytes, *, v6: bool = False) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", src, dst, 1, 1, 5 << 4, 0x18, 65535, 0, 0) + payload
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + bytes(32)
        ethertype = b"\x86\xdd"
    else:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0) + bytes(8)
        ethertype = b"\x08\x00"
    return bytes(12) + ethertype + ip + tcp


def capture_file(path: Path, frames: list[tuple[float, bytes]], *, nano: bool = True) -> Path:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, 1)]
    for at, frame in frames:
        sec = int(at)
        frac = round((at - sec) * (1e9 if nano else 1e6))
        out.append(struct.pack("<IIII", sec, frac, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


TICK = b'{"trnm":"REAL","data":[{"type":"0B","item":"005930","values":{}}]}'
NOISE = b'{"trnm":"REAL","data":[{"type":"0B","item":"000660","values":{}}]}'
ORDER = b"POST /api/dostk/ordr HTTP/1.1\r\napi-id: kt10000\r\n\r\n{}"


@pytest.mark.parametrize("nano", [True, False])
def test_payloads_and_stamps_are_read_back(pcap: ModuleType, tmp_path: Path, nano: bool) -> None:
    path = capture_file(
        tmp_path / "a.pcap",
        [
            (100.000001, segment(SIM, CLIENT, TICK)),
            (100.5, segment(CLIENT, SIM, b"")),  # an ACK: no payload, not listed
            (100.003, segment(CLIENT, SIM, ORDER, v6=True)),
        ],
        nano=nano,
    )
    got = list(pcap.packets(path))
    assert [(p.src_port, p.dst_port, p.payload) for p in got] == [
        (SIM, CLIENT, TICK),
        (CLIENT, SIM, ORDER),
    ]
    assert got[0].at == pytest.approx(100.000001, abs=1e-6)
    assert got[1].at == pytest.approx(100.003, abs=1e-6)


def test_each_tick_pairs_with_the_first_order_before_the_next_tick(
    pcap: ModuleType, tmp_path: Path
) -> None:
    path = capture_file(
        tmp_path / "b.pcap",
        [
            (1.000, segment(SIM, CLIENT, TICK)),
            (1.001, segment(SIM, CLIENT, NOISE)),
            (1.004, segment(CLIENT, SIM, ORDER)),
            (1.005, segment(CLIENT, SIM, ORDER)),  # a second order for one tick: not paired
            (2.000, segment(SIM, CLIENT, TICK)),  # its order never came
            (3.000, segment(SIM, CLIENT, TICK)),
            (3.0025, segment(CLIENT, SIM, ORDER)),
            (4.000, segment(SIM, CLIENT, TICK)),
            (4.500, segment(CLIENT, SIM, ORDER)),  # later than `within`
        ],
    )
    wired = pcap.pair(list(pcap.packets(path)), SIM, b'"item":"005930"', b"kt10000", within=0.1)
    assert wired == pytest.approx([0.004, 0.0025], abs=1e-6)


def test_a_file_that_is_not_a_capture_is_refused(pcap: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(b"not a capture at all")
    with pytest.raises(ValueError, match="not a pcap file"):
        list(pcap.packets(path))
