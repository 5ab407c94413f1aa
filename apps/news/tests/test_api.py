"""POST/GET /api/v1/news: token auth, roles, validation naming the field (nothing stored on a bad request),
idempotent duplicates, listing filters."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
import redis
from django.conf import settings

from apps.core.security import issue_token
from apps.news import scores
from apps.news.models import NewsItem, NewsOrigin

from .factories import NewsItemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/news"
ITEM = {
    "code": "005930",
    "score": 75,
    "headline": "삼성전자, 실적 호조",
    "source": "wire",
    "published_at": "2025-01-15T09:05:00+09:00",
}


@pytest.fixture
def trader_api(api_client, trader):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(trader)}")
    return api_client


def test_anonymous_is_refused(api_client):
    assert api_client.post(URL, ITEM, format="json").status_code in (401, 403)
    assert api_client.get(URL).status_code in (401, 403)
    assert not NewsItem.objects.exists()


def test_a_viewer_reads_but_cannot_push(api_client, viewer):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(viewer)}")
    assert api_client.post(URL, ITEM, format="json").status_code == 403
    assert api_client.get(URL).status_code == 200
    assert not NewsItem.objects.exists()


def test_a_trader_pushes_one_item_with_a_token(
    trader_api, dead_url, settings, django_capture_on_commit_callbacks
):
    settings.NEWS_SERVICE_URL = dead_url
    with django_capture_on_commit_callbacks(execute=True):
        response = trader_api.post(URL, ITEM, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] == 1 and body["duplicates"] == 0
    row = NewsItem.objects.get()
    assert (row.code, row.score, row.origin) == ("005930", 75, NewsOrigin.API)
    assert row.published_at.isoformat() == "2025-01-15T00:05:00+00:00"
    assert scores.get_score("005930").score == 75  # cached at once, the dead service is not asked


def test_the_same_item_twice_is_stored_once(trader_api):
    assert trader_api.post(URL, ITEM, format="json").status_code == 201
    again = trader_api.post(URL, {**ITEM, "code": "A005930"}, format="json")
    assert again.status_code == 200
    assert again.json()["created"] == 0 and again.json()["duplicates"] == 1
    assert NewsItem.objects.count() == 1


def test_a_list_is_stored_in_one_go(trader_api):
    items = [ITEM, {**ITEM, "code": "000660", "url": "https://news.example/2"}, ITEM]
    response = trader_api.post(URL, items, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 2 and response.json()["duplicates"] == 1
    assert sorted(NewsItem.objects.values_list("code", flat=True)) == ["000660", "005930"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score": 101}, "score"),
        ({"score": -1}, "score"),
        ({"score": 50.5}, "score"),
        ({"score": True}, "score"),
        ({"code": "12345"}, "code"),
        ({"published_at": "2025-01-15T09:05:00"}, "published_at"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"headline": ""}, "headline"),
        ({"source": "x" * 101}, "source"),
        ({"url": "ftp://x"}, "url"),
    ],
)
def test_a_bad_item_names_the_field_and_stores_nothing(trader_api, change, field):
    response = trader_api.post(URL, [ITEM, {**ITEM, "code": "000660", **change}], format="json")
    assert response.status_code == 400
    errors = response.json()  # by the list index of the bad item
    assert list(errors) == ["1"] and list(errors["1"]) == [field]
    assert not NewsItem.objects.exists()


def test_a_missing_field_is_named(trader_api):
    response = trader_api.post(URL, {k: v for k, v in ITEM.items() if k != "score"}, format="json")
    assert response.status_code == 400 and "score" in response.json()
    assert trader_api.post(URL, [], format="json").status_code == 400


def test_pushed_items_go_to_the_channel(trader_api, django_capture_on_commit_callbacks):
    from apps.news.services import news_channel

    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(news_channel())
    with django_capture_on_commit_callbacks(execute=True):
        trader_api.post(URL, ITEM, format="json")
    message = None
    for _ in range(50):
        message = pubsub.get_message(timeout=0.1)
        if message:
            break
    pubsub.close()
    assert message is not None
    assert orjson.loads(message["data"])["headline"] == ITEM["headline"]


def test_listing_filters_by_code_and_since(trader_api):
    old = NewsItemFactory(code="005930", published_at=datetime(2025, 1, 14, 1, tzinfo=UTC))
    new = NewsItemFactory(code="005930", published_at=datetime(2025, 1, 15, 1, tzinfo=UTC))
    other = NewsItemFactory(code="000660", published_at=datetime(2025, 1, 15, 2, tzinfo=UTC))

    everything = trader_api.get(URL).json()["results"]
    assert [r["id"] for r in everything] == [other.id, new.id, old.id]
    mine = trader_api.get(URL, {"code": "005930", "since": "2025-01-15"}).json()["results"]
    assert [r["id"] for r in mine] == [new.id]
    since = trader_api.get(URL, {"since": "2025-01-15T10:30:00+09:00"}).json()["results"]
    assert [r["id"] for r in since] == [other.id]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2025-01-15T10:30:00"}, "since"),
        ({"since": "soon"}, "since"),
        ({"code": "1"}, "code"),
    ],
)
def test_listing_refuses_bad_filters(trader_api, params, field):
    response = trader_api.get(URL, params)
    assert response.status_code == 400 and field in response.json()
