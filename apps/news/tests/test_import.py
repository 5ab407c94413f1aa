"""`manage.py news import --date`: a day's history from the bundled simulator's news source (real socket),
stored once, replayable through the selectors."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import redis
from django.core.management import CommandError, call_command

from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.testing import simulator_in_thread
from apps.news.models import NewsItem, NewsOrigin
from apps.news.selectors import items_between, scores_as_of
from krx import KST

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 1, 14)


@pytest.fixture
def sim(settings):
    with simulator_in_thread(
        start=default_start(dt.date(2025, 1, 15), dt.time(8, 40)), use_krx_calendar=False
    ) as sim:
        settings.NEWS_SERVICE_URL = ""
        settings.KIWOOM_USE_SIMULATOR = True
        settings.KIWOOM_BASE_URL = sim.base_url
        yield sim


def test_import_stores_the_days_news_once(sim, settings):
    expected = sim.call(sim.server.news.items, DAY)
    out = StringIO()
    call_command("news", "import", "--date", DAY.isoformat(), stdout=out)
    assert f"{len(expected)} item(s)" in out.getvalue() and f"{len(expected)} new" in out.getvalue()

    call_command("news", "import", "--date", DAY.isoformat(), stdout=out)
    assert "0 new" in out.getvalue()
    assert NewsItem.objects.count() == len(expected)
    assert set(NewsItem.objects.values_list("origin", flat=True)) == {NewsOrigin.SIM}

    start = dt.datetime.combine(DAY, dt.time(0), tzinfo=KST)
    replay = items_between(start, start + dt.timedelta(days=1))
    assert [(i.code, i.score, i.published_at) for i in replay] == [
        (n.code, n.score, n.published_at) for n in expected
    ]
    noon = dt.datetime.combine(DAY, dt.time(12), tzinfo=KST)
    known = scores_as_of({n.code for n in expected}, noon)
    for code, score in known.items():
        latest = [n for n in expected if n.code == code and n.published_at <= noon][-1]
        assert score.score == latest.score
    # a past day's import does not stand for today's scores: the score cache was left alone
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert not list(client.scan_iter(f"{settings.REDIS_KEY_PREFIX}stockagent:news:score:*"))


def test_import_refuses_a_bad_date_and_a_dead_source(dead_url):
    with pytest.raises(CommandError, match="--date"):
        call_command("news", "import", "--date", "15/01/2025")
    with pytest.raises(CommandError, match="ConnectError"):
        call_command("news", "import", "--date", "2025-01-14", "--url", dead_url)
    assert not NewsItem.objects.exists()
