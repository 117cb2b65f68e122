#!/usr/bin/env bash
# Creates .venv and installs PyRTC into it (editable). Idempotent; extras via $1 (e.g. "test").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
# Re-install only when pyproject.toml changed since the last install.
stamp=".venv/.pyrtc-installed-${1:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi
