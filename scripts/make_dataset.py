#!/usr/bin/env python3
"""Deterministic synthetic detection datasets in related domains, in Ultralytics YOLO format.

- ``S``, the source world (pretraining, a small COCO of its own): 10 classes (circle, square, triangle, pentagon,
  hexagon, diamond, star, cross, arrow, semicircle) in warm, earthy and neutral palettes, on five background styles
  (linear and radial gradients, flat, soft checkerboards, blotches), 1-8 objects of 6-50 % of the image side with
  heavier occlusion.
- ``N``, the near target: 4 classes S never shows (ring, crescent, trapezoid, chevron) in S's visual world.
- ``B``, the far target: stars, crosses, rings and hexagons in a cool palette (blues, cyans, greens, purples) on
  striped, noisy textures that S never shows.
- ``A``: circles, squares and triangles in a warm palette on smooth gradients (the small from-scratch benchmark).

All come out of the same renderer and share their visual primitives (filled polygons with an outline, anti-aliased
edges, the same clutter), so features learnt on S help on N and B, but classes and appearance differ.

Every image gets 1-6 objects with random size (8-38 % of the image side), position, rotation, aspect ratio, colour
jitter, outline and shading; objects may partially occlude earlier ones (boxes stay the whole object, the renderer
keeps at least roughly half of each object visible). Clutter that is *not* a labelled class is drawn under and over the
objects: lines and polylines, small blobs and specks, arcs, and pixel noise. Colour never identifies the class: every
class draws from the whole palette of its domain, so a model has to learn shapes.

Determinism: each image is drawn from its own ``numpy.random.Generator`` seeded with
``(seed, domain, split, index)`` and rendered with OpenCV, and PNGs are encoded with fixed settings, so the same
arguments give byte-identical files (on the same OpenCV/numpy versions), a larger ``--train`` only appends images,
and a different ``--seed`` gives different data.

Layout written under ``--out`` (``path:`` is left out of data.yaml, so Ultralytics resolves ``train``/``val``
against the YAML's folder)::

    OUT/images/{train,val}/000000.png
    OUT/labels/{train,val}/000000.txt   # one "class cx cy w h" line per object, normalised to [0, 1]
    OUT/data.yaml                        # written last: its presence means the dataset is complete

Examples:
    python scripts/make_dataset.py --domain A --out benchmarks/work/data/A --seed 0
    python scripts/make_dataset.py --domain S --out benchmarks/work/data/S --train 2000 --val 200
    python scripts/make_dataset.py --domain B --out /tmp/B --train 64 --val 16 --imgsz 96 --seed 1

    >>> import sys; sys.path.insert(0, "scripts")   # scripts/ is not a package
    >>> from make_dataset import make_dataset
    >>> make_dataset("/tmp/A", "A", n_train=32, n_val=8, imgsz=96, seed=0)
    PosixPath('/tmp/A/data.yaml')
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_TRAIN = 192  # 12 batches of 16: a yolo26n epoch (train + val) at imgsz 128 takes ~6-8 s on one CPU core
DEFAULT_VAL = 64
DEFAULT_IMGSZ = 128
DEFAULT_SEED = 0
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 6]


@dataclass(frozen=True)
class Domain:
    """What distinguishes a domain: its classes, its object palette and its background style."""

    key: str
    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]  # object fill colours, RGB
    background: str  # "gradient", "texture", or "mixed" (one of MIXED_BACKGROUNDS drawn per image)
    bg_palette: tuple[tuple[int, int, int], ...]  # background base colours, RGB
    size_range: tuple[float, float] = (0.08, 0.38)  # object size (longest box side) as a fraction of the image side
    max_objects: int = 6
    max_overlap: float = 0.45  # at most this fraction of an earlier object's box may be covered by a later one's


DOMAINS = {
    "A": Domain(
        key="A",
        names=("circle", "square", "triangle"),
        palette=((220, 50, 40), (240, 130, 30), (235, 200, 40), (200, 70, 110), (160, 60, 30), (250, 160, 120)),
        background="gradient",
        bg_palette=((70, 70, 80), (130, 120, 110), (40, 50, 60), (180, 175, 160), (90, 110, 100), (20, 25, 30)),
    ),
    "B": Domain(
        key="B",
        names=("star", "cross", "ring", "hexagon"),
        palette=((40, 90, 220), (30, 170, 200), (60, 190, 110), (130, 70, 200), (20, 120, 120), (150, 200, 240)),
        background="texture",
        bg_palette=((120, 100, 90), (60, 60, 60), (170, 160, 140), (90, 80, 110), (40, 40, 30), (200, 190, 190)),
    ),
}
# The source world S (pretraining) and the near target N (new classes, same visual world) share one look: warm,
# earthy and neutral palettes on five background styles. Blues, cyans, greens and purples, and B's striped noisy
# texture, never appear in S, so B stays a far target for a checkpoint pretrained on S.
_WORLD_PALETTE = (
    (220, 50, 40),
    (240, 130, 30),
    (235, 200, 40),
    (200, 70, 110),
    (160, 60, 30),
    (250, 160, 120),
    (240, 238, 228),
    (35, 30, 30),
    (150, 140, 60),
    (120, 40, 60),
    (255, 215, 150),
    (180, 100, 60),
)
_WORLD_BACKGROUNDS = (
    (70, 70, 80),
    (130, 120, 110),
    (40, 50, 60),
    (180, 175, 160),
    (90, 110, 100),
    (20, 25, 30),
    (200, 190, 170),
    (60, 45, 40),
    (110, 100, 90),
    (150, 150, 150),
    (95, 80, 60),
    (225, 215, 200),
)
MIXED_BACKGROUNDS = ("gradient", "flat", "radial", "checker", "blotch")
DOMAINS["S"] = Domain(
    key="S",
    names=("circle", "square", "triangle", "pentagon", "hexagon", "diamond", "star", "cross", "arrow", "semicircle"),
    palette=_WORLD_PALETTE,
    background="mixed",
    bg_palette=_WORLD_BACKGROUNDS,
    size_range=(0.06, 0.5),
    max_objects=8,
    max_overlap=0.55,
)
DOMAINS["N"] = Domain(
    key="N",
    names=("ring", "crescent", "trapezoid", "chevron"),
    palette=_WORLD_PALETTE,
    background="mixed",
    bg_palette=_WORLD_BACKGROUNDS,
    size_range=(0.06, 0.5),
    max_objects=8,
    max_overlap=0.55,
)
SPLITS = {"train": 0, "val": 1}


# ------------------------------------------------------------------------------------------------------- shapes
def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate (N, 2) points about the origin by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _regular(n: int, angle: float) -> np.ndarray:
    """Unit regular n-gon (circumradius 1) centred at the origin."""
    t = angle + np.arange(n) * 2 * math.pi / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def shape_outline(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Unit-size outline(s) of a class, randomly rotated and stretched, as polygons centred near the origin.

    Most shapes are one filled polygon; a ring is an outer and an inner polygon (the inner one is cut out).

    Args:
        name: class name of either domain.
        rng: the image's generator.

    Returns:
        Polygons as float (N, 2) arrays; the largest extent is about 1 (scaled to the object size later).
    """
    angle = rng.uniform(0, 2 * math.pi)
    stretch = np.array([1.0, rng.uniform(0.75, 1.0)])  # mild anisotropy: not every object is perfectly regular
    if name == "circle":
        return [_rotate(_regular(48, 0.0) * stretch, angle)]
    if name == "square":
        return [_rotate(_regular(4, math.pi / 4) * stretch / math.sqrt(2) * 1.3, angle)]
    if name == "triangle":
        return [_rotate(_regular(3, -math.pi / 2) * stretch, angle)]
    if name == "hexagon":
        return [_rotate(_regular(6, 0.0) * stretch, angle)]
    if name == "star":
        inner = rng.uniform(0.38, 0.5)
        pts = _regular(10, -math.pi / 2) * np.where(np.arange(10) % 2 == 0, 1.0, inner)[:, None]
        return [_rotate(pts * stretch, angle)]
    if name == "cross":
        a = rng.uniform(0.22, 0.34)  # half thickness of the arms
        pts = (
            np.array(
                [
                    [-a, -1],
                    [a, -1],
                    [a, -a],
                    [1, -a],
                    [1, a],
                    [a, a],
                    [a, 1],
                    [-a, 1],
                    [-a, a],
                    [-1, a],
                    [-1, -a],
                    [-a, -a],
                ]
            )
            * 0.85
        )
        return [_rotate(pts * stretch, angle)]
    if name == "ring":
        inner = rng.uniform(0.45, 0.65)
        outer = _regular(48, 0.0) * stretch
        return [_rotate(outer, angle), _rotate(outer * inner, angle)]
    if name == "pentagon":
        return [_rotate(_regular(5, -math.pi / 2) * stretch, angle)]
    if name == "diamond":  # a rhombus: clearly longer than wide, unlike a rotated square
        return [_rotate(np.array([[0, -1], [0.55, 0], [0, 1], [-0.55, 0]]) * stretch, angle)]
    if name == "arrow":
        w, head = rng.uniform(0.16, 0.26), rng.uniform(0.4, 0.55)
        pts = np.array(
            [
                [-1, -w],
                [1 - head, -w],
                [1 - head, -2.2 * w - 0.1],
                [1, 0],
                [1 - head, 2.2 * w + 0.1],
                [1 - head, w],
                [-1, w],
            ]
        )
        return [_rotate(pts * stretch, angle)]
    if name == "semicircle":
        t = np.linspace(0, math.pi, 25)
        pts = np.stack([np.cos(t), np.sin(t) - 0.5], axis=1)
        return [_rotate(pts * stretch, angle)]
    if name == "crescent":  # the unit disc with an offset disc bitten out of its right side, as one polygon
        a = rng.uniform(0.3, 0.42) * math.pi  # the two circles cross at angles +-a on the unit circle
        d = rng.uniform(0.25, 0.55)  # centre of the bite
        r = math.hypot(math.cos(a) - d, math.sin(a))
        outer_t = np.linspace(a, 2 * math.pi - a, 32)
        phi0, phi1 = math.atan2(-math.sin(a), math.cos(a) - d), math.atan2(math.sin(a), math.cos(a) - d)
        inner_t = np.linspace(phi0, phi1 - 2 * math.pi, 24)[1:-1]
        outer = np.stack([np.cos(outer_t), np.sin(outer_t)], axis=1)
        inner = np.stack([d + r * np.cos(inner_t), r * np.sin(inner_t)], axis=1)
        return [_rotate(np.concatenate([outer, inner]) * stretch, angle)]
    if name == "trapezoid":
        top = rng.uniform(0.3, 0.6)
        pts = np.array([[-1, 0.6], [1, 0.6], [top, -0.6], [-top, -0.6]])
        return [_rotate(pts * stretch, angle)]
    if name == "chevron":  # a thick V
        a = rng.uniform(0.3, 0.45)  # arm thickness
        pts = np.array([[-1, -0.7], [-1 + a, -0.7], [0, 0.7 - 1.4 * a], [1 - a, -0.7], [1, -0.7], [0, 0.7]])
        return [_rotate(pts * stretch, angle)]
    raise ValueError(f"unknown shape {name!r}")


