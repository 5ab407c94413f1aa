"""The market status shown on every page: exchange clock, phase, next change (issue 11 #3)."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.market import status
from krx import KST


class FixedClock:
    def __init__(self, moment: dt.datetime, speed: float) -> None:
        self.moment, self.speed = moment, speed

    def now(self) -> dt.datetime:
        return self.moment

    def reading(self) -> tuple[dt.datetime, float]:
        return self.moment, self.speed


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.mark.parametrize(
    ("moment", "phase", "next_change"),
    [
        ("2025-01-15 07:00", "closed", "2025-01-15 08:30"),
        ("2025-01-15 08:45", "pre_open", "2025-01-15 09:00"),
        ("2025-01-15 10:00", "session", "2025-01-15 15:20"),
        ("2025-01-15 15:25", "closing_auction", "2025-01-15 15:30"),
        ("2025-01-15 16:00", "closed", "2025-01-16 08:30"),
        ("2025-01-17 20:00", "closed", "2025-01-18 00:00"),  # Friday night → the weekend
        ("2025-01-18 12:00", "holiday", "2025-01-20 00:00"),  # Saturday → Monday
        ("2025-01-28 12:00", "holiday", "2025-01-31 00:00"),  # 설날
        ("2025-01-02 09:30", "pre_open", "2025-01-02 10:00"),  # first trading day opens at 10:00
    ],
)
def test_phase_and_next_change(moment: str, phase: str, next_change: str) -> None:
    s = status.market_status(at(moment), 1.0)
    assert s.phase == phase
    assert s.next_change == at(next_change)


def test_status_dict_is_what_the_page_reads() -> None:
    d = status.market_status(at("2025-01-15 15:25"), 60.0).as_dict()
    assert d["phase"] == "closing_auction"
    assert d["now_kst"] == "2025-01-15 15:25:00"
    assert d["speed"] == 60.0
    assert d["is_open"] is True


@pytest.mark.django_db
def test_every_page_shows_the_exchange_clock_and_phase(trader_client, monkeypatch) -> None:
    # The simulator replays 2025-01-15 at 15:31: the page must say the market is closed, by its clock.
    monkeypatch.setattr(
        status, "exchange_clock", lambda: FixedClock(at("2025-01-15 15:31:07"), 60.0)
    )
    for path in ("/", "/conditions/", "/market/bars/", "/notifications/"):
        html = trader_client.get(path).content.decode()
        assert 'id="market-status"' in html, path
        assert "장 마감" in html
        assert "01-15 15:31:07" in html
        assert 'data-speed="60"' in html
        assert "거래소 시각 2025-01-15 15:31 KST" in html  # the footer follows the exchange too

    api = trader_client.get("/api/v1/market/status").json()
    assert (api["phase"], api["now_kst"]) == ("closed", "2025-01-15 15:31:07")
