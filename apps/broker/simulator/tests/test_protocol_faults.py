"""Fault injection over real sockets: switched in-process and over `POST /_sim/faults`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, running_simulator, simulator_in_thread
from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

ORDER = {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "1", "ord_uv": "75000",
         "trde_tp": "0"}  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    async with running_simulator(FakeExchange(), config=cfg, start=START) as handle:
        yield handle


async def token_for(c: httpx.AsyncClient, sim: SimHandle) -> str:
    r = await c.post(
        "/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "appkey": sim.app_key,
            "secretkey": sim.secret_key,
        },
    )
    return r.json()["token"]


def hdr(token: str, api_id: str) -> dict[str, str]:
    return {"api-id": api_id, "authorization": f"Bearer {token}"}


async def test_admin_endpoint_429_burst_and_5xx(sim: SimHandle) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
        token = await token_for(c, sim)
        r = await c.post("/_sim/faults", json={"http_429": 2, "api_ids": ["ka10001"]})
        assert r.status_code == 200 and r.json()["faults"]["http_429"] == 2
        statuses = []
        for _ in range(3):
            r = await c.post("/api/dostk/stkinfo", headers=hdr(token, "ka10001"),
                             json={"stk_cd": "005930"})  # fmt: skip
            statuses.append(r.status_code)
        assert statuses == [429, 429, 200]
        assert (
            await c.post("/_sim/faults", json={"http_5xx": 1, "api_ids": []})
        ).status_code == 200
        r = await c.post("/api/dostk/acnt", headers=hdr(token, "ka00001"), json={})
        assert r.status_code == 503 and "json" not in r.headers["content-type"]
        r = await c.post("/api/dostk/acnt", headers=hdr(token, "ka00001"), json={})
        assert r.status_code == 200
        assert (await c.post("/_sim/faults", json={"bogus": 1})).status_code == 400
        assert (await c.get("/_sim/faults")).json()["http_5xx"] == 0
        assert (await c.delete("/_sim/faults")).json()["http_429"] == 0


async def test_latency(sim: SimHandle) -> None:
    sim.faults.set(latency_ms=150)
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
        token = await token_for(c, sim)
        with pytest.raises(httpx.ReadTimeout):
            await c.post("/api/dostk/acnt", headers=hdr(token, "ka00001"), json={}, timeout=0.05)
        sim.faults.reset()
        assert (
            await c.post("/api/dostk/acnt", headers=hdr(token, "ka00001"), json={})
        ).status_code == 200


async def test_token_invalidation(sim: SimHandle) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
        token = await token_for(c, sim)
        out = (await c.post("/_sim/faults", json={"invalidate_tokens": True})).json()
        assert out["invalidated_tokens"] == 1
        r = await c.post("/api/dostk/acnt", headers=hdr(token, "ka00001"), json={})
        assert r.json()["return_code"] == 3 and "[8005:" in r.json()["return_msg"]
        token2 = await token_for(c, sim)
        assert (await c.post("/api/dostk/acnt", headers=hdr(token2, "ka00001"), json={})).json()[
            "return_code"
        ] == 0


async def test_dropped_websocket(sim: SimHandle) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
        token = await token_for(c, sim)
        async with websockets.connect(sim.ws_url) as ws:
            await ws.send(json.dumps({"trnm": "LOGIN", "token": token}))
            await asyncio.wait_for(ws.recv(), 5)
            out = (await c.post("/_sim/faults", json={"drop_ws": True})).json()
            assert out["dropped_ws"] == 1
            with pytest.raises(websockets.ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            # Abrupt: no close frame from the server.
            assert info.value.rcvd is None


@pytest.mark.parametrize("mode", ["close", "hang"])
async def test_order_accepted_but_reply_lost(sim: SimHandle, mode: str) -> None:
    fake: FakeExchange = sim.exchange
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
        token = await token_for(c, sim)
        sim.faults.set(lost_order_replies=1, lost_reply_mode=mode)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout)):
            await c.post("/api/dostk/ordr", headers=hdr(token, "kt10000"), json=ORDER, timeout=0.5)
        assert fake.order_seq == 1  # the exchange has the order
        # Reconciliation finds it.
        oso = await c.post(
            "/api/dostk/acnt",
            headers=hdr(token, "ka10075"),
            json={"all_stk_tp": "0", "trde_tp": "0", "stk_cd": "", "stex_tp": "0"},
        )
        assert [o["ord_no"] for o in oso.json()["oso"]] == ["0000001"]
        # The switch turned itself off.
        r = await c.post("/api/dostk/ordr", headers=hdr(token, "kt10000"), json=ORDER)
        assert r.json()["ord_no"] == "0000002"


def test_sync_fixture_in_thread() -> None:
    cfg = ServerConfig(rate_limit_per_s=None)
    with simulator_in_thread(FakeExchange(), config=cfg, start=START) as sim:
        r = httpx.post(
            sim.base_url + "/oauth2/token",
            json={"grant_type": "client_credentials", "appkey": sim.app_key,
                  "secretkey": sim.secret_key},
        )  # fmt: skip
        token = r.json()["token"]
        assert sim.account == "5000000010" and sim.ws_url.startswith("ws://127.0.0.1:")
        before = sim.now()
        sim.advance_sync(minutes=5)
        assert (sim.now() - before).total_seconds() == 300
        sim.faults.set(http_429=1)
        r = httpx.post(sim.base_url + "/api/dostk/acnt", headers=hdr(token, "ka00001"), json={})
        assert r.status_code == 429
        acct: Any = sim.call(lambda: sim.exchange.cash(sim.account))
        assert acct.deposit == 100_000_000


async def test_accepted_orders_are_persisted_before_the_reply(tmp_path: Any) -> None:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    fake = FakeExchange()
    async with running_simulator(fake, config=cfg, start=START) as sim:
        sim.server.state_file = str(tmp_path / "state.json")
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
            token = await token_for(c, sim)
            r = await c.post("/api/dostk/ordr", headers=hdr(token, "kt10000"), json=ORDER)
            assert r.json()["return_code"] == 0
        assert fake.saved == [str(tmp_path / "state.json")]


async def test_admin_clock_endpoint(sim: SimHandle) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
        now = (await c.get("/_sim/clock")).json()
        assert now == {"sim_time": "2025-01-15T10:15:23+09:00", "speed": 0.0}
        moved = (
            await c.post("/_sim/clock", json={"advance_to": "2025-01-15T10:20:00+09:00"})
        ).json()
        assert moved["sim_time"] == "2025-01-15T10:20:00+09:00"
        assert (
            await c.post("/_sim/clock", json={"advance_to": "2025-01-15T10:30:00"})
        ).status_code == 400
        assert (await c.post("/_sim/clock", json={"speed": 60})).json()["speed"] == 60.0
        for bad in ("nan", "NaN", "inf", "-inf", -1, "1e999", True, "fast"):
            r = await c.post("/_sim/clock", json={"speed": bad})
            assert r.status_code == 400, bad
        assert (await c.get("/_sim/clock")).json()["speed"] == 60.0
        health = (await c.get("/_sim/health")).json()
        assert health["ok"] is True and health["sessions"] == 0
