"""`manage.py kiwoom_sim`: serve the Kiwoom-compatible exchange simulator (REST + WebSocket, one port).

Thin: parses options (defaults from settings, with fallbacks), builds the exchange and the server
and runs it until SIGTERM/Ctrl-C, saving the state file on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core import aio, gcpause

log = logging.getLogger(__name__)


def _load_credentials(path: str | None) -> tuple[Any, ...]:
    from apps.broker.simulator.server import DEMO_ACCOUNT, DEMO_APP_KEY, DEMO_SECRET_KEY, Credential

    start_cash = int(getattr(settings, "KIWOOM_SIM_START_CASH", 100_000_000))
    demo_account = DEMO_ACCOUNT
    if getattr(settings, "KIWOOM_USE_SIMULATOR", True):
        demo_account = getattr(settings, "KIWOOM_ACCOUNT", "") or DEMO_ACCOUNT
    creds = [Credential(DEMO_APP_KEY, DEMO_SECRET_KEY, demo_account, start_cash)]
    source = path or getattr(settings, "KIWOOM_SIM_CREDENTIALS_FILE", "")
    if source:
        import yaml

        rows = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or []
        if not isinstance(rows, list):
            raise CommandError(f"{source}: expected a list of {{app_key, secret_key, account}}")
        for i, row in enumerate(rows):
            try:
                creds.append(
                    Credential(
                        str(row["app_key"]),
                        str(row["secret_key"]),
                        str(row["account"]),
                        int(row.get("cash", start_cash)),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise CommandError(f"{source}: entry {i}: {exc}") from exc
    return tuple(creds)


def _news_redis_default() -> str:
    """The simulator publishes breaking news when it is the project's news source (no NEWS_SERVICE_URL)."""
    if getattr(settings, "NEWS_SERVICE_URL", "") or not getattr(settings, "NEWS_SIM_PUBLISH", True):
        return ""
    return str(getattr(settings, "REDIS_URL", ""))


def _news_channel() -> str:
    prefix = str(getattr(settings, "REDIS_KEY_PREFIX", ""))
    return prefix + str(getattr(settings, "NEWS_CHANNEL", "news_breaking_kr"))


