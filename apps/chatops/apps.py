from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.chatops"
    label = "chatops"
    verbose_name = _("채팅 원격 제어")

    def ready(self) -> None:
        from .health import register

        register()
