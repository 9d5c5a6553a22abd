"""Every way Ultralytics trains gets the plugin when lr_* keys are set, or stops saying why: a model whose callbacks
were reset (what Ray Tune's trainable does), callbacks removed from a built trainer, a custom trainer subclass, two
runs with different policies in one process, RT-DETR."""

from __future__ import annotations

import math

import pytest
from conftest import COCO8, FAST, MODEL, Run, attach_recorder, read_csv

from yolo_lr import ultralytics_compat as compat

pytestmark = pytest.mark.training
LR0, LRF = 0.02, 0.05


def _cosine(step: int, nb: int, epochs: int) -> float:
    """The per-step cosine multiplier at optimizer step ``step`` (0-based, one step per batch, no warmup)."""
    h = epochs - 1 / nb
    return LRF + (1 - LRF) * (1 + math.cos(math.pi * (step / nb) / h)) / 2


def _train(model, tmp_path, name, **kwargs) -> Run:
    run = Run()
    attach_recorder(model, run)
    args = {**FAST, "data": str(COCO8), "project": str(tmp_path), "name": name, "epochs": 2, **kwargs}
    model.train(**args)
    return run


def _assert_cosine(run: Run, epochs: int = 2) -> None:
    assert len(run.steps) == epochs * run.nb
    for k, s in enumerate(run.steps):
        want = LR0 * _cosine(k, run.nb, epochs)
        for group, lrs in s.lr.items():
            assert lrs == pytest.approx([want] * len(lrs), rel=1e-9), (group, k)
    rows = read_csv(run.save_dir / "lr.csv")
    assert [float(r["lr/pg0(weight)"]) for r in rows] == pytest.approx(run.lrs(), rel=1e-12)


def test_reset_callbacks_keeps_the_plugin_driving(tmp_path):
    """model.reset_callbacks() keeps only each event's first default callback (the plugin's are appended): the trainer
    still gets them when its lr_* keys are active, per-layer scales included."""
    from ultralytics import YOLO

    model = YOLO(MODEL)
    model.reset_callbacks()
    assert not any(getattr(f, "__module__", "").startswith("yolo_lr") for fns in model.callbacks.values() for f in fns)
    run = _train(model, tmp_path, "reset", optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=0, lr_policy="cosine")
    _assert_cosine(run)

    model = YOLO(MODEL)
    model.reset_callbacks()
    scaled = _train(model, tmp_path, "scaled", optimizer="SGD", lr0=LR0, warmup_epochs=0, lr_policy="constant",
                    lr_backbone_layers=4, lr_backbone_scale=0.25)  # fmt: skip
    backbone = [g for g in scaled.trainer.optimizer.param_groups if g.get("lr_scale") == 0.25]
    assert backbone and all(g["lr"] == pytest.approx(LR0 * 0.25, rel=1e-12) for g in backbone)


def test_callbacks_removed_from_a_built_trainer_stop_the_run_at_its_first_step(tmp_path):
    """Never lr_* keys in args.yaml and native LRs: a trainer whose plugin callbacks are taken away after it was
    built stops at its first optimizer step, saying why."""
    from ultralytics import YOLO

    def strip(trainer):
        for event, fns in trainer.callbacks.items():
            trainer.callbacks[event] = [f for f in fns if not getattr(f, "__module__", "").startswith("yolo_lr")]

    model = YOLO(MODEL)
    model.add_callback("on_pretrain_routine_start", strip)
    with pytest.raises(compat.UltralyticsCompatError, match="not driving its optimizer"):
        _train(model, tmp_path, "stripped", optimizer="SGD", lr0=LR0, warmup_epochs=0, lr_policy="cosine")


def test_a_custom_trainer_and_two_policies_in_one_process(tmp_path):
    """train(trainer=MySubclass) gets the plugin; a second train() in the same process runs its own policy."""
    from ultralytics import YOLO
    from ultralytics.models.yolo.detect import DetectionTrainer

    class MyTrainer(DetectionTrainer):
        built = 0

        def build_optimizer(self, *args, **kwargs):
            MyTrainer.built += 1
            return super().build_optimizer(*args, **kwargs)

    kw = {"optimizer": "SGD", "lr0": LR0, "lrf": LRF, "warmup_epochs": 0}
    first = _train(YOLO(MODEL), tmp_path, "custom", trainer=MyTrainer, lr_policy="cosine", **kw)
    assert MyTrainer.built == 1 and isinstance(first.trainer, MyTrainer)
    _assert_cosine(first)
    second = _train(YOLO(MODEL), tmp_path, "step", lr_policy="step", lr_step_size=1, lr_gamma=0.5, **kw)
    assert second.lrs() == pytest.approx([LR0] * second.nb + [LR0 * 0.5] * second.nb, rel=1e-12)


def test_rtdetr_trains_with_the_plugin(tmp_path):
    """RT-DETR (its own trainer, AdamW-style groups) follows the policy at every step."""
    from ultralytics import RTDETR

    run = _train(RTDETR("rtdetr-l.yaml"), tmp_path, "rtdetr", epochs=1, optimizer="SGD", lr0=LR0, lrf=LRF,
                 warmup_epochs=0, lr_policy="constant")  # fmt: skip
    assert (run.save_dir / "lr.csv").exists() and len(run.steps) == run.nb
    assert all(lr == pytest.approx(LR0, rel=1e-12) for s in run.steps for lrs in s.lr.values() for lr in lrs)
