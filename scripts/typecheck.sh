#!/usr/bin/env bash
# mypy --strict over the package as it installs: pyrtc/ with discovery/ and gui/ mapped in as
# pyrtc.discovery and pyrtc.gui (mypy cannot follow setuptools' package-dir in editable mode).
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree" && mkdir -p "$tree/pyrtc"
for item in pyrtc/*; do ln -s "$PWD/$item" "$tree/pyrtc/$(basename "$item")"; done
ln -s "$PWD/discovery" "$tree/pyrtc/discovery"
ln -s "$PWD/gui" "$tree/pyrtc/gui"
ln -s "$PWD/assets" "$tree/pyrtc/assets"
cd "$tree" && exec "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" -p pyrtc
