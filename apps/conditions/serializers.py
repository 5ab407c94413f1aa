"""JSON shapes of the conditions API (read-only: writes go through the services)."""

from __future__ import annotations

from rest_framework import serializers

from apps.conditions.models import Condition, ConditionEvent, ConditionMember, ConditionRun

CONDITION_FIELDS = [
    "id",
    "seq",
    "name",
    "account",
    "active",
    "realtime",
    "notify_entry",
    "notify_exit",
    "alert_hold_seconds",
    "listed",
    "member_count",
    "last_checked_at",
    "last_error",
]


class ConditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = CONDITION_FIELDS
        read_only_fields = CONDITION_FIELDS


class MemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConditionMember
        fields = ["code", "name", "price", "change", "change_rate", "volume", "entered_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    ok = serializers.BooleanField(read_only=True)

    class Meta:
        model = ConditionRun
        fields = [
            "id",
            "source",
            "started_at",
            "finished_at",
            "member_count",
            "entries",
            "exits",
            "baseline",
            "error",
            "ok",
        ]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    condition_seq = serializers.CharField(source="condition.seq", read_only=True)
    condition_name = serializers.CharField(source="condition.name", read_only=True)

    class Meta:
        model = ConditionEvent
        fields = [
            "id",
            "condition",
            "condition_seq",
            "condition_name",
            "code",
            "name",
            "kind",
            "at",
            "price",
            "change",
            "change_rate",
            "price_source",
            "source",
        ]
        read_only_fields = fields