# --------------------------------------------------------------------------------------------------- rendering
def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, amount: float) -> np.ndarray:
    """A palette colour with per-channel jitter and a brightness change, as float RGB in [0, 255]."""
    c = np.asarray(rgb, dtype=np.float64) * rng.uniform(0.8, 1.15) + rng.normal(0, amount, 3)
    return np.clip(c, 0, 255)


def _bgr(rgb: np.ndarray) -> tuple[int, int, int]:
    """OpenCV colour tuple (BGR ints) from float RGB."""
    r, g, b = (int(round(float(x))) for x in rgb)
    return b, g, r


def _background(domain: Domain, size: int, rng: np.random.Generator) -> np.ndarray:
    """The image background (uint8 BGR, size x size): a gradient (A) or a noisy texture (B)."""
    base = [_jitter(domain.bg_palette[i], rng, 20) for i in rng.choice(len(domain.bg_palette), 2, replace=False)]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / max(size - 1, 1)
    style = domain.background
    if style == "mixed":
        style = MIXED_BACKGROUNDS[int(rng.integers(len(MIXED_BACKGROUNDS)))]
    if style in ("flat", "radial", "checker", "blotch"):
        if style == "flat":
            t = np.zeros_like(xx)
        elif style == "radial":
            c = rng.uniform(0, 1, 2)
            t = np.clip(np.hypot(xx - c[0], yy - c[1]) / rng.uniform(0.5, 1.2), 0, 1)
        elif style == "checker":
            n = int(rng.integers(3, 9))
            t = ((np.floor(xx * n) + np.floor(yy * n)) % 2) * rng.uniform(0.25, 0.6)
            t = cv2.GaussianBlur(t, (0, 0), size / n / 6)
        else:
            cells = int(rng.integers(2, 5))
            t = cv2.resize(rng.uniform(0, 1, (cells, cells)), (size, size), interpolation=cv2.INTER_CUBIC)
            t = np.clip(t, 0, 1)
        img = base[0][None, None, :] * (1 - t[..., None]) + base[1][None, None, :] * t[..., None]
        img += rng.normal(0, rng.uniform(1.0, 5.0), img.shape)
    elif style == "gradient":
        theta = rng.uniform(0, 2 * math.pi)
        t = np.cos(theta) * xx + np.sin(theta) * yy
        t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
        img = base[0][None, None, :] * (1 - t[..., None]) + base[1][None, None, :] * t[..., None]
        img += rng.normal(0, 3.0, img.shape)  # faint sensor noise
    else:
        # low-frequency blotches + a random oriented stripe/grain pattern + strong per-pixel noise
        cells = int(rng.integers(3, 7))
        low = cv2.resize(rng.uniform(0, 1, (cells, cells)), (size, size), interpolation=cv2.INTER_CUBIC)
        theta = rng.uniform(0, math.pi)
        freq = rng.uniform(6, 16)
        stripes = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (np.cos(theta) * xx + np.sin(theta) * yy))
        t = np.clip(0.65 * low + 0.35 * stripes * rng.uniform(0.3, 1.0), 0, 1)
        img = base[0][None, None, :] * (1 - t[..., None]) + base[1][None, None, :] * t[..., None]
        img += rng.normal(0, 12.0, img.shape)
    return np.ascontiguousarray(np.clip(img, 0, 255)[..., ::-1]).astype(np.uint8)


