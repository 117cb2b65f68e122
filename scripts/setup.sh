#!/usr/bin/env bash
# Creates .venv and installs PyRTC into it (editable). Idempotent; extras via $1 (e.g. "test").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The window needs OpenGL, the tones PortAudio; without them PyRTC still chats in the terminal.
# Colour emoji come from Noto Color Emoji (11 MB, too large to carry in the repository);
# without it the window draws emoji in monochrome.
if command -v dpkg >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  missing=()
  for pkg in libgl1 libglx-mesa0 libportaudio2 fonts-noto-color-emoji; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || true
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
# Re-install only when pyproject.toml changed since the last install.
stamp=".venv/.pyrtc-installed-${1:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # setuptools says "Editable installation. Please be careful with folders…" on every editable
  # install of a package-dir layout like ours: information only, kept out of a first run.
  PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi
