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

        # "VI in progress" for the pre-trade check: the realtime handler's dict in its process, a
        # copy of the Redis hash (re-read at most every RISK_VI_CACHE_SECONDS) elsewhere.
        from .snapshot import set_vi_provider
        from .vi import vi_active

        set_vi_provider(vi_active)
