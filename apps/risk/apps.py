from django.apps import AppConfig


class RiskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.risk"
    verbose_name = "Risk"

    def ready(self) -> None:
        # The realtime exit evaluator reads the active configuration's exit policy per tick:
        # cached per version and refreshed at most once a second (no query at start-up).
        from .policy import set_exit_policy_provider
        from .selectors import exit_policy_cached

        set_exit_policy_provider(exit_policy_cached)
