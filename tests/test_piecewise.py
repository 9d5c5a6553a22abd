"""lr_policy=piecewise / piecewise_linear in real training: the LR the optimizer used follows the given points, factors
above 1 included (raise the LR mid-run, ultralytics#22369); bad points fail before training, naming the key."""

from __future__ import annotations

import pytest
from conftest import COCO8, FAST, MODEL

LR0 = 0.02
BASE = dict(optimizer="SGD", lr0=LR0, lrf=0.05, warmup_epochs=0)


def test_piecewise_stairs_raise_then_lower(train):
    run = train(epochs=3, lr_policy="piecewise", lr_milestones=[1, 2], lr_factors=[2.0, 0.25], **BASE)
    assert len(run.steps) == 3 * run.nb
    for s in run.steps:
        want = LR0 * (1.0, 2.0, 0.25)[s.epoch]
        for group in ("weight", "bn", "bias"):
            assert s.lr[group][0] == pytest.approx(want, rel=1e-12), (s.epoch, group)


def test_piecewise_linear_through_points(train):
    """Points (0, 1), (1.5, 2), (3, 0.1); the last one sits at the run's last step (t = 3 - 1/nb)."""
    run = train(epochs=3, lr_policy="piecewise_linear", lr_milestones=[1.5, 3], lr_factors=[2.0, 0.1], **BASE)
    nb = run.nb
    end = 3 - 1 / nb
    for s in run.steps:
        t = s.epoch + (s.ni - nb * s.epoch) / nb
        mult = 1.0 + (2.0 - 1.0) * t / 1.5 if t < 1.5 else 2.0 + (0.1 - 2.0) * (t - 1.5) / (end - 1.5)
        assert s.lr["weight"][0] == pytest.approx(LR0 * mult, rel=1e-12), t
    assert max(run.lrs()) == pytest.approx(2 * LR0) and run.lrs()[-1] == pytest.approx(0.1 * LR0, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "key", "words"),
    [
        ({"lr_policy": "piecewise", "lr_milestones": [1]}, "lr_factors", "is required by lr_policy=piecewise"),
        ({"lr_policy": "piecewise", "lr_factors": [2.0]}, "lr_milestones", "is required"),
        ({"lr_policy": "piecewise", "lr_milestones": [1], "lr_factors": [2.0, 1.0]}, "lr_factors", "one factor per"),
        ({"lr_policy": "piecewise", "lr_milestones": [2, 1], "lr_factors": [2.0, 1.0]}, "lr_milestones", "increasing"),
        ({"lr_policy": "piecewise", "lr_milestones": [1], "lr_factors": [-2.0]}, "lr_factors", "positive"),
        ({"lr_policy": "piecewise", "lr_milestones": [3], "lr_factors": [2.0]}, "lr_milestones", "inside the run"),
        ({"lr_policy": "piecewise_linear", "lr_milestones": [4], "lr_factors": [0.1]}, "lr_milestones", "<= epochs"),
    ],
)
def test_bad_points_fail_before_training(tmp_path, kwargs, key, words):
    from ultralytics import YOLO

    from yolo_lr.config import LRConfigError

    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).train(data=str(COCO8), epochs=3, project=str(tmp_path), name="bad", **{**FAST, **BASE, **kwargs})
    assert e.value.key == key and words in str(e.value), str(e.value)
    assert str(e.value).startswith(f"yolo_lr: {key}=")
    assert not (tmp_path / "bad").exists()  # nothing started
