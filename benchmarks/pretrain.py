#!/usr/bin/env python3
"""Pretrain the source checkpoint: yolo26n from its YAML on the synthetic source world S, on CPU, offline.

The result, ``benchmarks/assets/source.pt``, is the "pretrained weights" of every fine-tuning test and benchmark: a
10-class detector whose features have seen thousands of varied images (palettes, backgrounds, textures, scales,
occlusion, clutter), the way a COCO checkpoint has, but small enough to make and commit here. The script generates S
(``scripts/make_dataset.py --domain S``), trains ``yolo26n.yaml`` on it with the plugin's ``warmup_cosine`` preset
(SGD, lr0 0.01, per-step cosine), strips the optimizer (fp16 weights) and copies ``best.pt`` to ``--out``; its record
(sha256, source-world mAP per epoch) is ``benchmarks/results/pretrain.json``.

    python benchmarks/pretrain.py --write-md      # 40 epochs: ~40 min on 2 idle CPU cores (74 min on a shared one)
    python benchmarks/pretrain.py --from-json benchmarks/results/pretrain.json --write-md   # re-render the block
    python benchmarks/pretrain.py --smoke         # ~20 s in a temp dir (--out WORKDIR/source.pt), no BENCHMARKS.md
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

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


def add_options(p) -> None:
    p.add_argument(
        "--out", type=Path, help="the checkpoint (default benchmarks/assets/source.pt; WORKDIR/source.pt with --smoke)"
    )


def run(ctx: common.Context) -> dict:
    import torch
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import strip_optimizer

    import yolo_lr

    s = ctx.settings
    default = ctx.workdir / "source.pt" if ctx.smoke else common.ROOT / "benchmarks" / "assets" / "source.pt"
    out = (ctx.args.out or default).resolve()
    ds = common.DatasetSpec("S", s.n_train, s.n_val, s.imgsz, 0)
    data = common.ensure_dataset(ds, ctx.workdir)
    gen_s = ctx.elapsed()
    ctx.log(f"pretrain: dataset {data} ready ({gen_s:.0f} s)")
    project = ctx.workdir / "pretrain"
    shutil.rmtree(project / ds.key, ignore_errors=True)  # never read an earlier run's results.csv
    args = common.shared_train_args(s.imgsz, s.batch, s.epochs, s.seed, data, project, ds.key, ctx.verbose)
    model = yolo_lr.attach(YOLO(common.MODEL), "warmup_cosine")
    model.train(**{**args, "nbs": 64, "workers": s.workers, "optimizer": "SGD", "lr0": 0.01, "warmup_epochs": 2})
    train_s = ctx.elapsed() - gen_s
    save_dir = Path(model.trainer.save_dir)
    rows = common.read_results_csv(save_dir / "results.csv")
    strip_optimizer(save_dir / "weights" / "best.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(save_dir / "weights" / "best.pt", out)
    best = max(rows, key=lambda r: r.get(common.MAP, 0.0))
    return {
        "machine": common.machine_info(torch_threads=torch.get_num_threads()),
        "checkpoint": common.md_link(out),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "bytes": out.stat().st_size,
        "dataset": ds.describe(),
        "classes": list(model.names.values()),
        "source_map50_95_best": best[common.MAP],
        "source_map50_best": best[common.MAP50],
        "best_epoch": int(best["epoch"]),
        "curve_map50_95": [r[common.MAP] for r in rows],
        "train_wall_s": train_s,
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    s, curve = raw["settings"], raw["curve_map50_95"]
    every = max(1, len(curve) // 8)
    points = ", ".join(f"{i}: {m:.3f}" for i, m in enumerate(curve, 1) if i % every == 0 or i == len(curve))
    rows = [
        ["dataset", raw["dataset"]],
        ["classes", ", ".join(raw["classes"])],
        [
            "training",
            f"{s['epochs']} epochs, imgsz {s['imgsz']}, batch {s['batch']}, `warmup_cosine` preset (SGD lr0 "
            "0.01, 2 warmup epochs, per-step cosine to lr0*0.01)",
        ],
        [
            "source-world mAP50-95 / mAP50 (best epoch, on S's validation images)",
            f"{raw['source_map50_95_best']:.4f} / {raw['source_map50_best']:.4f} (epoch {raw['best_epoch']})",
        ],
        ["mAP50-95 by epoch", points],
        ["training wall time", f"{raw['train_wall_s'] / 60:.1f} min"],
        ["file", f"`{raw['checkpoint']}`, {raw['bytes'] / 1e6:.2f} MB, sha256 `{raw['sha256']}`"],
    ]
    return common.Report(body=common.md_table(["figure", "value"], rows))


def main(argv: list[str] | None = None) -> int:
    return common.main(BENCH, run, argv, script=Path(__file__), add_options=add_options, render=render)


if __name__ == "__main__":
    sys.exit(main())
