"""The cyclic policy against torch.optim.lr_scheduler.CyclicLR, step by step: as a pure function, and in training
(the LR and momentum the optimizer really used)."""

from __future__ import annotations

import pytest

from yolo_lr.policies import Cyclic

LR0, LRF = 0.02, 0.1


def torch_cyclic(
    steps: int, nb: int, up: float, down: float | None, mode: str, gamma: float, base_m: float, min_m: float
):
    """What CyclicLR gives over ``steps`` optimizer steps with the plugin's settings translated to iterations."""
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR0, momentum=base_m)
    sched = torch.optim.lr_scheduler.CyclicLR(
        opt,
        base_lr=LR0 * LRF,
        max_lr=LR0,
        step_size_up=round(up * nb),
        step_size_down=round((down if down is not None else up) * nb),
        mode=mode,
        gamma=gamma ** (1 / nb),
        cycle_momentum=True,
        base_momentum=min_m,
        max_momentum=base_m,
    )
    out = []
    for _ in range(steps):
        g = opt.param_groups[0]
        out.append((g["lr"], g["momentum"]))
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize(
    ("mode", "up", "down"),
    [("triangular", 1.0, None), ("triangular2", 0.5, 1.0), ("exp_range", 0.75, 0.5)],
)
def test_matches_torch_cyclic_lr(mode, up, down):
    nb, epochs, gamma = 8, 6, 0.8
    policy = Cyclic(lrf=LRF, up=up, down=down, mode=mode, exp_gamma=gamma, momentum_min=0.8)
    ref = torch_cyclic(nb * epochs, nb, up, down, mode, gamma, 0.95, 0.8)
    for k, (lr, m) in enumerate(ref):
        t = k / nb
        assert LR0 * policy.multiplier(t, epochs) == pytest.approx(lr, rel=1e-9, abs=1e-15), (mode, k)
        assert policy.momentum(t, epochs, 0.95) == pytest.approx(m, rel=1e-9), (mode, k)


def test_default_cycle_is_a_quarter_of_the_run_and_bad_values_fail():
    from yolo_lr.config import LRConfigError, validate

    p = Cyclic(lrf=LRF)
    assert p.multiplier(2.5, 10) == pytest.approx(1.0) and p.multiplier(5.0, 10) == pytest.approx(LRF)
    for key, value in [("lr_cyclic_mode", "sawtooth"), ("lr_cyclic_up", 0), ("lr_cyclic_gamma", 1.5)]:
        with pytest.raises(LRConfigError, match=key):
            validate({"lr_policy": "cyclic", "epochs": 10, key: value})
    warnings = validate({"lr_policy": "cyclic", "epochs": 10, "warmup_epochs": 3})
    assert any("cyclic has its own rising phase" in w for w in warnings)


@pytest.mark.training
def test_cyclic_in_training_matches_torch_step_by_step(train):
    """4 steps per epoch, 4 epochs, no warmup: every step's LR and momentum as CyclicLR gives them."""
    kw = dict(lr_cyclic_up=0.5, lr_cyclic_down=0.75, lr_cyclic_mode="triangular2", lr_momentum_min=0.8)
    run = train(epochs=4, optimizer="SGD", lr0=LR0, lrf=LRF, momentum=0.95, warmup_epochs=0, lr_policy="cyclic", **kw)
    assert run.nb == 4 and len(run.steps) == 16
    ref = torch_cyclic(16, 4, 0.5, 0.75, "triangular2", 1.0, 0.95, 0.8)
    for s, (lr, m) in zip(run.steps, ref, strict=True):
        for group, lrs in s.lr.items():
            assert lrs == pytest.approx([lr] * len(lrs), rel=1e-9), (group, s.ni)
        assert s.momentum == pytest.approx(m, rel=1e-9), s.ni
