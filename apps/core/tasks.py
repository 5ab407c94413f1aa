"""Celery tasks of the core app (thin: they call services)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
from celery import shared_task
from django.conf import settings

from apps.core.live import publish_now
from apps.core.models import Component, HealthStatus
from apps.core.selectors import _probe_database, _probe_redis, health_report
from apps.core.services import status_record


def _probe_broker() -> tuple[str, str]:
    """A TCP connect to the broker's REST host: cheap, needs no token, proves the host is reachable."""
    parts = urlsplit(settings.KIWOOM_BASE_URL)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=2):
            pass
    except OSError as exc:
        return HealthStatus.DOWN, f"{parts.hostname}:{port} {type(exc).__name__}"
    mode = "simulator" if settings.KIWOOM_USE_SIMULATOR else parts.hostname
    return HealthStatus.OK, mode


def _probe_simulator() -> tuple[str, str, dict]:
    """The bundled simulator's own health endpoint: up, its simulated clock and WebSocket sessions."""
    url = settings.KIWOOM_BASE_URL.rstrip("/") + "/_sim/health"
    try:
        response = httpx.get(url, timeout=2)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return HealthStatus.DOWN, type(exc).__name__, {}
    if response.status_code != 200 or not body.get("ok"):
        return HealthStatus.DEGRADED, f"HTTP {response.status_code}", {}
    details = {"sim_time": body.get("sim_time"), "sessions": body.get("sessions")}
    return HealthStatus.OK, f"sim time {body.get('sim_time', '')[:19]}", details


@shared_task(name="core.heartbeat", time_limit=30, soft_time_limit=25, ignore_result=True)
def heartbeat() -> None:
    """Scheduled by beat: proves the worker runs and records the probes the status strip shows."""
    status_record(Component.WORKER, processed=1)
    for component, probe in (
        (Component.DATABASE, _probe_database),
        (Component.REDIS, _probe_redis),
        (Component.BROKER, _probe_broker),
    ):
        status, message = probe()
        status_record(component, status, message)
    if settings.KIWOOM_USE_SIMULATOR:
        status, message, details = _probe_simulator()
        status_record(Component.SIMULATOR, status, message, details=details)
    publish_now("health", health_report(probe=False))


@shared_task(name="core.echo", time_limit=10, soft_time_limit=8)
def echo(value: object) -> object:
    """Returns its argument: the round-trip check for worker + broker + result backend."""
    return value
