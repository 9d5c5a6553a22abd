#!/usr/bin/env bash
# The compatibility suite (tests marked `compat`: a policy per family, warmup and bias warmup, native equivalence,
# plateau with resume, the fine-tuning freeze, lr_find, model.tune) on older Ultralytics releases, each in its own
# environment (scripts/compat_env.sh). Usage: bash scripts/compat_suite.sh [VERSION ...]
# Default releases: 8.4.0 (the oldest supported: warmup of at least 100 iterations, unnamed param groups, SGD/MuSGD
# auto, no DDP callbacks, no CFG_INT_KEYS) and 8.4.120 (named groups, _get_warmup_iterations with `ni < nw`, no DDP
# callbacks). The newest release runs the whole suite (scripts/run_tests.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# YOLO_LR_COMPAT_PREPARED=1 (.ci/run): .venv and every release's environment are already made; install nothing, so
# this can run beside the main suite without two pip builds of the checkout at once.
[ "${YOLO_LR_COMPAT_PREPARED:-}" = 1 ] || source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
[ $# -gt 0 ] || set -- 8.4.0 8.4.120
for version in "$@"; do
  if [ "${YOLO_LR_COMPAT_PREPARED:-}" = 1 ]; then
    python_bin="$ROOT/.venv-ultralytics-$version/bin/python"
  else
    python_bin="$(bash scripts/compat_env.sh "$version" | tail -1)"
  fi
  extra=()
  # model.tune is broken in 8.4.0 itself, plugin or not: its Tuner passes save_dir=, which its own CLI rejects
  # ("'save_dir' is not a valid YOLO argument", every iteration fails); the first release it works in is tested.
  [ "$version" = "8.4.0" ] && extra=(--deselect tests/test_tune.py::test_tune_mutates_lr_keys_and_each_iteration_trains_with_them)
  echo "== compatibility suite on Ultralytics $version ($python_bin)"
  "$python_bin" -m pytest -q -p no:cacheprovider -m compat --basetemp "$(mktemp -d -t yolo_lr_compat.XXXXXX)" "${extra[@]}"
done
