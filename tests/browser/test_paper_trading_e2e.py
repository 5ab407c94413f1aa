"""Issue 15, "Done when" 1: paper trading end to end. The whole stack (`running_stack`: `manage.py runstack`
on a PostgreSQL database of this suite's own, `fresh_database`, and a Redis key prefix of its own) with the simulator replaying
2025-01-15 at speed 60 from 08:45 trades by itself — scanner → news → signals → orders → fills → exits →
trades — while headless Chromium, logged in as the demo trader, watches it on four pages of one browser
context, all live (no reload): the scanner's rows, a signal in the overview's feed, a filled order and a
closed trade. Issue 17, "Done when" 1, on the same run: the overview's position card appears when the buy
fills, its last fill time and its balance (the sync queued after the fill) change, and its automatic-trading
status turns to stopped when the trader stops it through the API — all without a reload.

The setup before the stack starts is what a trader would do: the demo's strategy configuration as
`seed_demo` writes it (news threshold 50, top 10) with the VWAP-breakdown exit at VWAP itself (margin 0,
so the morning's first position closes within the first hour: 034020 enters at 09:06 and leaves at 09:35),
a risk configuration with a take-profit of 1 % and a stop of -1 %, and the automatic-trading switch on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings

from apps.core.stackcheck import sim_clock
from apps.core.stackrun import Stack, fresh_database, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SIM_DATE = "2025-01-15"
SIM_START = "08:45"  # 15 s of wall time before the open at speed 60: the stack is up by then
WAIT_MS = 150_000  # the closed trade: ~09:35, 50 s of wall time after the start

SETUP = """
from django.contrib.auth import get_user_model
from apps.risk.services import gate
from apps.risk.services.config import config_update
from apps.strategy.services import config_update as strategy_update
trader = get_user_model().objects.get(username="trader")
config_update({"take_profit_pct": "1", "stop_loss_pct": "-1"}, user=trader, reason="e2e: quick exits")
strategy_update(
    "opening_breakout", {"params": {"exit_vwap_margin_pct": "0"}}, user=trader, reason="quick exits"
)
gate.switch_set(True, user=trader, reason="e2e: paper trading")
"""


def stack_env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        # A prefix of this run's own: the scanner's per-minute claims of an earlier run on the same
        # Redis database would otherwise make it skip minutes.
        "REDIS_KEY_PREFIX": f"{settings.REDIS_KEY_PREFIX}e2e-{uuid.uuid4().hex[:8]}:",
        "SECRET_KEY": "e2e-secret-key-0123456789-0123456789",
        "FIELD_ENCRYPTION_KEY": os.environ.get(
            "FIELD_ENCRYPTION_KEY", "s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI="
        ),
        "NEWS_SERVICE_URL": "",
    }


@pytest.fixture
def stack() -> Iterator[Stack]:
    with (
        fresh_database("e2e") as url,
        running_stack(
            stack_env(url),
            sim_date=SIM_DATE,
            sim_start=SIM_START,
            sim_speed=60,
            setup=[("shell", "-c", SETUP)],
        ) as running,
    ):
        yield running


def test_the_stack_trades_a_replayed_morning_by_itself_and_the_pages_show_it_live(
    browser, stack
) -> None:
    context = browser.new_context()
    login = context.new_page()
    login.goto(stack.url + "/")
    login.fill("input[name=username]", "trader")
    login.fill("input[name=password]", stack.passwords["trader"])
    login.click("button[type=submit]")
    login.wait_for_url(stack.url + "/")
    pages = {"overview": login}
    for name, path in (("scanner", "/scanner/"), ("orders", "/orders/"), ("trades", "/trades/")):
        pages[name] = context.new_page()
        pages[name].goto(stack.url + path)
    for page in pages.values():
        page.wait_for_selector("#live-indicator.on", timeout=20_000)
        page.evaluate("window.__sameDocument = true")
    assert pages["trades"].locator("#trades tr[data-trade]").count() == 0
    overview = pages["overview"]
    assert overview.locator("#ov-trading").get_attribute("data-switch") == "1"
    last_fill = overview.locator("#ov-last-fill").inner_text()
    balance_at = overview.locator('#ov-account [data-field="at"]').inner_text()

    def seen(name: str, selector: str) -> None:
        try:
            pages[name].wait_for_selector(selector, timeout=WAIT_MS)
        except Exception as exc:
            now = sim_clock(stack.sim_port)
            raise AssertionError(
                f"{name}: no {selector} by {now} (exchange time)\n{stack.log_tail(6000)}"
            ) from exc

    seen("scanner", "#scanner-table tbody tr[data-code]")
    seen("overview", "#signal-feed tr[data-signal]")
    seen("orders", 'tr[data-status="filled"]')
    seen("overview", "#position-cards article.pos-card")  # the buy's position, pushed live
    seen("trades", "#trades tr[data-trade]")
    for selector, before in (
        ("#ov-last-fill", last_fill),
        ('#ov-account [data-field="at"]', balance_at),
    ):
        overview.wait_for_function(
            "([sel, before]) => document.querySelector(sel).textContent.trim() !== before.trim()",
            arg=[selector, before],
            timeout=WAIT_MS,
        )
    stopped = overview.evaluate(
        """async () => {
            const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
            const r = await fetch("/api/v1/system/stop", {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token.split("=")[1]},
                body: JSON.stringify({reason: "e2e: the trader stops"}),
            });
            return r.status;
        }"""
    )
    assert stopped == 200
    seen("overview", '#ov-trading[data-switch="0"]')
    for name, page in pages.items():
        assert page.evaluate("window.__sameDocument") is True, f"{name} was reloaded"
    signal = pages["overview"].locator("#signal-feed tr[data-signal]").first.inner_text()
    assert "opening_breakout" in signal
    context.close()
