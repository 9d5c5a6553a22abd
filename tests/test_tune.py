"""Ultralytics' `model.tune` over lr_* keys: every iteration (a `yolo train` subprocess) trains with the values the
tuner chose for it, set and unset keys alike, and the optimizer uses the LRs those values give."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from conftest import COCO8, MODEL, ROOT

pytestmark = pytest.mark.training

# lr_gamma is set in the training arguments; lr_step_size (default computed from the run) and lr_plateau_cooldown
# (an integer with a registered default) are not.
SPACE = {"lr0": (0.001, 0.02), "lr_gamma": (0.2, 0.8), "lr_step_size": (0.5, 1.5), "lr_plateau_cooldown": (0, 2)}
ARGS = dict(
    data=str(COCO8),
    epochs=2,
    imgsz=32,
    batch=2,
    nbs=2,  # 4 images, batch 2: 2 optimizer steps per epoch
    workers=0,
    device="cpu",
    plots=False,
    amp=False,
    seed=0,
    optimizer="SGD",
    lr0=0.01,
    lrf=0.05,
    warmup_epochs=0,
    lr_policy="step",
    lr_gamma=0.5,
    lr_plateau=True,
)


@pytest.mark.compat
def test_tune_mutates_lr_keys_and_each_iteration_trains_with_them(tmp_path, monkeypatch):
    from ultralytics import YOLO

    import yolo_lr  # noqa: F401

    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests" / "probe"))  # read by the iterations' subprocesses only
    monkeypatch.setenv("LR_PROBE_TRACE", str(trace))
    YOLO(MODEL).tune(iterations=2, space=SPACE, project=str(tmp_path), name="tune", **ARGS)

    tune_dir = tmp_path / "tune"
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    pids = list(dict.fromkeys(r["pid"] for r in rows))
    assert len(pids) == 2, "one training subprocess per iteration"
    hyps = [{k: next(r for r in rows if r["pid"] == pid)["args"][k] for k in SPACE} for pid in pids]
    # the first iteration starts from the training config: the value set, the defaults in force for the others
    assert hyps[0] == {"lr0": 0.01, "lr_gamma": 0.5, "lr_step_size": 1, "lr_plateau_cooldown": 0}
    assert hyps[1] != hyps[0]
    assert all(type(h["lr_plateau_cooldown"]) is int for h in hyps)  # an integer key is rounded like Ultralytics' own
    for hyp, pid in zip(hyps, pids):
        steps = [r for r in rows if r["pid"] == pid]
        assert len(steps) == 4
        for s in steps:
            assert {k: s["args"][k] for k in hyp} == hyp  # what the trainer (and its args.yaml) holds
            t = s["epoch"] + (s["ni"] - 2 * s["epoch"]) / 2
            mult = max(hyp["lr_gamma"] ** math.floor(t / hyp["lr_step_size"] + 1e-9), ARGS["lrf"])
            assert s["lr"] == pytest.approx([hyp["lr0"] * mult] * 3, rel=1e-9), (hyp, s)

    ndjson = tune_dir / "tune_results.ndjson"  # 8.4.1xx on; the first 8.4 releases wrote tune_results.csv only
    assert ndjson.exists() or (tune_dir / "tune_results.csv").exists()
    if ndjson.exists():
        results = [json.loads(line) for line in ndjson.read_text().splitlines()]
        assert len(results) == 2 and not any(r.get("failed_datasets") for r in results), results
        assert [r["hyperparameters"] for r in results] == hyps
        # the kept run folder's args.yaml says the same as the trainer did
        kept = [d for r in results for d in r["save_dirs"].values() if (tmp_path / d / "args.yaml").exists()]
        assert kept
        for r in results:
            for d in r["save_dirs"].values():
                if (tmp_path / d / "args.yaml").exists():
                    args = yaml.safe_load((tmp_path / d / "args.yaml").read_text())
                    assert {k: args[k] for k in r["hyperparameters"]} == r["hyperparameters"]
    best = yaml.safe_load((tune_dir / "best_hyperparameters.yaml").read_text())
    assert type(best["lr_plateau_cooldown"]) is int and set(best) == set(SPACE)


@pytest.mark.parametrize(
    ("space", "key"),
    [
        ({"lr_policy": ("cosine", "step")}, "lr_policy"),
        ({"lr_step_size": (1, 3)}, "lr_step_size"),  # 2 epochs: a step size of 2 or 3 never decays
        ({"lr_plateau_factor": (0.5, 1.5)}, "lr_plateau_factor"),
    ],
)
def test_a_space_the_tuner_cannot_search_fails_before_training(tmp_path, space, key):
    from ultralytics import YOLO

    from yolo_lr.config import LRConfigError

    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).tune(iterations=1, space=space, project=str(tmp_path), name="tune", **ARGS)
    assert e.value.key == key
    assert not (tmp_path / "tune").exists()
