"""WebSocket protocol of the simulator over real sockets (PROTOCOL.md §6-§7) with the FakeExchange:
LOGIN, PING, SYSTEM R10001, REG/REMOVE, REAL frames and their full FID sets, condition search."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from apps.broker.simulator.dto import (
    BalanceEvent,
    ConditionEvent,
    Market,
    PhaseEvent,
    SessionPhase,
    Side,
    ViEvent,
)
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, running_simulator
from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

FIDS_0B = {
    "20", "10", "11", "12", "27", "28", "15", "13", "14", "16", "17", "18", "25", "26", "29",
    "30", "31", "32", "228", "311", "290", "691", "567", "568", "851", "1890", "1891", "1892",
    "1030", "1031", "1032", "1071", "1072", "1313", "1315", "1316", "1314", "1497", "1498",
    "620", "732", "852", "9081",
}  # fmt: skip
FIDS_00 = {
    "9201", "9203", "9205", "9001", "912", "913", "302", "900", "901", "902", "903", "904",
    "905", "906", "907", "908", "909", "910", "911", "10", "27", "28", "914", "915", "938",
    "939", "919", "920", "921", "922", "923", "10010", "2134", "2135", "2136",
}  # fmt: skip
FIDS_0D = (
    {str(f) for f in range(41, 101)}
    | {str(f) for f in range(621, 641)}
    | {str(f) for f in range(6044, 6088)}
    | {str(f) for f in range(6100, 6116)}
    | {"21", "121", "122", "125", "126", "23", "24", "128", "129", "138", "139", "200", "201",
       "238", "291", "292", "293", "294", "295", "13", "299", "215", "216"}
)  # fmt: skip
FIDS_04 = {
    "9201", "9001", "917", "916", "302", "10", "930", "931", "932", "933", "945", "946", "950",
    "951", "27", "28", "307", "8019", "957", "958", "918", "990", "991", "992", "993", "959",
    "924",
}  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    async with running_simulator(FakeExchange(), config=cfg, start=START) as handle:
        yield handle


async def issue_token(sim: SimHandle) -> str:
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        r = await c.post(
            "/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "appkey": sim.app_key,
                "secretkey": sim.secret_key,
            },
        )
        return r.json()["token"]


async def recv(ws: Any, wait: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), wait))


async def recv_until(ws: Any, trnm: str, wait: float = 5.0) -> dict[str, Any]:
    while True:
        frame = await recv(ws, wait)
        if frame.get("trnm") == trnm:
            return frame


async def login(sim: SimHandle, token: str | None = None) -> Any:
    ws = await websockets.connect(sim.ws_url)
    await ws.send(json.dumps({"trnm": "LOGIN", "token": token or await issue_token(sim)}))
    reply = await recv(ws)
    assert reply == {"trnm": "LOGIN", "return_code": 0, "return_msg": ""}
    return ws


async def test_login_bad_token_closes(sim: SimHandle) -> None:
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"trnm": "LOGIN", "token": "nope"}))
        reply = await recv(ws)
        assert reply["return_code"] == 805004
        assert "CODE=8005" in reply["return_msg"]
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_frames_before_login_are_refused(sim: SimHandle) -> None:
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"trnm": "REG", "grp_no": "1", "data": []}))
        reply = await recv(ws)
        assert reply["trnm"] == "SYSTEM" and reply["code"] == "R10004"
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_ping_is_sent_and_echo_keeps_session(sim: SimHandle) -> None:
    sim.server.config.ping_interval_s = 0.05
    sim.server.config.ping_timeout_s = 0.2
    ws = await login(sim)
    session = sim.server.hub.by_app_key[sim.app_key]
    loop = asyncio.get_running_loop()
    # Echo every PING for three times the timeout: a session that echoes is never dropped
    # (without the echoes it is, see the next test).
    deadline = loop.time() + 0.6
    echoed = 0
    while loop.time() < deadline:
        ping = await recv_until(ws, "PING")
        assert ping == {"trnm": "PING"}
        await ws.send(json.dumps(ping))
        echoed += 1
    assert echoed >= 3
    await ws.send(json.dumps({"trnm": "CNSRLST"}))
    assert (await recv_until(ws, "CNSRLST"))["return_code"] == 0
    assert not session.closed
    assert sim.server.hub.by_app_key[sim.app_key] is session
    await ws.close()


async def test_missing_ping_echo_drops_session(sim: SimHandle) -> None:
    sim.server.config.ping_interval_s = 0.05
    sim.server.config.ping_timeout_s = 0.2
    ws = await login(sim)
    with pytest.raises(websockets.ConnectionClosed):
        for _ in range(100):
            await recv(ws, wait=2)


async def test_same_appkey_kicks_older_session_with_r10001(sim: SimHandle) -> None:
    token = await issue_token(sim)
    first = await login(sim, token)
    second = await login(sim, token)
    frame = await recv(first)
    assert frame == {
        "trnm": "SYSTEM",
        "code": "R10001",
        "message": "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다",
    }
    with pytest.raises(websockets.ConnectionClosed):
        await recv(first)
    await second.send(json.dumps({"trnm": "CNSRLST"}))
    assert (await recv(second))["trnm"] == "CNSRLST"
    await second.close()


async def test_reg_real_0b_and_remove(sim: SimHandle) -> None:
    ws = await login(sim)
    fake: FakeExchange = sim.exchange
    await ws.send(
        json.dumps(
            {
                "trnm": "REG",
                "grp_no": "1",
                "refresh": "1",
                "data": [{"item": ["005930", "000660"], "type": ["0B", "0C", "0D"]}],
            }
        )
    )
    assert await recv(ws) == {"trnm": "REG", "return_code": 0, "return_msg": ""}
    fake.pending.append(fake.tick("005930", 82, Side.BUY))
    await sim.advance(seconds=1)
    frames = [await recv(ws) for _ in range(3)]
    by_type = {f["data"][0]["type"]: f["data"][0] for f in frames}
    tick = by_type["0B"]
    assert frames[0]["trnm"] == "REAL"
    assert tick["name"] == "주식체결" and tick["item"] == "005930"
    v = tick["values"]
    assert set(v) == FIDS_0B
    assert all(isinstance(x, str) for x in v.values())
    assert (v["20"], v["10"], v["11"], v["12"], v["15"], v["25"]) == (
        "101523", "+75000", "+100", "+0.13", "+82", "2",
    )  # fmt: skip
    assert (v["13"], v["14"], v["16"], v["228"], v["290"], v["9081"]) == (
        "30379732", "632640", "-74600", "98.92", "2", "1",
    )  # fmt: skip
    assert (v["567"], v["568"], v["1890"]) == ("000000", "000000", "090000")
    assert by_type["0C"]["values"] == {"27": "+75100", "28": "+75000"}
    book = by_type["0D"]["values"]
    assert set(book) == FIDS_0D
    assert book["41"] == "+75100" and book["51"] == "+75000" and book["61"] == "1000"
    assert book["71"] == "2000" and book["121"] == "10045" and book["125"] == "20045"
    assert book["21"] == "101524"
    # REMOVE the 0C/0D registrations: only 0B arrives afterwards.
    await ws.send(
        json.dumps(
            {"trnm": "REMOVE", "grp_no": "1", "data": [{"item": ["005930"], "type": ["0C", "0D"]}]}
        )
    )
    assert await recv(ws) == {"trnm": "REMOVE", "return_code": 0, "return_msg": ""}
    fake.pending.append(fake.tick("005930", 5, Side.SELL))
    fake.pending.append(fake.tick("035720", 5, Side.SELL))  # not registered
    await sim.advance(seconds=1)
    frame = await recv(ws)
    assert frame["data"][0]["type"] == "0B" and frame["data"][0]["values"]["15"] == "-5"
    with pytest.raises(TimeoutError):
        await recv(ws, wait=0.3)
    # refresh "0" replaces the group's registrations.
    await ws.send(
        json.dumps(
            {"trnm": "REG", "grp_no": "1", "refresh": "0",
             "data": [{"item": ["035720"], "type": ["0B"]}]}
        )
    )  # fmt: skip
    await recv(ws)
    fake.pending.append(fake.tick("005930"))
    fake.pending.append(fake.tick("035720"))
    await sim.advance(seconds=1)
    assert (await recv(ws))["data"][0]["item"] == "035720"
    with pytest.raises(TimeoutError):
        await recv(ws, wait=0.3)
    await ws.send(
        json.dumps({"trnm": "REG", "grp_no": "2", "data": [{"item": ["x"], "type": ["ZZ"]}]})
    )
    assert (await recv(ws))["return_code"] == 1
    await ws.close()


async def test_account_events_00_and_04(sim: SimHandle) -> None:
    ws = await login(sim)
    await ws.send(
        json.dumps({"trnm": "REG", "grp_no": "9", "refresh": "1",
                    "data": [{"item": [""], "type": ["00", "04"]}]})
    )  # fmt: skip
    await recv(ws)
    async with httpx.AsyncClient(base_url=sim.base_url) as c:
        token = await issue_token(sim)
        await ws.close()
        ws = await login(sim, token)
        await ws.send(
            json.dumps({"trnm": "REG", "grp_no": "9", "refresh": "1",
                        "data": [{"item": [], "type": ["00", "04"]}]})
        )  # fmt: skip
        await recv(ws)
        r = await c.post(
            "/api/dostk/ordr",
            headers={"api-id": "kt10000", "authorization": f"Bearer {token}"},
            json={"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "10", "ord_uv": "75000",
                  "trde_tp": "0"},
        )  # fmt: skip
        assert r.json()["ord_no"] == "0000001"
    fake: FakeExchange = sim.exchange
    await sim.advance(seconds=1)
    accepted = (await recv(ws))["data"][0]
    assert accepted["type"] == "00" and accepted["name"] == "주문체결"
    v = accepted["values"]
    assert set(v) == FIDS_00
    assert (v["9201"], v["9203"], v["913"], v["900"], v["901"], v["902"]) == (
        sim.account, "0000001", "접수", "10", "75000", "10",
    )  # fmt: skip
    assert (v["904"], v["905"], v["906"], v["907"], v["909"], v["910"], v["911"]) == (
        "0000000", "+매수", "보통", "2", "", "", "",
    )  # fmt: skip
    fake.fill("0000001", 4, 75_000)
    fake.pending.append(
        BalanceEvent(
            account=sim.account, time=fake.now(), code="005930", name="삼성전자", qty=4,
            avg_price=75_000, cost=300_000, orderable_qty=4, today_net_buy_qty=4, side=Side.BUY,
            today_realized_pnl=0, realized_pnl_rate_pct=fake.quote("005930").change_rate_pct,
            price=75_000, best_ask=75_100, best_bid=75_000, base_price=74_900,
            deposit=99_700_000, orderable_cash=99_000_000,
        )
    )  # fmt: skip
    await sim.advance(seconds=1)
    filled = (await recv(ws))["data"][0]["values"]
    assert (filled["913"], filled["902"], filled["910"], filled["911"]) == (
        "체결",
        "6",
        "75000",
        "4",
    )
    assert (filled["914"], filled["915"], filled["903"], filled["938"]) == (
        "75000",
        "4",
        "300000",
        "11",
    )
    bal = (await recv(ws))["data"][0]
    assert bal["type"] == "04" and bal["item"] == "005930"
    assert set(bal["values"]) == FIDS_04
    assert (bal["values"]["930"], bal["values"]["931"], bal["values"]["10"]) == (
        "4",
        "75000",
        "+75000",
    )
    # Another account's events never reach this session.
    other = fake.order_event(fake._orders["0000001"], fake._orders["0000001"].status)
    fake.pending.append(type(other)(**{**{f: getattr(other, f) for f in other.__slots__},
                                      "account": "9999999999"}))  # fmt: skip
    await sim.advance(seconds=1)
    with pytest.raises(TimeoutError):
        await recv(ws, wait=0.3)
    await ws.close()


async def test_phase_and_vi_frames(sim: SimHandle) -> None:
    ws = await login(sim)
    await ws.send(json.dumps({"trnm": "REG", "grp_no": "1", "refresh": "1",
                              "data": [{"item": [""], "type": ["0s"]},
                                       {"item": ["005930"], "type": ["1h"]}]}))  # fmt: skip
    await recv(ws)
    fake: FakeExchange = sim.exchange
    now = fake.now()
    fake.pending.append(PhaseEvent(now, SessionPhase.CLOSING_AUCTION, "2"))
    fake.pending.append(
        ViEvent("005930", "삼성전자", Market.KOSPI, now, True, "dynamic", 79_600, 74_600, 75_000,
                fake.quote("005930").change_rate_pct, fake.quote("005930").change_rate_pct,
                now, 1, True, 100, 7_500_000)
    )  # fmt: skip
    await sim.advance(seconds=1)
    phase = (await recv(ws))["data"][0]
    assert phase["type"] == "0s" and phase["values"]["215"] == "2"
    vi = (await recv(ws))["data"][0]
    assert vi["type"] == "1h" and vi["values"]["9068"] == "1" and vi["values"]["1225"] == "동적"
    assert vi["values"]["1221"] == "79600" and vi["values"]["9069"] == "1"
    await ws.close()


async def test_condition_search(sim: SimHandle) -> None:
    ws = await login(sim)
    await ws.send(json.dumps({"trnm": "CNSRLST"}))
    lst = await recv(ws)
    assert lst == {"trnm": "CNSRLST", "return_code": 0, "return_msg": "",
                   "data": [["0", "거래대금 상위"], ["1", "급등"]]}  # fmt: skip
    # One-shot, paged in the body.
    sim.server.config.condition_page_size = 2
    req = {"trnm": "CNSRREQ", "seq": "0", "search_type": "0", "stex_tp": "K", "cont_yn": "N",
           "next_key": ""}  # fmt: skip
    await ws.send(json.dumps(req))
    page1 = await recv(ws)
    assert page1["cont_yn"] == "Y" and page1["next_key"] and page1["seq"] == "0"
    assert [r["9001"] for r in page1["data"]] == ["A000660", "A005930"]
    row = page1["data"][1]
    assert row == {"9001": "A005930", "302": "삼성전자", "10": "000075000", "25": "2",
                   "11": "000000100", "12": "000000013", "13": "008123456", "16": "000074600",
                   "17": "000075400", "18": "000074200"}  # fmt: skip
    await ws.send(json.dumps({**req, "cont_yn": "Y", "next_key": page1["next_key"]}))
    page2 = await recv(ws)
    assert page2["cont_yn"] == "N" and page2["next_key"] == ""
    assert [r["9001"] for r in page2["data"]] == ["A035720"]
    # Realtime: members, then REAL 02 I/D.
    await ws.send(json.dumps({"trnm": "CNSRREQ", "seq": "1", "search_type": "1", "stex_tp": "K"}))
    rt = await recv(ws)
    assert rt == {"trnm": "CNSRREQ", "seq": "1", "return_code": 0, "return_msg": "",
                  "data": [{"jmcode": "A005930"}]}  # fmt: skip
    fake: FakeExchange = sim.exchange
    fake.pending.append(ConditionEvent("1", "000660", "I", fake.now()))
    fake.pending.append(ConditionEvent("0", "000660", "I", fake.now()))  # not realtime here
    fake.pending.append(ConditionEvent("1", "005930", "D", fake.now()))
    await sim.advance(seconds=2)
    ins = (await recv(ws))["data"][0]
    assert ins == {"type": "02", "name": "조건검색", "item": "000660",
                   "values": {"841": "1", "9001": "000660", "843": "I", "20": "101523",
                              "907": "2", "9081": "1"}}  # fmt: skip
    out = (await recv(ws))["data"][0]
    assert out["values"]["843"] == "D" and out["item"] == "005930"
    await ws.send(json.dumps({"trnm": "CNSRCLR", "seq": "1"}))
    assert await recv(ws) == {"trnm": "CNSRCLR", "seq": "1", "return_code": 0, "return_msg": ""}
    fake.pending.append(ConditionEvent("1", "035720", "I", fake.now()))
    await sim.advance(seconds=1)
    with pytest.raises(TimeoutError):
        await recv(ws, wait=0.3)
    await ws.send(json.dumps({"trnm": "CNSRREQ", "seq": "77", "search_type": "0"}))
    assert (await recv(ws))["return_code"] != 0
    await ws.close()


async def test_realtime_condition_cap(sim: SimHandle) -> None:
    sim.server.config.max_realtime_conditions = 1
    ws = await login(sim)
    await ws.send(json.dumps({"trnm": "CNSRLST"}))
    await recv(ws)
    await ws.send(json.dumps({"trnm": "CNSRREQ", "seq": "0", "search_type": "1", "stex_tp": "K"}))
    assert (await recv(ws))["return_code"] == 0
    await ws.send(json.dumps({"trnm": "CNSRREQ", "seq": "1", "search_type": "1", "stex_tp": "K"}))
    capped = await recv(ws)
    assert capped["return_code"] != 0 and "1" in capped["return_msg"]
    await ws.close()


async def test_reg_with_a_list_in_type_gets_an_error_frame_and_the_session_lives(
    sim: SimHandle,
) -> None:
    ws = await login(sim)
    for bad in ([["0B"]], [{"0B": 1}], {"0B": 1}):
        await ws.send(
            json.dumps({"trnm": "REG", "grp_no": "1", "data": [{"item": ["005930"], "type": bad}]})
        )
        reply = await recv_until(ws, "REG")
        assert reply["return_code"] == 1 and reply["return_msg"]
    await ws.send(
        json.dumps({"trnm": "REG", "grp_no": "1", "data": [{"item": ["005930"], "type": ["0B"]}]})
    )
    assert await recv_until(ws, "REG") == {"trnm": "REG", "return_code": 0, "return_msg": ""}
    await ws.close()


async def test_unauthenticated_socket_is_closed_at_the_login_timeout_despite_pings(
    sim: SimHandle,
) -> None:
    sim.server.config.login_timeout_s = 0.5
    loop = asyncio.get_running_loop()
    async with websockets.connect(sim.ws_url) as ws:
        opened = loop.time()
        with pytest.raises(websockets.ConnectionClosed):
            for _ in range(100):  # a PING every 0.1 s would reset a per-frame timeout forever
                await ws.send("PING")
                await ws.send(json.dumps({"trnm": "PING"}))
                with contextlib.suppress(TimeoutError):
                    frame = await recv(ws, wait=0.1)
                    assert frame["code"] == "R10004"
        assert loop.time() - opened < 5
