#!/usr/bin/env bash
# The one test command: installs what a fresh Debian machine with python3 + pip needs
# (Python packages, Debian's chromium for the browser tests), then runs every test.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

# Debian's own python3 refuses system-wide pip installs (PEP 668): use a virtual
# environment in .cache/ (gitignored) that still sees system packages, e.g. a preinstalled torch.
if "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(0 if sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    if [ ! -x .cache/venv/bin/python ]; then
        echo "== $PYTHON is externally managed: creating .cache/venv"
        "$PYTHON" -m venv --system-site-packages .cache/venv
    fi
    PYTHON=.cache/venv/bin/python
fi

echo "== installing Python test dependencies (requirements-dev.txt)"
# --quiet hides progress but pip still prints errors; a failed install stops the script.
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium (Debian package) for the browser tests"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "== running tests"
# exec: pytest's exit code is the script's exit code.
exec "$PYTHON" -m pytest "$@"
