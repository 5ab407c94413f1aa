"""Project-wide fixtures: personas (trader, viewer, other user) and logged-in clients."""

from __future__ import annotations

import pytest

from apps.core.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counts (API rate limits, token failures) must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield


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
