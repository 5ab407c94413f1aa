"""What the rest of the project may rely on from the news app (framework-free).

The news app implements, on top of these types (its own modules):
- `apps.news.scores.get_score(code) -> NewsScore | None` (sync) and `aget_score(code)` (async): the
  current score of a stock, from the Redis cache (TTL) or the news-score service; `None` when the service
  has no news for it; raises `NewsUnavailable` when the service cannot be reached and nothing fresh is
  cached (callers fail closed: no news-dependent entry).
- the breaking-news channel: items arrive as `NewsItem` (see the app's README section for the schema of
  the Redis pub/sub message on `news_breaking_kr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class NewsUnavailable(Exception):
    """The news-score service cannot be reached and no fresh score is cached: fail closed."""


@dataclass(frozen=True, slots=True)
class NewsScore:
    code: str
    score: int  # 0-100
    headline: str
    source: str
    published_at: datetime  # aware


@dataclass(frozen=True, slots=True)
class NewsItem:
    code: str
    score: int  # 0-100
    headline: str
    source: str
    published_at: datetime  # aware
    url: str = ""
