"""The news-score client: against the simulator's news endpoint over a real socket, its cache, and failing
closed (with the health report saying so) when the service is dead."""

from __future__ import annotations

import datetime as dt
import time
from datetime import UTC, datetime

import orjson
import pytest
import redis

from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.testing import simulator_in_thread
from apps.core.selectors import health_report
from apps.news import scores
from apps.news.contract import NewsItem, NewsScore, NewsUnavailable

DAY = dt.date(2025, 1, 15)


def _news(report: dict) -> dict:
    return next(c for c in report["components"] if c["component"] == "news")


@pytest.fixture
def sim(settings):
    with simulator_in_thread(
        start=default_start(DAY, dt.time(9, 30)), use_krx_calendar=False
    ) as sim:
        settings.NEWS_SERVICE_URL = sim.base_url
        yield sim


def _sim_score(sim, code: str):
    return sim.call(sim.server.news.score, code)


def test_get_score_reads_the_simulators_news_over_http(sim):
    expected = _sim_score(sim, "005930")
    assert expected is not None  # a trading-value leader has news by 09:30

    score = scores.get_score("A005930")

    assert score == NewsScore(
        "005930", expected.score, expected.headline, expected.source, expected.published_at
    )
    assert score.published_at.tzinfo is not None


async def test_aget_score_reads_the_same_over_http(sim):
    expected = _sim_score(sim, "005930")
    score = await scores.aget_score("005930")
    assert score is not None and score.score == expected.score
    assert score.published_at == expected.published_at


def test_no_news_is_none_and_cached(sim, fake_service, settings):
    fake_service.status, fake_service.body = 404, b'{"detail": "no news"}'
    settings.NEWS_SERVICE_URL = fake_service.url
    assert scores.get_score("123456") is None
    assert scores.get_score("123456") is None
    assert len(fake_service.requests) == 1  # the second answer came from the cache


def test_the_cache_answers_until_its_ttl(sim, settings):
    settings.NEWS_CACHE_TTL_SECONDS = 45
    first = scores.get_score("005930")
    key = f"{settings.REDIS_KEY_PREFIX}stockagent:news:score:005930"
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert 0 < client.ttl(key) <= 45

    sim.advance_sync(hours=3)  # the market moved on: the service now has a later item
    later = _sim_score(sim, "005930")
    assert later is not None and later.published_at > first.published_at
    assert scores.get_score("005930") == first  # still cached

    client.delete(key)  # what the TTL does when it runs out
    assert scores.get_score("005930").published_at == later.published_at


def test_a_dead_service_fails_closed_without_calling_it_again(fake_service, settings, caplog):
    settings.NEWS_SERVICE_URL = fake_service.url
    settings.NEWS_RETRY_AFTER_SECONDS = 300
    fake_service.status, fake_service.body = 503, b"down"

    for _ in range(50):
        with pytest.raises(NewsUnavailable, match="fail closed"):
            scores.get_score("005930")

    assert len(fake_service.requests) == 1  # the breaker kept the other 49 calls off the network
    assert len([r for r in caplog.records if "not calling it" in r.getMessage()]) == 1


def test_a_refused_connection_fails_closed_and_health_shows_it(dead_url, settings, db):
    settings.NEWS_SERVICE_URL = dead_url
    with pytest.raises(NewsUnavailable, match="ConnectError"):
        scores.get_score("005930")

    for probe in (False, True):
        news = _news(health_report(probe=probe))
        assert news["status"] == "down"
        assert news["message"].startswith("unavailable (fail closed): ConnectError")
        assert news["expected"] is False
    settings.HEALTH_EXPECTED_COMPONENTS = ["news"]  # when the installation expects it: not ok
    report = health_report(probe=True)
    assert report["ok"] is False and _news(report)["expected"] is True


def test_the_health_endpoint_shows_the_news_service(dead_url, settings, api_client, viewer):
    settings.NEWS_SERVICE_URL = dead_url
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/health").json()
    news = _news(body)
    assert news["status"] == "down"
    assert "fail closed" in news["message"]


def test_the_breaker_is_shared_through_redis(dead_url, settings):
    settings.NEWS_SERVICE_URL = dead_url
    with pytest.raises(NewsUnavailable):
        scores.get_score("005930")
    scores._open_until = 0.0  # another process: only the Redis breaker is there
    with pytest.raises(NewsUnavailable, match="ConnectError"):
        scores.get_score("000660")


async def test_aget_score_fails_closed_too(dead_url, settings):
    settings.NEWS_SERVICE_URL = dead_url
    settings.NEWS_RETRY_AFTER_SECONDS = 300
    for _ in range(20):
        with pytest.raises(NewsUnavailable):
            await scores.aget_score("005930")
    assert scores._breaker_open()


