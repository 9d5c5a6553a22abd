#!/usr/bin/env bash
# The main job: set up .venv, then train YOLO26n from its YAML on the bundled COCO8 for 4 short epochs (1 of warmup)
# with the warmup_cosine preset, through the stock `yolo` CLI (the plugin's startup hook makes it accept lr_* keys).
# Prints the LR every param group used at every optimizer step (with a bar per step: the LR curve), then the files
# the run wrote, each checked to exist and to come from this run: lr.csv, lr.png, results.csv and the weights.
# Offline by default; runs on whatever device Ultralytics picks (GPU if present, else CPU). Extra key=value
# arguments are passed on, e.g. `bash scripts/run_demo.sh epochs=10 imgsz=320`.
# YOLO_LR_DEMO_DIR moves the run folder (default runs/demo); YOLO_LR_SKIP_SETUP=1 uses an environment that is
# already installed and exported (the venv at YOLO_LR_VENV, default .venv) instead of sourcing setup_env.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${YOLO_LR_SKIP_SETUP:-0}" = 1 ]; then
  export PATH="${YOLO_LR_VENV:-$ROOT/.venv}/bin:$PATH"
else
  source "$ROOT/scripts/setup_env.sh"
fi
cd "$ROOT"
PROJECT="${YOLO_LR_DEMO_DIR:-$ROOT/runs/demo}"
RUN="$PROJECT/warmup_cosine"
START="$(date +%s)"
# amp=False: Ultralytics' AMP self-check on a GPU would download yolo26n.pt, which an offline machine cannot.
# plots=False keeps the demo short (Ultralytics' own plots double its time); lr.png is drawn below from lr.csv with
# the plugin's plot (pass plots=True to get Ultralytics' plots too: then the plugin draws lr.png itself).
yolo train cfg="$ROOT/configs/warmup_cosine.yaml" model=yolo26n.yaml data="$ROOT/datasets/coco8/coco8.yaml" \
  epochs=4 warmup_epochs=1 imgsz=64 batch=1 nbs=1 amp=False plots=False "$@" \
  project="$PROJECT" name=warmup_cosine exist_ok=True
python - "$RUN" "$START" <<'PY'
import csv
import json
import sys
from pathlib import Path

run, start = Path(sys.argv[1]), float(sys.argv[2]) - 1  # 1 s of slack for file-system timestamps
with open(run / "lr.csv", newline="") as f:
    rows = list(csv.DictReader(f))
cols = [c for c in rows[0] if c.startswith("lr/")]
weight = cols[0]
peak = max(float(r[weight]) for r in rows) or 1.0
print(f"\nyolo_lr demo: {len(rows)} optimizer steps; the LR each param group used (bar: {weight} / its peak):")
print(f"{'epoch':>5} {'iter':>5} " + " ".join(f"{c:>16}" for c in cols))
for r in rows:
    lr = float(r[weight])
    bar = "#" * (max(round(40 * lr / peak), 1) if lr > 0 else 0)  # the final lr0*lrf is 1/100 of the peak: still shown
    print(f"{r['epoch']:>5} {r['iteration']:>5} " + " ".join(f"{float(r[c]):>16.6g}" for c in cols) + f"  {bar}")
png, state = run / "lr.png", run / "lr_state.json"
if not png.exists() or png.stat().st_mtime < (run / "lr.csv").stat().st_mtime:  # none drawn by this run (plots=False)
    from yolo_lr.adapter import plot_lr_csv

    reductions = json.loads(state.read_text()).get("reductions", []) if state.exists() else []  # plateau runs
    plot_lr_csv(run / "lr.csv", png, reductions)
outputs = {
    "per-step log": run / "lr.csv",
    "plot": png,
    "metrics": run / "results.csv",
    "weights": run / "weights" / "best.pt",
}
missing = [f"{label}: {path}" for label, path in outputs.items() if not path.is_file() or path.stat().st_mtime < start]
if missing:  # absent, or left over from an earlier demo in the same folder
    sys.exit("yolo_lr demo: this run did not write:\n  " + "\n  ".join(missing))
print()
for label, path in outputs.items():
    print(f"{label}: {path}")
PY
