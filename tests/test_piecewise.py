"""lr_policy=piecewise / piecewise_linear in real training: the LR the optimizer used follows the given points, factors
above 1 included (raise the LR mid-run, ultralytics#22369); bad points fail before training, naming the key."""

from __future__ import annotations

import pytest
from conftest import COCO8, FAST, MODEL

pytestmark = pytest.mark.training

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
    ("policy", "milestones", "factors"),
    [("piecewise", [1, 2], [2.0, 0.25]), ("piecewise_linear", [1.5, 3], [2.0, 0.1])],
)
def test_milestones_count_from_the_end_of_warmup(train, policy, milestones, factors):
    """4 epochs of 4 batches with a 1-epoch warmup: warmup ramps to lr0 (the point (0, 1)), then the policy's clock
    starts; its milestones are epochs after warmup, and piecewise_linear's point at epochs - warmup_epochs = 3 is
    reached on the run's last step (policy time 4 - 1/4 - 1)."""
    run = train(
        epochs=4,
        lr_policy=policy,
        lr_milestones=milestones,
        lr_factors=factors,
        **{**BASE, "warmup_epochs": 1, "warmup_bias_lr": 0.0},
    )
    nb = run.nb
    nw, end = nb, 4 - 1 / nb - 1

    def mult(t: float) -> float:
        if policy == "piecewise":
            return (1.0, *factors)[sum(t + 1e-9 >= m for m in milestones)]
        (m1, _), (f1, f2) = milestones, factors
        return 1 + (f1 - 1) * t / m1 if t < m1 else f1 + (f2 - f1) * (min(t, end) - m1) / (end - m1)

    assert len(run.steps) == 4 * nb
    for s in run.steps:
        t = max(s.epoch + (s.ni - nb * s.epoch) / nb - 1, 0.0)  # policy time: epochs since warmup ended
        want = LR0 * mult(t) * (s.ni / nw if s.ni <= nw else 1.0)
        for group in ("weight", "bn", "bias"):
            assert s.lr[group][0] == pytest.approx(want, rel=1e-12, abs=1e-18), (policy, group, s.ni)
    assert run.lrs()[nw] == pytest.approx(LR0, rel=1e-12)  # warmup ends at lr0
    assert run.lrs()[-1] == pytest.approx(LR0 * factors[-1], rel=1e-12)


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
