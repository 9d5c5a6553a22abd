"""Every piece of state the plugin keeps across a resume, seen from the user's side: `yolo train` SIGKILLed where that
state differs from its initial value, then `yolo train resume=True`, shows exactly what an uninterrupted run shows:
the LR and momentum of every param group at every optimizer step, lr.csv byte for byte, results.csv's lr/pg* columns,
which parameters are frozen at each step, and the plateau's history of reductions (what lr.png marks).

State | where it differs from the start when the run is killed
--- | ---
the step clock, lr.csv | past warmup, mid-cosine, lr.csv ahead of the checkpoint by an epoch (`clock`)
plateau state and history | after a reduction, mid-cooldown (`plateau`)
the backbone freeze, per-layer scales | before the unfreeze epoch, during validation (`freeze`)

(lr_find's lr0 across a resume: tests/test_find_in_training.py.)"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from conftest import COCO8, MODEL, ROOT, read_csv, stitch, venv_bin, yolo_env

pytestmark = pytest.mark.training

EPOCHS = 5
COMMON = [f"data={COCO8}", f"epochs={EPOCHS}", "imgsz=64", "batch=1", "nbs=1", "workers=0", "device=cpu"]
COMMON += ["plots=False", "amp=False", "seed=0", "optimizer=SGD", "lr0=0.02", "lrf=0.05"]
CASES = {
    # id: (training words, the probe's scripted fitness, where to kill, the epoch the resume starts at)
    # killed after epoch 2's lr.csv rows were written but before its checkpoint: resume redoes epoch 2
    "clock": ([f"model={MODEL}", "warmup_epochs=1", "lr_policy=cosine"], None, "presave:2", 2),
    "plateau": (
        [
            f"model={MODEL}",
            "warmup_epochs=1",
            "lr_policy=cosine",
            "lr_plateau=True",
            "lr_plateau_patience=1",
            "lr_plateau_cooldown=1",
            "lr_plateau_factor=0.5",
        ],  # fmt: skip
        "0.10,0.20,0.15,0.12,0.30",  # epoch 3 reduces, epoch 4 is cooldown
        "saved:3",
        4,
    ),
    "freeze": (
        ["model=PRETRAINED", "warmup_epochs=0", "lr_policy=cosine", "lr_unfreeze_epoch=3", "lr_backbone_scale=0.5"],
        None,
        "val:1",
        1,
    ),
}


def _train(words: list[str], d, fitness: str | None, **probe) -> subprocess.CompletedProcess:
    env = {**yolo_env(), "PYTHONPATH": str(ROOT / "tests" / "probe"), "LR_PROBE_TRACE": str(d / "trace.jsonl")}
    env.update(LR_PROBE_GRAD="1", LR_PROBE_FINAL=str(d / "final.json"))
    if fitness:
        env["LR_PROBE_FITNESS"] = fitness
    env.update({f"LR_PROBE_{k.upper()}": v for k, v in probe.items()})
    return subprocess.run([venv_bin("yolo"), "train", *words], cwd=d, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def _words(case: str, pretrained: str) -> list[str]:
    words, *_ = CASES[case]
    return [w.replace("PRETRAINED", pretrained) for w in words] + COMMON


def _trace(d) -> list[dict]:
    return [json.loads(line) for line in (d / "trace.jsonl").read_text().splitlines()]


def _lr_columns(results_csv) -> dict[str, dict]:
    """results.csv's lr/pg* per epoch. A run killed after writing an epoch's row but before its checkpoint repeats that
    epoch on resume and Ultralytics appends its row again (with or without the plugin): the last row of an epoch
    counts, as for anyone reading the file by epoch."""
    rows = {}
    for r in read_csv(results_csv):
        rows[r["epoch"].strip()] = {k.strip(): v.strip() for k, v in r.items() if k.strip().startswith("lr/")}
    return rows


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, pretrained):
    """The reference for each case: the same run, never interrupted (trained once, shared by the kill points)."""
    out = {}
    for case, (_, fitness, _, _) in CASES.items():
        d = tmp_path_factory.mktemp(f"full_{case}")
        p = _train([*_words(case, pretrained), f"project={d}", "name=run"], d, fitness)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        out[case] = d
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_a_killed_and_resumed_run_shows_what_an_uninterrupted_one_does(uninterrupted, pretrained, tmp_path, case):
    _, fitness, kill, resume_epoch = CASES[case]
    full = uninterrupted[case]
    p = _train([*_words(case, pretrained), f"project={tmp_path}", "name=run"], tmp_path, fitness, kill=kill)
    assert p.returncode == -signal.SIGKILL, p.stdout[-3000:] + p.stderr[-3000:]
    last = tmp_path / "run" / "weights" / "last.pt"
    p = _train(["resume=True", f"model={last}"], tmp_path, fitness)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert f"from epoch {resume_epoch + 1}" in p.stdout + p.stderr

    # every optimizer step: the killed run's steps of the epochs its checkpoint kept, then the resumed run's
    steps = _trace(tmp_path)
    resumed = [s for s in steps if s["pid"] != steps[0]["pid"]]
    ref = _trace(full)
    assert stitch(steps, resume_epoch) == stitch(ref)  # every group's LR, momentum, lr_* args, frozen count

    assert (tmp_path / "run" / "lr.csv").read_bytes() == (full / "run" / "lr.csv").read_bytes()
    assert _lr_columns(tmp_path / "run" / "results.csv") == _lr_columns(full / "run" / "results.csv")
    assert json.loads((tmp_path / "final.json").read_text()) == json.loads((full / "final.json").read_text())

    # the state really was away from its start when the run was killed (else the case would test nothing)
    if case == "plateau":
        assert json.loads((full / "final.json").read_text())["reductions"] == [3]
    if case == "freeze":
        frozen = {s["epoch"]: s["frozen"] for s in ref}
        assert frozen[0] == frozen[2] > 0 and frozen[3] == frozen[4] == 0  # resumed at epoch 1: still frozen
    if case == "clock":
        assert resumed[0]["ni"] > 4 and 0 < resumed[0]["lr"][0] < 0.02  # past warmup, mid-cosine
