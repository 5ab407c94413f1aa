"""Reads of the core app: the health report shown by /api/v1/health and the status strip."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import Component, HealthStatus, RuntimeFlag, RuntimeFlagEvent, SystemStatus
from apps.core.supervisor import process_state_path, read_process_states
from apps.core.templatetags.stockagent import kst

logger = logging.getLogger(__name__)

# Components whose state is probed live on each request; the others report heartbeats.
LIVE_PROBED = (Component.DATABASE, Component.REDIS)


@dataclass(frozen=True)
class ComponentHealth:
    component: str
    label: str
    status: str
    message: str
    last_seen: datetime | None
    age_seconds: float | None
    data_count: int
    expected: bool

    @property
    def status_label(self) -> str:
        return (
            str(HealthStatus(self.status).label)
            if self.status in HealthStatus.values
            else self.status
        )

    @property
    def message_label(self) -> str:
        return message_display(self.message)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["last_seen"] = self.last_seen.isoformat() if self.last_seen else None
        d["last_seen_kst"] = kst(self.last_seen) if self.last_seen else None
        d["status_label"] = self.status_label
        d["message_label"] = self.message_label
        return d


# Components report short English status messages (they run without a request, and other tools read the
# rows); the pages show them in the reader's language.
_MESSAGE_PATTERNS = [
    (re.compile(r"^sim time (?P<time>.+)$"), _("모의 시각 %(time)s")),
    (
        re.compile(r"^(?P<n>\d+) realtime condition\(s\), connection #(?P<k>\d+)$"),
        _("실시간 조건 %(n)s개, 연결 %(k)s번째"),
    ),
]
_MESSAGE_WORDS = {"simulator": _("모의 거래소")}


def message_display(message: str) -> str:
    """A component's status message in the active language (unknown messages are shown as they are)."""
    if message in _MESSAGE_WORDS:
        return str(_MESSAGE_WORDS[message])
    for pattern, template in _MESSAGE_PATTERNS:
        match = pattern.match(message)
        if match:
            return str(template) % match.groupdict()
    return message


