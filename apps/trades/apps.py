from django.apps import AppConfig


class TradesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.trades"
    label = "trades"
    verbose_name = "Trades"
