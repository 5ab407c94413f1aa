from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.market"
    verbose_name = _("시세 데이터")

    def ready(self) -> None:
        from apps.market import checks  # noqa: F401 - registers the system checks