class Command(BaseCommand):
    help = "Run the Kiwoom-compatible exchange simulator (REST + WebSocket on one port)."
    # A standalone server that touches neither the database nor the models: the project's system
    # checks (~1-2 s: the calendar check loads pandas) would only delay a restart after a crash.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=getattr(settings, "KIWOOM_SIM_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(getattr(settings, "KIWOOM_SIM_PORT", 18400))
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=float(getattr(settings, "KIWOOM_SIM_SPEED", 1.0)),
            help="simulated seconds per wall second (60 runs a session in 6.5 minutes)",
        )
        parser.add_argument(
            "--date",
            default=getattr(settings, "KIWOOM_SIM_DATE", "") or None,
            help="replay/trading date YYYY-MM-DD (starts at 08:30 KST)",
        )
        parser.add_argument(
            "--start-time",
            default=getattr(settings, "KIWOOM_SIM_START_TIME", "") or "08:30",
            help="KST wall time to start at with --date/--speed",
        )
        parser.add_argument(
            "--seed", type=int, default=int(getattr(settings, "KIWOOM_SIM_SEED", 7))
        )
        parser.add_argument(
            "--state",
            default=getattr(settings, "KIWOOM_SIM_STATE_FILE", "") or None,
            help="state file: orders, fills and accounts survive restarts",
        )
        parser.add_argument("--no-state", action="store_true", help="ignore the state file")
        parser.add_argument(
            "--conditions", default=getattr(settings, "KIWOOM_SIM_CONDITIONS_FILE", "") or None
        )
        parser.add_argument(
            "--universe", help="stock master CSV (../shared/data/krx/master format)"
        )
        parser.add_argument("--codes", help="comma-separated subset of the universe")
        parser.add_argument("--minute-bars", nargs="+", help="minute-bar CSV(s) to replay")
        parser.add_argument("--daily-bars", help="daily-bar CSV(.gz) to shape intraday paths on")
        parser.add_argument(
            "--credentials", help="YAML list of {app_key, secret_key, account, cash}"
        )
        parser.add_argument(
            "--rate-limit", type=float, default=5.0, help="requests/s per api-id (0 disables)"
        )
        parser.add_argument(
            "--no-admin", action="store_true", help="disable the /_sim/ fault and clock endpoints"
        )
        parser.add_argument(
            "--roll-on",
            action=argparse.BooleanOptionalAction,
            default=bool(getattr(settings, "KIWOOM_SIM_ROLL_ON", True)),
            help="with --speed > 1, jump from after the close to the next trading day's pre-open",
        )
        parser.add_argument(
            "--news-redis",
            default=_news_redis_default(),
            help="publish breaking news on the news channel of this Redis (default: REDIS_URL when the "
            "simulator is the news source and NEWS_SIM_PUBLISH is on; '' disables)",
        )
        parser.add_argument(
            "--ws-port",
            type=int,
            help="also serve (REST and) the WebSocket on this port, like Kiwoom's :10000",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from apps.broker.simulator.adapter import build_exchange
        from apps.broker.simulator.clock import clock_path, continued_start
        from apps.broker.simulator.server import ServerConfig, SimClock, SimServer
        from krx import KST

        speed = float(opts["speed"])
        if speed <= 0:
            raise CommandError("--speed must be positive")
        if opts["date"] or speed != 1.0:
            try:
                day = (
                    dt.date.fromisoformat(opts["date"])
                    if opts["date"]
                    else dt.datetime.now(KST).date()
                )
                at = dt.time.fromisoformat(opts["start_time"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            start = dt.datetime.combine(day, at, tzinfo=KST)
        else:
            start = dt.datetime.now(KST)

        exchange_options: dict[str, Any] = {
            "seed": opts["seed"],
            "calendar_cache_dir": Path(settings.VAR_DIR) / "cache",
        }
        if opts["universe"]:
            exchange_options["universe"] = opts["universe"]
        if opts["codes"]:
            exchange_options["codes"] = tuple(
                c.strip() for c in opts["codes"].split(",") if c.strip()
            )
        if opts["minute_bars"]:
            if len(opts["minute_bars"]) > 1:
                # The engine replays one minute file; say so instead of silently dropping files.
                raise CommandError("the engine replays a single --minute-bars file")
            exchange_options.update(pricing="replay", minute_path=opts["minute_bars"][0])
        elif opts["daily_bars"]:
            exchange_options.update(pricing="daily", daily_path=opts["daily_bars"])
        if opts["conditions"]:
            exchange_options["conditions_path"] = opts["conditions"]
        state = None if opts["no_state"] else opts["state"]
        if state:
            Path(state).parent.mkdir(parents=True, exist_ok=True)
            exchange_options["state_path"] = state

        if state:
            continued = continued_start(clock_path(state), speed)
            if continued is not None and continued > start:
                start = continued  # started again soon after a crash: the market kept running
        credentials = _load_credentials(opts["credentials"])
        restored = bool(state and Path(state).exists())
        exchange = build_exchange(credentials, start=start, **exchange_options)
        if restored and start < exchange.now():
            start = exchange.now()  # resume where the saved session stopped
        config = ServerConfig(
            credentials=credentials,
            rate_limit_per_s=opts["rate_limit"] or None,
            seed=opts["seed"],
            admin_enabled=not opts["no_admin"],
            roll_on_after_close=bool(opts["roll_on"]),
            news_redis_url=opts["news_redis"] or None,
            news_channel=_news_channel(),
        )
        server = SimServer(exchange, config=config, clock=SimClock(start, speed), state_file=state)
        app = server.build_app()
        banner = {
            "kiwoom_sim": "",
            "websocket": "",
            "sim_time": start.isoformat(),
            "speed": speed,
            "accounts": [c.account for c in credentials],
            "state": state,
            "news_channel": config.news_channel if config.news_redis_url else None,
        }
        aio.run(self._serve(app, opts["host"], opts["port"], opts["ws_port"], banner))

    async def _serve(
        self, app: Any, host: str, port: int, ws_port: int | None, banner: dict[str, Any]
    ) -> None:
        from aiohttp import web

        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]  # --port 0 picks a free port; say which
        ws_bound = bound
        if ws_port is not None:
            await web.TCPSite(runner, host, ws_port).start()
            ws_bound = runner.addresses[1][1]
        banner["kiwoom_sim"] = f"http://{host}:{bound}"
        banner["websocket"] = f"ws://{host}:{ws_bound}/api/dostk/websocket"
        self.stdout.write(json.dumps(banner, ensure_ascii=False))
        self.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # A full collection of the exchange's heap took 70-100 ms (measured in the benches' simulator
        # process): an exchange that stalls that long delays every order and frame in flight. The
        # start-up heap is frozen now (apps.core.gcpause), what the first minute built then.
        gcpause.freeze_after_start(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            # on_shutdown stops the run loop, closes sessions and saves the state file.
            await runner.cleanup()
