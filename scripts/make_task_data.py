#!/usr/bin/env python3
"""Tiny deterministic datasets for every Ultralytics task, generated offline (the bundled COCO8 is detection only).

Each image shows one or two filled shapes (class 0 ``square``: a rotated rectangle, class 1 ``triangle``) on a flat
background. From the same polygons the generator writes the labels each task reads:

=========  ===============================================================================================
task       what is written (``OUT`` = the folder given)
=========  ===============================================================================================
detect     ``images/{train,val}/*.png``, ``labels/*/*.txt`` = ``cls cx cy w h``, ``data.yaml``
segment    labels = ``cls x1 y1 x2 y2 ...`` (the polygon), ``data.yaml``
pose       labels = ``cls cx cy w h`` + 3 keypoints ``x y 2`` (3 vertices of the shape), ``kpt_shape: [3, 3]``
obb        labels = ``cls`` + the 4 corners of the shape's minimum-area rectangle, ``data.yaml``
classify   ``{train,val}/{square,triangle}/*.png`` (one shape per image); ``data=`` is the folder itself
semantic   ``masks/{train,val}/*.png``: uint8 class id per pixel (0 background, 1 square, 2 triangle)
depth      ``depth/{train,val}/*.png``: uint16 millimetres (``depth_scale: 1000``), shapes nearer than the background
=========  ===============================================================================================

All coordinates are normalised to [0, 1]. Every image is drawn from its own ``numpy.random.Generator`` seeded with
``(seed, task, split, index)``, so the same arguments give the same files. ``data.yaml`` (or, for classify, the
``.complete`` marker) is written last.

Examples:
    python scripts/make_task_data.py --task segment --out /tmp/seg
    python scripts/make_task_data.py --task all --out /tmp/tasks --train 4 --val 2 --imgsz 64

    >>> import sys; sys.path.insert(0, "scripts")   # scripts/ is not a package
    >>> from make_task_data import make_task_data
    >>> make_task_data("/tmp/pose", "pose")
    PosixPath('/tmp/pose/data.yaml')
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

TASKS = ("detect", "segment", "pose", "obb", "classify", "semantic", "depth")
NAMES = ("square", "triangle")
PNG = [cv2.IMWRITE_PNG_COMPRESSION, 3]


@dataclass(frozen=True)
class Shape:
    """One object: its class and its polygon in pixels (vertices in drawing order)."""

    cls: int
    poly: np.ndarray  # (N, 2) float, pixels


def _shape(rng: np.random.Generator, cls: int, size: int) -> Shape:
    """A square-ish rotated rectangle (cls 0) or a triangle (cls 1) covering 35-60 % of the image side."""
    side = rng.uniform(0.35, 0.6) * size
    cx, cy = rng.uniform(side / 2, size - side / 2, size=2)
    angle = rng.uniform(0, math.pi)
    if cls == 0:
        w, h = side, side * rng.uniform(0.7, 1.0)
        corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    else:
        r = side / 2
        corners = np.array([[r * math.cos(a), r * math.sin(a)] for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    poly = corners @ rot.T + [cx, cy]
    return Shape(cls, np.clip(poly, 0, size - 1))


def _scene(rng: np.random.Generator, size: int, classes: list[int]) -> tuple[np.ndarray, list[Shape]]:
    """A BGR image with the given shapes drawn on a flat background of a random colour."""
    bg = rng.integers(30, 120, size=3)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = bg
    shapes = []
    for cls in classes:
        s = _shape(rng, cls, size)
        color = [int(c) for c in rng.integers(150, 256, size=3)]
        cv2.fillPoly(img, [np.round(s.poly).astype(np.int32)], color, lineType=cv2.LINE_AA)
        shapes.append(s)
    return img, shapes


def _norm(points: np.ndarray, size: int) -> str:
    return " ".join(f"{v:.6f}" for v in (np.asarray(points, float) / size).reshape(-1))


def _label_line(task: str, s: Shape, size: int) -> str:
    """One label line of ``s`` in the task's YOLO format."""
    x0, y0 = s.poly.min(0)
    x1, y1 = s.poly.max(0)
    box = _norm([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], size)
    if task == "segment":
        return f"{s.cls} {_norm(s.poly, size)}"
    if task == "obb":
        corners = cv2.boxPoints(cv2.minAreaRect(s.poly.astype(np.float32)))
        return f"{s.cls} {_norm(np.clip(corners, 0, size - 1), size)}"
    if task == "pose":
        kpts = " ".join(f"{x / size:.6f} {y / size:.6f} 2" for x, y in s.poly[:3])
        return f"{s.cls} {box} {kpts}"
    return f"{s.cls} {box}"


