#!/usr/bin/env bash
# Make .venv-ultralytics-<VERSION>: its own environment with that Ultralytics release from the registry (and any of its
# requirements .venv does not meet) and this project installed into it (with its yolo_lr.pth startup hook), reusing the
# heavy packages of .venv (torch, numpy, ...).
# Usage: bash scripts/compat_env.sh 8.4.0   (prints the environment's python; needs .venv from setup_env.sh)
#
# How: a new venv whose site-packages holds ultralytics==VERSION, what it needs beyond .venv, and yolo-lr, plus a .pth line that
# appends .venv's site-packages to sys.path. Its own site-packages comes first, so its Ultralytics shadows .venv's;
# .venv's yolo_lr.pth is not read (only site directories' .pth files are). A few seconds instead of ~6 GB.
set -euo pipefail
VERSION="${1:?usage: compat_env.sh ULTRALYTICS_VERSION}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${YOLO_LR_VENV:-$ROOT/.venv}"
ENV="$ROOT/.venv-ultralytics-$VERSION"
[ -x "$BASE/bin/python" ] || { echo "compat_env.sh: $BASE missing: run scripts/setup_env.sh first" >&2; exit 1; }
BASE_SITE="$("$BASE/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ ! -x "$ENV/bin/python" ]; then
  "$BASE/bin/python" -m venv --without-pip "$ENV"
fi
SITE="$("$ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$BASE_SITE" > "$SITE/_yolo_lr_base_venv.pth"
# The release with whatever of its own requirements .venv lacks or pins differently (pip sees .venv's packages through
# the .pth line), then this project on top, without dependencies.
"$BASE/bin/python" -m pip --python "$ENV/bin/python" install -q "ultralytics==$VERSION" 2>&1 | grep -v "^WARNING: Location" >&2 || true
"$BASE/bin/python" -m pip --python "$ENV/bin/python" install -q --no-deps --force-reinstall "$ROOT" 2>&1 \
  | grep -v "^WARNING: Location" >&2 || true
got="$("$ENV/bin/python" -c 'import importlib.metadata as m; print(m.version("ultralytics"))')"
[ "$got" = "$VERSION" ] || { echo "compat_env.sh: $ENV has ultralytics $got, not $VERSION" >&2; exit 1; }
echo "$ENV/bin/python"
