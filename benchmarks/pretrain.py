#!/usr/bin/env python3
"""Pretrain the source checkpoint: yolo26n from its YAML on the synthetic source world S, on CPU, offline.

The result, ``benchmarks/assets/source.pt``, is the "pretrained weights" of every fine-tuning test and benchmark: a
10-class detector whose features have seen thousands of varied images (palettes, backgrounds, textures, scales,
occlusion, clutter), the way a COCO checkpoint has, but small enough to make and commit here. The script

1. generates S (``scripts/make_dataset.py --domain S``; 2000 train / 200 val images of 128 px by default);
2. trains ``yolo26n.yaml`` on it with the plugin's ``warmup_cosine`` preset (SGD, lr0 0.01, per-step cosine);
3. strips the optimizer (Ultralytics' ``strip_optimizer``: fp16 weights), copies ``best.pt`` to ``--out``, and
   writes ``--out`` + ``.json`` with the sha256, the command, the wall time and the source-world mAP.

Examples:
    python benchmarks/pretrain.py --write-md      # 40 epochs: ~40 min on 2 idle CPU cores (74 min on a shared one)
    python benchmarks/pretrain.py --report-only   # rewrite the pretrain block from benchmarks/assets/source.pt.json
    python benchmarks/pretrain.py --smoke         # ~20 s in a temp dir (--out WORKDIR/source.pt), no BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DEFAULT_OUT = common.ROOT / "benchmarks" / "assets" / "source.pt"


BENCH = common.Bench(
    name="pretrain",
    block="pretrain",
    doc=__doc__,
    full={"epochs": 40, "n_train": 2000, "n_val": 200, "imgsz": 128, "batch": 32, "workers": 2, "seed": 0},
    smoke={"epochs": 1, "n_train": 16, "n_val": 8, "imgsz": 64, "batch": 8, "workers": 0},
    help={
        "n_train": "source-world training images",
        "n_val": "source-world validation images",
        "workers": "dataloader workers (augmentation off the training core)",
    },
    flags={"n_train": "--train", "n_val": "--val"},
    minimum={"epochs": 1, "n_train": 1, "n_val": 1, "imgsz": 32, "batch": 1, "workers": 0, "seed": 0},
)


def add_options(p: argparse.ArgumentParser) -> None:
    """This benchmark's options beyond its settings."""
    p.add_argument("--out", type=Path, help="the checkpoint (default benchmarks/assets/source.pt; WORKDIR/source.pt "
                   "with --smoke); its record goes to OUT.json")  # fmt: skip
    p.add_argument(
        "--report-only",
        action="store_true",
        help="no training: write the BENCHMARKS.md block from the existing --out .json",
    )


