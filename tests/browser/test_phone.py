"""On a phone (360 px wide): the overview, positions, risk and reports pages never scroll sideways (a wide
table scrolls inside itself), the navigation stays on screen, and the trader reaches the halt button and the
emergency liquidation button."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts.tests.factories import BalanceSnapshotFactory, BrokerAccountFactory
from apps.core.tests.factories import DEFAULT_PASSWORD, RuntimeFlagFactory, UserFactory
from apps.strategy.tests.support import SignalFactory, TradeFactory
from apps.trades.tests.factories import PositionFactory
from krx import KST

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDTH = 360
PAGES = ["/", "/positions/", "/risk/", "/reports/"]
SHOTS = os.environ.get("PHONE_SCREENSHOTS", "")  # a directory: save each page's screenshot there


def _overflow(page) -> dict:
    """The page's width against the viewport, and the widest element sticking out (for the message)."""
    return page.evaluate(
        """(w) => {
          let worst = null;
          document.querySelectorAll("body *").forEach((n) => {
            const r = n.getBoundingClientRect();
            if (r.right > w + 0.5 && (!worst || r.right > worst.right)) {
              let scrolls = false;
              for (let p = n.parentElement; p; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === "auto" || o === "scroll" || o === "hidden") { scrolls = true; break; }
              }
              if (!scrolls) worst = { tag: n.tagName, id: n.id, cls: n.className, right: r.right };
            }
          });
          return { scrollWidth: document.documentElement.scrollWidth, worst: worst };
        }""",
        WIDTH,
    )


def test_the_trader_pages_fit_a_phone(browser, asgi_server) -> None:
    UserFactory(username="trader-p", role="trader")
    RuntimeFlagFactory(key="trading-enabled")
    now = timezone.now()
    account = BrokerAccountFactory(account_no=settings.KIWOOM_ACCOUNT, is_active=True)
    BalanceSnapshotFactory(account=account, taken_at=now - dt.timedelta(minutes=5))
    BalanceSnapshotFactory(account=account, taken_at=now, estimated_assets=10_600_000)
    for i, code in enumerate(("005930", "000660", "035720")):
        PositionFactory(code=code, name="아주긴종목이름주식회사" + code, current_price=71_000,
                        stop_price=67_900, strategy_tag="opening_breakout")  # fmt: skip
        SignalFactory(at=now - dt.timedelta(minutes=i), day=now.astimezone(KST).date(), code=code,
                      reason="거래대금 상위 3위, 시가 범위 돌파, VWAP 위 유지, 뉴스 점수 80")  # fmt: skip
        TradeFactory(code=code, date=now.astimezone(KST).date() - dt.timedelta(days=i + 1))

    context = browser.new_context(
        viewport={"width": WIDTH, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        page.goto(asgi_server + "/login/")
        page.fill("input[name=username]", "trader-p")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/")
        for path in PAGES:
            page.goto(asgi_server + path)
            page.wait_for_load_state("load")
            if SHOTS:
                page.screenshot(path=os.path.join(SHOTS, path.strip("/") or "overview") + ".png",
                                full_page=True)  # fmt: skip
            found = _overflow(page)
            assert found["scrollWidth"] <= WIDTH, (path, found)
            # The navigation: every link on screen (wrapped, not pushed off to the right).
            for link in page.locator("header.topbar nav a").all():
                box = link.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (
                    path,
                    link.inner_text(),
                )

        page.goto(asgi_server + "/risk/")
        halt = page.locator("#risk-halt")
        halt.scroll_into_view_if_needed()
        assert halt.is_visible() and halt.is_enabled()
        box = halt.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
        emergency = page.locator("#emergency-sell-start")
        emergency.scroll_into_view_if_needed()
        box = emergency.bounding_box()
        assert emergency.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
        emergency.click()  # opens the confirmation (nothing is sold before the second click)
        confirm = page.locator("#emergency-sell-confirm-button")
        confirm.wait_for(state="visible")
        box = confirm.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
        confirm.click(trial=True)  # actionable: visible, enabled, not covered
        page.locator("#emergency-sell-abort").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH

        page.locator("form[action$='/risk/state/halt'] input[name=reason]").fill("휴대폰 점검")
        halt.click()
        page.wait_for_selector('#risk-state[data-state="halted"]', timeout=15_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    finally:
        context.close()
