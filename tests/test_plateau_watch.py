"""Plateau state lives in the checkpoint: `yolo train` SIGKILLed at any point and resumed through the stock CLI takes
exactly the LRs of an uninterrupted run, whatever happened to the files beside the checkpoint."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess

import pytest
from conftest import COCO8, MODEL, ROOT, read_csv, stitch, venv_bin, yolo_env

pytestmark = pytest.mark.training

EPOCHS = 5
# The fitness each epoch reports (tests/probe/sitecustomize.py). With patience 1 and cooldown 1 (mode max):
# epoch 0, 1 improve; epoch 2 is bad (1 bad epoch: mid-patience); epoch 3 is bad again -> reduce x0.5 and start a
# 1-epoch cooldown (mid-cooldown); epoch 4 improves. Kills at epoch 3 resume from a mid-patience state, kills after
# epoch 3's checkpoint from a reduced, mid-cooldown state.
FITNESS = "0.10,0.20,0.15,0.12,0.30"
ARGS = [
    f"model={MODEL}",
    f"data={COCO8}",
    f"epochs={EPOCHS}",
    "imgsz=64",
    "batch=1",
    "nbs=1",
    "workers=0",
    "device=cpu",
    "plots=False",
    "amp=False",
    "seed=0",
    "optimizer=SGD",
    "lr0=0.02",
    "lrf=0.05",
    "warmup_epochs=1",
    "lr_policy=cosine",
    "lr_plateau=True",
    "lr_plateau_patience=1",
    "lr_plateau_cooldown=1",
    "lr_plateau_factor=0.5",
]


def yolo_train(args: list[str], trace, cwd, **probe) -> subprocess.CompletedProcess:
    env = {**yolo_env(), "PYTHONPATH": str(ROOT / "tests" / "probe"), "LR_PROBE_TRACE": str(trace)}
    env["LR_PROBE_FITNESS"] = FITNESS
    env.update({f"LR_PROBE_{k.upper()}": v for k, v in probe.items()})
    return subprocess.run(
        [venv_bin("yolo"), "train", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def read_trace(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same run, never interrupted."""
    d = tmp_path_factory.mktemp("full")
    p = yolo_train([*ARGS, f"project={d}", "name=run"], d / "trace.jsonl", d)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    trace = read_trace(d / "trace.jsonl")
    assert len(trace) == EPOCHS * 4
    assert "LR factor 1 -> 0.5" in p.stdout + p.stderr, "the scripted plateau did not reduce: the test drives nothing"
    return d, trace


def _garble(path):
    path.write_bytes(os.urandom(300))


def _truncate_mid_row(path):
    text = path.read_text()
    path.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])


def _stale_state_file(path):
    (path.parent / "lr_state.json").write_text('{"states": {"2": {"factor": 0.001}}, "reductions": [0, 1]}')


@pytest.mark.parametrize(
    ("kill", "resume_epoch", "damage"),
    [
        ("batch:3:1", 3, "missing"),  # mid-epoch; lr.csv deleted
        ("val:3", 3, "garbled"),  # during validation; lr.csv replaced by random bytes
        ("presave:3", 3, "truncated"),  # decision made, checkpoint not yet written; lr.csv cut mid-row
        ("saved:3", 4, "stale"),  # right after the checkpoint was written; a stale side file appears
    ],
    ids=["mid-epoch", "validation", "before-save", "after-save"],
)
def test_sigkill_then_stock_cli_resume_gives_the_uninterrupted_lrs(uninterrupted, tmp_path, kill, resume_epoch, damage):
    full_dir, full = uninterrupted
    trace = tmp_path / "trace.jsonl"
    p = yolo_train([*ARGS, f"project={tmp_path}", "name=run"], trace, tmp_path, kill=kill)
    assert p.returncode == -signal.SIGKILL, p.stdout[-3000:] + p.stderr[-3000:]
    run = tmp_path / "run"
    last = run / "weights" / "last.pt"

    import torch

    ckpt = torch.load(last, weights_only=False)
    assert ckpt["epoch"] == resume_epoch - 1
    state = ckpt["optimizer"]["param_groups"][0]["yolo_lr"]["plateau"]  # the plateau state, inside the checkpoint
    if resume_epoch == 3:
        assert (state["num_bad_epochs"], state["factor"], state["last_epoch"]) == (1, 1.0, 3)  # mid-patience
    else:
        assert (state["cooldown_counter"], state["factor"], state["last_epoch"]) == (1, 0.5, 4)  # mid-cooldown

    csv = run / "lr.csv"
    {"missing": lambda f: f.unlink(), "garbled": _garble, "truncated": _truncate_mid_row, "stale": _stale_state_file}[
        damage
    ](csv)
    p = yolo_train(["resume=True", f"model={last}"], trace, tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert f"Resuming training {last} from epoch {resume_epoch + 1}" in p.stdout + p.stderr

    assert stitch(read_trace(trace), resume_epoch) == stitch(full)  # every step, bit for bit

    # lr.csv is informational: after resume it holds the epochs it could keep plus the resumed ones, all exact
    rows = read_csv(csv)
    ref = {(r["epoch"], r["iteration"]): r for r in read_csv(full_dir / "run" / "lr.csv")}
    assert rows and all(ref[(r["epoch"], r["iteration"])] == r for r in rows)
    assert {int(r["epoch"]) for r in rows} >= set(range(resume_epoch, EPOCHS))
    if damage == "stale":
        assert len(rows) == len(ref)


def test_uninterrupted_run_follows_the_scripted_plateau(uninterrupted):
    """The reference itself: the factor halves for the epoch after epoch 3, and not before."""
    _, trace = uninterrupted
    lr0, lrf, nb, nw = 0.02, 0.05, 4, 4
    h = EPOCHS - 1 / nb - 1  # the cosine's clock starts when the 1-epoch warmup ends
    for s in trace:
        t = max(s["epoch"] + (s["ni"] - nb * s["epoch"]) / nb - 1, 0.0)
        cos = lrf + (1 - lrf) * (1 + math.cos(math.pi * t / h)) / 2
        plateau = 0.5 if s["epoch"] == 4 else 1.0
        target = lr0 * max(cos * plateau, min(cos, lrf))
        want = target * s["ni"] / nw if s["ni"] <= nw else target
        assert s["lr"][0] == pytest.approx(want, rel=1e-12, abs=1e-18), s
