#!/usr/bin/env bash
# Create .venv (if missing) and install this project into it, non-editable, with its test extras.
# Sourced by run_demo.sh and run_tests.sh; safe to run again (it only reinstalls the project itself).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${YOLO_LR_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "yolo_lr: creating $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
# Dependencies (ultralytics pulls the registry's standard torch build), then the project itself, rebuilt every time
# so the installed copy (and its yolo_lr.pth startup hook) matches the checkout.
"$VENV/bin/python" -m pip install -q "$ROOT[test]"
"$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$ROOT"
# Offline Ultralytics: no network checks, a private settings dir, and a local "Arial.ttf" so the font check is local.
export YOLO_OFFLINE="${YOLO_OFFLINE:-1}"
export YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$ROOT/.yolo_config}"
mkdir -p "$YOLO_CONFIG_DIR/Ultralytics"
if [ ! -f "$YOLO_CONFIG_DIR/Ultralytics/Arial.ttf" ]; then
  cp "$("$VENV/bin/python" -c 'import matplotlib, os; print(os.path.join(matplotlib.get_data_path(), "fonts/ttf/DejaVuSans.ttf"))')" \
     "$YOLO_CONFIG_DIR/Ultralytics/Arial.ttf"
fi
export PATH="$VENV/bin:$PATH"
