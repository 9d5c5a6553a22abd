"""The synthetic dataset generator (scripts/make_dataset.py): determinism, valid YOLO labels, two distinct domains,
and a dataset Ultralytics loads and trains on."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FAST, MODEL, ROOT, read_csv, yolo_env

SCRIPT = ROOT / "scripts" / "make_dataset.py"
TINY = dict(n_train=6, n_val=3, imgsz=64)


def load_generator():
    """scripts/make_dataset.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_dataset_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return load_generator()


def files(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def labels(root: Path, split: str) -> dict[str, list[list[float]]]:
    """Label rows per label file of a split."""
    out = {}
    for p in sorted((root / "labels" / split).glob("*.txt")):
        out[p.stem] = [[float(x) for x in line.split()] for line in p.read_text().splitlines() if line.strip()]
    return out


@pytest.mark.parametrize("domain", ["A", "B"])
def test_same_seed_gives_identical_bytes(gen, tmp_path, domain):
    a = gen.make_dataset(tmp_path / "one", domain, seed=3, **TINY)
    b = gen.make_dataset(tmp_path / "two", domain, seed=3, **TINY)
    fa, fb = files(a.parent), files(b.parent)
    assert len(fa) == 1 + 2 * (TINY["n_train"] + TINY["n_val"])  # data.yaml + an image and a label per sample
    assert fa == fb


def test_different_seed_gives_different_data(gen, tmp_path):
    a = files(gen.make_dataset(tmp_path / "s0", "A", seed=0, **TINY).parent)
    b = files(gen.make_dataset(tmp_path / "s1", "A", seed=1, **TINY).parent)
    assert a.keys() == b.keys()
    images = [k for k in a if k.startswith("images/")]
    assert all(a[k] != b[k] for k in images), "every image should change with the seed"
    assert any(a[k] != b[k] for k in a if k.startswith("labels/"))


def test_regenerating_in_place_replaces_old_files(gen, tmp_path):
    out = tmp_path / "d"
    gen.make_dataset(out, "B", n_train=5, n_val=2, imgsz=64, seed=0)
    gen.make_dataset(out, "B", n_train=2, n_val=1, imgsz=64, seed=0)
    assert len(list((out / "images" / "train").iterdir())) == 2
    assert len(list((out / "labels" / "val").iterdir())) == 1


def test_larger_dataset_extends_smaller_one(gen, tmp_path):
    small = files(gen.make_dataset(tmp_path / "small", "A", n_train=3, n_val=2, imgsz=64, seed=0).parent)
    large = files(gen.make_dataset(tmp_path / "large", "A", n_train=5, n_val=2, imgsz=64, seed=0).parent)
    shared = [k for k in small if k != "data.yaml"]
    assert all(small[k] == large[k] for k in shared)


@pytest.mark.parametrize("domain", ["A", "B", "S", "N"])
def test_labels_are_valid_yolo(gen, tmp_path, domain):
    import cv2

    yaml_path = gen.make_dataset(tmp_path / domain, domain, n_train=24, n_val=8, imgsz=96, seed=0)
    root = yaml_path.parent
    data = yaml.safe_load(yaml_path.read_text())
    assert "path" not in data and data["train"] == "images/train" and data["val"] == "images/val"
    names = data["names"]
    assert sorted(names) == list(range(len(names))) and data["nc"] == len(names)
    seen = set()
    for split, n in (("train", 24), ("val", 8)):
        images = sorted((root / "images" / split).glob("*.png"))
        rows = labels(root, split)
        assert len(images) == n and [p.stem for p in images] == sorted(rows)
        for stem, boxes in rows.items():
            assert 1 <= len(boxes) <= gen.DOMAINS[domain].max_objects, f"{split}/{stem}: {len(boxes)} objects"
            for c, cx, cy, w, h in boxes:
                assert c == int(c) and 0 <= c < len(names)
                seen.add(int(c))
                assert 0 < w <= 1 and 0 < h <= 1
                assert -1e-6 <= cx - w / 2 and cx + w / 2 <= 1 + 1e-6
                assert -1e-6 <= cy - h / 2 and cy + h / 2 <= 1 + 1e-6
                assert max(w, h) >= gen.DOMAINS[domain].size_range[0] * 0.5  # no degenerate specks labelled as objects
        img = cv2.imread(str(images[0]))
        assert img.shape == (96, 96, 3)
    assert seen == set(range(len(names))), "every class should occur in 32 images"


def test_domains_have_different_classes_and_look(gen, tmp_path):
    import cv2
    import numpy as np

    ya = yaml.safe_load(gen.make_dataset(tmp_path / "A", "A", seed=0, **TINY).read_text())
    yb = yaml.safe_load(gen.make_dataset(tmp_path / "B", "B", seed=0, **TINY).read_text())
    assert set(ya["names"].values()).isdisjoint(yb["names"].values())
    assert len(yb["names"]) != len(ya["names"]) or ya["names"] != yb["names"]

    # appearance: the domains' palettes differ (warm vs cool); the mean red-minus-blue of object colours says so
    def warmth(palette):
        return float(np.mean([r - b for r, g, b in palette]))

    assert warmth(gen.DOMAINS["A"].palette) > 50 > -50 > warmth(gen.DOMAINS["B"].palette)

    # and the rendered images differ too: B's textured backgrounds are noisier pixel to pixel than A's gradients
    def roughness(root):
        vals = []
        for p in sorted((root / "images" / "train").glob("*.png")):
            g = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(float)
            vals.append(np.abs(np.diff(g, axis=1)).mean())
        return float(np.mean(vals))

    assert roughness(tmp_path / "B") > roughness(tmp_path / "A")


def test_source_world_near_and_far_targets(gen, tmp_path):
    """S is rich (>= 10 classes, several background styles); N has only classes S never shows, in S's look; B (far)
    uses a palette and a texture S never shows."""
    import cv2
    import numpy as np

    src, near, far = gen.DOMAINS["S"], gen.DOMAINS["N"], gen.DOMAINS["B"]
    assert len(src.names) >= 10 and set(near.names).isdisjoint(src.names)
    assert near.palette == src.palette and near.bg_palette == src.bg_palette and near.background == "mixed"
    assert set(far.palette).isdisjoint(src.palette) and far.background not in gen.MIXED_BACKGROUNDS
    # every S class shows up in a modest number of images
    ys = yaml.safe_load(gen.make_dataset(tmp_path / "S", "S", n_train=40, n_val=4, imgsz=64, seed=0).read_text())
    classes = {
        int(line.split()[0])
        for p in (tmp_path / "S" / "labels" / "train").glob("*.txt")
        for line in p.read_text().splitlines()
    }
    assert classes == set(range(len(ys["names"])))
    # the far target is visibly different: blue-dominant objects and rougher backgrounds than the source world
    yb = gen.make_dataset(tmp_path / "B", "B", n_train=16, n_val=2, imgsz=64, seed=0)

    def roughness(root):
        return float(
            np.mean(
                [
                    np.abs(np.diff(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(float), axis=1)).mean()
                    for p in sorted((root / "images" / "train").glob("*.png"))[:16]
                ]
            )
        )

    assert roughness(yb.parent) > roughness(tmp_path / "S")


def test_cli_writes_dataset_and_rejects_bad_input(tmp_path):
    out = tmp_path / "cli"
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--domain",
        "b",
        "--out",
        str(out),
        "--train",
        "3",
        "--val",
        "2",
        "--imgsz",
        "64",
        "--seed",
        "5",
    ]
    env = {**yolo_env(), "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == out / "data.yaml" and (out / "data.yaml").exists()
    assert len(list((out / "images" / "train").glob("*.png"))) == 3
    assert "star" in (out / "data.yaml").read_text()
    bad = subprocess.run([*cmd[:3], "C", *cmd[4:]], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode != 0 and "invalid choice" in bad.stderr
    small = subprocess.run([*cmd[:-4], "--imgsz", "8"], capture_output=True, text=True, env=env, timeout=120)
    assert small.returncode == 2 and "imgsz" in small.stderr


@pytest.mark.training
def test_ultralytics_loads_and_trains_on_it(gen, tmp_path):
    from ultralytics import YOLO
    from ultralytics.data.utils import check_det_dataset

    import yolo_lr  # noqa: F401

    yaml_path = gen.make_dataset(tmp_path / "A", "A", n_train=4, n_val=2, imgsz=64, seed=0)
    data = check_det_dataset(str(yaml_path))
    assert data["nc"] == 3 and list(data["names"].values()) == ["circle", "square", "triangle"]
    assert Path(data["train"]).is_dir() and Path(data["val"]).is_dir()
    model = YOLO(MODEL)
    model.train(**{**FAST, "data": str(yaml_path), "epochs": 1, "project": str(tmp_path / "runs"), "name": "t"})
    rows = read_csv(Path(model.trainer.save_dir) / "results.csv")
    assert len(rows) == 1 and "metrics/mAP50-95(B)" in {k.strip() for k in rows[0]}
    assert model.trainer.data["nc"] == 3
