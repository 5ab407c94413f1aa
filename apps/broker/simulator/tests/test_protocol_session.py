"""The protocol server on the real engine: every TR answers, and a scripted session at speed 60
drives a plain httpx/websockets client through ticks, condition I/D events and order fills
(partial and full) over real sockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets

from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, running_simulator, simulator_in_thread

TR_CALLS: list[tuple[str, str, dict[str, str]]] = [
    ("acnt", "ka00001", {}),
    ("stkinfo", "ka10001", {"stk_cd": "005930"}),
    ("stkinfo", "ka10099", {"mrkt_tp": "0"}),
    ("mrkcond", "ka10004", {"stk_cd": "005930"}),
    ("chart", "ka10080", {"stk_cd": "005930", "tic_scope": "5", "upd_stkpc_tp": "1"}),
    ("chart", "ka10081", {"stk_cd": "005930", "base_dt": "20250115", "upd_stkpc_tp": "1"}),
    ("rkinfo", "ka10032", {"mrkt_tp": "000", "mang_stk_incls": "1", "stex_tp": "3"}),
    ("rkinfo", "ka10023", {"mrkt_tp": "000", "sort_tp": "2", "tm_tp": "1", "trde_qty_tp": "5",
                           "tm": "5", "stk_cnd": "0", "pric_tp": "0", "stex_tp": "3"}),
    ("rkinfo", "ka10027", {"mrkt_tp": "001", "sort_tp": "1", "trde_qty_cnd": "0000",
                           "stk_cnd": "0", "crd_cnd": "0", "updown_incls": "1", "pric_cnd": "0",
                           "trde_prica_cnd": "0", "stex_tp": "3"}),
    ("rkinfo", "ka10030", {"mrkt_tp": "000", "sort_tp": "3", "mang_stk_incls": "0",
                           "crd_tp": "0", "trde_qty_tp": "0", "pric_tp": "0",
                           "trde_prica_tp": "0", "mrkt_open_tp": "0", "stex_tp": "3"}),
    ("acnt", "kt00001", {"qry_tp": "3"}),
    ("acnt", "kt00018", {"qry_tp": "1", "dmst_stex_tp": "KRX"}),
    ("acnt", "kt00004", {"qry_tp": "0", "dmst_stex_tp": "KRX"}),
    ("acnt", "ka10075", {"all_stk_tp": "0", "trde_tp": "0", "stk_cd": "", "stex_tp": "0"}),
    ("acnt", "ka10076", {"stk_cd": "", "qry_tp": "0", "sell_tp": "0", "ord_no": "",
                         "stex_tp": "0"}),
]  # fmt: skip


def token_of(base_url: str, sim: SimHandle) -> str:
    r = httpx.post(
        base_url + "/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "appkey": sim.app_key,
            "secretkey": sim.secret_key,
        },
    )
    return r.json()["token"]


@pytest.fixture(scope="module")
def engine_sim() -> Iterator[SimHandle]:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    with simulator_in_thread(config=cfg, start=default_start(), seed=3) as sim:
        sim.advance_sync(minutes=10)
        yield sim


def test_every_tr_answers_on_the_engine(engine_sim: SimHandle) -> None:
    sim = engine_sim
    token = token_of(sim.base_url, sim)
    with httpx.Client(base_url=sim.base_url, timeout=20) as c:

        def call(group: str, api_id: str, body: dict[str, Any]) -> httpx.Response:
            return c.post(f"/api/dostk/{group}", json=body,
                          headers={"api-id": api_id, "authorization": f"Bearer {token}"})  # fmt: skip

        for group, api_id, body in TR_CALLS:
            r = call(group, api_id, body)
            assert r.status_code == 200, (api_id, r.text)
            assert r.json()["return_code"] == 0, (api_id, r.json())
            assert r.headers["api-id"] == api_id
            assert r.headers["x-sim-time"].startswith("2025-01-15T09:10")
        minutes = call("chart", "ka10080",
                       {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"})  # fmt: skip
        assert minutes.headers["cont-yn"] == "Y"  # about a year of history: always a next page
        page2 = call_paged = c.post(
            "/api/dostk/chart",
            json={"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"},
            headers={"api-id": "ka10080", "authorization": f"Bearer {token}", "cont-yn": "Y",
                     "next-key": minutes.headers["next-key"]},
        )  # fmt: skip
        rows1 = minutes.json()["stk_min_pole_chart_qry"]
        rows2 = call_paged.json()["stk_min_pole_chart_qry"]
        assert len(rows1) == 900 and page2.json()["return_code"] == 0
        assert rows2[0]["cntr_tm"] < rows1[-1]["cntr_tm"]
        quote = call("stkinfo", "ka10001", {"stk_cd": "000880"}).json()
        ask = int(
            call("mrkcond", "ka10004", {"stk_cd": "000880"}).json()["sel_fpr_bid"].lstrip("+-")
        )
        order = {"dmst_stex_tp": "KRX", "stk_cd": "000880", "ord_qty": "5",
                 "ord_uv": str(ask - 1000), "trde_tp": "0"}  # fmt: skip
        placed = call("ordr", "kt10000", order).json()
        assert placed["return_code"] == 0, placed
        assert len(placed["ord_no"]) == 7
        amended = call("ordr", "kt10002", {"dmst_stex_tp": "KRX", "orig_ord_no": placed["ord_no"],
                                           "stk_cd": "000880", "mdfy_qty": "0",
                                           "mdfy_uv": str(ask - 1500)}).json()  # fmt: skip
        assert amended["return_code"] == 0, amended
        assert amended["base_orig_ord_no"] == placed["ord_no"]
        cancelled = call("ordr", "kt10003", {"dmst_stex_tp": "KRX",
                                             "orig_ord_no": amended["ord_no"],
                                             "stk_cd": "000880", "cncl_qty": "0"}).json()  # fmt: skip
        assert cancelled["return_code"] == 0, cancelled
        assert cancelled["base_orig_ord_no"] == placed["ord_no"]
        off_tick = call("ordr", "kt10000", {**order, "ord_uv": str(ask + 1)}).json()
        assert off_tick["return_code"] == 20 and off_tick["return_msg"].startswith("[2000](")
        too_big = call("ordr", "kt10000", {**order, "ord_qty": "100000000"}).json()
        assert too_big["return_code"] == 20
        assert quote["return_code"] == 0


def _values(frame: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    return [(d["type"], d["item"], d["values"]) for d in frame.get("data", [])]


async def test_scripted_session_at_speed_60() -> None:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600, step_interval_s=0.05)
    start = default_start()
    async with running_simulator(config=cfg, start=start, speed=60, seed=3) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as c:
            tok = (await c.post("/oauth2/token", json={
                "grant_type": "client_credentials", "appkey": sim.app_key,
                "secretkey": sim.secret_key})).json()["token"]  # fmt: skip
            headers = {"authorization": f"Bearer {tok}"}
            async with websockets.connect(sim.ws_url, max_queue=None) as ws:
                await ws.send(json.dumps({"trnm": "LOGIN", "token": tok}))
                assert json.loads(await ws.recv())["return_code"] == 0
                await ws.send(json.dumps({"trnm": "REG", "grp_no": "1", "refresh": "1", "data": [
                    {"item": ["000880", "005930"], "type": ["0B"]},
                    {"item": [""], "type": ["00", "04"]}]}))  # fmt: skip
                await ws.send(json.dumps({"trnm": "CNSRLST"}))
                frames: list[dict[str, Any]] = []

                async def pump(until: Any, limit_s: float) -> None:
                    deadline = time.monotonic() + limit_s
                    while not until() and time.monotonic() < deadline:
                        try:
                            msg = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        frame = json.loads(msg)
                        frames.append(frame)
                        if frame["trnm"] == "CNSRLST":
                            for seq, _name in frame["data"]:
                                await ws.send(json.dumps({"trnm": "CNSRREQ", "seq": seq,
                                                          "search_type": "1", "stex_tp": "K"}))  # fmt: skip

                def real(type_: str) -> list[tuple[str, str, dict[str, str]]]:
                    return [v for f in frames if f["trnm"] == "REAL" for v in _values(f)
                            if v[0] == type_]  # fmt: skip

                # 1) ticks flow, stamped with simulated time that moves ~60x faster than the wall.
                await pump(lambda: len(real("0B")) >= 20, 20)
                ticks = real("0B")
                assert len(ticks) >= 20
                assert {t[1] for t in ticks} <= {"000880", "005930"}
                times = [t[2]["20"] for t in ticks]
                assert times == sorted(times) and times[0] >= "090000"
                assert all(t[2]["10"].lstrip("+-").isdigit() for t in ticks)
                # 2) an order big enough to fill in several prints: partial fills, then full.
                book = (await c.post("/api/dostk/mrkcond", headers={**headers, "api-id": "ka10004"},
                                     json={"stk_cd": "000880"})).json()  # fmt: skip
                ask = int(book["sel_fpr_bid"].lstrip("+-"))
                r = await c.post("/api/dostk/ordr", headers={**headers, "api-id": "kt10000"},
                                 json={"dmst_stex_tp": "KRX", "stk_cd": "000880", "ord_qty": "2000",
                                       "ord_uv": str(ask + 500), "trde_tp": "0"})  # fmt: skip
                assert r.json()["return_code"] == 0, r.json()
                assert "x-sim-time" in r.headers
                ord_no = r.json()["ord_no"]

                def mine(status: str) -> list[dict[str, str]]:
                    return [
                        v for _t, _i, v in real("00") if v["9203"] == ord_no and v["913"] == status
                    ]

                await pump(lambda: any(v["902"] == "0" for v in mine("체결")), 30)
                accepted, fills = mine("접수"), mine("체결")
                assert accepted and accepted[0]["902"] == "2000"
                assert fills, "no fill within 30 simulated minutes"
                assert fills[-1]["902"] == "0" and fills[-1]["911"] == "2000"
                # Fills are bounded by the tape's volume: partial fills first, then the last one.
                assert len(fills) >= 2 and int(fills[0]["902"]) > 0
                assert [int(v["911"]) for v in fills] == sorted(int(v["911"]) for v in fills)
                assert sum(int(v["915"]) for v in fills) == 2000

                def balances() -> list[dict[str, str]]:
                    return [v for _t, item, v in real("04") if item == "000880"]

                await pump(lambda: any(v["930"] == "2000" for v in balances()), 10)
                assert balances() and balances()[-1]["930"] == "2000"
                assert balances()[-1]["9201"] == sim.account
                # 3) condition entries/exits arrive as REAL 02 frames.
                await pump(lambda: bool(real("02")), 30)
                cond = real("02")
                assert cond, "no condition I/D event"
                assert {v["843"] for _t, _i, v in cond} <= {"I", "D"}
                replies = [f for f in frames if f["trnm"] == "CNSRREQ"]
                assert replies and all(f["return_code"] == 0 for f in replies)
                assert all(j["jmcode"].startswith("A") for f in replies for j in f["data"])
            # The account sees the position.
            bal = (await c.post("/api/dostk/acnt", headers={**headers, "api-id": "kt00018"},
                                json={"qry_tp": "1", "dmst_stex_tp": "KRX"})).json()  # fmt: skip
            pos = {p["stk_cd"]: p for p in bal["acnt_evlt_remn_indv_tot"]}
            assert pos["A000880"]["rmnd_qty"] == "000000000002000"
        assert sim.now() - start > timedelta(minutes=1)