def _rng(seed: int, task: str, split: str, i: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(task.encode()), zlib.crc32(split.encode()), i])


def make_task_data(
    out: str | Path, task: str, n_train: int = 4, n_val: int = 2, imgsz: int = 64, seed: int = 0
) -> Path:
    """Write a tiny dataset for ``task`` under ``out``.

    Args:
        out: dataset folder (created; existing files of the same names are overwritten).
        task: one of :data:`TASKS`.
        n_train, n_val: images per split (classify: per split, spread over the two classes).
        imgsz: image side in pixels.
        seed: changes every image.

    Returns:
        What ``data=`` takes: the ``data.yaml`` path, or for classify the dataset folder.

    Raises:
        ValueError: unknown task, or fewer than 2 images in a split (classify needs one per class).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if min(n_train, n_val) < 2:
        raise ValueError(f"need at least 2 images per split, got n_train={n_train} n_val={n_val}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.yaml").unlink(missing_ok=True)
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            rng = _rng(seed, task, split, i)
            classes = [i % 2] if task == "classify" else [i % 2, *([1 - i % 2] if i % 3 == 2 else [])]
            img, shapes = _scene(rng, imgsz, classes)
            name = f"{i:06d}.png"
            if task == "classify":
                folder = out / split / NAMES[classes[0]]
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / name), img, PNG)
                continue
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / "images" / split / name), img, PNG)
            if task == "semantic":
                mask = np.zeros((imgsz, imgsz), np.uint8)
                for s in shapes:
                    cv2.fillPoly(mask, [np.round(s.poly).astype(np.int32)], s.cls + 1)
                _write(out / "masks" / split / name, mask)
            elif task == "depth":
                ramp = np.linspace(5000, 2500, imgsz, dtype=np.float64)[:, None].repeat(imgsz, 1)  # far at the top
                for s in shapes:
                    near = np.zeros((imgsz, imgsz), np.uint8)
                    cv2.fillPoly(near, [np.round(s.poly).astype(np.int32)], 1)
                    ramp[near > 0] = rng.uniform(800, 1800)
                _write(out / "depth" / split / name, ramp.astype(np.uint16))
            else:
                lines = [_label_line(task, s, imgsz) for s in shapes]
                (out / "labels" / split).mkdir(parents=True, exist_ok=True)
                (out / "labels" / split / f"{i:06d}.txt").write_text("\n".join(lines) + "\n")
    if task == "classify":
        (out / ".complete").write_text("")
        return out
    return _write_yaml(out, task)


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), array, PNG)


def _write_yaml(out: Path, task: str) -> Path:
    import yaml

    names = dict(enumerate(NAMES))
    data: dict = {"path": str(out.resolve()), "train": "images/train", "val": "images/val"}
    if task == "semantic":
        data["masks_dir"] = "masks"
        names = {0: "background", **{k + 1: v for k, v in names.items()}}
    if task == "depth":
        names = {0: "depth"}
        data["depth_scale"] = 1000
    if task == "pose":
        data["kpt_shape"] = [3, 3]
        data["flip_idx"] = [0, 1, 2]
    data["names"] = names
    path = out / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=[*TASKS, "all"], help="which dataset; all: one folder per task")
    p.add_argument("--out", required=True, help="dataset folder (with --task all: the parent of one folder per task)")
    p.add_argument("--train", type=int, default=4, help="training images (default 4)")
    p.add_argument("--val", type=int, default=2, help="validation images (default 2)")
    p.add_argument("--imgsz", type=int, default=64, help="image side in pixels (default 64)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    for task in TASKS if a.task == "all" else (a.task,):
        out = Path(a.out) / task if a.task == "all" else Path(a.out)
        data = make_task_data(out, task, a.train, a.val, a.imgsz, a.seed)
        print(f"{task}: data={data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