def test_a_fresh_cached_score_is_served_while_the_service_is_dead(dead_url, settings):
    settings.NEWS_SERVICE_URL = dead_url
    item = NewsItem("005930", 77, "h", "s", datetime(2025, 1, 15, 0, 10, tzinfo=UTC))
    scores.offer([item])
    assert scores.get_score("005930").score == 77


def test_offer_keeps_the_newer_score(settings):
    newer = NewsScore("005930", 80, "new", "s", datetime(2025, 1, 15, 1, 0, tzinfo=UTC))
    older = NewsScore("005930", 20, "old", "s", datetime(2025, 1, 15, 0, 0, tzinfo=UTC))
    scores.offer([newer, older])
    raw = redis.Redis.from_url(settings.REDIS_URL).get(
        f"{settings.REDIS_KEY_PREFIX}stockagent:news:score:005930"
    )
    assert orjson.loads(raw)["score"] == 80


def test_a_bad_reply_counts_as_a_failure(fake_service, settings):
    settings.NEWS_SERVICE_URL = fake_service.url
    fake_service.body = orjson.dumps(
        {"code": "005930", "score": 140, "headline": "h", "source": "s",
         "published_at": "2025-01-15T09:00:00+09:00"}
    )  # fmt: skip
    with pytest.raises(NewsUnavailable, match="score: 140 is outside 0-100"):
        scores.get_score("005930")


def test_not_configured_fails_closed_and_says_so(settings, db):
    settings.NEWS_SERVICE_URL = ""
    settings.KIWOOM_USE_SIMULATOR = False
    with pytest.raises(NewsUnavailable, match="not configured"):
        scores.get_score("005930")
    news = _news(health_report(probe=True))
    assert (news["status"], news["message"]) == ("unknown", "not configured")


def test_defaults_to_the_simulators_url(settings):
    settings.NEWS_SERVICE_URL = ""
    settings.KIWOOM_USE_SIMULATOR = True
    assert scores.service_url() == settings.KIWOOM_BASE_URL.rstrip("/")


def test_health_is_ok_after_a_good_call(sim, db):
    scores.get_score("005930")
    news = _news(health_report(probe=False))
    assert news["status"] == "ok"
    assert _news(health_report(probe=True))["status"] == "ok"


def test_a_bad_code_is_refused_before_any_call(settings):
    from apps.news.parsing import InvalidNews

    with pytest.raises(InvalidNews, match="code"):
        scores.get_score("12")
    assert settings.NEWS_TIMEOUT_SECONDS > 0


async def test_a_caller_giving_up_on_a_slow_service_opens_the_breaker(fake_service, settings):
    """The strategy waits 0.5 s for a score: a service slower than that must not cost every later call
    the same wait."""
    import asyncio

    settings.NEWS_SERVICE_URL = fake_service.url
    settings.NEWS_RETRY_AFTER_SECONDS = 300
    fake_service.delay = 2.0
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(scores.aget_score("005930"), 0.2)
    with pytest.raises(NewsUnavailable):
        await asyncio.wait_for(scores.aget_score("005930"), 0.2)
    assert len(fake_service.requests) == 1


def test_the_bundled_simulators_news_keeps_the_markets_time(dead_url, settings):
    """Against the bundled simulator at speed 30, the 30 s breaker and the 60 s cache are the market's
    seconds: 1 s and 2 s of wall time (an accelerated morning does not lose a quarter of an hour of
    news to a start-up race); a real service, or the simulator at speed 1, keeps wall time."""
    settings.NEWS_SERVICE_URL = ""
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_BASE_URL = dead_url
    settings.KIWOOM_SIM_SPEED = 30
    settings.NEWS_RETRY_AFTER_SECONDS = 30
    settings.NEWS_CACHE_TTL_SECONDS = 60
    assert scores.market_seconds(30) == 1.0 and scores.market_seconds(60) == 2.0
    assert scores.market_seconds(3) == 1.0  # at least a second
    with pytest.raises(NewsUnavailable):
        scores.get_score("005930")
    ttl_ms = scores._redis().pttl(scores._breaker_key())
    assert 0 < ttl_ms <= 1_000 and scores._open_until - time.monotonic() <= 1.0
    scores.offer([NewsScore("005930", 80, "호재", "sim", dt.datetime.now(dt.UTC))])
    assert 0 < scores._redis().pttl(scores._score_key("005930")) <= 2_000
    settings.KIWOOM_SIM_SPEED = 1
    assert scores.market_seconds(30) == 30.0
    settings.KIWOOM_SIM_SPEED = 30
    settings.NEWS_SERVICE_URL = dead_url  # a service of its own: wall time
    assert scores.market_seconds(30) == 30.0
