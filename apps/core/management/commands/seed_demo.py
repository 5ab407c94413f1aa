"""Creates the demo trader, viewer and admin (staff) on first start and prints their credentials once. With
the bundled simulator it also switches on its condition searches (two of them realtime), gives the demo
trader a console notification channel, so entries show in the worker's log from the first session, and
loads the simulator's instruments and the bars of the session before the replayed day (apps.market.demo), so
the chart and the bars page have data on first start, and sets the opening breakout's news threshold to what
the bundled news source scores (version 2 of its configuration), so the demo trades once the trader starts it."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

# (username, role group); the Django admin belongs to a separate staff account, not to a role, so the trader
# and viewer stay what their roles say (the admin can edit users and permissions, which no role should).
DEMO_USERS = [("trader", "trader"), ("viewer", "viewer"), ("admin", None)]
# The opening breakout's parameters on the simulator: a news threshold the bundled news source reaches
# (its scores are ~40–70, see README "The bundled news source") and the top 10 of the scan.
DEMO_BREAKOUT_PARAMS = {"news_threshold": 50, "top_n": 10}


class Command(BaseCommand):
    help = "Create the demo users 'trader', 'viewer' and 'admin' (once) and print their passwords."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        created: list[tuple[str, str, str]] = []
        with transaction.atomic():
            for username, group_name in DEMO_USERS:
                if User.objects.filter(username=username).exists():
                    continue
                password = secrets.token_urlsafe(9)
                if group_name is None:
                    User.objects.create_superuser(username=username, password=password)
                    # Installations seeded before the admin existed made the demo trader a superuser.
                    User.objects.filter(username="trader", is_superuser=True).update(
                        is_superuser=False, is_staff=False
                    )
                else:
                    user = User.objects.create_user(username=username, password=password)
                    user.groups.add(Group.objects.get(name=group_name))
                created.append((username, group_name or "admin", password))
        self._seed_conditions()
        self._seed_account()
        self._seed_market()
        self._seed_strategy()
        if not created:
            self.stdout.write("demo users already exist (passwords were printed on first start)")
            return
        self.stdout.write(
            self.style.SUCCESS("Demo users created — these passwords are shown only once:")
        )
        for username, role, password in created:
            self.stdout.write(f"  {role:7s} username={username} password={password}")
        self.stdout.write("  (change them with: manage.py changepassword <username>)")

    def _seed_account(self) -> None:
        from apps.accounts.services import account_seed_from_environment

        account = account_seed_from_environment()
        if account is not None:
            self.stdout.write(
                f"broker account {account.account_no_masked} seeded from the environment"
            )

    def _seed_market(self) -> None:
        import time

        from django.conf import settings

        if not settings.KIWOOM_USE_SIMULATOR:
            return  # real keys: import_instruments --from-broker and backfill (README)
        from apps.market.demo import demo_market_seed

        started = time.monotonic()
        try:
            seeded = demo_market_seed()
        except Exception as exc:  # a demo nicety must never stop the stack from starting
            self.stderr.write(f"demo market data not loaded: {type(exc).__name__}: {exc}")
            return
        if seeded.skipped:
            return
        self.stdout.write(
            f"demo: {seeded.instruments} instruments, {seeded.daily_bars} daily and "
            f"{seeded.minute_bars} minute bars of {', '.join(map(str, seeded.sessions))} "
            f"loaded from the simulator in {time.monotonic() - started:.1f} s"
        )

    def _seed_strategy(self) -> None:
        """With the simulator, version 2 of the opening breakout with the demo's parameters (once: only
        over the migration's version 1, never over a trader's change). The bundled news source scores
        ~40–70 (40 + a trading-value bonus for the top 5 + the change), so the default threshold 70
        would let almost nothing through and the demo would never trade."""
        from django.conf import settings

        from apps.strategy.models import StrategyConfig
        from apps.strategy.services import config_update

        if not settings.KIWOOM_USE_SIMULATOR:
            return
        name = "opening_breakout"
        active = StrategyConfig.objects.filter(strategy=name).order_by("-version").first()
        if active is None or active.version != 1 or active.author_id is not None:
            return
        config_update(
            name,
            {"params": DEMO_BREAKOUT_PARAMS},
            user=None,
            reason="데모: 내장 뉴스 점수(약 40–70)에 맞춘 값 (seed_demo, demo: the bundled news scores)",
        )
        self.stdout.write(f"demo: {name} v2 with {DEMO_BREAKOUT_PARAMS}")

    def _seed_conditions(self) -> None:
        from django.conf import settings

        if not settings.KIWOOM_USE_SIMULATOR:
            return  # real keys: the trader picks conditions on the page
        from apps.broker.backends import simulator_conditions
        from apps.conditions.models import Condition
        from apps.notifications.models import NotificationChannel

        account = settings.KIWOOM_ACCOUNT
        if Condition.objects.filter(account=account).exists():
            return
        try:
            defined = simulator_conditions(settings.KIWOOM_SIM_CONDITIONS_FILE or None)
        except (OSError, ValueError) as exc:
            self.stderr.write(f"demo conditions not seeded: {exc}")
            return
        with transaction.atomic():
            for i, cond in enumerate(defined):
                Condition.objects.create(
                    account=account,
                    seq=cond.seq,
                    name=cond.name,
                    active=True,
                    realtime=i < 2,
                    notify_exit=False,
                )
            trader = get_user_model().objects.filter(username="trader").first()
            if trader is not None and not NotificationChannel.objects.filter(user=trader).exists():
                NotificationChannel.objects.create(
                    user=trader,
                    kind="console",
                    name="demo console",
                    event_kinds=["condition.entry", "condition.exit"],
                )
        self.stdout.write(f"demo: {len(defined)} simulator condition searches switched on")
