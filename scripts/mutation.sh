#!/usr/bin/env bash
# Mutation testing of the pure core with mutmut: every small change mutmut makes to these modules (an operator, a
# constant, a comparison, a returned value...) must make a test of the fast pure set (pytest -m "not training") fail.
#
#   bash scripts/mutation.sh                       # the modules listed below
#   MUTATION_MODULES="policies plateau" bash scripts/mutation.sh
#
# CPU-heavy (tens of minutes on 2 cores): not part of scripts/run_tests.sh or CI. It works on a copy of the checkout in
# a temporary directory (mutmut writes mutants/ and its cache there), prints the summary and the surviving mutants, and
# leaves the copy's path in the last line so `mutmut show NAME` can be run there. Results: BENCHMARKS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The pure core, as module names under yolo_lr/: the one list to edit when modules are renamed or added.
MODULES="${MUTATION_MODULES:-policies plateau schedule config}"

source "$ROOT/scripts/setup_env.sh"
# the `mutation` extra of pyproject.toml (mutmut, pinned there)
python -m pip install -q $(python -c "import tomllib; print(' '.join(tomllib.load(open('$ROOT/pyproject.toml', 'rb'))['project']['optional-dependencies']['mutation']))")

WORK="${MUTATION_WORKDIR:-$(mktemp -d -t yolo_lr_mutation.XXXXXX)}"
mkdir -p "$WORK"
# tracked and new (not ignored) files only: no .venv, no runs
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$WORK"

only=""
for m in $MODULES; do
  [ -f "$ROOT/yolo_lr/$m.py" ] || { echo "mutation.sh: yolo_lr/$m.py does not exist (edit MODULES)" >&2; exit 2; }
  only+="\"yolo_lr/$m.py\", "
done
cat >> "$WORK/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["yolo_lr/"]
only_mutate = [${only%, }]
pytest_add_cli_args_test_selection = ["-m", "not training", "tests/"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]
also_copy = ["benchmarks/", "scripts/", "datasets/", "configs/", "README.md", "BENCHMARKS.md"]
# a mutant is a timeout past 50x the clean run of its tests (mutmut's default 15x fails on a busy 2-core machine)
timeout_multiplier = 50.0
EOF

cd "$WORK"
echo "mutation.sh: mutating ${MODULES} in $WORK" >&2
start=$(date +%s)
# YOLO_LR_DISABLE=1: the startup hook must not import the installed yolo_lr before mutmut puts mutants/ on sys.path.
rc=0
YOLO_LR_DISABLE=1 mutmut run --max-children "${MUTATION_JOBS:-2}" || rc=$?
end=$(date +%s)
[ "$rc" = 0 ] || echo "mutation.sh: mutmut run exited with $rc (rerun this script with MUTATION_WORKDIR=$WORK to resume)" >&2
YOLO_LR_DISABLE=1 mutmut export-cicd-stats >/dev/null
python - "$WORK" "$((end - start))" <<'EOF'
import json, sys
from pathlib import Path

stats = json.loads((Path(sys.argv[1]) / "mutants" / "mutmut-cicd-stats.json").read_text())
killed, survived = stats["killed"], stats["survived"]
others = {k: v for k, v in stats.items() if k not in {"killed", "survived", "total"} and v}
judged = killed + survived
score = f"{killed / judged:.1%}" if judged else "n/a"
print(f"mutmut: {killed} killed, {survived} survived, score {score} of {judged} judged mutants; "
      f"other outcomes: {others or 'none'}; wall time {int(sys.argv[2])} s")
EOF
YOLO_LR_DISABLE=1 mutmut results 2>/dev/null | grep -E "survived|no tests|timeout|suspicious|not checked" || true
echo "mutation.sh: work dir $WORK"
