from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BrokerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.broker"
    verbose_name = _("브로커")
