from django.apps import AppConfig


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.core"
    verbose_name = "System"

    def ready(self) -> None:
        from apps.core import checks, signals  # noqa: F401 - registers system checks and signal handlers
