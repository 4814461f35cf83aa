#!/usr/bin/env bash
# The one test command: installs what a fresh Debian machine with python3 + pip needs
# (Python packages at the versions in constraints.txt, Debian's chromium for the browser
# tests), then runs every test.
# Usage: bash tests/run.sh [--newest] [pytest args...]
#   --newest: instead, in its own virtual environment (.cache/venv-newest), the newest versions
#             requirements.txt's ranges allow (what a Hugging Face Space resolves); CI runs both.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PIP_OPTIONS=(--quiet --disable-pip-version-check --root-user-action=ignore)

NEWEST=0
if [ "${1:-}" = "--newest" ]; then
    shift
    NEWEST=1
    # No system site packages: what is installed there (the pinned set) must not satisfy the ranges.
    if [ ! -x .cache/venv-newest/bin/python ]; then
        echo "== creating .cache/venv-newest for the newest allowed versions"
        "$PYTHON" -m venv .cache/venv-newest
    fi
    PYTHON=.cache/venv-newest/bin/python
    echo "== installing the newest versions requirements-dev.txt allows"
    "$PYTHON" -m pip install "${PIP_OPTIONS[@]}" --upgrade --upgrade-strategy eager -r requirements-dev.txt
    "$PYTHON" -m pip freeze --exclude-editable | grep -iE '^(torch|gradio|opencv-python|numpy|onnxruntime|av|pillow)==' | tr '\n' ' '
    echo
else
    # Debian's own python3 refuses system-wide pip installs (PEP 668): use a virtual
    # environment in .cache/ (gitignored) that still sees system packages, e.g. a preinstalled torch.
    if "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(0 if sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
        if [ ! -x .cache/venv/bin/python ]; then
            echo "== $PYTHON is externally managed: creating .cache/venv"
            "$PYTHON" -m venv --system-site-packages .cache/venv
        fi
        PYTHON=.cache/venv/bin/python
    fi
    echo "== installing Python test dependencies (requirements-dev.txt, pinned by constraints.txt)"
    # --quiet hides progress but pip still prints errors; a failed install stops the script.
    "$PYTHON" -m pip install "${PIP_OPTIONS[@]}" -r requirements-dev.txt -c constraints.txt
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium (Debian package) for the browser tests"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ "$NEWEST" = 0 ]; then
    # The pinned ruff only: a newer one may add rules, which is an upgrade to make on purpose.
    echo "== lint and format check (ruff, rules in pyproject.toml; ruff format . fixes the format)"
    "$PYTHON" -m ruff check --quiet .
    "$PYTHON" -m ruff format --check --quiet .
fi

echo "== running tests"
# exec: pytest's exit code is the script's exit code.
exec "$PYTHON" -m pytest "$@"
