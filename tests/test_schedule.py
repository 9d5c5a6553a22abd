"""Tests for yolo_lr.schedule (pure): the LR of every param group at a step, against closed forms written here.

Warmup is checked into a constant policy and the policy clock with no warmup; the tests at the end check where the
policy's clock starts when there is a warmup (when warmup ends, or at step 0 with the overlay). The same rules in real
training: test_training.py and test_finetune.py.
"""

from __future__ import annotations

import math

import pytest

from yolo_lr.config import resolve
from yolo_lr.schedule import EpochPlan, Group, group_lrs, policy_time, warmup_iterations

LR0, LRF, BIAS0 = 0.02, 0.05, 0.1
GROUPS = [Group("weight", LR0), Group("bn", LR0), Group("bias", LR0)]
SHAPES = {
    "linear": lambda u: u,
    "cosine": lambda u: (1 - math.cos(math.pi * u)) / 2,
    "quadratic": lambda u: u * u,
    "exponential": lambda u: (1 - math.exp(-5 * u)) / (1 - math.exp(-5)),
}


def settings(**cfg):
    return resolve({"lrf": LRF, **cfg})


def lrs(s, epoch, i, nb=4, nw=0, epochs=3, groups=GROUPS, factor=1.0):
    return group_lrs(
        s, groups, epoch=epoch, i=i, nb=nb, nw=nw, epochs=epochs, warmup_bias_lr=BIAS0, plateau_factor=factor
    )


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("start", [None, 0.3])
def test_warmup_blends_from_its_start_with_its_shape(shape, start):
    s = settings(lr_policy="constant", lr_warmup_shape=shape, **({"lr_warmup_start": start} if start else {}))
    nb, nw = 4, 6  # warmup covers ni = 0 .. 6 (Ultralytics: ni <= nw)
    for ni in range(12):
        epoch, i = divmod(ni, nb)
        u = min(ni / nw, 1.0)
        w = SHAPES[shape](u)
        weight, bn, bias = lrs(s, epoch, i, nb=nb, nw=nw)
        low = (start or 0.0) * LR0
        assert weight == bn == pytest.approx(low + (LR0 - low) * w, rel=1e-12, abs=1e-18), (shape, ni)
        assert bias == pytest.approx(BIAS0 + (LR0 - BIAS0) * w, rel=1e-12), (shape, ni)
    assert lrs(s, 0, 0, nw=nw)[0] == pytest.approx((start or 0.0) * LR0, abs=1e-18)
    assert lrs(s, 1, 2, nw=nw) == pytest.approx([LR0] * 3, rel=1e-12)  # ni == nw: the last warmup step is the peak


def test_no_warmup_when_nw_is_zero():
    s = settings(lr_policy="constant", lr_warmup_start=0.5, lr_warmup_shape="cosine")
    assert lrs(s, 0, 0, nw=0) == [LR0, LR0, LR0]


def test_policy_time_per_step_and_per_epoch():
    assert policy_time(settings(lr_policy="cosine"), 2, 3, 4, 5) == (2.75, 5 - 0.25)
    assert policy_time(settings(lr_policy="cosine", lr_interval="epoch"), 2, 3, 4, 5) == (2.0, 5.0)
    assert policy_time(settings(lr_policy="cosine"), 0, 3, 4, 1) == (0.75, 0.75)  # a one-epoch run: horizon 3/4


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_policy_drives_every_group_without_warmup(interval):
    s = settings(lr_policy="cosine", lr_interval=interval)
    nb, epochs = 4, 3
    for ni in range(nb * epochs):
        epoch, i = divmod(ni, nb)
        t, h = (epoch + i / nb, epochs - 1 / nb) if interval == "step" else (epoch, epochs)
        want = LR0 * (LRF + (1 - LRF) * (1 + math.cos(math.pi * t / h)) / 2)
        assert lrs(s, epoch, i, nb=nb, epochs=epochs) == pytest.approx([want] * 3, rel=1e-12)
    assert lrs(s, epochs - 1, nb - 1, nb=nb, epochs=epochs)[0] == pytest.approx(
        LR0 * LRF if interval == "step" else LR0 * (LRF + (1 - LRF) * (1 + math.cos(math.pi * 2 / 3)) / 2), rel=1e-12
    )


def test_each_group_scales_from_its_own_peak():
    """initial_lr is each group's peak (optimizer=auto's effective LR, MuSGD's 3x head groups)."""
    s = settings(lr_policy="linear")
    groups = [Group("weight", 0.03), Group("weight", 0.01), Group("bias", 0.002)]
    t, h = 1.25, 3 - 0.25
    m = (1 - t / h) * (1 - LRF) + LRF
    assert lrs(s, 1, 1, groups=groups) == pytest.approx([0.03 * m, 0.01 * m, 0.002 * m], rel=1e-12)


