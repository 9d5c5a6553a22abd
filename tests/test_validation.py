"""Bad input fails before training, naming the key (and the file it came from); attach() validates eagerly."""

from __future__ import annotations

import pytest
from conftest import COCO8, FAST, MODEL, read_csv

import yolo_lr
from yolo_lr.config import LRConfigError

pytestmark = pytest.mark.training

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
    tracker = run.trainer.yolo_lr.plateau.tracker
    assert tracker.mode == "min" and tracker.last_epoch == 2
    values = [float(r["val/box_loss"]) for r in read_csv(run.save_dir / "results.csv")]
    assert tracker.best == pytest.approx(min(values), rel=1e-4)


def test_attach_preset_trains_with_its_policy(tmp_path):
    from conftest import Run, attach_recorder
    from ultralytics import YOLO

    run = Run()
    model = yolo_lr.attach(YOLO(MODEL), "warmup_cosine", warmup_epochs=0)
    attach_recorder(model, run)
    model.train(data=str(COCO8), epochs=2, project=str(tmp_path), name="attach", **{**FAST, "lr0": 0.03})
    import math

    h = 2 - 1 / run.nb
    for s in run.steps:  # train() kwargs (lr0=0.03) beat the preset (0.01); attach overrides beat it too (warmup 0)
        t = s.epoch + (s.ni % run.nb) / run.nb
        assert s.lr["weight"][0] == pytest.approx(0.03 * (0.01 + 0.99 * (1 + math.cos(math.pi * t / h)) / 2))


def test_warnings_are_printed_once(tmp_path, ultralytics_log):
    """attach() validates (errors raise at once) but leaves warnings to the trainer, which prints each once."""
    from ultralytics import YOLO

    model = yolo_lr.attach(YOLO(MODEL), {"lr_policy": "cosine", "lr_gamma": 0.5})
    model.train(data=str(COCO8), epochs=1, project=str(tmp_path), name="once", **FAST)
    ignored = [m for m in ultralytics_log if "lr_gamma=0.5 is ignored by lr_policy=cosine" in m]
    assert len(ignored) == 1, ignored


def test_attach_rejects_bad_policy_immediately():
    from ultralytics import YOLO

    with pytest.raises(LRConfigError, match="lr_restart_mult"):
        yolo_lr.attach(YOLO(MODEL), {"lr_policy": "cosine_restarts", "lr_restart_mult": 0.5})
    with pytest.raises(LRConfigError, match="warmup_cosine"):
        yolo_lr.attach(YOLO(MODEL), "warmup_cosin")


# A battery of malformed presets: each is rejected by the trainer's own config check, before a run directory exists,
# and the message names the key and the file.
MALFORMED = {
    "unknown_policy": ("lr_policy: cosine_warm\n", "lr_policy"),
    "unknown_key": ("lr_policy: cosine\nlr_warmup_shap: linear\n", "lr_warmup_shap"),
    "policy_not_a_string": ("lr_policy: 3\n", "lr_policy"),
    "interval": ("lr_policy: cosine\nlr_interval: iteration\n", "lr_interval"),
    "warmup_shape": ("lr_policy: cosine\nlr_warmup_shape: sigmoid\n", "lr_warmup_shape"),
    "warmup_start_above_1": ("lr_policy: cosine\nlr_warmup_start: 2\n", "lr_warmup_start"),
    "negative_lr0": ("lr_policy: cosine\nlr0: -0.001\n", "lr0"),
    "zero_lrf": ("lr_policy: cosine\nlrf: 0\n", "lrf"),
    "lrf_above_1": ("lr_policy: cosine\nlrf: 2\n", "lrf"),
    "gamma_string": ("lr_policy: step\nlr_gamma: fast\n", "lr_gamma"),
    "gamma_one": ("lr_policy: exponential\nlr_gamma: 1.0\n", "lr_gamma"),
    "step_size_past_run": ("lr_policy: step\nlr_step_size: 5\n", "lr_step_size"),
    "milestones_not_increasing": ("lr_policy: multistep\nlr_milestones: [2, 1]\n", "lr_milestones"),
    "milestones_past_run": ("lr_policy: multistep\nlr_milestones: [1, 3]\n", "lr_milestones"),
    "milestones_scalar": ("lr_policy: multistep\nlr_milestones: 2\n", "lr_milestones"),
    "restart_period_zero": ("lr_policy: cosine_restarts\nlr_restart_period: 0\n", "lr_restart_period"),
    "restart_mult_below_1": ("lr_policy: cosine_restarts\nlr_restart_mult: 0.5\n", "lr_restart_mult"),
    "onecycle_pct_1": ("lr_policy: onecycle\nlr_onecycle_pct: 1\n", "lr_onecycle_pct"),
    "wsd_frac_zero": ("lr_policy: wsd\nlr_decay_frac: 0\n", "lr_decay_frac"),
    "plateau_mode": ("lr_policy: plateau\nlr_plateau_mode: maximize\n", "lr_plateau_mode"),
    "plateau_factor_1": ("lr_policy: plateau\nlr_plateau_factor: 1\n", "lr_plateau_factor"),
    "plateau_patience_negative": ("lr_policy: plateau\nlr_plateau_patience: -1\n", "lr_plateau_patience"),
    "plateau_threshold_mode": (
        "lr_policy: plateau\nlr_plateau_threshold_mode: relative\n",
        "lr_plateau_threshold_mode",
    ),
    "unfreeze_past_run": ("lr_policy: cosine\nlr_unfreeze_epoch: 3\n", "lr_unfreeze_epoch"),
    "backbone_scale_zero": ("lr_policy: cosine\nlr_backbone_scale: 0\n", "lr_backbone_scale"),
    "freeze_and_unfreeze": ("lr_policy: cosine\nlr_unfreeze_epoch: 1\nfreeze: 10\n", "freeze"),
    "cos_lr_and_policy": ("lr_policy: wsd\ncos_lr: true\n", "cos_lr"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_preset_is_rejected_naming_key_and_file(tmp_path, case):
    from ultralytics import YOLO

    text, key = MALFORMED[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).train(cfg=str(path), data=str(COCO8), epochs=3, project=str(tmp_path / "runs"), **FAST)
    assert key in str(e.value) and str(path) in str(e.value), str(e.value)
    assert not (tmp_path / "runs").exists()


def test_preset_that_is_not_yaml_mapping(tmp_path):
    from ultralytics import YOLO

    for text, needle in (("- lr_policy: cosine\n", "must be a mapping"), ("lr_policy: [cosine\n", "not valid YAML")):
        path = tmp_path / "broken.yaml"
        path.write_text(text)
        with pytest.raises(LRConfigError) as e:
            yolo_lr.attach(YOLO(MODEL), str(path))
        assert needle in str(e.value) and str(path) in str(e.value)
