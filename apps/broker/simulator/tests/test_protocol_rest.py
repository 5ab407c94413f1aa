"""REST protocol of the simulator over real sockets (PROTOCOL.md §2-§5): request in, exact response
shape and encodings out, against the predictable FakeExchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from apps.broker.simulator.server import DEMO_APP_KEY, DEMO_SECRET_KEY, ServerConfig
from apps.broker.simulator.testing import SimHandle, running_simulator
from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

JSON_CT = "application/json;charset=UTF-8"


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    cfg = ServerConfig(rate_limit_per_s=None)
    async with running_simulator(FakeExchange(), config=cfg, start=START) as handle:
        yield handle


@pytest.fixture
async def client(sim: SimHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as c:
        yield c


async def token_for(client: httpx.AsyncClient, sim: SimHandle) -> str:
    r = await client.post(
        "/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "appkey": sim.app_key,
            "secretkey": sim.secret_key,
        },
    )
    return r.json()["token"]


async def tr(
    client: httpx.AsyncClient,
    token: str | None,
    group: str,
    api_id: str,
    body: dict[str, Any],
    **headers: str,
) -> httpx.Response:
    hdrs = {"api-id": api_id, "Content-Type": JSON_CT}
    if token:
        hdrs["authorization"] = f"Bearer {token}"
    hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
    return await client.post(f"/api/dostk/{group}", json=body, headers=hdrs)


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["return_code"] == 0, data
    assert isinstance(data["return_code"], int)
    return data


def all_strings(obj: Any) -> None:
    """§3.4: every value is a string (except return_code)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k != "return_code":
                all_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            all_strings(v)
    else:
        assert isinstance(obj, str), obj


# --------------------------------------------------------------------------- oauth2
async def test_token_issue_shape_and_expiry(client: httpx.AsyncClient, sim: SimHandle) -> None:
    r = await client.post(
        "/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "appkey": DEMO_APP_KEY,
            "secretkey": DEMO_SECRET_KEY,
        },
    )
    data = ok(r)
    assert set(data) == {"expires_dt", "token_type", "token", "return_code", "return_msg"}
    assert data["token_type"] == "Bearer"
    assert 80 <= len(data["token"]) <= 90
    assert len(data["expires_dt"]) == 14 and data["expires_dt"].isdigit()
    assert r.headers["content-type"] == JSON_CT
    assert "x-sim-time" in r.headers
    # With api-id au10001 too.
    r2 = await client.post(
        "/oauth2/token",
        headers={"api-id": "au10001"},
        json={
            "grant_type": "client_credentials",
            "appkey": DEMO_APP_KEY,
            "secretkey": DEMO_SECRET_KEY,
        },
    )
    second = ok(r2)["token"]
    # Re-issue invalidates the earlier token of the app key.
    assert (await tr(client, data["token"], "acnt", "ka00001", {})).json()["return_code"] == 3
    assert ok(await tr(client, second, "acnt", "ka00001", {}))["acctNo"] == sim.account


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"appkey": DEMO_APP_KEY, "secretkey": DEMO_SECRET_KEY}, "8011"),
        ({"grant_type": "password", "appkey": DEMO_APP_KEY, "secretkey": "x"}, "8012"),
        ({"grant_type": "client_credentials", "appkey": DEMO_APP_KEY}, "8020"),
        (
            {"grant_type": "client_credentials", "appkey": DEMO_APP_KEY, "secretkey": "wrong"},
            "8001",
        ),
    ],
)
async def test_token_errors(client: httpx.AsyncClient, body: dict[str, str], code: str) -> None:
    r = await client.post("/oauth2/token", json=body)
    assert r.status_code == 200
    data = r.json()
    assert data["return_code"] == 3
    assert f"[{code}:" in data["return_msg"]
    assert "wrong" not in data["return_msg"] and DEMO_SECRET_KEY not in r.text


