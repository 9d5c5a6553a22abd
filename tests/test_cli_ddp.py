"""The stock `yolo` CLI with the plugin installed (startup hook), resume through it, and the DDP worker script."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from conftest import COCO8, MODEL, ROOT, Interrupt, interrupt_after, read_csv, venv_bin, yolo_env

pytestmark = pytest.mark.training

CLI_FAST = ["imgsz=64", "batch=1", "nbs=1", "workers=0", "device=cpu", "plots=False", "amp=False", "seed=0"]


def run_yolo(args: list[str], cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_bin("yolo"), *args], cwd=cwd, env=env or yolo_env(), capture_output=True, text=True, timeout=600
    )


def test_stock_cli_trains_a_preset_with_overrides(tmp_path):
    """`yolo train cfg=configs/warmup_cosine.yaml lr0=0.02`: command-line keys beat the preset's."""
    p = run_yolo(
        [
            "train",
            f"cfg={ROOT / 'configs' / 'warmup_cosine.yaml'}",
            f"model={MODEL}",
            f"data={COCO8}",
            "epochs=2",
            "lr0=0.02",
            f"project={tmp_path}",
            "name=cli",
            *CLI_FAST,
        ],
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "policy=cosine" in p.stdout + p.stderr
    rows = read_csv(tmp_path / "cli" / "lr.csv")
    nb, nw = 4, 4  # warmup_epochs=3 capped at epochs-1 = 1 epoch = 4 batches
    h = 2 - 1 / 4 - 1  # the cosine runs from the end of warmup to the last batch
    assert len(rows) == 2 * nb
    for r in rows:
        ni, e = int(r["iteration"]), int(r["epoch"])
        t = max(e + (ni - e * nb) / nb - 1, 0.0)
        target = 0.02 * (0.01 + 0.99 * (1 + math.cos(math.pi * t / h)) / 2)
        want_w = target * ni / nw if ni <= nw else target
        want_b = 0.1 + (target - 0.1) * ni / nw if ni <= nw else target
        assert float(r["lr/pg0(weight)"]) == pytest.approx(want_w, rel=1e-9, abs=1e-15)
        assert float(r["lr/pg2(bias)"]) == pytest.approx(want_b, rel=1e-9)


# Plateau on lr/pg0 (deterministic, falls every epoch under cosine, so every epoch after the first is bad in mode max):
# e0 best | e1 bad -> reduce, cooldown 1 (cut here, mid-cooldown) | e2 cooldown | e3 bad -> reduce.
# A resume that lost the cooldown would reduce after e2 instead, and epoch 3's LR would differ.
RESUME_KW = {
    "epochs": 4,
    "batch": 2,
    "nbs": 2,
    "optimizer": "SGD",
    "lr0": 0.02,
    "lrf": 0.01,
    "warmup_epochs": 0,
    "lr_policy": "cosine",
    "lr_plateau": True,
    "lr_plateau_metric": "lr/pg0",
    "lr_plateau_mode": "max",
    "lr_plateau_patience": 0,
    "lr_plateau_cooldown": 1,
    "lr_plateau_factor": 0.5,
}


def test_stock_cli_resumes_a_policy_run(train, tmp_path):
    """An in-process run interrupted after epoch 2 (plateau mid-cooldown), resumed by `yolo train resume=True`: the
    same LRs as the uninterrupted run."""
    full = train(name="full", **RESUME_KW)
    for s in full.steps:  # the setup: reduced after e1, not after e2 (cooldown); the floor is lr0*lrf
        t = s.epoch + (s.ni - 2 * s.epoch) / 2
        m = 0.01 + 0.99 * (1 + math.cos(math.pi * t / 3.5)) / 2
        assert s.lr["weight"][0] == pytest.approx(0.02 * max(m * [1, 1, 0.5, 0.5][s.epoch], min(m, 0.01)), rel=1e-9)
    with pytest.raises(Interrupt):
        train(name="cut", callbacks=interrupt_after(1), **RESUME_KW)
    last = tmp_path / "runs" / "cut" / "weights" / "last.pt"
    p = run_yolo(["train", "resume=True", f"model={last}"], cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Resuming training" in p.stdout + p.stderr
    a, b = read_csv(full.save_dir / "lr.csv"), read_csv(tmp_path / "runs" / "cut" / "lr.csv")
    assert len(a) == len(b) == 4 * full.nb == 8
    for x, y in zip(a, b):
        assert {k: float(v) for k, v in x.items()} == pytest.approx({k: float(v) for k, v in y.items()}, rel=1e-12)


def test_disable_switch_turns_the_startup_hook_off(tmp_path):
    code = "from ultralytics.utils import DEFAULT_CFG_DICT as d; print('lr_policy' in d)"
    on = subprocess.run([sys.executable, "-c", code], env=yolo_env(), capture_output=True, text=True, cwd=tmp_path)
    off = subprocess.run(
        [sys.executable, "-c", code],
        env={**yolo_env(), "YOLO_LR_DISABLE": "1"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert on.stdout.strip() == "True" and off.stdout.strip() == "False", (on, off)
    p = run_yolo(
        ["train", "lr_policy=cosine", f"data={COCO8}", *CLI_FAST],
        cwd=tmp_path,
        env={**yolo_env(), "YOLO_LR_DISABLE": "1"},
    )
    assert p.returncode != 0 and "'lr_policy' is not a valid YOLO argument" in p.stdout + p.stderr


def test_ddp_worker_script_recreates_the_policy(tmp_path):
    """Ultralytics' generated DDP script, run in a fresh interpreter with the startup hook OFF, still trains with the
    policy: unpickling the plugin's callbacks imports yolo_lr, which registers the keys before get_cfg runs."""
    pytest.importorskip("cloudpickle")
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils import callbacks
    from ultralytics.utils.dist import generate_ddp_file

    overrides = {
        "model": MODEL,
        "data": str(COCO8),
        "epochs": 2,
        "imgsz": 64,
        "batch": 1,
        "nbs": 1,
        "workers": 0,
        "device": "cpu",
        "plots": False,
        "amp": False,
        "optimizer": "SGD",
        "lr0": 0.02,
        "warmup_epochs": 0,
        "lr_policy": "step",
        "lr_step_size": 1,
        "lr_gamma": 0.5,
        "project": str(tmp_path),
        "name": "ddp",
    }
    trainer = DetectionTrainer(overrides=overrides, _callbacks=callbacks.get_default_callbacks())
    file = generate_ddp_file(trainer)
    env = {**yolo_env(), "YOLO_LR_DISABLE": "1"}
    p = subprocess.run([sys.executable, file], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    rows = read_csv(tmp_path / "ddp" / "lr.csv")
    assert len(rows) == 8
    for r in rows:
        assert float(r["lr/pg0(weight)"]) == pytest.approx(0.02 * 0.5 ** int(r["epoch"]), rel=1e-12)
