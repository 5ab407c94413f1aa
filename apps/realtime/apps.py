from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.realtime"
    verbose_name = "Realtime hub"
    # Each app registers its handlers in its own `realtime_handlers.py`. They are imported the first
    # time the registry is used (`apps.realtime.handlers`), not in ready(): they pull in pandas and the
    # exchange calendar, which every other command would pay for at start-up.
