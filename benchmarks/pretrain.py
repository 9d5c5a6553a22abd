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
    python benchmarks/pretrain.py --write-md   # 40 epochs: ~40 min on 2 idle CPU cores (74 min on a shared one)
    python benchmarks/pretrain.py --epochs 1 --train 64 --val 16 --out /tmp/s.pt   # smoke
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DEFAULT_OUT = common.ROOT / "benchmarks" / "assets" / "source.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--train", type=int, default=2000, help="source-world training images")
    p.add_argument("--val", type=int, default=200, help="source-world validation images")
    p.add_argument("--imgsz", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=2, help="dataloader workers (augmentation off the training core)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--workdir", type=Path, default=common.DEFAULT_WORKDIR)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--write-md", action="store_true", help="write the pretrain block of BENCHMARKS.md at the end")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="no training: write the BENCHMARKS.md block from the existing --out .json",
    )
    return p.parse_args(argv)


def report(meta: dict) -> str:
    """The BENCHMARKS.md block of a finished pretraining."""
    curve = [m for m in meta["curve_map50_95"] if m is not None]
    every = max(1, len(curve) // 8)
    points = ", ".join(f"{i + 1}: {m:.3f}" for i, m in enumerate(curve) if (i + 1) % every == 0 or i + 1 == len(curve))
    return "\n".join(
        [
            f"Measured {meta['when']} on {meta.get('machine') or common.machine_info([])['cpu']}, torch threads "
            f"{meta['torch_threads']}; torch {meta['versions']['torch']}, "
            f"ultralytics {meta['versions']['ultralytics']}.",
            "",
            f"```bash\n{meta['command']}\n```",
            "",
            common.md_table(
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
                        f"{meta['source_map50_95_best']:.4f} / {meta['source_map50_best']:.4f} "
                        f"(epoch {meta['best_epoch']})",
                    ],
                    ["mAP50-95 by epoch", points],
                    [
                        "training wall time",
                        f"{meta['train_wall_s'] / 60:.1f} min (the machine was shared with other work)",
                    ],
                    ["file", f"`benchmarks/assets/source.pt`, {meta['bytes'] / 1e6:.2f} MB, sha256 `{meta['sha256']}`"],
                ],
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        meta = json.loads(Path(str(args.out) + ".json").read_text())
        common.replace_block(common.MD_PATH, "pretrain", report(meta))
        return 0
    cfg_dir = common.setup_environment(verbose=args.verbose)
    t0 = time.perf_counter()
    ds = common.DatasetSpec("S", args.train, args.val, args.imgsz, 0)
    data = common.ensure_dataset(ds, args.workdir)
    gen_s = time.perf_counter() - t0
    print(f"pretrain: dataset {data} ready ({gen_s:.0f} s)", flush=True)

    import torch
    import ultralytics
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import strip_optimizer

    import yolo_lr

    project = args.workdir / "pretrain"
    name = f"S_{ds.key}_e{args.epochs}_b{args.batch}_s{args.seed}"
    if (project / name).exists():
        shutil.rmtree(project / name)
    model = yolo_lr.attach(YOLO(common.MODEL), "warmup_cosine")
    t1 = time.perf_counter()
    model.train(
        data=str(data),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        nbs=64,
        seed=args.seed,
        device="cpu",
        workers=args.workers,
        amp=False,
        plots=False,
        val=True,
        verbose=args.verbose,
        project=str(project),
        name=name,
        exist_ok=True,
        optimizer="SGD",
        lr0=0.01,
        warmup_epochs=2,
    )
    train_s = time.perf_counter() - t1
    save_dir = Path(model.trainer.save_dir)
    rows = common.read_results_csv(save_dir / "results.csv")
    best = save_dir / "weights" / "best.pt"
    strip_optimizer(best)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(best, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    best_row = max(rows, key=lambda r: r.get(common.MAP, 0.0))
    meta = {
        "sha256": digest,
        "bytes": args.out.stat().st_size,
        "command": common.command_line(Path(__file__), argv),
        "dataset": ds.describe(),
        "classes": list(model.names.values()) if isinstance(model.names, dict) else list(model.names),
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": args.batch,
        "source_map50_95_best": best_row.get(common.MAP),
        "source_map50_best": best_row.get(common.MAP50),
        "source_map50_95_final": rows[-1].get(common.MAP),
        "best_epoch": int(best_row.get("epoch", len(rows))),
        "curve_map50_95": [r.get(common.MAP) for r in rows],
        "train_wall_s": round(train_s, 1),
        "dataset_wall_s": round(gen_s, 1),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "torch": torch.__version__,
            "ultralytics": ultralytics.__version__,
            "yolo_lr": yolo_lr.__version__,
        },
        "when": common.utc_now(),
        "machine": common.machine_sentence(
            {
                **common.machine_info([]),
                "torch_threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "ultralytics": ultralytics.__version__,
                "yolo_lr": yolo_lr.__version__,
            }
        ),
    }
    Path(str(args.out) + ".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({k: v for k, v in meta.items() if k != "curve_map50_95"}, indent=1))
    if args.write_md:
        common.replace_block(common.MD_PATH, "pretrain", report(meta))
    if cfg_dir is not None:
        shutil.rmtree(cfg_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
