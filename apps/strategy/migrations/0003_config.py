"""Versioned strategy configurations, and version 1 of the two built-in strategies with their defaults.

The opening breakout starts ON and the condition entry OFF (it needs chosen conditions first): a
strategy being on only lets it make signals — nothing is ordered until the trader's automatic-trading
switch (`trading-enabled`, off on a fresh install) is on and the risk state is ACTIVE. So a paper demo
trades as soon as the trader starts the system, and a fresh install never trades on its own.
The values are written out (not imported) so this migration stays what it was.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


SEED = {
    "opening_breakout": {
        "enabled": True,
        "budget_krw": 10_000_000,
        "params": {
            "top_n": 5,
            "news_threshold": 70,
            "opening_range_minutes": 5,
            "entry_end_minutes": 60,
            "vwap_margin_pct": "0",
            "vwap_hold_bars": 2,
            "max_extension_pct": "3",
            "exit_on_vwap_break": True,
            "exit_vwap_margin_pct": "0.5",
        },
    },
    "condition_entry": {
        "enabled": False,
        "budget_krw": 5_000_000,
        "params": {
            "condition_seqs": [],
            "news_threshold": None,
            "require_above_vwap": False,
            "max_change_pct": None,
        },
    },
}


def seed(apps, schema_editor):
    StrategyConfig = apps.get_model("strategy", "StrategyConfig")
    for name, values in SEED.items():
        if not StrategyConfig.objects.filter(strategy=name).exists():
            StrategyConfig.objects.create(
                strategy=name, version=1, reason="기본값 (seed 004 §6.3–6.5)", **values
            )


class Migration(migrations.Migration):

    dependencies = [
        ('strategy', '0002_scanner'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='StrategyConfig',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('strategy', models.CharField(max_length=50, verbose_name='전략')),
                ('version', models.PositiveIntegerField(verbose_name='버전')),
                ('enabled', models.BooleanField(default=False, verbose_name='사용')),
                ('budget_krw', models.BigIntegerField(verbose_name='전략 예산(원)')),
                ('params', models.JSONField(blank=True, default=dict, verbose_name='파라미터')),
                ('reason', models.CharField(blank=True, max_length=200, verbose_name='사유')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='변경 시각')),
                ('author', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='변경자')),
            ],
            options={
                'verbose_name': '전략 설정 버전',
                'verbose_name_plural': '전략 설정 버전',
                'ordering': ['strategy', '-version'],
                'constraints': [models.UniqueConstraint(fields=('strategy', 'version'), name='strategy_config_version')],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
