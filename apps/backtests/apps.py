from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    name = "apps.backtests"
    label = "backtests"
    verbose_name = "Backtests"
    default_auto_field = "django.db.models.BigAutoField"
