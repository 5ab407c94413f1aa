"""`manage.py kiwoom_sim` as a process: port 0, SIGTERM stops it cleanly, and the state file
carries orders and accounts across a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[4]


def start_sim(state: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "kiwoom_sim", "--port", "0", "--speed", "60",
         "--date", "2025-01-15", "--start-time", "09:05", "--seed", "3",
         "--state", str(state), "--rate-limit", "0", "--ws-port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=90)
    if not box or not box[0].strip():
        proc.kill()
        raise AssertionError(f"simulator did not start: {proc.stderr.read()[-2000:]}")
    return proc, json.loads(box[0])


def stop_sim(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def api(base: str, token: str, group: str, api_id: str, body: dict[str, str]) -> dict[str, Any]:
    r = httpx.post(f"{base}/api/dostk/{group}", json=body, timeout=20,
                   headers={"api-id": api_id, "authorization": f"Bearer {token}"})  # fmt: skip
    return r.json()


def token(base: str) -> str:
    r = httpx.post(f"{base}/oauth2/token", timeout=20, json={
        "grant_type": "client_credentials", "appkey": "SIMULATOR-DEMO-APPKEY",
        "secretkey": "SIMULATOR-DEMO-SECRET"})  # fmt: skip
    return r.json()["token"]


@pytest.mark.slow
def test_command_serves_stops_on_sigterm_and_keeps_state(tmp_path: Path) -> None:
    state = tmp_path / "sim-state.json"
    proc, banner = start_sim(state)
    try:
        base = banner["kiwoom_sim"]
        assert banner["websocket"].endswith("/api/dostk/websocket")
        # --ws-port serves the WebSocket on a second port, as Kiwoom's :10000.
        assert banner["websocket"].split(":")[2].split("/")[0] != base.split(":")[2]
        assert banner["accounts"] == ["5000000010"]
        tok = token(base)
        book = api(base, tok, "mrkcond", "ka10004", {"stk_cd": "000880"})
        bid = int(book["buy_fpr_bid"].lstrip("+-"))
        # A resting buy far below the market: it stays open across the restart.
        placed = api(base, tok, "ordr", "kt10000", {
            "dmst_stex_tp": "KRX", "stk_cd": "000880", "ord_qty": "7",
            "ord_uv": str(bid - 2000), "trde_tp": "0"})  # fmt: skip
        assert placed["return_code"] == 0, placed
        with connect(banner["websocket"]) as ws:
            ws.send(json.dumps({"trnm": "LOGIN", "token": tok}))
            assert json.loads(ws.recv(timeout=10))["return_code"] == 0
        time.sleep(1.5)  # at speed 60 the exchange runs ~90 s ahead of the start time
        seen = httpx.get(f"{base}/_sim/clock", timeout=20).json()["sim_time"]
    finally:
        assert stop_sim(proc) == 0
    assert state.exists()
    saved = json.loads(state.read_text())["now"]
    assert saved >= seen > "2025-01-15T09:05:30"

    proc, banner = start_sim(state)
    try:
        base = banner["kiwoom_sim"]
        # The restart resumes the exchange's clock from the state file, although --start-time
        # says 09:05: time never runs backwards across a restart.
        assert banner["sim_time"] >= saved
        assert httpx.get(f"{base}/_sim/clock", timeout=20).json()["sim_time"] >= saved
        tok = token(base)
        oso = api(base, tok, "acnt", "ka10075",
                  {"all_stk_tp": "0", "trde_tp": "0", "stk_cd": "", "stex_tp": "0"})  # fmt: skip
        assert [(o["ord_no"], o["oso_qty"]) for o in oso["oso"]] == [(placed["ord_no"], "7")]
        cash = api(base, tok, "acnt", "kt00001", {"qry_tp": "3"})
        assert int(cash["ord_alow_amt"]) < 100_000_000  # the open buy still holds cash
    finally:
        assert stop_sim(proc) == 0
