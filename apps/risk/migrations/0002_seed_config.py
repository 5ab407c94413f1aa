"""Version 1 of the risk configuration with the seed's defaults (seed 004 §6.7: weight ≤ 10% per
stock, stop-loss -3%), and the status row (ACTIVE, version 1)."""

from django.db import migrations


def seed(apps, schema_editor):
    RiskConfig = apps.get_model("risk", "RiskConfig")
    RiskStatus = apps.get_model("risk", "RiskStatus")
    if not RiskConfig.objects.exists():
        RiskConfig.objects.create(version=1, reason="기본값 (seed 004 §6.7)")
    status, _ = RiskStatus.objects.get_or_create(pk=1, defaults={"state": "active"})
    if status.config_version is None:
        status.config_version = 1
        status.save(update_fields=["config_version"])


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
