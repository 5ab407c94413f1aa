"""Formatting helpers, encryption at rest and the heartbeat task."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.crypto import decrypt, encrypt
from apps.core.models import SystemStatus
from apps.core.templatetags.stockagent import krw, kst, signed_rate


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0원"), (1234567, "1,234,567원"), (-5000, "-5,000원"), (None, "-")]
)
def test_krw(value, text):
    assert krw(value) == text


def test_kst_shows_seoul_wall_clock_and_refuses_naive():
    assert kst(datetime(2025, 1, 2, 0, 0, tzinfo=UTC)) == "2025-01-02 09:00:00"
    with pytest.raises(ValueError, match="naive"):
        kst(datetime(2025, 1, 2, 0, 0))


def test_signed_rate():
    assert signed_rate(Decimal("1.5")) == "+1.50%"
    assert signed_rate(Decimal("-0.07")) == "-0.07%"


def test_encrypt_roundtrip_and_wrong_key(settings):
    token = encrypt("kiwoom-secret")
    assert "kiwoom-secret" not in token
    assert decrypt(token) == "kiwoom-secret"
    settings.FIELD_ENCRYPTION_KEY = "ZmFrZS1rZXktZmFrZS1rZXktZmFrZS1rZXktZmFrZTE="
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        decrypt(token)


@pytest.mark.django_db
def test_heartbeat_records_worker_and_probes():
    from apps.core.tasks import heartbeat

    heartbeat()
    heartbeat()

    rows = {r.component: r for r in SystemStatus.objects.all()}
    assert rows["worker"].status == "ok"
    assert rows["worker"].data_count == 2
    assert rows["database"].status == "ok"
    assert rows["redis"].status == "ok"
    assert "broker" in rows  # up or down depending on whether a simulator listens


@pytest.mark.django_db
def test_heartbeat_schedule_is_seeded_and_editable():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="system heartbeat")
    assert task.task == "core.heartbeat"
    assert task.enabled
    assert task.interval.every == 10


@pytest.mark.django_db
def test_heartbeat_reports_the_simulator_and_its_clock(settings):
    from apps.broker.simulator.testing import simulator_in_thread
    from apps.core.tasks import heartbeat

    settings.KIWOOM_USE_SIMULATOR = True
    with simulator_in_thread() as sim:
        settings.KIWOOM_BASE_URL = sim.base_url
        heartbeat()
    row = SystemStatus.objects.get(component="simulator")
    assert row.status == "ok"
    assert row.details["sim_time"]
    broker = SystemStatus.objects.get(component="broker")
    assert broker.status == "ok"

    heartbeat()  # the simulator is gone now
    assert SystemStatus.objects.get(component="simulator").status == "down"
    assert SystemStatus.objects.get(component="broker").status == "down"
