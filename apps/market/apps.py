from django.apps import AppConfig


class MarketConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.market"
    verbose_name = "Market data"

    def ready(self) -> None:
        from apps.market import checks  # noqa: F401 - registers the system checks
