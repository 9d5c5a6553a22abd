#!/usr/bin/env bash
# Set up .venv from nothing (several GB the first time) and run the whole test suite
# (`-m "not training"` runs the fast pure set; `-m compat` the compatibility suite scripts/compat_suite.sh reruns).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
# Two worker processes, each taking whole test files (module fixtures are built once): a CPU training uses one core
# (Ultralytics' thread count on a 2-core machine), so two files train side by side. YOLO_LR_TEST_WORKERS=0 runs
# everything in this process.
exec python -m pytest -q -p no:cacheprovider -n "${YOLO_LR_TEST_WORKERS:-2}" --dist loadfile --durations=15 "$@"
