#!/usr/bin/env bash
# Quick start 1: set up PyRTC (first time only) and run it: `bash scripts/run.sh [pyrtc args]`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pyrtc "$@"
