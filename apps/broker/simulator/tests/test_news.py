"""The simulator's news source: the rule (leaders and gainers score higher), its REST face over a real
socket, determinism for a replayed day, and the Redis publisher."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.news import MinuteValue, checkpoints, day_news, score_of, tone
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import running_simulator
from krx import KST

DAY = dt.date(2025, 1, 15)


def at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=KST)


def bars(close: int, value_per_minute: int, until: dt.datetime) -> list[MinuteValue]:
    out, t = [], at(9, 1)
    while t <= until:
        out.append(MinuteValue(t, close, value_per_minute))
        t += dt.timedelta(minutes=1)
    return out


# ------------------------------------------------------------------------------------------ the rule
def test_score_rises_with_trading_value_rank_and_change():
    assert score_of(1, 0.0, 0) > score_of(2, 0.0, 0) > score_of(6, 0.0, 0) == 40
    assert score_of(6, 5.0, 0) > score_of(6, 1.0, 0) > score_of(6, -1.0, 0)
    assert score_of(1, 30.0, 5) == 100 and score_of(50, -30.0, -5) == 0


def test_leaders_gainers_and_fallers_get_news_others_do_not():
    end = at(9, 5)
    codes = {f"00000{i}": (10_000, 10_000, 1_000_000 * (10 - i)) for i in range(8)}
    codes["000100"] = (10_000, 11_000, 1_000)  # +10 %, tiny value: a gainer
    codes["000200"] = (10_000, 9_000, 1_000)  # -10 %: a faller
    codes["000300"] = (10_000, 10_010, 1_000)  # +0.1 %, tiny value: nothing to report? a gainer #3
    codes["000400"] = (10_000, 10_000, 1_000)  # flat, small: no news
    bases = {c: b for c, (b, _, _) in codes.items()}
    data = {c: bars(close, v, end) for c, (_, close, v) in codes.items()}
    news = day_news(DAY, 7, {}, bases, data, until=end)
    got = {n.code: n.score for n in news}
    assert set(got) == {
        "000000",
        "000001",
        "000002",
        "000003",
        "000004",
        "000100",
        "000200",
        "000300",
    }
    assert all(n.published_at == at(9, 5) for n in news)
    assert got["000100"] == score_of(6, 10.0, tone(7, DAY, "000100"))
    assert got["000200"] < 40 < got["000000"]


def test_an_item_repeats_only_when_the_score_moves():
    bases = {"005930": 10_000}
    flat = {"005930": bars(10_000, 1_000_000, at(10, 0))}
    assert len(day_news(DAY, 7, {}, bases, flat, until=at(10, 0))) == 1  # said once
    rising = {
        "005930": [
            MinuteValue(b.end, 10_000 + 20 * i, b.value) for i, b in enumerate(flat["005930"])
        ]
    }
    assert len(day_news(DAY, 7, {}, bases, rising, until=at(10, 0))) > 2


def test_checkpoints_cover_the_session():
    points = checkpoints(DAY)
    assert points[0] == at(9, 5) and points[-1] == at(15, 20) and len(points) == 76


# ------------------------------------------------------------------------------------------ over HTTP
async def _items(base_url: str, day: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/news/items", params={"date": day})
    assert response.status_code == 200
    return response.json()["items"]


async def test_a_replayed_day_has_the_same_news_however_the_clock_moved():
    start = default_start(DAY, dt.time(8, 55))
    async with (
        running_simulator(start=start, use_krx_calendar=False, seed=7) as one,
        running_simulator(start=start, use_krx_calendar=False, seed=7) as two,
    ):
        await one.advance_to(at(10, 30))  # one jump
        t = start
        while t < at(10, 30):  # many uneven steps
            t = min(t + dt.timedelta(minutes=7, seconds=13), at(10, 30))
            await two.advance_to(t)
        first = await _items(one.base_url, "20250115")
        second = await _items(two.base_url, "20250115")
        assert first == second
        assert len(first) > 10
        assert {i["published_at"][11:16] for i in first} <= {
            p.strftime("%H:%M") for p in checkpoints(DAY) if p <= at(10, 30)
        }
        # a past day: its whole session, the same each time it is asked
        past = await _items(one.base_url, "20250114")
        assert (
            past == await _items(two.base_url, "20250114") == await _items(one.base_url, "20250114")
        )
        assert past[-1]["published_at"] <= "2025-01-14T15:20:00+09:00"
        # a later day has no news yet
        assert await _items(one.base_url, "20250116") == []


async def test_another_seed_tells_another_story():
    start = default_start(DAY, dt.time(8, 55))
    async with (
        running_simulator(start=start, use_krx_calendar=False, seed=7) as one,
        running_simulator(start=start, use_krx_calendar=False, seed=8) as two,
    ):
        await one.advance_to(at(10, 0))
        await two.advance_to(at(10, 0))
        assert await _items(one.base_url, "20250115") != await _items(two.base_url, "20250115")


async def test_score_endpoint_answers_the_latest_item_and_refuses_bad_input():
    async with (
        running_simulator(start=at(8, 55), use_krx_calendar=False) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as client,
    ):
        early = await client.get("/news/score", params={"code": "005930"})
        assert early.status_code == 404  # no news before the first checkpoint
        await sim.advance_to(at(10, 0))
        items = await _items(sim.base_url, "20250115")
        code = items[-1]["code"]
        latest = [i for i in items if i["code"] == code][-1]
        response = await client.get("/news/score", params={"code": code})
        assert response.status_code == 200 and response.json() == latest
        assert (await client.get("/news/score", params={"code": "12"})).status_code == 400
        assert (await client.get("/news/score", params={"code": "999999"})).status_code == 404
        bad = await client.get("/news/items", params={"date": "2025-01-15"})
        assert bad.status_code == 400 and "YYYYMMDD" in bad.json()["detail"]


# ------------------------------------------------------------------------------------------ publisher
# The simulator is standalone (no Django): the test settings put these in the environment.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
PREFIX = os.environ.get("REDIS_KEY_PREFIX", "")


async def _until(check, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true")


async def test_the_publisher_sends_each_new_item_once_on_the_channel():
    channel = f"{PREFIX}sim-news-test"
    listener = aioredis.Redis.from_url(REDIS_URL)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    config = ServerConfig(news_redis_url=REDIS_URL, news_channel=channel)
    try:
        async with running_simulator(start=at(9, 0), use_krx_calendar=False, config=config) as sim:
            await sim.advance_to(at(9, 21))
            expected = await _items(sim.base_url, "20250115")
            got: list[dict] = []
            async with asyncio.timeout(10):
                while len(got) < len(expected):
                    message = await pubsub.get_message(timeout=0.5)
                    if message:
                        got.append(orjson.loads(message["data"]))
            await asyncio.sleep(0.6)  # a few more publisher rounds: nothing is sent twice
            assert await pubsub.get_message(timeout=0.1) is None
            assert sim.server.news_publisher.published == len(expected)
        assert got == expected and expected
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def test_the_publisher_survives_redis_being_down(caplog):
    config = ServerConfig(news_redis_url="redis://127.0.0.1:1/0", news_channel="x")
    async with running_simulator(start=at(9, 0), use_krx_calendar=False, config=config) as sim:
        await sim.advance_to(at(9, 11))
        await _until(lambda: sim.server.news_publisher.failures > 0)
        assert len(await _items(sim.base_url, "20250115")) > 0  # REST still answers
    assert any("cannot publish" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", ["2025011", "2025-01-1", "abcdefgh"])
def test_parse_yyyymmdd_refuses(value):
    from apps.broker.simulator.news import parse_yyyymmdd

    with pytest.raises(ValueError):
        parse_yyyymmdd(value)
