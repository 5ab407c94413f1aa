"""Project-wide fixtures: personas (trader, viewer, other user) and logged-in clients."""

from __future__ import annotations

import pytest
from _pytest.reports import TestReport

from apps.core.tests.factories import UserFactory


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A failure pytest cannot format is reported as a plain failure, not a crash of the whole run.

    On CPython 3.11 a frame interrupted where its instruction has no line number (seen when the
    per-test timeout's signal fired: `tb_lineno` is None) makes pytest's traceback formatting raise
    a TypeError inside this hook: an INTERNALERROR that ended the suite with every later test unrun.
    """
    try:
        return (yield)
    except TypeError:
        if call.excinfo is None:
            raise
        lines = [f"{type(call.excinfo.value).__name__}: {call.excinfo.value}", "traceback:"]
        tb = call.excinfo.tb
        while tb is not None:
            code = tb.tb_frame.f_code
            lines.append(f"  {code.co_filename}:{tb.tb_lineno or '?'} in {code.co_name}")
            tb = tb.tb_next
        return TestReport(
            item.nodeid,
            item.location,
            dict.fromkeys(item.keywords, 1),
            "failed",
            "\n".join(lines),
            call.when,
            duration=call.duration,
            start=call.start,
            stop=call.stop,
        )


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counts (API rate limits, token failures) must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language (Korean): a test that activated another one (a
    request with `Accept-Language`, `translation.activate`) must not leave it to the next test of
    the same thread."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_risk_caches():
    """The risk engine caches configurations per version and opening equity per day in the process;
    a rolled-back test database reuses both keys."""
    from apps.risk.testing import forget_risk_caches

    forget_risk_caches()
    yield
    forget_risk_caches()


@pytest.fixture
def trader(db):
    return UserFactory(username="trader1", role="trader")


@pytest.fixture
def viewer(db):
    return UserFactory(username="viewer1", role="viewer")


@pytest.fixture
def other_user(db):
    return UserFactory(username="other1", role="viewer")


@pytest.fixture
def trader_client(client, trader):
    client.force_login(trader)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