def _clutter(img: np.ndarray, domain: Domain, rng: np.random.Generator, count: int, max_r: float) -> None:
    """Draw ``count`` unlabelled distractors: lines, polylines, small blobs, specks and arcs (in place)."""
    size = img.shape[0]
    colours = list(domain.palette) + list(domain.bg_palette)
    for _ in range(count):
        colour = _bgr(_jitter(colours[int(rng.integers(len(colours)))], rng, 25))
        kind = int(rng.integers(5))
        if kind == 0:  # straight line
            p = rng.integers(0, size, 4)
            cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, int(rng.integers(1, 3)), cv2.LINE_AA)
        elif kind == 1:  # polyline (scribble)
            pts = np.cumsum(rng.normal(0, size * 0.12, (int(rng.integers(3, 6)), 2)), axis=0) + rng.uniform(0, size, 2)
            cv2.polylines(img, [np.round(pts).astype(np.int32)], False, colour, 1, cv2.LINE_AA)
        elif kind == 2:  # small filled blob (well below the smallest object)
            r = max(1, int(round(rng.uniform(0.01, max_r) * size)))
            c = rng.integers(0, size, 2)
            cv2.ellipse(
                img,
                (int(c[0]), int(c[1])),
                (r, max(1, int(r * rng.uniform(0.4, 1.0)))),
                float(rng.uniform(0, 180)),
                0,
                360,
                colour,
                -1,
                cv2.LINE_AA,
            )
        elif kind == 3:  # a few specks
            for p in rng.integers(0, size, (int(rng.integers(3, 10)), 2)):
                cv2.circle(img, (int(p[0]), int(p[1])), 1, colour, -1, cv2.LINE_AA)
        else:  # open arc: a curve, never a closed ring
            r = max(2, int(round(rng.uniform(0.05, 0.2) * size)))
            c = rng.integers(0, size, 2)
            start = float(rng.uniform(0, 360))
            cv2.ellipse(
                img,
                (int(c[0]), int(c[1])),
                (r, r),
                0.0,
                start,
                start + float(rng.uniform(60, 200)),
                colour,
                1,
                cv2.LINE_AA,
            )


