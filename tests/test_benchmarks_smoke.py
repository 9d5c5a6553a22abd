"""The training benchmarks (benchmarks/from_scratch.py, benchmarks/transfer.py): their --smoke mode end to end, and
the shared helpers that decide what they report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, yolo_env

BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
import common
import transfer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_smoke(script: str, workdir: Path) -> subprocess.CompletedProcess:
    """Run one benchmark's --smoke mode in a subprocess with the tests' offline environment."""
    env = {**yolo_env(), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(BENCH / script), "--smoke", "--workdir", str(workdir)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 5_000 < len(data) < 200_000, f"{path.name}: {len(data)} bytes"


@pytest.fixture(scope="module")
def md_before():
    return (ROOT / "BENCHMARKS.md").read_bytes()


@pytest.mark.training
def test_from_scratch_smoke(tmp_path, md_before):
    r = run_smoke("from_scratch.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = tmp_path / "results"
    check_png(res / "from_scratch.png")
    md = (res / "from_scratch.md").read_text()
    assert "| Ultralytics defaults (no `lr_*` key) | AdamW" in md
    assert "| `warmup_cosine` | SGD 0.01 |" in md
    assert "python benchmarks/from_scratch.py --smoke" in md and "ultralytics 8.4" in md
    assert "`finetune` is left out" in md
    data = json.loads((res / "from_scratch.json").read_text())
    assert sorted(r["label"] for r in data["runs"]) == ["defaults", "warmup_cosine"]
    for run in data["runs"]:
        assert len(run["map"]) == 1 and 0 <= run["map"][0] <= 1 and run["train_loss"][0] > 0 and run["wall_s"] > 0
    assert (tmp_path / "datasets").is_dir() and (tmp_path / "from_scratch" / "runs" / "defaults_s0").is_dir()
    assert not (tmp_path / "from_scratch" / "runs" / "defaults_s0" / "lr.csv").exists()  # native: plugin inert
    assert (tmp_path / "from_scratch" / "runs" / "warmup_cosine_s0" / "lr.csv").exists()
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


@pytest.mark.training
def test_transfer_smoke(tmp_path, md_before):
    r = run_smoke("transfer.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = tmp_path / "results"
    check_png(res / "transfer.png")
    md = (res / "transfer.md").read_text()
    assert "| native defaults from the A checkpoint | AdamW" in md
    preset = yaml.safe_load((ROOT / "configs" / "finetune.yaml").read_text())
    assert f"| `finetune` preset (lr_unfreeze_epoch=1) | {preset['optimizer']} {preset['lr0']:g} |" in md
    assert "Pretraining:" in md and "python benchmarks/transfer.py --smoke" in md
    data = json.loads((res / "transfer.json").read_text())
    assert sorted(r["label"] for r in data["runs"]) == ["finetune", "native"]
    assert all(len(r["map"]) == 2 for r in data["runs"])
    assert len(data["pretrain"]["map"]) == 1 and data["pretrain"]["cached"] is False
    ft = tmp_path / "transfer" / "runs" / "finetune_s0" / "lr.csv"
    assert ft.exists() and "backbone" in ft.read_text().splitlines()[0]  # the preset split the backbone groups
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


@pytest.mark.training
@pytest.mark.parametrize("script", ["from_scratch.py", "transfer.py"])
def test_smoke_refuses_to_write_markdown(script):
    r = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--write-md"],
        capture_output=True,
        text=True,
        env={**yolo_env(), "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert r.returncode == 2 and "--smoke never writes" in r.stderr


def test_replace_block_touches_only_its_block(tmp_path):
    md = tmp_path / "B.md"
    md.write_text("# T\n\n<!-- a:start -->\nold a\n<!-- a:end -->\nmiddle\n<!-- b:start -->\nold b\n<!-- b:end -->\n")
    common.replace_block(md, "a", "new a\n| x |")
    assert md.read_text() == (
        "# T\n\n<!-- a:start -->\nnew a\n| x |\n<!-- a:end -->\nmiddle\n<!-- b:start -->\nold b\n<!-- b:end -->\n"
    )
    with pytest.raises(ValueError, match="c:start"):
        common.replace_block(md, "c", "x")


def test_real_benchmarks_md_has_both_blocks():
    text = (ROOT / "BENCHMARKS.md").read_text()
    for key in ("scratch", "transfer"):
        assert text.count(f"<!-- {key}:start -->") == 1 and text.count(f"<!-- {key}:end -->") == 1


def test_statistics_helpers():
    assert common.epochs_to_reach([0.0, 0.1, 0.3, 0.2], 0.25) == 3
    assert common.epochs_to_reach([0.0, 0.1], 0.25) is None
    assert common.epochs_to_reach([0.3], 0.3) == 1
    mean, std = common.mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    assert common.fmt_ms([0.5]) == "0.5000" and common.fmt_ms([1.0, 3.0], 1) == "2.0 ± 1.4"
    assert common.mean_curve([[0, 1], [2, 3]]) == ([1.0, 2.0], [0, 1], [2, 3])
    rows = [
        {
            "epoch": 1.0,
            "time": 1.0,
            "train/box_loss": 1.5,
            "train/cls_loss": 2.0,
            "metrics/mAP50(B)": 0.2,
            "metrics/mAP50-95(B)": 0.1,
            "val/box_loss": 9.0,
        }
    ]
    assert common.curves_from_rows(rows) == {"epoch": [1], "map": [0.1], "map50": [0.2], "train_loss": [3.5]}


def test_dataset_cache_reuses_and_regenerates(tmp_path):
    spec = common.DatasetSpec("A", 2, 1, 64, seed=0)
    path = common.ensure_dataset(spec, tmp_path)
    stamp = path.parent / "generator.sha256"
    first = path.stat().st_mtime_ns
    assert common.ensure_dataset(spec, tmp_path) == path and path.stat().st_mtime_ns == first  # reused
    stamp.write_text("stale\n")  # an older generator made it: regenerate
    assert common.ensure_dataset(spec, tmp_path) == path and stamp.read_text().strip() != "stale"


def test_transfer_unfreeze_default_respects_preset_and_run_length():
    assert transfer.default_unfreeze(20, 3) == 3  # the preset's own value when the run is long enough
    assert transfer.default_unfreeze(20, 1) == 1
    assert transfer.default_unfreeze(10, 3) == 2  # capped at a fifth of a short run
    assert transfer.default_unfreeze(2, 3) == 1 and transfer.default_unfreeze(1, 3) == 0  # always < epochs
    assert transfer.default_unfreeze(20, 0) == 0  # a preset without freezing stays without
    assert transfer.preset_unfreeze() == yaml.safe_load(transfer.PRESET.read_text()).get("lr_unfreeze_epoch", 0)
