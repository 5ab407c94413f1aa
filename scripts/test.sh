#!/usr/bin/env bash
# The one command that runs the whole test suite: lint, format check, then pytest on Postgres + Redis.
# DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and REDIS_URL (default
# redis://127.0.0.1:6379/15) choose the servers; see README "Testing".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
