#!/usr/bin/env bash
# Mutation testing of the integration layer with mutmut: the modules that drive a real Ultralytics training (stepper,
# plateau_watch, backbone, lr_log, adapter, find_in_training, loggers, tools/sweep), judged by the in-process training
# tests that exercise them. A deterministic sample: every MUTATION_SAMPLE-th mutant name of each module, sorted.
#
#   bash scripts/mutation_integration.sh                      # MUTATION_SAMPLE=20
#   MUTATION_SAMPLE=1 bash scripts/mutation_integration.sh    # every mutant (many hours on 2 cores)
#
# Slow: about an hour for the default sample on 2 shared cores (BENCHMARKS.md); mutmut runs the cheapest mutants first,
# so the adapter's and stepper's (each judged by ~45 trainings) come last. Rerun with MUTATION_WORKDIR=<the work dir> to
# resume: the test map and the verdicts so far are kept.
#
# It never touches .venv: mutmut runs from its own venv (MUTATION_VENV, default /tmp/yolo_lr_mutvenv, made here if
# missing) whose .pth line puts .venv's site-packages (torch, ultralytics, pytest) behind its own. Like mutation.sh it
# works on a copy of the checkout in a temporary directory and ends with that directory's path.
#
# Left out: the tests that start `yolo`/`yolo-lr` subprocesses (all of test_plateau_watch.py and test_resume.py, the
# stock-CLI tests of test_find_in_training.py, test_sweep.py and test_sweep_ray.py) and the Ray trials' test (its
# trainings run in Ray's worker processes): a subprocess imports the installed package, never mutmut's mutants/ copy,
# so they could not see a mutant. plateau_watch is judged by test_training.py's in-process plateau and resume tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULES="${MUTATION_MODULES:-stepper plateau_watch backbone lr_log adapter find_in_training loggers tools/sweep}"
SAMPLE="${MUTATION_SAMPLE:-20}"
BASE="${YOLO_LR_VENV:-$ROOT/.venv}"
VENV="${MUTATION_VENV:-/tmp/yolo_lr_mutvenv}"
TESTS=(tests/test_training.py tests/test_few_steps.py tests/test_finetune.py tests/test_find_in_training.py
  tests/test_loggers.py tests/test_sweep.py tests/test_batch.py tests/test_integration_mutants.py
  tests/test_sweep_mutants.py tests/test_sweep_ray.py)
SUBPROCESS_TESTS=(
  tests/test_find_in_training.py::test_a_resume_through_the_stock_cli_reuses_lr0_and_never_reruns_the_finder
  tests/test_find_in_training.py::test_stock_cli_with_a_preset_file
  tests/test_find_in_training.py::test_bad_lr_find_in_a_yaml_file_names_the_file
  tests/test_sweep.py::test_cli_sweep
  tests/test_sweep.py::test_cli_sweep_needs_lr0_values
  tests/test_sweep.py::test_find_and_sweep_land_where_yolo_train_puts_runs
  tests/test_sweep_ray.py::test_ray_sweep_2x2_grid_trials_are_plugin_runs
  tests/test_sweep_ray.py::test_killed_ray_sweep_continues_without_retraining_finished_points
  tests/test_sweep_ray.py::test_engine_ray_without_ray_fails_at_once_with_the_install_command
  tests/test_sweep_ray.py::test_asha_stops_trailing_trials_and_ranks_only_finished_ones
)

[ -x "$BASE/bin/python" ] || { echo "mutation_integration.sh: $BASE missing: run scripts/setup_env.sh first" >&2; exit 1; }
if [ ! -x "$VENV/bin/mutmut" ]; then
  "$BASE/bin/python" -m venv --without-pip "$VENV"
  "$BASE/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
    > "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_yolo_lr_base_venv.pth"
  "$BASE/bin/python" -m pip --python "$VENV/bin/python" install -q $("$BASE/bin/python" -c "import tomllib; \
print(' '.join(tomllib.load(open('$ROOT/pyproject.toml', 'rb'))['project']['optional-dependencies']['mutation']))")
fi
export PATH="$VENV/bin:$PATH" YOLO_OFFLINE="${YOLO_OFFLINE:-1}" YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$ROOT/.yolo_config}"

WORK="${MUTATION_WORKDIR:-$(mktemp -d -t yolo_lr_mutation_integration.XXXXXX)}"
mkdir -p "$WORK"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$WORK"

only="" selection=""
for m in $MODULES; do
  [ -f "$ROOT/yolo_lr/$m.py" ] || { echo "mutation_integration.sh: yolo_lr/$m.py does not exist" >&2; exit 2; }
  only+="\"yolo_lr/$m.py\", "
