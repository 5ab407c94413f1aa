"""One reading of a news item or score from outside (the channel's message, the service's reply, an
import): field by field, with the field named in the error. Framework-free."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .contract import NewsItem, NewsScore

HEADLINE_MAX = 300
SOURCE_MAX = 100
URL_MAX = 500


class InvalidNews(ValueError):
    """A field of a news item is missing or wrong: `field` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_code(value: Any, field: str = "code") -> str:
    """A KRX stock code: 6 characters (digits, or digits and letters for newer listings); an 'A' prefix
    is removed."""
    if not isinstance(value, str):
        raise InvalidNews(field, "a 6-character stock code is required")
    code = value.strip().upper()
    if len(code) == 7 and code.startswith("A"):
        code = code[1:]
    if len(code) != 6 or not code.isalnum() or not code.isascii():
        raise InvalidNews(field, f"{value!r} is not a 6-character stock code")
    return code


def parse_score(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidNews("score", "an integer 0-100 is required")
    if not 0 <= value <= 100:
        raise InvalidNews("score", f"{value} is outside 0-100")
    return value


def parse_text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidNews(field, "a non-empty string is required")
    text = value.strip()
    if len(text) > limit:
        raise InvalidNews(field, f"longer than {limit} characters")
    return text


def parse_time(value: Any, field: str = "published_at") -> datetime:
    """ISO 8601 with a UTC offset; a time without one is refused (we never guess a time zone)."""
    if not isinstance(value, str):
        raise InvalidNews(field, "an ISO 8601 time with a UTC offset is required")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidNews(field, f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidNews(field, f"{value!r} has no UTC offset")
    return moment


def parse_url(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > URL_MAX:
        raise InvalidNews("url", f"an http(s) URL of at most {URL_MAX} characters is required")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidNews("url", f"{value!r} is not an http(s) URL")
    return value.strip()


def _require(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidNews("(message)", "a JSON object is required")
    for name in ("code", "score", "headline", "source", "published_at"):
        if name not in data:
            raise InvalidNews(name, "this field is required")
    return data


def parse_news_score(data: Any) -> NewsScore:
    """The news-score service's reply (README: the news-score contract)."""
    data = _require(data)
    return NewsScore(
        code=parse_code(data["code"]),
        score=parse_score(data["score"]),
        headline=parse_text(data["headline"], "headline", HEADLINE_MAX),
        source=parse_text(data["source"], "source", SOURCE_MAX),
        published_at=parse_time(data["published_at"]),
    )


def parse_news_item(data: Any) -> NewsItem:
    """One item of the breaking-news channel or of an import (README: the channel's message schema)."""
    score = parse_news_score(data)
    return NewsItem(
        code=score.code,
        score=score.score,
        headline=score.headline,
        source=score.source,
        published_at=score.published_at,
        url=parse_url(data.get("url")),
    )


def as_score(item: NewsItem) -> NewsScore:
    return NewsScore(item.code, item.score, item.headline, item.source, item.published_at)


def score_as_json(score: NewsScore | NewsItem) -> dict[str, Any]:
    return {
        "code": score.code,
        "score": score.score,
        "headline": score.headline,
        "source": score.source,
        "published_at": score.published_at.isoformat(),
    }
