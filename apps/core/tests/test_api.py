"""Health and runtime-flag API: login required, viewer reads, trader writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import RuntimeFlag, RuntimeFlagEvent
from apps.core.tests.factories import SystemStatusFactory

pytestmark = pytest.mark.django_db


def test_health_requires_login(api_client):
    response = api_client.get("/api/v1/health")
    assert response.status_code in (401, 403)
    assert "components" not in response.json()


def test_health_lists_every_component_with_status_and_age(api_client, viewer):
    now = timezone.now()
    for component in ("worker", "beat"):
        SystemStatusFactory(component=component, status="ok", last_seen=now)
    api_client.force_authenticate(viewer)

    body = api_client.get("/api/v1/health").json()

    by_name = {c["component"]: c for c in body["components"]}
    assert set(by_name) == {
        "database", "redis", "worker", "beat", "realtime", "broker", "simulator", "news",
    }  # fmt: skip
    assert by_name["database"]["status"] == "ok"
    assert by_name["redis"]["status"] == "ok"
    assert by_name["worker"]["status"] == "ok"
    assert by_name["worker"]["age_seconds"] is not None
    assert body["ok"] is True


def test_stale_heartbeat_is_down_and_health_is_503(api_client, viewer, settings):
    settings.HEALTH_STALE_SECONDS = 30
    SystemStatusFactory(
        component="worker", status="ok", last_seen=timezone.now() - timedelta(minutes=5)
    )
    SystemStatusFactory(component="beat", status="ok", last_seen=timezone.now())
    api_client.force_authenticate(viewer)

    response = api_client.get("/api/v1/health")

    assert response.status_code == 503
    worker = next(c for c in response.json()["components"] if c["component"] == "worker")
    assert worker["status"] == "down"
    assert worker["age_seconds"] >= 300


def test_token_auth_works_for_scripts(api_client, viewer):
    from apps.core.security import issue_token

    token = issue_token(viewer)  # stored hashed: only the returned value authenticates
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/flags").status_code == 200


def test_viewer_reads_flags_but_cannot_change_them(api_client, viewer):
    api_client.force_authenticate(viewer)

    listing = api_client.get("/api/v1/flags")
    change = api_client.patch("/api/v1/flags/trading-enabled", {"enabled": True}, format="json")

    assert listing.status_code == 200
    assert [f["key"] for f in listing.json()] == ["trading-enabled"]
    assert change.status_code == 403
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled is False
    assert not RuntimeFlagEvent.objects.exists()


def test_trader_changes_flag_with_audit_row(api_client, trader):
    api_client.force_authenticate(trader)

    response = api_client.patch(
        "/api/v1/flags/trading-enabled", {"enabled": True, "reason": "장 시작"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["enabled"] is True
    assert response.json()["updated_by"] == trader.username
    event = RuntimeFlagEvent.objects.get()
    assert (event.enabled, event.changed_by, event.reason) == (True, trader, "장 시작")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/flags/no-such-flag", {"enabled": True}, 404),
        ("/api/v1/flags/trading-enabled", {"enabled": "maybe"}, 400),
        ("/api/v1/flags/trading-enabled", {}, 400),
    ],
)
def test_bad_flag_changes_get_clear_errors_and_change_nothing(
    api_client, trader, path, body, status
):
    api_client.force_authenticate(trader)

    response = api_client.patch(path, body, format="json")

    assert response.status_code == status
    assert response.json()  # an explanation, not an empty body
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled is False
    assert not RuntimeFlagEvent.objects.exists()


def test_roles_cover_every_project_app():
    from django.contrib.auth.models import Group

    viewer_perms = set(
        Group.objects.get(name="viewer").permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    trader_perms = set(
        Group.objects.get(name="trader").permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    assert ("core", "view_systemstatus") in viewer_perms
    assert ("core", "trade") not in viewer_perms
    assert ("core", "trade") in trader_perms
    assert viewer_perms < trader_perms