done
for t in "${TESTS[@]}"; do selection+="\"$t\", "; done
for t in "${SUBPROCESS_TESTS[@]}"; do selection+="\"--deselect\", \"$t\", "; done
cat >> "$WORK/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["yolo_lr/"]
only_mutate = [${only%, }]
pytest_add_cli_args_test_selection = [${selection%, }]
pytest_add_cli_args = ["-p", "yolo_lr_mutmut_unwrap", "-p", "no:cacheprovider", "-q", "-x"]
also_copy = ["benchmarks/", "scripts/", "datasets/", "configs/", "README.md", "BENCHMARKS.md"]
# mutmut's CPU-time limit per mutant, (tests' time + constant) x multiplier x 2: its clock counts only the tests' call
# phase, not the trainings in their module-scoped fixtures (the sweep's two runs), which the 30 s have to cover
timeout_multiplier = 5.0
timeout_constant = 30.0
# each mutant in a child of a fork server that has only imported the tests: children forked from mutmut's main process,
# which ran the trainings of the clean run, hang in a futex (torch's thread pools do not survive a fork)
process_isolation = "forkserver"
EOF
# mutmut's trampolines are functools.wraps wrappers, so inspect.unwrap(callback) is the unmutated function, not the
# callback the plugin registered, and registration.hook_trainer would add every plugin callback a second time (the
# first training step then fails). This pytest plugin drops __wrapped__ from those trampolines (mutmut does not use it).
mkdir -p "$WORK/.mutmut_plugins"
cat > "$WORK/.mutmut_plugins/yolo_lr_mutmut_unwrap.py" <<'EOF'
def pytest_sessionstart(session):
    from yolo_lr.adapter import callbacks as adapter_callbacks
    from yolo_lr.loggers import callbacks as logger_callbacks

    for fn in [*adapter_callbacks.values(), *logger_callbacks.values()]:
        if getattr(fn, "__wrapped__", None) is not None:
            del fn.__wrapped__
EOF
export PYTHONPATH="$WORK/.mutmut_plugins"

cd "$WORK"
echo "mutation_integration.sh: mutating ${MODULES} in $WORK, every ${SAMPLE}th mutant" >&2
start=$(date +%s)
# 1. generate the mutants and map every test to the functions it calls (one pass of the selection). The name matches
#    no mutant, so mutmut stops right after saving that map.
YOLO_LR_DISABLE=1 nice -n "${MUTATION_NICE:-15}" mutmut run --max-children 1 "no-mutant-is-named-this" >/dev/null 2>&1 || true
[ -f mutants/mutmut-stats.json ] || { echo "mutation_integration.sh: mutmut collected no stats" >&2; exit 1; }
# 2. the sample: every SAMPLE-th name of each module, sorted
mapfile -t NAMES < <(python - "$SAMPLE" <<'EOF'
import json, sys
from pathlib import Path

k = int(sys.argv[1])
for meta in sorted(Path("mutants").rglob("*.py.meta")):
    names = sorted(json.loads(meta.read_text())["exit_code_by_key"])
    print("\n".join(names[::k]))
EOF
)
printf '%s\n' "${NAMES[@]}" > sample.txt
echo "mutation_integration.sh: ${#NAMES[@]} mutants in the sample (sample.txt)" >&2
rc=0
YOLO_LR_DISABLE=1 nice -n "${MUTATION_NICE:-15}" mutmut run --max-children 1 "${NAMES[@]}" || rc=$?
end=$(date +%s)
[ "$rc" = 0 ] || echo "mutation_integration.sh: mutmut run exited with $rc" >&2
python - "$((end - start))" "${NAMES[@]}" <<'EOF'
import json, sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code as status

sample = set(sys.argv[2:])
total = Counter()
print("| module | mutants | killed | survived | no tests / timeouts | score |")
print("|---|---|---|---|---|---|")
for meta in sorted(Path("mutants").rglob("*.py.meta")):
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    c = Counter(status[v] for k, v in codes.items() if k in sample)
    c["mutants"] = sum(1 for k in codes if k in sample)
    total.update(c)
    judged = c["killed"] + c["survived"]
    other = c["mutants"] - judged
    score = f"{c['killed'] / judged:.1%}" if judged else "n/a"
    print(f"| `{meta.name[:-5]}` | {c['mutants']} | {c['killed']} | {c['survived']} | {other} | {score} |")
judged = total["killed"] + total["survived"]
print(f"| all | {total['mutants']} | {total['killed']} | {total['survived']} | {total['mutants'] - judged} | "
      f"{total['killed'] / max(judged, 1):.1%} |")
print(f"wall time {int(sys.argv[1])} s; outcomes: {dict(total)}")
EOF
YOLO_LR_DISABLE=1 mutmut results 2>/dev/null | grep -E "survived|no tests|timeout|suspicious|segfault" || true
echo "mutation_integration.sh: work dir $WORK"