def report(meta: dict) -> str:
    """The table of a finished pretraining (the harness puts the date, machine and command above it)."""
    curve = [m for m in meta["curve_map50_95"] if m is not None]
    every = max(1, len(curve) // 8)
    points = ", ".join(f"{i + 1}: {m:.3f}" for i, m in enumerate(curve) if (i + 1) % every == 0 or i + 1 == len(curve))
    return common.md_table(
        ["figure", "value"],
        [
            ["dataset", meta["dataset"]],
            ["classes", ", ".join(meta["classes"])],
            [
                "training",
                f"{meta['epochs']} epochs, imgsz {meta['imgsz']}, batch {meta['batch']}, `warmup_cosine` "
                "preset (SGD lr0 0.01, 2 warmup epochs, per-step cosine to lr0*0.01)",
            ],
            [
                "source-world mAP50-95 / mAP50 (best epoch, on S's validation images)",
                f"{meta['source_map50_95_best']:.4f} / {meta['source_map50_best']:.4f} (epoch {meta['best_epoch']})",
            ],
            ["mAP50-95 by epoch", points],
            [
                "training wall time",
                f"{meta['train_wall_s'] / 60:.1f} min (the machine was shared with other work)",
            ],
            ["file", f"`benchmarks/assets/source.pt`, {meta['bytes'] / 1e6:.2f} MB, sha256 `{meta['sha256']}`"],
        ],
    )


def make_report(meta: dict) -> common.Report:
    """The harness's report of a pretraining, measured now or recorded in an earlier run's ``--out`` .json."""
    machine = meta.get("machine")
    if not isinstance(machine, dict):  # recorded before the harness: this machine, that run's versions and threads
        machine = {**common.machine_info([]), "torch_threads": meta["torch_threads"], **meta["versions"]}
    wall = meta.get("wall_s", meta["train_wall_s"] + meta["dataset_wall_s"])
    return common.Report(
        body=report(meta),
        machine=machine,
        data={k: v for k, v in meta.items() if k not in ("machine", "when", "command", "wall_s")},
        load_note=meta.get("load", ""),
        date=meta["when"],
        wall_s=wall,
        command=meta["command"],
    )


def run(ctx: common.Context) -> common.Report:
    s = ctx.settings
    out = (ctx.args.out or (ctx.workdir / "source.pt" if ctx.smoke else DEFAULT_OUT)).resolve()
    record = Path(str(out) + ".json")
    if ctx.args.report_only:
        if ctx.smoke:
            raise SystemExit("--report-only writes BENCHMARKS.md; drop --smoke")
        ctx.args.write_md = True
        return make_report(json.loads(record.read_text()))
    ds = common.DatasetSpec("S", s.n_train, s.n_val, s.imgsz, 0)
    data = common.ensure_dataset(ds, ctx.workdir)
    gen_s = ctx.elapsed()
    ctx.log(f"pretrain: dataset {data} ready ({gen_s:.0f} s)")

    import torch
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import strip_optimizer

    import yolo_lr

    project = ctx.workdir / "pretrain"
    name = f"S_{ds.key}_e{s.epochs}_b{s.batch}_s{s.seed}"
    if (project / name).exists():
        shutil.rmtree(project / name)
    model = yolo_lr.attach(YOLO(common.MODEL), "warmup_cosine")
    model.train(
        data=str(data),
        epochs=s.epochs,
        imgsz=s.imgsz,
        batch=s.batch,
        nbs=64,
        seed=s.seed,
        device="cpu",
        workers=s.workers,
        amp=False,
        plots=False,
        val=True,
        verbose=ctx.verbose,
        project=str(project),
        name=name,
        exist_ok=True,
        optimizer="SGD",
        lr0=0.01,
        warmup_epochs=2,
    )
    train_s = ctx.elapsed() - gen_s
    save_dir = Path(model.trainer.save_dir)
    rows = common.read_results_csv(save_dir / "results.csv")
    best = save_dir / "weights" / "best.pt"
    strip_optimizer(best)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(best, out)
    best_row = max(rows, key=lambda r: r.get(common.MAP, 0.0))
    meta = {
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "bytes": out.stat().st_size,
        "command": ctx.command,
        "dataset": ds.describe(),
        "classes": list(model.names.values()) if isinstance(model.names, dict) else list(model.names),
        "epochs": s.epochs,
        "imgsz": s.imgsz,
        "batch": s.batch,
        "source_map50_95_best": best_row.get(common.MAP),
        "source_map50_best": best_row.get(common.MAP50),
        "source_map50_95_final": rows[-1].get(common.MAP),
        "best_epoch": int(best_row.get("epoch", len(rows))),
        "curve_map50_95": [r.get(common.MAP) for r in rows],
        "train_wall_s": round(train_s, 1),
        "dataset_wall_s": round(gen_s, 1),
        "wall_s": round(ctx.elapsed(), 1),
        "torch_threads": torch.get_num_threads(),
        "versions": {k: v for k, v in common.library_versions().items() if k != "yolo_lr_path"},
        "when": common.utc_now(),
        "machine": common.machine_info(torch_threads=torch.get_num_threads()),
        "load": ctx.monitor.summary(1),
    }
    record.write_text(json.dumps(meta, indent=1) + "\n")
    ctx.log(json.dumps({k: v for k, v in meta.items() if k != "curve_map50_95"}, indent=1))
    return make_report(meta)


def main(argv: list[str] | None = None) -> int:
    return common.main(BENCH, run, argv, script=Path(__file__), add_options=add_options)


if __name__ == "__main__":
    sys.exit(main())
