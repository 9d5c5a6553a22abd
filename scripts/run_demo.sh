#!/usr/bin/env bash
# The main job: set up .venv, then train YOLO26n from its YAML on the bundled COCO8 for 4 short epochs (1 of warmup) with the
# warmup_cosine preset, through the stock `yolo` CLI (the plugin's startup hook makes it accept lr_* keys).
# Offline by default; runs on whatever device Ultralytics picks (GPU if present, else CPU). Extra key=value
# arguments are passed on, e.g. `bash scripts/run_demo.sh epochs=10 imgsz=320`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup_env.sh"
cd "$ROOT"
# amp=False: Ultralytics' AMP self-check on a GPU would download yolo26n.pt, which an offline machine cannot.
yolo train cfg="$ROOT/configs/warmup_cosine.yaml" model=yolo26n.yaml data="$ROOT/datasets/coco8/coco8.yaml" \
  epochs=4 warmup_epochs=1 imgsz=64 batch=1 nbs=1 amp=False plots=False project="$ROOT/runs/demo" name=warmup_cosine exist_ok=True "$@"
python - "$ROOT/runs/demo/warmup_cosine" <<'PY'
import csv, sys
from pathlib import Path
run = Path(sys.argv[1])
rows = list(csv.DictReader(open(run / "lr.csv")))
cols = [c for c in rows[0] if c.startswith("lr/")]
print(f"\nyolo_lr demo: {len(rows)} optimizer steps; the LR each param group used:")
print(f"{'epoch':>5} {'iter':>5} " + " ".join(f"{c:>16}" for c in cols))
for r in rows:
    print(f"{r['epoch']:>5} {r['iteration']:>5} " + " ".join(f"{float(r[c]):>16.6g}" for c in cols))
print(f"\nper-step log: {run / 'lr.csv'}\nplot: {run / 'lr.png'}\nmetrics: {run / 'results.csv'}")
PY