def _overlap(box: np.ndarray, others: list[np.ndarray]) -> float:
    """Largest fraction of an earlier box covered by ``box`` (or of ``box`` covered by an earlier box)."""
    worst = 0.0
    for o in others:
        iw = min(box[2], o[2]) - max(box[0], o[0])
        ih = min(box[3], o[3]) - max(box[1], o[1])
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        smaller = min((box[2] - box[0]) * (box[3] - box[1]), (o[2] - o[0]) * (o[3] - o[1]))
        worst = max(worst, inter / smaller)
    return worst


def render_image(domain: Domain, size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple]]:
    """Render one image and its labels.

    Args:
        domain: the domain to draw from.
        size: image side in pixels (square images).
        rng: the image's own generator (the image is a pure function of it).

    Returns:
        (image, labels): uint8 BGR image, and (class, cx, cy, w, h) tuples normalised to [0, 1].
    """
    img = _background(domain, size, rng)
    _clutter(img, domain, rng, int(rng.integers(2, 6)), domain.size_range[0] * 0.45)  # under the objects
    boxes: list[np.ndarray] = []
    labels: list[tuple] = []
    n_objects = int(rng.integers(1, domain.max_objects + 1))
    for _ in range(n_objects):
        cls = int(rng.integers(len(domain.names)))
        for _attempt in range(20):  # rejection sampling for a placement that keeps earlier objects visible
            extent = rng.uniform(*domain.size_range) * size
            polys = [p * extent / 2 for p in shape_outline(domain.names[cls], rng)]
            lo, hi = polys[0].min(axis=0), polys[0].max(axis=0)
            if np.any(hi - lo > size - 2):
                continue
            centre = rng.uniform(1 - lo, size - 1 - hi)
            polys = [p + centre for p in polys]
            box = np.concatenate([polys[0].min(axis=0), polys[0].max(axis=0)])
            if _overlap(box, boxes) <= domain.max_overlap:
                break
        else:
            continue  # no room left in this image for another object
        fill = _jitter(domain.palette[int(rng.integers(len(domain.palette)))], rng, 18)
        behind = img.copy() if len(polys) > 1 else None
        outer = np.round(polys[0] * 16).astype(np.int32)  # 4 fractional bits: sub-pixel anti-aliased edges
        cv2.fillPoly(img, [outer], _bgr(fill), cv2.LINE_AA, shift=4)
        if rng.uniform() < 0.5:  # shading: a lighter or darker inner copy, like a highlight
            inner = polys[0] - centre
            inner = inner * rng.uniform(0.45, 0.75) + centre + rng.normal(0, extent * 0.04, 2)
            shade = np.clip(fill * rng.uniform(0.7, 1.3), 0, 255)
            cv2.fillPoly(img, [np.round(inner * 16).astype(np.int32)], _bgr(shade), cv2.LINE_AA, shift=4)
        rings = [outer]
        if behind is not None:  # ring: cut the hole out, showing what was behind the ring
            rings.append(np.round(polys[1] * 16).astype(np.int32))
            hole = np.zeros(img.shape[:2], np.uint8)
            cv2.fillPoly(hole, [rings[1]], 255, cv2.LINE_AA, shift=4)
            a = hole[..., None].astype(np.float64) / 255
            img[:] = np.round(img * (1 - a) + behind * a).astype(np.uint8)
        if rng.uniform() < 0.6:  # outline
            edge = _bgr(np.clip(fill * rng.uniform(0.3, 0.7), 0, 255))
            cv2.polylines(img, rings, True, edge, 1, cv2.LINE_AA, shift=4)
        boxes.append(box)
        x0, y0 = np.clip(box[:2], 0, size)
        x1, y1 = np.clip(box[2:], 0, size)
        labels.append((cls, (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size))
    _clutter(img, domain, rng, int(rng.integers(0, 4)), domain.size_range[0] * 0.3)  # over the objects
    if rng.uniform() < 0.5:  # global noise or blur: camera-like degradation
        if rng.uniform() < 0.5:
            img = cv2.GaussianBlur(img, (3, 3), float(rng.uniform(0.3, 1.0)))
        else:
            img = np.clip(img + rng.normal(0, rng.uniform(3, 10), img.shape), 0, 255).astype(np.uint8)
    return img, labels


# ------------------------------------------------------------------------------------------------------ dataset
def image_rng(seed: int, domain: str, split: str, index: int) -> np.random.Generator:
    """The generator of one image: a pure function of (seed, domain, split, index)."""
    return np.random.default_rng([int(seed), ord(domain), SPLITS[split], int(index)])


def data_yaml_text(names: tuple[str, ...], domain: str, seed: int, imgsz: int) -> str:
    """The data.yaml content (fixed formatting, no ``path:`` key)."""
    lines = [
        f"# Synthetic domain {domain} (scripts/make_dataset.py, seed {seed}, {imgsz}x{imgsz} images).",
        "# No `path:` key: Ultralytics resolves train/val against this file's folder.",
        "train: images/train",
        "val: images/val",
        f"nc: {len(names)}",
        "names:",
        *(f"  {i}: {n}" for i, n in enumerate(names)),
    ]
    return "\n".join(lines) + "\n"


def make_dataset(
    out: str | Path,
    domain: str = "A",
    n_train: int = DEFAULT_TRAIN,
    n_val: int = DEFAULT_VAL,
    imgsz: int = DEFAULT_IMGSZ,
    seed: int = DEFAULT_SEED,
) -> Path:
    """Write a synthetic detection dataset in YOLO format and return its data.yaml.

    Existing ``images/{train,val}``, ``labels/{train,val}``, label caches and ``data.yaml`` under ``out`` are
    replaced; nothing else in ``out`` is touched.

    Args:
        out: output folder (created if needed).
        domain: ``"S"`` (source world), ``"N"`` (near target), ``"B"`` (far target) or ``"A"``.
        n_train: number of training images (>= 1).
        n_val: number of validation images (>= 1).
        imgsz: image side in pixels (>= 32).
        seed: dataset seed; the same arguments always give byte-identical files.

    Returns:
        Path of the written data.yaml.

    Raises:
        ValueError: on an unknown domain or out-of-range sizes.
    """
    domain = str(domain).upper()
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {sorted(DOMAINS)}, got {domain!r}")
    if n_train < 1 or n_val < 1:
        raise ValueError("n_train and n_val must be >= 1")
    if imgsz < 32:
        raise ValueError("imgsz must be >= 32")
    spec = DOMAINS[domain]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.yaml").unlink(missing_ok=True)  # written last: its absence marks an incomplete dataset
    for split, n in (("train", n_train), ("val", n_val)):
        img_dir, lbl_dir = out / "images" / split, out / "labels" / split
        for d in (img_dir, lbl_dir):
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
        (out / "labels" / f"{split}.cache").unlink(missing_ok=True)
        for i in range(n):
            img, labels = render_image(spec, imgsz, image_rng(seed, domain, split, i))
            ok, buf = cv2.imencode(".png", img, PNG_PARAMS)
            if not ok:
                raise RuntimeError(f"could not encode image {i} of {split}")
            (img_dir / f"{i:06d}.png").write_bytes(buf.tobytes())
            text = "".join(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for c, cx, cy, w, h in labels)
            (lbl_dir / f"{i:06d}.txt").write_text(text)
    yaml_path = out / "data.yaml"
    yaml_path.write_text(data_yaml_text(spec.names, domain, seed, imgsz))
    return yaml_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--domain",
        required=True,
        type=str.upper,
        choices=sorted(DOMAINS),
        help="S: source world (10 classes); N: near target (4 new classes, same look); "
        "B: far target (cool palette, noisy textures); A: circle/square/triangle on gradients",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder (gets images/, labels/, data.yaml)")
    p.add_argument("--train", type=int, default=DEFAULT_TRAIN, help=f"training images (default {DEFAULT_TRAIN})")
    p.add_argument("--val", type=int, default=DEFAULT_VAL, help=f"validation images (default {DEFAULT_VAL})")
    p.add_argument("--imgsz", type=int, default=DEFAULT_IMGSZ, help=f"image side in pixels (default {DEFAULT_IMGSZ})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"dataset seed (default {DEFAULT_SEED})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate one dataset and print the data.yaml path."""
    args = parse_args(argv)
    try:
        path = make_dataset(args.out, args.domain, args.train, args.val, args.imgsz, args.seed)
    except ValueError as e:
        print(f"make_dataset: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
