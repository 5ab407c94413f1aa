from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.accounts"
    verbose_name = "Broker accounts"

    def ready(self) -> None:
        # The broker backend asks the active account for its keys (env keys when there is none).
        from apps.accounts.credentials import install

        install()
