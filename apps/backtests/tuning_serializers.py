"""Serializers of the tuning API (explicit, so the OpenAPI schema documents them).

`TuningCreateSerializer` checks the body's shape; the strategy, the ranges, the windows and the trial
budget are validated by `tuning_services.tuning_create` (`TuningInvalid`: 400 naming each field). The
launch form of the page goes through the same serializer.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import TuningMethod, TuningObjective, TuningRun, TuningTrial
from .selectors import UNIVERSES
from .serializers import CODE_RE, BacktestOptionsSerializer
from .tuning_selectors import progress_from


class RangeSerializer(serializers.Serializer):
    """One parameter's declared range: `min`/`max`/`step` or `values` (checked by the strategy's schema)."""

    min = serializers.JSONField(required=False, help_text="number (or a numeric string)")
    max = serializers.JSONField(required=False)
    step = serializers.JSONField(required=False, help_text="ints default to 1; decimals need one")
    values = serializers.ListField(child=serializers.JSONField(), required=False, max_length=10_000)


class TuningCreateSerializer(serializers.Serializer):
    """POST /api/v1/tuning: a strategy, a range, codes or a universe, the declared parameter ranges,
    the search (grid, or random with a trial count and a seed), the objective and the walk-forward
    windows (in-sample and out-of-sample lengths and the step, in trading days)."""

    strategy = serializers.CharField(max_length=50)
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    codes = serializers.ListField(
        child=serializers.RegexField(CODE_RE), required=False, max_length=3000, default=list
    )
    universe = serializers.ChoiceField(choices=UNIVERSES, required=False, allow_blank=True)
    ranges = serializers.DictField(child=RangeSerializer(), allow_empty=False)
    method = serializers.ChoiceField(choices=TuningMethod.choices, default=TuningMethod.GRID)
    trials = serializers.IntegerField(
        min_value=1, max_value=100_000, required=False, allow_null=True,
        help_text="random search: parameter sets to draw",
    )  # fmt: skip
    seed = serializers.IntegerField(
        min_value=0, max_value=2**62, required=False, allow_null=True,
        help_text="random search: the generator's seed (drawn and stored when left out)",
    )  # fmt: skip
    objective = serializers.ChoiceField(
        choices=TuningObjective.choices, default=TuningObjective.RETURN_PCT
    )
    in_sample_days = serializers.IntegerField(min_value=1, max_value=10_000)
    out_sample_days = serializers.IntegerField(min_value=1, max_value=10_000)
    step_days = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, allow_null=True,
        help_text="trading days between window starts (default: the out-of-sample length)",
    )  # fmt: skip
    params = serializers.DictField(
        required=False, default=dict, help_text="fixed parameters over the active configuration's"
    )
    options = BacktestOptionsSerializer(required=False)

    def validate_params(self, value: dict[str, Any]) -> dict[str, Any]:
        for key, raw in value.items():
            if isinstance(raw, dict):
                raise serializers.ValidationError(f"{key}: a value or a list is expected")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("codes") and attrs.get("universe"):
            raise serializers.ValidationError({"codes": ["give codes or a universe, not both"]})
        if attrs.get("method") == TuningMethod.RANDOM and not attrs.get("trials"):
            raise serializers.ValidationError({"trials": ["random search needs a trial count"]})
        options = dict(attrs.get("options") or {})
        if "participation" in options:
            options["participation"] = str(options["participation"])
        attrs["options"] = {k: v for k, v in options.items() if v is not None}
        attrs["ranges"] = {k: dict(v) for k, v in attrs["ranges"].items()}
        return attrs


class ProgressSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    done = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    failed = serializers.IntegerField()
    total = serializers.IntegerField()
    finished = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="finished trials / all trials, percent")


class TuningRunSerializer(serializers.ModelSerializer):
    """A run in the list: what it tunes, where it is, its out-of-sample headline."""

    status_label = serializers.CharField(source="get_status_display", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    is_final = serializers.BooleanField(read_only=True)
    progress = serializers.SerializerMethodField()
    headline = serializers.SerializerMethodField()

    class Meta:
        model = TuningRun
        fields = [
            "id", "strategy", "params", "ranges", "method", "trials_requested", "seed", "objective",
            "options", "date_from", "date_to", "codes", "universe", "in_sample_days",
            "out_sample_days", "step_days", "windows", "param_sets", "skipped_sets",
            "trials_total", "status", "status_label", "is_final", "cancel_requested", "progress",
            "best_params", "headline", "applied_version", "created_by", "created_at", "started_at",
            "finished_at", "error",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, run: TuningRun) -> dict[str, int]:
        return progress_from(run)

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_headline(self, run: TuningRun) -> dict[str, Any] | None:
        """The out-of-sample figures over the windows (null until the run is aggregated)."""
        return (run.result or {}).get("headline")


class TuningTrialSerializer(serializers.ModelSerializer):
    class Meta:
        model = TuningTrial
        fields = [
            "id", "index", "set_index", "window", "params", "status", "is_score", "oos_score",
            "is_metrics", "oos_metrics", "bars", "worker", "elapsed_seconds", "started_at",
            "finished_at", "error",
        ]  # fmt: skip
        read_only_fields = fields


class TuningRunDetailSerializer(TuningRunSerializer):
    """GET /api/v1/tuning/{id}: the run, its per-window choice and headline (`result`) and its trials."""

    result = serializers.JSONField(read_only=True)
    trials = serializers.SerializerMethodField()

    class Meta(TuningRunSerializer.Meta):
        fields = [*TuningRunSerializer.Meta.fields, "result", "trials"]
        read_only_fields = fields

    @extend_schema_field(TuningTrialSerializer(many=True))
    def get_trials(self, run: TuningRun) -> list[dict[str, Any]]:
        if not self.context.get("trials", True):
            return []
        return TuningTrialSerializer(run.trials.order_by("index")[:5000], many=True).data


class TuningApplySerializer(serializers.Serializer):
    """POST /api/v1/tuning/{id}/apply: the new strategy-config version."""

    strategy = serializers.CharField()
    version = serializers.IntegerField()
    changed = serializers.BooleanField(
        help_text="false: the active version already had these values"
    )
    params = serializers.JSONField()
    reason = serializers.CharField()
