#!/usr/bin/env python3
"""Fine-tune any YOLO checkpoint on any dataset with the `finetune` preset (or another preset).

The preset gives an explicit AdamW at lr0=0.0015, an optimizer step every batch of 16 (nbs=16), a warmup without the
bias-LR spike, the backbone frozen for the first epoch and then trained at half the head's LR, and a cosine decay to
lr0*lrf. For target images that look very different from the pretraining data, `--unfreeze-epoch 0
--backbone-scale 1` trained better (see BENCHMARKS.md, transfer study).

Online (Ultralytics downloads the weights and dataset):
    python scripts/finetune.py --model yolo26n.pt --data coco8.yaml --epochs 30

Offline, from the project's source checkpoint (yolo26n pretrained on the synthetic source world, 10 classes):
    python scripts/finetune.py --model benchmarks/assets/source.pt --epochs 6 --imgsz 128 --batch 4

Any extra `key=value` is passed to Ultralytics' train() (e.g. `lr_backbone_scale=0.2 patience=20`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse(argv: list[str] | None = None) -> tuple[argparse.Namespace, dict]:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="pretrained checkpoint (.pt): the weights to fine-tune")
    p.add_argument("--data", default=None, help="dataset YAML (default: the bundled offline COCO8)")
    p.add_argument("--preset", default="finetune", help="preset name or YAML (default: finetune)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--imgsz", type=int, default=640, help="image size (default 640)")
    p.add_argument("--batch", type=float, default=16, help="batch size; -1 or a fraction for AutoBatch (default 16)")
    p.add_argument("--device", default=None, help="cuda device (0, 0,1) or cpu; default: Ultralytics picks")
    p.add_argument("--lr0", type=float, default=None, help="peak LR of the head (default: the preset's, 0.0015)")
    p.add_argument(
        "--unfreeze-epoch",
        type=int,
        default=None,
        help="0-based epoch at which the backbone starts training (default: the preset's 1, or a third "
        "of the run if that is too late); 0 = never frozen",
    )
    p.add_argument(
        "--backbone-scale",
        type=float,
        default=None,
        help="backbone LR as a fraction of the head LR after unfreezing (default: the preset's 0.5)",
    )
    p.add_argument(
        "--project", default=None, help="output folder (default: where `yolo train` puts runs, Ultralytics' runs_dir)"
    )
    p.add_argument("--name", default="finetune", help="run name (default finetune, numbered when it exists)")
    args, extra = p.parse_known_args(argv)
    overrides = {}
    for word in extra:
        if "=" not in word:
            p.error(f"unrecognised argument '{word}' (extra Ultralytics settings are key=value)")
        from yolo_lr.tools.cli import smart_value

        k, v = word.split("=", 1)
        overrides[k] = smart_value(v)
    return args, overrides


def main(argv: list[str] | None = None) -> int:
    args, overrides = parse(argv)
    from ultralytics import YOLO

    import yolo_lr

    if not str(args.model).endswith((".pt", ".pth")):
        print(
            f"warning: --model {args.model} is not a .pt checkpoint: fine-tuning needs pretrained weights",
            file=sys.stderr,
        )
    preset, _ = yolo_lr.load_policy(args.preset)
    unfreeze = args.unfreeze_epoch
    if unfreeze is None:
        unfreeze = preset.get("lr_unfreeze_epoch")
        if unfreeze is not None and unfreeze >= args.epochs:
            unfreeze = args.epochs // 3
            print(f"finetune: the preset's lr_unfreeze_epoch is past a {args.epochs}-epoch run; using {unfreeze}")
    train_args = dict(
        data=args.data or str(yolo_lr.coco8_yaml()),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=int(args.batch) if float(args.batch).is_integer() else args.batch,
        name=args.name,
    )
    if args.project is not None:
        train_args["project"] = str(Path(args.project).resolve())
    if unfreeze is not None:
        train_args["lr_unfreeze_epoch"] = unfreeze
    if args.device is not None:
        train_args["device"] = args.device
    if args.lr0 is not None:
        train_args["lr0"] = args.lr0
    if args.backbone_scale is not None:
        train_args["lr_backbone_scale"] = args.backbone_scale
    train_args.update(overrides)
    model = yolo_lr.attach(YOLO(args.model), args.preset)
    model.train(**train_args)
    save_dir = Path(model.trainer.save_dir)
    print(f"finetune: done. Per-step LRs: {save_dir / 'lr.csv'}  weights: {save_dir / 'weights'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