@pytest.mark.parametrize("floor", [None, 0.2])
def test_plateau_factor_multiplies_the_policy_but_not_below_the_floor(floor):
    s = settings(lr_policy="cosine", lr_plateau=True, **({"lr_plateau_min_factor": floor} if floor else {}))
    fl = floor if floor is not None else LRF  # default floor: lrf
    for ni in range(12):
        epoch, i = divmod(ni, 4)
        m = LRF + (1 - LRF) * (1 + math.cos(math.pi * (epoch + i / 4) / 2.75)) / 2
        for factor in (1.0, 0.5, 0.1, 0.01):
            want = LR0 * (m if factor == 1.0 else max(m * factor, min(m, fl)))
            assert lrs(s, epoch, i, factor=factor)[0] == pytest.approx(want, rel=1e-12), (ni, factor)


def test_plateau_factor_defaults_to_one():
    s = settings(lr_policy="constant", lr_plateau=True)
    assert group_lrs(s, GROUPS, epoch=1, i=0, nb=4, nw=0, epochs=3, warmup_bias_lr=BIAS0) == [LR0] * 3


def test_warmup_iterations_follow_ultralytics():
    # nw = round(min(warmup_epochs, epochs - 1) * nb), 0 when warmup_epochs <= 0
    assert warmup_iterations(3.0, 10, 4) == 12
    assert warmup_iterations(1.5, 10, 4) == 6
    assert warmup_iterations(3.0, 2, 4) == 4  # capped at epochs - 1
    assert warmup_iterations(3.0, 1, 4) == 0
    assert warmup_iterations(0.0, 10, 4) == 0
    assert warmup_iterations(-1.0, 10, 4) == 0
    assert warmup_iterations(0.3, 10, 5) == 2  # round(1.5) == 2 (banker's rounding as numpy/python)
    assert warmup_iterations(0.1, 10, 5) == 0


def backbone_factor(settings, epoch: int, t: float) -> float:
    """A backbone group's freeze factor, on top of its lr_scale (the fine-tuning settings own the rule)."""
    return settings.finetune.factor(epoch, t)


def test_backbone_freeze_factor_and_ramp():
    plain = settings(lr_policy="cosine", lr_backbone_scale=0.5)
    assert backbone_factor(plain, 0, 0.0) == 1.0 and backbone_factor(plain, 5, 5.5) == 1.0  # the scale is lr_scale's
    frozen = settings(lr_policy="cosine", lr_backbone_scale=0.5, lr_unfreeze_epoch=2)
    assert backbone_factor(frozen, 1, 1.99) == 0.0 and backbone_factor(frozen, 2, 2.0) == 1.0
    ramp = settings(lr_policy="cosine", lr_backbone_scale=0.5, lr_unfreeze_epoch=2, lr_unfreeze_warmup=2)
    assert backbone_factor(ramp, 1, 1.75) == 0.0
    assert backbone_factor(ramp, 2, 2.0) == 0.0
    assert backbone_factor(ramp, 2, 2.5) == pytest.approx(0.25)
    assert backbone_factor(ramp, 3, 3.0) == pytest.approx(0.5)
    assert backbone_factor(ramp, 4, 4.0) == 1.0 and backbone_factor(ramp, 7, 7.5) == 1.0
    at_zero = settings(lr_policy="cosine", lr_backbone_scale=0.3, lr_unfreeze_epoch=0, lr_unfreeze_warmup=1)
    assert backbone_factor(at_zero, 0, 0.0) == 1.0  # unfreeze at epoch 0: never frozen, no ramp


def test_layer_scale_is_backbone_scale_x_decay_x_rule():
    """FineTune.scale: the lr_scale a layer's param groups carry (backbone scale x layer decay x lr_layer_scales)."""
    ft = settings(
        lr_policy="cosine", lr_backbone_scale=0.5, lr_layer_decay=0.8, lr_layer_scales={"20-21": 3.0}
    ).finetune
    assert ft.scale(0, 10, 22) == pytest.approx(0.5 * 0.8**22, rel=1e-12)
    assert ft.scale(9, 10, 22) == pytest.approx(0.5 * 0.8**13, rel=1e-12)
    assert ft.scale(10, 10, 22) == pytest.approx(0.8**12, rel=1e-12)  # first head layer: no backbone scale
    assert ft.scale(21, 10, 22) == pytest.approx(3.0 * 0.8, rel=1e-12) and ft.scale(22, 10, 22) == 1.0
    assert ft.scale(20, 10, 22) == pytest.approx(3.0 * 0.8**2, rel=1e-12)  # a rule covers its first layer too
    assert ft.scale(19, 10, 22) == pytest.approx(0.8**3, rel=1e-12)
    assert settings(lr_policy="cosine").finetune.scale(3, 10, 22) == 1.0


