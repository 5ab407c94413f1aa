from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_save


def _fill_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        from apps.accounts.services import balance_sync_soon

        balance_sync_soon()


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
            if getattr(settings, "ACCOUNTS_SYNC_AFTER_FILL", True):
                # A balance sync after every fill (after its commit; a burst of fills is one sync).
                # A side effect only: the books never depend on it.
                post_save.connect(
                    _fill_saved,
                    sender=apps.get_model("trades", "Fill"),
                    dispatch_uid="accounts-fill",
                )
