"""Start-up cost of terminal commands: the median wall time of `manage.py help` and of
`manage.py kiwoom quote 005930` against a simulator this script starts (each run a fresh process).

    .venv/bin/python bench/cli_startup.py [--runs 7] [--root PATH]

`--root` runs the commands of another checkout (e.g. an older commit unpacked with `git archive`) with this
virtualenv, for before/after figures. The simulator is started from the same root on a free port; Redis is
`REDIS_URL` (default `redis://127.0.0.1:6379/0`) with a key prefix of its own. Prints figures, asserts
nothing. For where the time goes: `python -X importtime manage.py help 2>&1 | sort -t'|' -k2 -n`.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd[1:])} failed:\n{done.stdout}\n{done.stderr}")
    return times


def wait_for_simulator(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("the simulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    root = args.root.resolve()
    python = sys.executable
    port = free_port()
    var = Path(tempfile.mkdtemp(prefix="cli-startup-"))
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings",
        STOCKAGENT_VAR_DIR=str(var),
        KIWOOM_SIM_PORT=str(port),
        REDIS_KEY_PREFIX=f"bench-cli-{os.getpid()}:",
    )
    for name in ("KIWOOM_APP_KEY", "KIWOOM_SECRET_KEY", "KIWOOM_BASE_URL", "KIWOOM_WS_URL"):
        env.pop(name, None)
    manage = [python, "manage.py"]
    # Warm the file cache and make the SQLite database once (not counted).
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=root, env=env, check=True)
    sim = subprocess.Popen(
        [*manage, "kiwoom_sim", "--port", str(port), "--no-state"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_simulator(port)
        timed(
            [*manage, "kiwoom", "quote", "005930"], root, env, 1
        )  # token issued once, not counted
        help_times = timed([*manage, "help"], root, env, args.runs)
        quote_times = timed([*manage, "kiwoom", "quote", "005930"], root, env, args.runs)
    finally:
        sim.terminate()
        try:
            sim.wait(15)
        except subprocess.TimeoutExpired:
            sim.kill()
    print(f"root: {root}")
    for label, times in (
        ("manage.py help", help_times),
        ("manage.py kiwoom quote 005930", quote_times),
    ):
        print(
            f"{label:32s} median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs)"
        )


if __name__ == "__main__":
    main()
