"""Bad input fails before training, naming the key (and the file it came from); attach() validates eagerly."""

from __future__ import annotations

import pytest
from conftest import COCO8, FAST, MODEL, read_csv

import yolo_lr
from yolo_lr.config import LRConfigError, validate

BAD_ARGS = [
    ({"lr_policy": "cosin"}, "lr_policy", "did you mean 'cosine'"),
    ({"lr_policy": "cosine", "lr0": 0}, "lr0", "positive"),
    ({"lr_policy": "cosine", "lr0": -0.01}, "lr0", "positive"),
    ({"lr_policy": "cosine", "lrf": 1.5}, "lrf", "(0, 1]"),
    ({"lr_policy": "step", "lr_gamma": "half"}, "lr_gamma", "number"),
    ({"lr_policy": "plateau", "lr_plateau_patience": 2.5}, "lr_plateau_patience", "integer"),
    ({"lr_policy": "multistep", "lr_milestones": [2, 1]}, "lr_milestones", "increasing"),
    ({"lr_policy": "multistep", "lr_milestones": [1, 5]}, "lr_milestones", "inside the run"),
    ({"lr_polcy": "cosine"}, "lr_polcy", "Did you mean 'lr_policy'"),
    ({"lr_policy": "cosine", "cos_lr": True}, "cos_lr", "keep one"),
    ({"lr_plateau": "yes"}, "lr_plateau", "true or false"),
    ({"lr_policy": "wsd", "lr_decay_shape": "exp"}, "lr_decay_shape", "linear, cosine, sqrt"),
    ({"lr_interval": "batch"}, "lr_interval", "step, epoch"),
    ({"lr_policy": "plateau", "val": False}, "lr_plateau_metric", "val=False"),
]


@pytest.mark.parametrize(("kwargs", "key", "hint"), BAD_ARGS, ids=[f"{c[1]}-{i}" for i, c in enumerate(BAD_ARGS)])
def test_bad_argument_fails_before_training(tmp_path, kwargs, key, hint):
    from ultralytics import YOLO

    args = {**FAST, "data": str(COCO8), "epochs": 3, "project": str(tmp_path / "runs"), "name": "bad", **kwargs}
    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).train(**args)
    message = str(e.value)
    assert key in message and hint in message, message
    assert not (tmp_path / "runs").exists(), "a run directory was created before the error"


def test_bad_yaml_names_the_file(tmp_path):
    from ultralytics import YOLO

    cfg = tmp_path / "mine.yaml"
    cfg.write_text("lr_policy: step\nlr_gamma: 2\n")
    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).train(cfg=str(cfg), data=str(COCO8), project=str(tmp_path / "runs"), **FAST)
    assert "lr_gamma=2" in str(e.value) and str(cfg) in str(e.value)
    cfg.write_text("lr_polciy: step\n")
    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).train(cfg=str(cfg), data=str(COCO8), project=str(tmp_path / "runs"), **FAST)
    assert "lr_polciy" in str(e.value) and str(cfg) in str(e.value) and "lr_policy" in str(e.value)


def test_unknown_plateau_metric_fails_before_the_first_epoch(train, tmp_path):
    with pytest.raises(LRConfigError) as e:
        train(epochs=2, lr_policy="plateau", lr_plateau_metric="metrics/mAP5095(B)")
    assert "lr_plateau_metric" in str(e.value) and "metrics/mAP50-95(B)" in str(e.value)
    run_dir = tmp_path / "runs" / "train"
    assert not (run_dir / "weights" / "last.pt").exists() and not (run_dir / "results.csv").exists()


def test_unknown_loss_metric_fails_after_the_first_batch(train, tmp_path):
    """Loss names exist only after the first forward pass: the check fires then, before any epoch completes."""
    with pytest.raises(LRConfigError) as e:
        train(epochs=2, lr_policy="plateau", lr_plateau_metric="val/boxloss")
    assert "val/box_loss" in str(e.value)
    assert not (tmp_path / "runs" / "train" / "weights" / "last.pt").exists()


def test_loss_metric_is_watched_in_min_mode(train):
    run = train(epochs=2, optimizer="SGD", warmup_epochs=0, lr_policy="plateau", lr_plateau_metric="val/box_loss")
    ctl = run.trainer.yolo_lr
    assert ctl.plateau.mode == "min" and ctl.plateau.last_epoch == 2
    values = [float(r["val/box_loss"]) for r in read_csv(run.save_dir / "results.csv")]
    assert ctl.plateau.best == pytest.approx(min(values), rel=1e-4)


def test_warnings_for_ignored_keys():
    from ultralytics.utils import DEFAULT_CFG_DICT

    warnings = validate({**DEFAULT_CFG_DICT, "lr_policy": "cosine", "lr_gamma": 0.5, "lr_plateau_patience": 3})
    assert any("lr_gamma" in w and "ignored" in w for w in warnings)
    assert any("lr_plateau_patience" in w for w in warnings)


def test_attach_preset_trains_with_its_policy(tmp_path):
    from ultralytics import YOLO

    from conftest import Run, attach_recorder

    run = Run()
    model = yolo_lr.attach(YOLO(MODEL), "warmup_cosine", warmup_epochs=0)
    attach_recorder(model, run)
    model.train(data=str(COCO8), epochs=2, project=str(tmp_path), name="attach", **{**FAST, "lr0": 0.03})
    import math

    h = 2 - 1 / run.nb
    for s in run.steps:  # train() kwargs (lr0=0.03) beat the preset (0.01); attach overrides beat it too (warmup 0)
        t = s.epoch + (s.ni % run.nb) / run.nb
        assert s.lr["weight"][0] == pytest.approx(0.03 * (0.01 + 0.99 * (1 + math.cos(math.pi * t / h)) / 2))


def test_attach_rejects_bad_policy_immediately():
    from ultralytics import YOLO

    with pytest.raises(LRConfigError, match="lr_restart_mult"):
        yolo_lr.attach(YOLO(MODEL), {"lr_policy": "cosine_restarts", "lr_restart_mult": 0.5})
    with pytest.raises(LRConfigError, match="warmup_cosine"):
        yolo_lr.attach(YOLO(MODEL), "warmup_cosin")