def _probe_database() -> tuple[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return HealthStatus.OK, connection.vendor
    except Exception as exc:
        return HealthStatus.DOWN, type(exc).__name__


def _probe_redis() -> tuple[str, str]:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
        return HealthStatus.OK, ""
    except Exception as exc:
        return HealthStatus.DOWN, type(exc).__name__


def _heartbeat_status(row: SystemStatus | None, now: datetime) -> tuple[str, float | None]:
    if row is None or row.last_seen is None:
        return HealthStatus.UNKNOWN, None
    age = (now - row.last_seen).total_seconds()
    if row.status != HealthStatus.OK:
        return row.status, age
    if age > settings.HEALTH_STALE_SECONDS:
        return HealthStatus.DOWN, age
    return HealthStatus.OK, age


RECHECKED_WHEN_DOWN = (Component.BROKER, Component.SIMULATOR)


def _probe_again(component: str, status: str, message: str) -> tuple[str, str]:
    from apps.core.tasks import _probe_broker, _probe_simulator

    if component == Component.BROKER:
        return _probe_broker()
    if settings.KIWOOM_USE_SIMULATOR:
        return _probe_simulator()[:2]
    return status, message


# Components whose heartbeat their one process writes itself: a row older than that process's start is the
# previous life's, and says nothing about the new one (which may still be loading or connecting).
OWN_HEARTBEAT = (Component.REALTIME, Component.BEAT)


def _process_overrides(rows: dict[str, SystemStatus]) -> dict[str, tuple[str, str]]:
    """Components whose process the supervisor (runstack) reports as not running: shown down at once,
    whatever their last heartbeat says; and a restarted process that writes its own heartbeat is not shown
    ok on its previous life's row. Empty when no supervisor runs (docker-compose, tests)."""
    overrides: dict[str, tuple[str, str]] = {}
    for name, proc in sorted(read_process_states(process_state_path()).items()):
        component, state = proc.get("component"), proc.get("state")
        if state == "up" and component in OWN_HEARTBEAT:
            row = rows.get(component)
            started = _parse_time(proc.get("started"))
            if row is not None and row.last_seen and started and row.last_seen < started:
                overrides[component] = (
                    HealthStatus.DOWN,
                    f"process {name}: started, no heartbeat yet",
                )
            continue
        if not component or state == "up":
            continue
        note = f"{name}: {state}"
        if proc.get("restarts"):
            note += f" (restart #{proc['restarts']})"
        previous = overrides.get(component)
        overrides[component] = (
            HealthStatus.DOWN,
            f"{previous[1]}, {note}" if previous else f"process {note}",
        )
    return overrides


def _parse_time(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def health_report(*, probe: bool = True) -> dict:
    """Every component with status and age. ``ok`` is true when all expected components are ok.

    With ``probe`` false (the status strip on every page) no network call is made: database and Redis
    are then shown from the rows the heartbeat task last wrote.
    """
    now = timezone.now()
    rows = {row.component: row for row in SystemStatus.objects.all()}
    expected = set(settings.HEALTH_EXPECTED_COMPONENTS)
    components: list[ComponentHealth] = []
    overrides = _process_overrides(rows)
    for component in Component:
        row = rows.get(component.value)
        if probe and component in LIVE_PROBED:
            probe_fn = _probe_database if component == Component.DATABASE else _probe_redis
            status, message = probe_fn()
            age = 0.0
            last_seen = now
        else:
            status, age = _heartbeat_status(row, now)
            message = row.message if row else ""
            last_seen = row.last_seen if row else None
        red = status in (HealthStatus.DOWN, HealthStatus.DEGRADED)
        if probe and red and row is not None and component in RECHECKED_WHEN_DOWN:
            # A red heartbeat row may describe a process that has since come back: ask again now (cheap
            # while it is down: a refused connect), instead of showing red until the next heartbeat.
            status, message = _probe_again(component, status, message)
        if component.value in overrides:
            status, message = overrides[component.value]
        components.append(
            ComponentHealth(
                component=component.value,
                label=str(component.label),
                status=status,
                message=message,
                last_seen=last_seen,
                age_seconds=round(age, 1) if age is not None else None,
                data_count=row.data_count if row else 0,
                expected=component.value in expected,
            )
        )
    components.extend(_extra_components(now, expected, probe))
    ok = all(c.status == HealthStatus.OK for c in components if c.expected)
    report = [c.as_dict() for c in components]
    if probe:
        from apps.broker.backends import request_budget

        for c in report:
            if c["component"] == Component.BROKER.value:
                # The shared Kiwoom request budget: requests per priority class, waiters now.
                c["details"] = {"request_budget": request_budget()}
    result = {
        "ok": ok,
        "time": now.isoformat(),
        "components": report,
    }
    if probe:
        from apps.strategy.status import engine_health

        # Whether the strategy engine runs (its heartbeat in Redis, written by the realtime process).
        result["engine"] = engine_health()
    return result


def _extra_components(now: datetime, expected: set[str], probe: bool) -> list[ComponentHealth]:
    """Components other apps registered (apps.core.health), asked now."""
    from apps.core.health import extra_components

    out = []
    for extra in extra_components():
        try:
            status, message = extra.probe(probe)
        except Exception as exc:
            logger.exception("health probe %s failed", extra.name)
            status, message = HealthStatus.UNKNOWN, type(exc).__name__
        out.append(
            ComponentHealth(
                component=extra.name,
                label=str(extra.label),
                status=status,
                message=message,
                last_seen=now,
                age_seconds=0.0,
                data_count=0,
                expected=extra.name in expected,
            )
        )
    return out


# Switches whose turning on must be confirmed with a reason on the dashboard.
FLAGS_NEEDING_REASON = frozenset({"trading-enabled"})


def flags_with_last_change() -> list[RuntimeFlag]:
    """Runtime switches with their last change's author and reason (`last_by`, `last_reason`), in one
    query."""
    last = RuntimeFlagEvent.objects.filter(flag=OuterRef("pk")).order_by("-created_at", "-id")
    flags = RuntimeFlag.objects.select_related("updated_by").annotate(
        last_reason=Subquery(last.values("reason")[:1]),
        last_by=Subquery(last.values("changed_by__username")[:1]),
    )
    return [_with_reason_rule(f) for f in flags]


def _with_reason_rule(flag: RuntimeFlag) -> RuntimeFlag:
    flag.needs_reason = flag.key in FLAGS_NEEDING_REASON
    return flag
