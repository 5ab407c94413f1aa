from django.apps import AppConfig


class ConditionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.conditions"
    label = "conditions"
    verbose_name = "Conditions"
