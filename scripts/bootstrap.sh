# Sourced by run.sh and test.sh: make sure .venv exists and matches requirements.txt.
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "python3 (3.11+) is required" >&2; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian/Ubuntu ship venv separately.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$PYTHON" -m venv .venv
    else
      echo "cannot create a virtualenv: install python3-venv" >&2; exit 1
    fi
  fi
fi
mkdir -p var
REQ_HASH="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat var/.requirements.sha256 2>/dev/null)" != "$REQ_HASH" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$REQ_HASH" > var/.requirements.sha256
fi
