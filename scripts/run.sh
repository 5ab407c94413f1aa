#!/usr/bin/env bash
# The one command that sets up and runs the whole StockAgent stack on this machine.
# On a fresh machine it installs what it needs (a venv with requirements.txt), then migrates, seeds the demo
# users and starts web, worker, beat (and the simulator/realtime processes) until Ctrl-C.
# Any argument is passed to `manage.py runstack` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/python manage.py runstack "$@"