async def test_revoke(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    body = {"appkey": sim.app_key, "secretkey": sim.secret_key, "token": token}
    data = ok(await client.post("/oauth2/revoke", json=body))
    assert set(data) == {"return_code", "return_msg"}
    r = await tr(client, token, "acnt", "ka00001", {})
    assert r.json() == {
        "return_code": 3,
        "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
    }
    again = (await client.post("/oauth2/revoke", json=body)).json()
    assert again["return_code"] == 3 and "[8015:" in again["return_msg"]
    no_token = (await client.post("/oauth2/revoke", json={**body, "token": ""})).json()
    assert "[8016:" in no_token["return_msg"]


# --------------------------------------------------------------------------- envelope errors
async def test_envelope_errors(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    r = await tr(client, None, "stkinfo", "ka10001", {"stk_cd": "005930"})
    assert r.status_code == 200 and "[1513:" in r.json()["return_msg"]
    r = await tr(client, token, "stkinfo", "ka99999", {})
    assert "[1505:" in r.json()["return_msg"] and "API ID=ka99999" in r.json()["return_msg"]
    r = await tr(client, token, "chart", "ka10001", {"stk_cd": "005930"})
    assert "[1504:" in r.json()["return_msg"]
    assert r.headers["api-id"] == "ka10001"
    r = await client.post(
        "/api/dostk/stkinfo", json={}, headers={"authorization": f"Bearer {token}"}
    )
    assert "[1501:" in r.json()["return_msg"]
    r = await tr(client, "not-a-token", "stkinfo", "ka10001", {"stk_cd": "005930"})
    assert r.json() == {
        "return_code": 3,
        "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
    }
    r = await tr(client, token, "stkinfo", "ka10001", {})
    assert r.json()["return_code"] == 2 and "[1511:" in r.json()["return_msg"]
    assert "stk_cd" in r.json()["return_msg"]
    r = await tr(client, token, "stkinfo", "ka10001", {"stk_cd": "999999"})
    assert "[1902:" in r.json()["return_msg"]
    # Headers are matched case-insensitively.
    r = await client.post(
        "/api/dostk/acnt",
        json={},
        headers={"API-ID": "ka00001", "Authorization": f"Bearer {token}"},
    )
    assert ok(r)["acctNo"] == sim.account


async def test_rate_limit_429(sim: SimHandle, client: httpx.AsyncClient) -> None:
    sim.server.ratelimiter.configure(1.0, burst=2)
    token = await token_for(client, sim)
    codes = []
    for _ in range(4):
        r = await tr(client, token, "stkinfo", "ka10001", {"stk_cd": "005930"})
        codes.append(r.status_code)
    assert codes[:2] == [200, 200]
    assert 429 in codes[2:]
    r429 = next(r for r in [await tr(client, token, "stkinfo", "ka10001", {"stk_cd": "005930"})])
    assert r429.status_code == 429
    assert r429.json() == {
        "return_code": 5,
        "return_msg": "허용된 요청 개수를 초과하였습니다"
        "[1700:허용된 요청 개수를 초과하였습니다. API ID=ka10001]",
    }
    # Another TR has its own budget.
    ok(await tr(client, token, "acnt", "ka00001", {}))


# --------------------------------------------------------------------------- stkinfo / mrkcond
KA10001_FIELDS = {
    "stk_cd", "stk_nm", "setl_mm", "fav", "cap", "flo_stk", "crd_rt", "oyr_hgst", "oyr_lwst",
    "mac", "mac_wght", "for_exh_rt", "repl_pric", "per", "eps", "roe", "pbr", "ev", "bps",
    "sale_amt", "bus_pro", "cup_nga", "250hgst", "250lwst", "high_pric", "open_pric",
    "low_pric", "upl_pric", "lst_pric", "base_pric", "exp_cntr_pric", "exp_cntr_qty",
    "250hgst_pric_dt", "250hgst_pric_pre_rt", "250lwst_pric_dt", "250lwst_pric_pre_rt",
    "cur_prc", "pre_sig", "pred_pre", "flu_rt", "trde_qty", "trde_pre", "fav_unit", "dstr_stk",
    "dstr_rt",
}  # fmt: skip


async def test_ka10001(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    r = await tr(client, token, "stkinfo", "ka10001", {"stk_cd": "005930"})
    data = ok(r)
    assert set(data) - {"return_code", "return_msg"} == KA10001_FIELDS
    all_strings(data)
    assert data["return_msg"] == "정상적으로 처리되었습니다"
    assert (data["cur_prc"], data["pred_pre"], data["flu_rt"], data["pre_sig"]) == (
        "+75000",
        "+100",
        "+0.13",
        "2",
    )
    assert (data["upl_pric"], data["lst_pric"], data["base_pric"]) == ("+97300", "-52500", "74900")
    assert (data["open_pric"], data["low_pric"], data["high_pric"]) == (
        "-74600",
        "-74200",
        "+75400",
    )
    assert data["250hgst_pric_dt"] == "20240910"
    assert r.headers["api-id"] == "ka10001"
    assert r.headers["cont-yn"] == "N" and r.headers["next-key"] == ""
    assert r.headers["x-sim-time"].startswith("2025-01-15T10:15:23+09:00")
    # NXT/SOR suffixes resolve to the KRX stock.
    assert (
        ok(await tr(client, token, "stkinfo", "ka10001", {"stk_cd": "005930_AL"}))["stk_cd"]
        == "005930"
    )


async def test_ka10004_book(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    data = ok(await tr(client, token, "mrkcond", "ka10004", {"stk_cd": "005930"}))
    all_strings(data)
    assert data["bid_req_base_tm"] == "101523"
    assert (data["sel_fpr_bid"], data["sel_fpr_req"]) == ("+75100", "1000")
    assert (data["buy_fpr_bid"], data["buy_fpr_req"]) == ("+75000", "2000")
    assert data["sel_10th_pre_bid"] == "+76000"
    assert data["buy_10th_pre_bid"] == "-74100"
    assert data["sel_2th_pre_req_pre"] == "+10" and data["buy_2th_pre_req_pre"] == "-5"
    assert (data["tot_sel_req"], data["tot_buy_req"]) == ("10045", "20045")
    for n in ("2th", "3th", "4th", "10th"):
        for side in ("sel", "buy"):
            for suffix in ("bid", "req", "req_pre"):
                assert f"{side}_{n}_pre_{suffix}" in data
    assert "sel_1th_pre_req_pre" in data and "buy_1th_pre_req_pre" in data


async def test_ka10099_master(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    data = ok(await tr(client, token, "stkinfo", "ka10099", {"mrkt_tp": "0"}))
    rows = data["list"]
    assert [r["code"] for r in rows] == ["000660", "005930"]
    row = rows[1]
    assert row["listCount"] == "0000005969782550" and row["lastPrice"] == "00074900"
    assert row["regDay"] == "19750611" and row["marketCode"] == "0"
    assert set(row) == {
        "code", "name", "listCount", "auditInfo", "regDay", "lastPrice", "state", "marketCode",
        "marketName", "upName", "upSizeName", "orderWarning", "companyClassName", "nxtEnable",
    }  # fmt: skip
    kosdaq = ok(await tr(client, token, "stkinfo", "ka10099", {"mrkt_tp": "10"}))["list"]
    assert [r["code"] for r in kosdaq] == ["035720"]


# --------------------------------------------------------------------------- charts + paging
async def test_ka10080_minute_paging(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    body = {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"}
    r1 = await tr(client, token, "chart", "ka10080", body)
    p1 = ok(r1)["stk_min_pole_chart_qry"]
    assert len(p1) == 900 and r1.headers["cont-yn"] == "Y" and r1.headers["next-key"]
    row = p1[0]
    assert set(row) == {
        "cur_prc",
        "trde_qty",
        "cntr_tm",
        "open_pric",
        "high_pric",
        "low_pric",
        "acc_trde_qty",
        "pred_pre",
        "pred_pre_sig",
    }
    assert row["open_pric"] == "74900" and row["high_pric"] == "+75000"
    assert row["low_pric"] == "-74800"
    assert p1[0]["cntr_tm"] > p1[1]["cntr_tm"]  # newest first
    r2 = await tr(
        client, token, "chart", "ka10080", body, cont_yn="Y", next_key=r1.headers["next-key"]
    )
    p2 = ok(r2)["stk_min_pole_chart_qry"]
    assert len(p2) == 100 and r2.headers["cont-yn"] == "N" and r2.headers["next-key"] == ""
    assert p2[0]["cntr_tm"] < p1[-1]["cntr_tm"]
    assert len({r["cntr_tm"] for r in p1 + p2}) == 1000
    # Deterministic: the same request gives the same page.
    again = ok(await tr(client, token, "chart", "ka10080", body))["stk_min_pole_chart_qry"]
    assert again == p1
    bad = (await tr(client, token, "chart", "ka10080", {**body, "tic_scope": "7"})).json()
    assert bad["return_code"] == 2


async def test_ka10081_daily_paging(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    body = {"stk_cd": "005930", "base_dt": "20250115", "upd_stkpc_tp": "1"}
    r1 = await tr(client, token, "chart", "ka10081", body)
    p1 = ok(r1)["stk_dt_pole_chart_qry"]
    assert len(p1) == 600 and r1.headers["cont-yn"] == "Y"
    row = p1[0]
    assert row == {
        "cur_prc": "74300", "trde_qty": "9263135", "trde_prica": "648525", "dt": "20250115",
        "open_pric": "74900", "high_pric": "75400", "low_pric": "74400", "pred_pre": "-600",
        "pred_pre_sig": "5", "trde_tern_rt": "+0.16",
    }  # fmt: skip
    r2 = await tr(
        client, token, "chart", "ka10081", body, cont_yn="Y", next_key=r1.headers["next-key"]
    )
    p2 = ok(r2)["stk_dt_pole_chart_qry"]
    assert len(p2) == 100 and r2.headers["cont-yn"] == "N"
    assert p2[0]["dt"] < p1[-1]["dt"]


# --------------------------------------------------------------------------- rankings
RANK_BODIES = {
    "ka10032": ({"mrkt_tp": "000", "mang_stk_incls": "1", "stex_tp": "3"}, "trde_prica_upper"),
    "ka10023": (
        {"mrkt_tp": "000", "sort_tp": "1", "tm_tp": "2", "trde_qty_tp": "5", "tm": "",
         "stk_cnd": "0", "pric_tp": "0", "stex_tp": "3"},
        "trde_qty_sdnin",
    ),
    "ka10027": (
        {"mrkt_tp": "000", "sort_tp": "1", "trde_qty_cnd": "0000", "stk_cnd": "0", "crd_cnd": "0",
         "updown_incls": "1", "pric_cnd": "0", "trde_prica_cnd": "0", "stex_tp": "3"},
        "pred_pre_flu_rt_upper",
    ),
    "ka10030": (
        {"mrkt_tp": "000", "sort_tp": "1", "mang_stk_incls": "0", "crd_tp": "0",
         "trde_qty_tp": "0", "pric_tp": "0", "trde_prica_tp": "0", "mrkt_open_tp": "0",
         "stex_tp": "3"},
        "tdy_trde_qty_upper",
    ),
}  # fmt: skip
RANK_FIELDS = {
    "ka10032": {"stk_cd", "now_rank", "pred_rank", "stk_nm", "cur_prc", "pred_pre_sig",
                "pred_pre", "flu_rt", "sel_bid", "buy_bid", "now_trde_qty", "pred_trde_qty",
                "trde_prica"},
    "ka10023": {"stk_cd", "stk_nm", "cur_prc", "pred_pre_sig", "pred_pre", "flu_rt",
                "prev_trde_qty", "now_trde_qty", "sdnin_qty", "sdnin_rt"},
    "ka10027": {"stk_cls", "stk_cd", "stk_nm", "cur_prc", "pred_pre_sig", "pred_pre", "flu_rt",
                "sel_req", "buy_req", "now_trde_qty", "cntr_str", "cnt"},
    "ka10030": {"stk_cd", "stk_nm", "cur_prc", "pred_pre_sig", "pred_pre", "flu_rt", "trde_qty",
                "pred_rt", "trde_tern_rt", "trde_amt", "opmr_trde_qty", "opmr_pred_rt",
                "opmr_trde_rt", "opmr_trde_amt", "af_mkrt_trde_qty", "af_mkrt_pred_rt",
                "af_mkrt_trde_rt", "af_mkrt_trde_amt", "bf_mkrt_trde_qty", "bf_mkrt_pred_rt",
                "bf_mkrt_trde_rt", "bf_mkrt_trde_amt"},
}  # fmt: skip


@pytest.mark.parametrize("api_id", sorted(RANK_BODIES))
async def test_rankings(client: httpx.AsyncClient, sim: SimHandle, api_id: str) -> None:
    token = await token_for(client, sim)
    body, key = RANK_BODIES[api_id]
    r = await tr(client, token, "rkinfo", api_id, body)
    rows = ok(r)[key]
    assert rows, api_id
    all_strings(rows)
    for row in rows:
        assert set(row) == RANK_FIELDS[api_id]
    missing = dict(body)
    missing.pop("stex_tp")
    assert (await tr(client, token, "rkinfo", api_id, missing)).json()["return_code"] == 2


async def test_ranking_values(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    body, key = RANK_BODIES["ka10032"]
    rows = ok(await tr(client, token, "rkinfo", "ka10032", body))[key]
    # Sorted by traded value (백만원); the KOSPI filter drops the KOSDAQ stock.
    assert [r["now_rank"] for r in rows] == ["1", "2", "3"]
    assert [r["stk_cd"] for r in rows] == ["000660", "005930", "035720"]
    assert rows[0]["trde_prica"] == "196500" and rows[0]["cur_prc"] == "-196500"
    kospi = ok(await tr(client, token, "rkinfo", "ka10032", {**body, "mrkt_tp": "001"}))[key]
    assert {r["stk_cd"] for r in kospi} == {"005930", "000660"}
    up = ok(await tr(client, token, "rkinfo", "ka10027", RANK_BODIES["ka10027"][0]))
    assert [r["stk_cd"] for r in up["pred_pre_flu_rt_upper"]] == ["005930"]
    assert up["pred_pre_flu_rt_upper"][0]["cntr_str"] == "150.00"
    down_body = {**RANK_BODIES["ka10027"][0], "sort_tp": "3"}
    down = ok(await tr(client, token, "rkinfo", "ka10027", down_body))["pred_pre_flu_rt_upper"]
    assert [r["stk_cd"] for r in down] == ["000660"]
    assert down[0]["cur_prc"] == "-196500" and down[0]["pred_pre"] == "-3500"
    surge = ok(await tr(client, token, "rkinfo", "ka10023", RANK_BODIES["ka10023"][0]))
    first = surge["trde_qty_sdnin"][0]
    assert first["sdnin_qty"] == "+2500000" and first["sdnin_rt"] == "+500.00"
    minute_body = {**RANK_BODIES["ka10023"][0], "tm_tp": "1", "tm": "5"}
    minute = ok(await tr(client, token, "rkinfo", "ka10023", minute_body))["trde_qty_sdnin"][0]
    assert (minute["now_trde_qty"], minute["prev_trde_qty"]) == ("5000", "2000")
    assert minute["sdnin_qty"] == "+3000" and minute["sdnin_rt"] == "+150.00"


# --------------------------------------------------------------------------- account TRs
async def test_account_trs(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    assert ok(await tr(client, token, "acnt", "ka00001", {}))["acctNo"] == "5000000010"
    d = ok(await tr(client, token, "acnt", "kt00001", {"qry_tp": "3"}))
    assert d["return_msg"] == "조회가 완료되었습니다."
    assert d["entr"] == "000000100000000" and d["ord_alow_amt"] == "000000099999000"
    assert d["20stk_ord_alow_amt"] == "000000099999000" and d["crd_grnt_rt"] == "0.00"
    assert d["stk_entr_prst"] == [] and len(d) == 72
    e = ok(await tr(client, token, "acnt", "kt00018", {"qry_tp": "1", "dmst_stex_tp": "KRX"}))
    assert e["tot_evlt_pl"] == "-00000000148500" and e["tot_prft_rt"] == "-39.76"
    pos = e["acnt_evlt_remn_indv_tot"][0]
    assert pos["stk_cd"] == "A005930" and pos["rmnd_qty"] == "000000000000003"
    assert pos["cur_prc"] == "000000075000" and pos["pred_close_pric"] == "000000074900"
    assert pos["evltv_prft"] == "-00000000148500" and pos["prft_rt"] == "-39.76"
    f = ok(await tr(client, token, "acnt", "kt00004", {"qry_tp": "0", "dmst_stex_tp": "KRX"}))
    assert f["entr"] == "000100000000" and f["lspft"] == "000000001234"
    assert f["tdy_lspft"] == "-00000000567"
    row = f["stk_acnt_evlt_prst"][0]
    assert row["stk_cd"] == "A005930" and row["pl_rt"] == "-39.7600"
    assert row["pl_amt"] == "-00000148500"
    all_strings(d)
    all_strings(e)
    all_strings(f)


# --------------------------------------------------------------------------- orders
async def test_orders_and_order_lists(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    body = {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "10", "ord_uv": "75000",
            "trde_tp": "0", "cond_uv": ""}  # fmt: skip
    r = await tr(client, token, "ordr", "kt10000", body)
    data = ok(r)
    assert data == {"ord_no": "0000001", "dmst_stex_tp": "KRX", "return_code": 0,
                    "return_msg": "매수주문이 완료되었습니다."}  # fmt: skip
    sell = ok(await tr(client, token, "ordr", "kt10001", {**body, "ord_qty": "1"}))
    assert sell["return_msg"] == "매도주문이 완료되었습니다."
    sim.exchange.fill("0000001", 4, 75_000)
    oso = ok(
        await tr(
            client,
            token,
            "acnt",
            "ka10075",
            {"all_stk_tp": "0", "trde_tp": "2", "stk_cd": "", "stex_tp": "0"},
        )
    )
    assert oso["return_msg"] == " 조회가 완료되었습니다."
    (row,) = oso["oso"]
    assert row["ord_no"] == "0000001" and row["oso_qty"] == "6" and row["cntr_qty"] == "4"
    assert (
        row["io_tp_nm"] == "+매수" and row["trde_tp"] == "보통" and row["orig_ord_no"] == "0000000"
    )
    assert row["acnt_no"] == sim.account and row["tm"] == "101523" and row["cur_prc"] == "+75000"
    cntr = ok(await tr(client, token, "acnt", "ka10076",
                       {"stk_cd": "005930", "qry_tp": "1", "sell_tp": "0", "ord_no": "",
                        "stex_tp": "0"}))["cntr"]  # fmt: skip
    assert [c["ord_no"] for c in cntr] == ["0000001"]
    assert cntr[0]["cntr_pric"] == "75000" and cntr[0]["cntr_qty"] == "4"
    amend = ok(await tr(client, token, "ordr", "kt10002",
                        {"dmst_stex_tp": "KRX", "orig_ord_no": "0000001", "stk_cd": "005930",
                         "mdfy_qty": "0", "mdfy_uv": "74900", "mdfy_cond_uv": ""}))  # fmt: skip
    assert amend["ord_no"] == "0000003" and amend["base_orig_ord_no"] == "0000001"
    assert amend["mdfy_qty"] == "000000000006" and amend["dmst_stex_tp"] == "KRX"
    assert amend["return_msg"] == "매수정정 주문입력이 완료되었습니다"
    cancel = ok(await tr(client, token, "ordr", "kt10003",
                         {"dmst_stex_tp": "KRX", "orig_ord_no": "0000001", "stk_cd": "005930",
                          "cncl_qty": "0"}))  # fmt: skip
    assert set(cancel) == {"ord_no", "base_orig_ord_no", "cncl_qty", "return_code", "return_msg"}
    assert cancel["cncl_qty"] == "000000000006"
    assert cancel["return_msg"] == "매수취소 주문입력이 완료되었습니다"


async def test_order_rejections(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    body = {"dmst_stex_tp": "KRX", "stk_cd": "005930", "ord_qty": "100000", "ord_uv": "75000",
            "trde_tp": "0"}  # fmt: skip
    r = await tr(client, token, "ordr", "kt10000", body)
    assert r.status_code == 200
    assert r.json() == {
        "return_code": 20,
        "return_msg": "[2000](855056:매수증거금이 부족합니다. 1주 매수가능)",
    }
    bad_tick = (
        await tr(client, token, "ordr", "kt10000", {**body, "ord_qty": "1", "ord_uv": "75050"})
    ).json()
    assert bad_tick["return_code"] == 20
    nxt = (await tr(client, token, "ordr", "kt10000", {**body, "dmst_stex_tp": "NXT"})).json()
    assert nxt["return_code"] == 20 and "RC9000" in nxt["return_msg"]
    stop = (await tr(client, token, "ordr", "kt10000", {**body, "trde_tp": "28"})).json()
    assert stop["return_code"] == 20
    qty = (await tr(client, token, "ordr", "kt10000", {**body, "ord_qty": "abc"})).json()
    assert qty["return_code"] == 2 and "[1517:" in qty["return_msg"]
    gone = (await tr(client, token, "ordr", "kt10003",
                     {"dmst_stex_tp": "KRX", "orig_ord_no": "0009999", "stk_cd": "005930",
                      "cncl_qty": "0"})).json()  # fmt: skip
    assert gone["return_code"] == 20
    assert sim.exchange.order_seq == 0  # nothing was placed


async def test_engine_failure_is_a_json_500(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)

    def boom(account: str) -> None:
        raise RuntimeError("engine bug")

    sim.exchange.cash = boom
    r = await tr(client, token, "acnt", "kt00001", {"qry_tp": "3"})
    assert r.status_code == 500
    assert "[1999:" in r.json()["return_msg"] and r.json()["return_code"] != 0


async def test_a_body_over_one_mib_is_413(client: httpx.AsyncClient, sim: SimHandle) -> None:
    token = await token_for(client, sim)
    big = b'{"stk_cd": "005930", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    r = await client.post(
        "/api/dostk/stkinfo",
        content=big,
        headers={"api-id": "ka10001", "Content-Type": JSON_CT, "authorization": f"Bearer {token}"},
    )
    assert r.status_code == 413
    assert r.json()["return_code"] != 0
    ok = await tr(client, token, "stkinfo", "ka10001", {"stk_cd": "005930"})
    assert ok.status_code == 200 and ok.json()["return_code"] == 0
