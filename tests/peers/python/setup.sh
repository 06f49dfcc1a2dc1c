#!/usr/bin/env bash
# Builds the test-only Python bullmq peer venv: tests/peers/python/.venv (idempotent).
# Usage: bash tests/peers/python/setup.sh [python3]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-${PYTHON:-python3}}"
venv="$here/.venv"
stamp="$venv/.installed-stamp"
if [ -f "$stamp" ] && [ "$stamp" -nt "$here/requirements.txt" ]; then
    exit 0
fi
test -x "$venv/bin/python" || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c 'import bullmq; assert bullmq.__version__ == "3.4.4", bullmq.__version__'
touch "$stamp"