def test_backbone_groups_get_their_factor_of_the_head_value():
    """Backbone groups carry lr_backbone_scale as their lr_scale (as the optimizer split gives them)."""
    s = settings(lr_policy="constant", lr_backbone_scale=0.25, lr_unfreeze_epoch=1, lr_unfreeze_warmup=1)
    bb = [Group("weight", LR0, True, 0.25), Group("bias", LR0, True, 0.25)]
    groups = [Group("weight", LR0), Group("bias", LR0), *bb]
    assert lrs(s, 0, 2, groups=groups) == [LR0, LR0, 0.0, 0.0]
    assert lrs(s, 1, 2, groups=groups) == pytest.approx([LR0, LR0, LR0 * 0.25 * 0.5, LR0 * 0.25 * 0.5], rel=1e-12)
    assert lrs(s, 2, 0, groups=groups) == pytest.approx([LR0, LR0, LR0 * 0.25, LR0 * 0.25], rel=1e-12)
    # during warmup the backbone follows its head's warmup value (bias from warmup_bias_lr), times its scale
    s2 = settings(lr_policy="constant", lr_backbone_scale=0.5)
    groups = [Group("weight", LR0), Group("bias", LR0), Group("weight", LR0, True, 0.5), Group("bias", LR0, True, 0.5)]
    got = lrs(s2, 0, 1, nw=4, groups=groups)
    assert got == pytest.approx([LR0 / 4, BIAS0 + (LR0 - BIAS0) / 4, LR0 / 8, (BIAS0 + (LR0 - BIAS0) / 4) / 2])


def test_lr_scale_multiplies_a_groups_whole_curve():
    """A group split off by lr_layer_scales/lr_layer_decay (not backbone): lr_scale times the head curve at every step,
    warmup start included, and never frozen."""
    s = settings(lr_policy="cosine", lr_unfreeze_epoch=1, lr_layer_scales={22: 10.0})
    groups = [*GROUPS, Group("weight", LR0, scale=10.0), Group("bias", LR0, scale=10.0)]
    for epoch, i, nw in ((0, 0, 0), (0, 1, 4), (1, 2, 4), (2, 3, 0)):
        got = lrs(s, epoch, i, nw=nw, groups=groups)
        assert got[3:] == pytest.approx([10 * got[0], 10 * got[2]], rel=1e-12), (epoch, i, nw)
        assert got[3] > 0


# ------------------------------------------------------------------- where the policy's clock starts (lr0 is the peak)
PEAK, NB, EPOCHS = LR0, 10, 5  # the clock tests below: 5 epochs of 10 batches


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
    groups = [*GROUPS, Group("weight", PEAK, backbone=True, scale=0.5)]
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


# -------------------------------------------------------------------- details found by mutation testing (BENCHMARKS.md)
def test_policy_time_before_warmup_ends_and_with_a_short_span():
    s = resolve({"lr_policy": "cosine", "lrf": LRF})
    assert policy_time(s, 0, 5, NB, EPOCHS, 15) == (0.0, pytest.approx(EPOCHS - 1 / NB - 1.5))  # not negative
    assert policy_time(s, 1, 0, 4, 2, 6) == (0.0, 0.25)  # horizon 2 - 1/4 - 6/4: less than one epoch is kept


def test_an_epoch_plan_defaults_to_no_plateau_reduction():
    s = resolve({"lr_policy": "cosine", "lrf": LRF, "lr_plateau": True})
    plan = EpochPlan(s, GROUPS, epoch=1, nb=NB, nw=0, epochs=EPOCHS, warmup_bias_lr=0.1)
    h = EPOCHS - 1 / NB
    assert plan.lrs(3) == pytest.approx([PEAK * cos(1.3, h)] * 3, rel=1e-12)


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_epoch_interval_with_the_policy_after_warmup(factor):
    """lr_interval=epoch with lr_warmup_overlay=False: one value per epoch, the clock counted from the end of warmup
    (15 batches = 1.5 epochs), the plateau factor applied."""
    s = resolve(
        {"lr_policy": "cosine", "lrf": LRF, "lr_interval": "epoch", "lr_warmup_overlay": False, "lr_plateau": True}
    )
    h = EPOCHS - 1.5
    for epoch in range(2, EPOCHS):
        plan = EpochPlan(s, GROUPS, epoch=epoch, nb=NB, nw=15, epochs=EPOCHS, warmup_bias_lr=0.1, plateau_factor=factor)
        m = cos(epoch - 1.5, h)
        want = PEAK * (m if factor == 1.0 else max(m * factor, min(m, LRF)))
        assert plan.table() == [pytest.approx([want] * 3, rel=1e-12)] * NB, epoch
    plan = EpochPlan(s, GROUPS, epoch=1, nb=NB, nw=15, epochs=EPOCHS, warmup_bias_lr=0.1)
    assert plan.lrs(9) == [PEAK] * 3  # after warmup, before the clock's first tick: the peak


