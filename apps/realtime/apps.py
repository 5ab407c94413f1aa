from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.realtime"
    verbose_name = "Realtime hub"

    def ready(self) -> None:
        # Each app registers its handlers in its own `realtime_handlers.py`; importing them here (as the
        # admin does with `admin.py`) keeps the hub free of imports of any app.
        from .handlers import autodiscover

        autodiscover()
