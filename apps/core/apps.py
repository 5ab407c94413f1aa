from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.core"
    verbose_name = _("시스템")

    def ready(self) -> None:
        from apps.core import checks, signals  # noqa: F401 - registers system checks and signal handlers
