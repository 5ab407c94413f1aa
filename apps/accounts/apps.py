from django.apps import AppConfig, apps


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.accounts"
    verbose_name = "Broker accounts"

    def ready(self) -> None:
        # The broker backend asks the active account for its keys (env keys when there is none).
        from apps.accounts import hooks
        from apps.accounts.credentials import install

        install()
        if apps.is_installed("apps.trades"):
            hooks.register_open_orders(hooks.trades_open_orders)
