#!/usr/bin/env bash
# Set up .venv from nothing (several GB the first time) and run the whole test suite
# (`-m "not training"` runs the fast pure set; `-m compat` the compatibility suite scripts/compat_suite.sh reruns).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
exec python -m pytest -q -p no:cacheprovider "$@"
