"""`GET /api/v1/scanner/top` (shape, limit, replay by `at`/`day`, bad parameters, roles) and the scanner
page (rows, the replay slider's runs, the partial, the navigation link)."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.strategy.tests.scanner_factories import snapshot_with_rows
from krx import KST

pytestmark = pytest.mark.django_db

URL = "/api/v1/scanner/top"


def kst(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(hhmm), tzinfo=KST)


@pytest.fixture
def runs():
    return [
        snapshot_with_rows(kst("2025-02-03", "09:59"), ["000010"]),
        snapshot_with_rows(kst("2025-02-04", "09:00"), ["000001", "000002", "000003"]),
        snapshot_with_rows(kst("2025-02-04", "09:01"), ["000002", "000001"], news="unavailable"),
    ]


def test_shape_of_the_latest_run(api_client, viewer, runs) -> None:
    api_client.force_login(viewer)
    body = api_client.get(URL).json()
    assert set(body) == {
        "snapshot_id", "at", "at_kst", "day", "trigger", "sources", "duration_ms", "news", "error",
        "excluded", "count", "items",
    }  # fmt: skip
    assert body["snapshot_id"] == runs[2].pk and body["day"] == "2025-02-04"
    assert body["at"] == "2025-02-04T00:01:00+00:00" and body["at_kst"] == "09:01"
    assert body["news"] == "unavailable" and body["count"] == 2
    item = body["items"][0]
    assert set(item) == {
        "rank", "code", "name", "price", "change_pct", "value_krw", "value_estimated", "volume",
        "volume_ratio", "news_score", "value_rank", "surge_rank", "gain_rank",
    }  # fmt: skip
    assert (item["rank"], item["code"], item["change_pct"], item["volume_ratio"]) == (
        1,
        "000002",
        "1.50",
        "2.25",
    )
    assert isinstance(item["value_krw"], int) and item["news_score"] == 70


def test_limit_and_replay(trader_client, runs) -> None:
    assert len(trader_client.get(URL, {"limit": 1}).json()["items"]) == 1
    replay = trader_client.get(URL, {"at": "09:00"}).json()  # HH:MM on the latest run's day
    assert replay["snapshot_id"] == runs[1].pk and len(replay["items"]) == 3
    assert trader_client.get(URL, {"at": "09:00:59"}).json()["snapshot_id"] == runs[1].pk
    iso = trader_client.get(URL, {"at": "2025-02-04T00:01:30+00:00"}).json()
    assert iso["snapshot_id"] == runs[2].pk
    assert trader_client.get(URL, {"day": "2025-02-03"}).json()["snapshot_id"] == runs[0].pk
    early = trader_client.get(URL, {"at": "08:30"}).json()
    assert early["snapshot_id"] is None and early["items"] == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"at": "25:99"}, "at"),
        ({"at": "yesterday"}, "at"),
        ({"day": "2025-13-01"}, "day"),
        ({"day": "today"}, "day"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(viewer_client, runs, params, name) -> None:
    response = viewer_client.get(URL, params)
    assert response.status_code == 400 and name in response.json()


def test_no_run_yet(viewer_client) -> None:
    body = viewer_client.get(URL).json()
    assert body == {"snapshot_id": None, "at": None, "day": None, "count": 0, "items": []}


def test_roles(api_client, viewer, trader, runs) -> None:
    assert api_client.get(URL).status_code in (401, 403)
    api_client.force_login(viewer)
    assert api_client.get(URL).status_code == 200
    assert api_client.post(URL, {}).status_code == 403  # a viewer writes nothing
    api_client.force_login(trader)
    assert api_client.post(URL, {}).status_code == 405  # read-only endpoint


def test_the_page_shows_the_latest_run_and_replays(
    viewer_client, runs, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(12):
        page = viewer_client.get("/scanner/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-code="000002"' in html and 'data-rank="1"' in html
    assert 'id="scan-news-unavailable"' in html
    assert 'data-live="1"' in html and 'max="1"' in html  # the day's two runs
    assert 'href="/scanner/"' in html  # the navigation link
    assert (
        'href="/chart/000002/?date=2025-02-04"' in html
    )  # each code links to its chart of the day
    partial = viewer_client.get("/scanner/", {"partial": "1", "snapshot": runs[1].pk})
    body = partial.content.decode()
    assert "<html" not in body and 'data-code="000003"' in body
    older = viewer_client.get("/scanner/", {"day": "2025-02-03"}).content.decode()
    assert 'data-code="000010"' in older
    assert viewer_client.get("/scanner/", {"snapshot": "x"}).status_code == 404
    assert viewer_client.get("/scanner/", {"snapshot": "999999"}).status_code == 404


def test_the_empty_page_says_how_to_scan(viewer_client) -> None:
    html = viewer_client.get("/scanner/").content.decode()
    assert "manage.py scan" in html


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "9" * 5000},
        {"limit": "٣"},
        {"at": "9" * 5000},
        {"at": "99:99:99"},
        {"day": "0000-00-00"},
        {"day": "9999-12-31", "at": "23:59"},
        {"at": "0001-01-01T00:00:00"},
    ],
)
def test_hostile_parameters_are_4xx_or_empty_never_500(viewer_client, runs, query) -> None:
    assert viewer_client.get(URL, query).status_code in (200, 400)


@pytest.mark.parametrize("snapshot", ["9" * 5000, "99999999999999999999", "-1", "٣"])
def test_hostile_page_parameters(viewer_client, runs, snapshot) -> None:
    assert viewer_client.get("/scanner/", {"snapshot": snapshot}).status_code == 404
    assert viewer_client.get("/scanner/", {"day": snapshot}).status_code == 200


def test_the_page_in_english(viewer_client, runs, settings) -> None:
    viewer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = viewer_client.get("/scanner/").content.decode()
    assert "Opening scanner" in html and "2.25×" in html and "Replay" in html