def test_epoch_interval_ramps_the_backbone_once_per_epoch():
    s = resolve({"lr_policy": "constant", "lr_interval": "epoch", "lr_unfreeze_epoch": 1, "lr_unfreeze_warmup": 2})
    groups = [Group("weight", PEAK), Group("weight", PEAK, backbone=True)]
    for epoch, factor in ((0, 0.0), (1, 0.0), (2, 0.5), (3, 1.0)):
        plan = EpochPlan(s, groups, epoch=epoch, nb=4, nw=0, epochs=EPOCHS, warmup_bias_lr=0.1)
        assert plan.table() == [[PEAK, PEAK * factor]] * 4, epoch


def onecycle_momentum(t: float, h: float, base: float = 0.9, low: float = 0.85, pct: float = 0.3) -> float:
    p = min(max(t / h, 0.0), 1.0)
    if p <= pct:
        return base + (low - base) * (1 - math.cos(math.pi * p / pct)) / 2
    return low + (base - low) * (1 - math.cos(math.pi * (p - pct) / (1 - pct))) / 2


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_onecycle_momentum_follows_the_policy_clock(interval):
    """Per step: time epoch + i/nb counted from the end of warmup (1.5 epochs here), the base momentum until then;
    per epoch (overlaid by default): one value per epoch."""
    s = resolve({"lr_policy": "onecycle", "lrf": LRF, "lr_interval": interval})
    for epoch in range(EPOCHS):
        plan = EpochPlan(s, GROUPS, epoch=epoch, nb=NB, nw=15, epochs=EPOCHS, warmup_bias_lr=0.1)
        for i in range(NB):
            if interval == "step":
                want = onecycle_momentum(max(epoch + i / NB - 1.5, 0.0), EPOCHS - 1 / NB - 1.5)
            else:
                want = onecycle_momentum(float(epoch), EPOCHS)
            assert plan.momentum(i, 0.9) == pytest.approx(want, rel=1e-12), (epoch, i)
    plan = EpochPlan(s, GROUPS, epoch=0, nb=NB, nw=15, epochs=EPOCHS, warmup_bias_lr=0.1)
    assert plan.momentum(3, 0.9) == 0.9  # epoch 0: before the clock starts (step) or at t = 0 (epoch), the base
    cosine = EpochPlan(
        resolve({"lr_policy": "cosine"}), GROUPS, epoch=1, nb=NB, nw=0, epochs=EPOCHS, warmup_bias_lr=0.1
    )
    assert cosine.momentum(3, 0.9) is None and cosine.momenta(0.9) is None


def _run_lrs(settings_cfg: dict, epochs: int, nb: int, nw: int) -> list[float]:
    from yolo_lr.config import resolve

    s = resolve(settings_cfg)
    return [
        EpochPlan(s, [Group("weight", LR0)], epoch=e, nb=nb, nw=nw, epochs=epochs, warmup_bias_lr=0.1).lrs(i)[0]
        for e in range(epochs)
        for i in range(nb)
    ]


def test_restart_cycles_that_end_with_the_run_end_at_the_floor():
    """5 epochs, 1 of warmup, period 2: the two cycles fill the 4 epochs after warmup; restarts stay on epoch starts
    and the last step uses exactly lr0*lrf. A period that does not divide the run (3 of 4 epochs) ends mid-cycle."""
    cfg = {"lr_policy": "cosine_restarts", "lr_restart_period": 2, "lr0": LR0, "lrf": 0.05, "epochs": 5}
    lrs = _run_lrs({**cfg, "warmup_epochs": 1}, 5, 4, 4)
    assert lrs[-1] == pytest.approx(LR0 * 0.05, rel=1e-12)
    assert lrs[4] == lrs[12] == pytest.approx(LR0, rel=1e-12)  # epoch 1 and epoch 3 start at the peak (restart)
    assert lrs[11] > LR0 * 0.05  # the first cycle is not compressed: its last step is short of the floor
    cut = _run_lrs({**cfg, "lr_restart_period": 3, "warmup_epochs": 1}, 5, 4, 4)
    assert cut[-1] > LR0 * 0.05 * 1.5  # ends where the cut-off cycle is, as the README says
