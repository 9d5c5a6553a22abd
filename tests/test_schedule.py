"""Tests for yolo_lr.schedule: where the policy's clock starts, the per-epoch table, the backbone factor's time."""

from __future__ import annotations

import math

import pytest

from yolo_lr.config import resolve
from yolo_lr.schedule import EpochPlan, Group, group_lrs, policy_time

PEAK, LRF, NB, EPOCHS = 0.02, 0.05, 10, 5
GROUPS = [Group("weight", PEAK), Group("bn", PEAK), Group("bias", PEAK)]


def lrs_of_run(settings, nw: int, groups=GROUPS, epochs=EPOCHS) -> list[list[float]]:
    return [
        group_lrs(settings, groups, epoch=e, i=i, nb=NB, nw=nw, epochs=epochs, warmup_bias_lr=0.1)
        for e in range(epochs)
        for i in range(NB)
    ]


def cos(t: float, h: float) -> float:
    return LRF + (1 - LRF) * (1 + math.cos(math.pi * min(t, h) / h)) / 2


def test_the_policy_starts_when_warmup_ends():
    s = resolve({"lr_policy": "cosine", "lrf": LRF})
    nw = 15
    run = lrs_of_run(s, nw)
    weight = [r[0] for r in run]
    assert weight[nw] == PEAK and max(weight) == PEAK  # warmup ramps to exactly the peak
    assert all(b > a for a, b in zip(weight[:nw], weight[1 : nw + 1]))
    assert weight[-1] == pytest.approx(PEAK * LRF, rel=1e-12)
    h = EPOCHS - 1 / NB - nw / NB
    for ni in range(nw, len(run)):
        assert weight[ni] == pytest.approx(PEAK * cos(ni / NB - nw / NB, h), rel=1e-12)
    assert policy_time(s, 1, 5, NB, EPOCHS, nw) == (0.0, pytest.approx(h))
    assert policy_time(s, 3, 0, NB, EPOCHS, nw) == (pytest.approx(1.5), pytest.approx(h))


@pytest.mark.parametrize("cfg", [{"lr_warmup_overlay": True}, {"lr_interval": "epoch"}])
def test_overlay_when_asked_and_with_the_epoch_interval(cfg):
    s = resolve({"lr_policy": "cosine", "lrf": LRF, **cfg})
    assert s.overlay
    nw = 15
    run = lrs_of_run(s, nw)
    step = "lr_interval" not in cfg
    t_end = nw / NB if step else 1.0  # at ni == nw: epoch 1, batch 5
    h = EPOCHS - 1 / NB if step else EPOCHS
    assert run[nw][0] == pytest.approx(PEAK * cos(t_end, h), rel=1e-12) and max(r[0] for r in run) < PEAK
    assert not resolve({"lr_policy": "cosine", "lr_interval": "epoch", "lr_warmup_overlay": False}).overlay


def test_without_warmup_both_clocks_agree():
    after = lrs_of_run(resolve({"lr_policy": "wsd", "lrf": LRF}), 0)
    overlay = lrs_of_run(resolve({"lr_policy": "wsd", "lrf": LRF, "lr_warmup_overlay": True}), 0)
    assert after == overlay


def test_onecycle_warms_up_to_its_own_start():
    s = resolve({"lr_policy": "onecycle", "lrf": LRF, "lr_onecycle_div": 10})
    run = lrs_of_run(s, 10)
    assert run[10][0] == pytest.approx(PEAK / 10, rel=1e-12)  # the curve starts at peak/div, and warmup meets it
    assert 0.99 * PEAK < max(r[0] for r in run) <= PEAK  # its peak (at 30% of the span) falls between two steps


def test_backbone_epochs_count_from_the_start_of_the_run():
    s = resolve({"lr_policy": "cosine", "lrf": LRF, "lr_unfreeze_epoch": 2, "lr_backbone_scale": 0.5})
    groups = [*GROUPS, Group("weight", PEAK, backbone=True)]
    run = lrs_of_run(s, 15, groups)
    assert all(r[3] == 0.0 for r in run[: 2 * NB]) and all(r[3] == 0.5 * r[0] for r in run[2 * NB :])


def test_the_epoch_table_is_the_per_step_value():
    s = resolve({"lr_policy": "cosine_restarts", "lrf": LRF, "lr_plateau": True})
    plan = EpochPlan(s, GROUPS, epoch=1, nb=NB, nw=15, epochs=EPOCHS, warmup_bias_lr=0.1, plateau_factor=0.5)
    assert plan.table() == [plan.lrs(i) for i in range(NB)]
    assert plan.momenta(0.9) is None
    one = resolve({"lr_policy": "onecycle", "lrf": LRF})
    plan = EpochPlan(one, GROUPS, epoch=1, nb=NB, nw=0, epochs=EPOCHS, warmup_bias_lr=0.1)
    assert plan.momenta(0.9) == [plan.momentum(i, 0.9) for i in range(NB)]
