"""Tests for yolo_lr.policies: invariants, closed forms, Ultralytics and PyTorch references, validation."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import ClassVar

import pytest
import torch

from yolo_lr.params import ParamError, declared
from yolo_lr.policies import (
    PARAMS,
    POLICIES,
    WARMUP_SHAPES,
    CosineRestarts,
    MultiStep,
    Policy,
    build_policy,
    warmup_weight,
)

LRF = 0.05
TOTAL = 10.0
GRID = [i * 0.01 for i in range(1301)]  # 0 .. 13 epochs: covers the run and 30 % past its end

# (id, name, params, start value, ends exactly at lrf at t=total, non-increasing)
CASES = [
    ("linear", "linear", {}, 1.0, True, True),
    ("cosine", "cosine", {}, 1.0, True, True),
    ("restarts", "cosine_restarts", {}, 1.0, True, False),
    ("restarts-mult2-decay", "cosine_restarts", {"mult": 2.0, "decay": 0.5}, 1.0, True, False),
    ("restarts-period", "cosine_restarts", {"period": 4.0}, 1.0, False, False),
    ("step", "step", {}, 1.0, False, True),
    ("step-size", "step", {"step_size": 2, "gamma": 0.5}, 1.0, False, True),
    ("multistep", "multistep", {}, 1.0, False, True),
    ("multistep-ms", "multistep", {"milestones": [2, 5.5, 8], "gamma": 0.3}, 1.0, False, True),
    ("exponential", "exponential", {}, 1.0, True, True),
    ("exponential-gamma", "exponential", {"gamma": 0.7}, 1.0, False, True),
    ("poly", "poly", {}, 1.0, True, True),
    ("poly-2", "poly", {"power": 2.0}, 1.0, True, True),
    ("onecycle", "onecycle", {}, 1.0 / 25.0, True, False),
    ("onecycle-div", "onecycle", {"pct": 0.5, "div": 4.0}, 1.0 / 4.0, True, False),
    ("cyclic", "cyclic", {}, LRF, True, False),  # two full cycles fill the run: ends at the floor
    ("cyclic-cut", "cyclic", {"up": 3.0, "mode": "triangular2"}, LRF, False, False),
    ("wsd", "wsd", {}, 1.0, True, True),
    ("wsd-cosine", "wsd", {"decay_shape": "cosine", "decay_frac": 0.5}, 1.0, True, True),
    ("wsd-sqrt", "wsd", {"decay_shape": "sqrt", "decay_frac": 1.0}, 1.0, True, True),
    ("constant", "constant", {}, 1.0, False, True),
    ("plateau", "plateau", {}, 1.0, False, True),
    ("piecewise", "piecewise", {"milestones": [3, 6.5], "factors": [0.5, 0.1]}, 1.0, False, True),
    ("piecewise_linear", "piecewise_linear", {"milestones": [4, 10], "factors": [0.3, LRF]}, 1.0, True, True),
]
REQUIRED = {name: params for _, name, params, *_ in CASES if name.startswith("piecewise")}  # no defaults


def test_cases_cover_every_policy():
    assert {c[1] for c in CASES} == set(POLICIES)


@pytest.mark.parametrize(
    ("name", "params", "start", "ends_at_lrf", "monotonic"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_policy_invariants(name, params, start, ends_at_lrf, monotonic):
    p = build_policy(name, LRF, **params)
    assert isinstance(p, Policy)
    assert name in (p.name, *p.aliases)  # lr_policy=plateau is the constant curve (plateau switched on by config)
    assert p.multiplier(0.0, TOTAL) == pytest.approx(start, abs=1e-12)
    if ends_at_lrf:
        assert p.multiplier(TOTAL, TOTAL) == pytest.approx(LRF, abs=1e-12)
        assert p.multiplier(TOTAL + 2.5, TOTAL) == pytest.approx(LRF, abs=1e-12)  # held after the end
    values = [p.multiplier(t, TOTAL) for t in GRID]
    lo = min(LRF, start)
    assert all(lo - 1e-12 <= v <= 1.0 + 1e-12 for v in values), (min(values), max(values))
    if monotonic:
        assert all(b <= a + 1e-15 for a, b in itertools.pairwise(values))
        assert values[0] > values[-1] or name in ("constant", "plateau")  # non-increasing and really decaying
    else:
        assert any(b > a + 1e-6 for a, b in itertools.pairwise(values))  # a rise: restarts, one-cycle's ramp
    # Only onecycle drives momentum.
    assert (p.momentum(1.0, TOTAL, 0.9) is None) == (name not in {"onecycle", "cyclic"})


# Closed forms written from the docstrings/README, independently of the implementation; t on GRID, run of TOTAL.
def _stairs(x: float) -> int:
    return math.floor(x + 1e-9)  # a boundary reached through float noise (2.9999999999999996) counts as reached


def _cos(a: float, b: float, q: float) -> float:
    return b + (a - b) * (1 + math.cos(math.pi * q)) / 2


def _restarts_ref(t: float, period: float, mult: float, decay: float) -> float:
    tt = min(t, TOTAL)
    starts, lengths = [0.0], [period]
    while starts[-1] + lengths[-1] < TOTAL - 1e-9:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * mult)
    k = max(j for j, s in enumerate(starts) if s <= tt + 1e-9 * max(1.0, s)) if tt < TOTAL else len(starts) - 1
    return _cos(max(decay**k, LRF), LRF, (tt - starts[k]) / lengths[k])


def _onecycle_ref(t: float, pct: float, div: float) -> float:
    p = min(t / TOTAL, 1.0)
    return _cos(1 / div, 1.0, p / pct) if p <= pct else _cos(1.0, LRF, (p - pct) / (1 - pct))


def _wsd_ref(t: float, frac: float, shape) -> float:
    p = min(max((min(t / TOTAL, 1.0) - (1 - frac)) / frac, 0.0), 1.0)
    return LRF + (1 - LRF) * shape(p)


def _tri(x, r, scale):
    """A triangle over one cycle (x in [0, 1), rising for the fraction r), from LRF to LRF + (1 - LRF) * scale."""
    return LRF + (1 - LRF) * (x / r if x <= r else (1 - x) / (1 - r)) * scale


REFERENCE = {
    "linear": lambda t: max(1 - t / TOTAL, 0) * (1 - LRF) + LRF,
    "cosine": lambda t: _cos(1.0, LRF, min(t, TOTAL) / TOTAL),
    "restarts": lambda t: _restarts_ref(t, TOTAL / 3, 1.0, 1.0),
    "restarts-mult2-decay": lambda t: _restarts_ref(t, TOTAL / 7, 2.0, 0.5),
    "restarts-period": lambda t: _restarts_ref(t, 4.0, 1.0, 1.0),
    "step": lambda t: max(0.1 ** _stairs(t / 3), LRF),  # default step: a third of 10 epochs, rounded: 3
    "step-size": lambda t: max(0.5 ** _stairs(t / 2), LRF),
    "multistep": lambda t: max(0.1 ** sum(t + 1e-9 >= m for m in (5, 8)), LRF),  # defaults: 0.5, 0.75 of the run
    "multistep-ms": lambda t: max(0.3 ** sum(t + 1e-9 * m >= m for m in (2, 5.5, 8)), LRF),
    "exponential": lambda t: LRF ** (min(t, TOTAL) / TOTAL),
    "exponential-gamma": lambda t: max(0.7**t, LRF),
    "poly": lambda t: LRF + (1 - LRF) * (1 - min(t, TOTAL) / TOTAL) ** 0.9,
    "poly-2": lambda t: LRF + (1 - LRF) * (1 - min(t, TOTAL) / TOTAL) ** 2,
    "onecycle": lambda t: _onecycle_ref(t, 0.3, 25.0),
    "onecycle-div": lambda t: _onecycle_ref(t, 0.5, 4.0),
    "wsd": lambda t: _wsd_ref(t, 0.2, lambda p: 1 - p),
    "wsd-cosine": lambda t: _wsd_ref(t, 0.5, lambda p: (1 + math.cos(math.pi * p)) / 2),
    "wsd-sqrt": lambda t: _wsd_ref(t, 1.0, lambda p: 1 - math.sqrt(p)),
    "cyclic": lambda t: _tri(min(t, TOTAL) % 5.0 / 5.0, 0.5, 1.0),  # up = down = a quarter of the run
    "cyclic-cut": lambda t: _tri(min(t, TOTAL) % 6.0 / 6.0, 0.5, 0.5 ** (min(t, TOTAL) // 6.0)),  # triangular2
    "constant": lambda t: 1.0,
    "plateau": lambda t: 1.0,
    "piecewise": lambda t: (1.0, 0.5, 0.1)[sum(t + 1e-9 * m >= m for m in (3, 6.5))],  # absolute levels
    "piecewise_linear": lambda t: 1 - 0.7 * t / 4 if t < 4 else 0.3 + (LRF - 0.3) * (min(t, TOTAL) - 4) / 6,
}


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_every_case_matches_its_closed_form_on_the_grid(case):
    _, name, params, *_ = next(c for c in CASES if c[0] == case)
    p = build_policy(name, LRF, **params)
    for t in GRID:
        assert p.multiplier(t, TOTAL) == pytest.approx(REFERENCE[case](t), abs=1e-12), (case, t)


def test_params_table_matches_constructors():
    """The parameters each policy takes and the config key of each: a policy or key added without its counterpart
    (and this table, which the README's key table mirrors) fails here."""
    assert set(PARAMS) == set(POLICIES)
    for name, keys in PARAMS.items():
        assert keys == tuple(d.name for d in declared(POLICIES[name])), name
        p = build_policy(name, LRF, **REQUIRED.get(name, {}))
        assert all(hasattr(p, k) for k in keys)
    assert PARAMS == {
        "linear": (),
        "cosine": (),
        "cosine_restarts": ("period", "mult", "decay"),
        "step": ("step_size", "gamma"),
        "multistep": ("milestones", "gamma"),
        "exponential": ("gamma",),
        "poly": ("power",),
        "onecycle": ("pct", "div", "momentum_min"),
        "cyclic": ("up", "down", "mode", "exp_gamma", "momentum_min"),
        "wsd": ("decay_frac", "decay_shape"),
        "constant": (),
        "plateau": (),
        "piecewise": ("milestones", "factors"),
        "piecewise_linear": ("milestones", "factors"),
    }
    param_keys = {d.name: d.param.key for cls in POLICIES.values() for d in declared(cls)}
    assert param_keys == {
        "period": "lr_restart_period",
        "mult": "lr_restart_mult",
        "decay": "lr_restart_decay",
        "step_size": "lr_step_size",
        "gamma": "lr_gamma",
        "milestones": "lr_milestones",
        "power": "lr_power",
        "pct": "lr_onecycle_pct",
        "div": "lr_onecycle_div",
        "momentum_min": "lr_momentum_min",
        "decay_frac": "lr_decay_frac",
        "decay_shape": "lr_decay_shape",
        "factors": "lr_factors",
        "up": "lr_cyclic_up",
        "down": "lr_cyclic_down",
        "mode": "lr_cyclic_mode",
        "exp_gamma": "lr_cyclic_gamma",
    }


def test_none_params_mean_default():
    assert build_policy("step", LRF, gamma=None, step_size=None).gamma == 0.1


# --------------------------------------------------------------------------------------------------------- closed forms
def test_linear_closed_form():
    p = build_policy("linear", LRF)
    for t in (0.0, 2.5, 5.0, 7.3, 10.0, 12.0):
        assert p.multiplier(t, TOTAL) == pytest.approx(max(1 - t / TOTAL, 0) * (1 - LRF) + LRF, abs=1e-15)
    assert p.multiplier(5.0, TOTAL) == pytest.approx(0.5 * (1 + LRF))


def test_cosine_closed_form():
    p = build_policy("cosine", LRF)
    assert p.multiplier(5.0, TOTAL) == pytest.approx(LRF + (1 - LRF) / 2, abs=1e-15)
    assert p.multiplier(2.5, TOTAL) == pytest.approx(LRF + (1 - LRF) * (1 + math.sqrt(0.5)) / 2, abs=1e-15)
    assert p.multiplier(7.5, TOTAL) == pytest.approx(LRF + (1 - LRF) * (1 - math.sqrt(0.5)) / 2, abs=1e-15)


def test_cosine_restarts_closed_form_default_three_cycles():
    p = build_policy("cosine_restarts", LRF)  # period = 10 / 3
    period = TOTAL / 3
    assert p.multiplier(period / 2, TOTAL) == pytest.approx(LRF + (1 - LRF) / 2, abs=1e-12)
    for k in (1, 2):
        assert p.multiplier(k * period, TOTAL) == pytest.approx(1.0, abs=1e-12)  # a restart is the new cycle's peak
        assert p.multiplier(k * period - 1e-6, TOTAL) == pytest.approx(LRF, abs=1e-9)  # just before: the trough
        assert p.cycle(k * period + 1e-6, TOTAL) == k
        assert p.cycle(k * period - 1e-6, TOTAL) == k - 1
    assert p.cycle(0.0, TOTAL) == 0
    assert p.cycle(TOTAL, TOTAL) == 2  # end of run = end of the third cycle, not a fourth one
    assert p.cycle(TOTAL + 5, TOTAL) == 2


def test_cosine_restarts_closed_form_mult_decay():
    p = build_policy("cosine_restarts", LRF, mult=2.0, decay=0.5)  # period = 10 / 7: cycles 10/7, 20/7, 40/7
    period = TOTAL / 7
    assert p.first_period(TOTAL) == pytest.approx(period)
    starts = [0.0, period, 3 * period]
    for k, s in enumerate(starts):
        length = period * 2**k
        peak = max(0.5**k, LRF)
        assert p.cycle(s + 0.25 * length, TOTAL) == k
        assert p.multiplier(s, TOTAL) == pytest.approx(peak, abs=1e-12)
        expected = LRF + (peak - LRF) * (1 + math.cos(math.pi * 0.25)) / 2
        assert p.multiplier(s + 0.25 * length, TOTAL) == pytest.approx(expected, abs=1e-12)
    # decay floor: with a steep decay the peak never drops below lrf
    q = build_policy("cosine_restarts", 0.3, period=1.0, decay=0.1)
    assert q.multiplier(2.0, TOTAL) == pytest.approx(0.3, abs=1e-15)  # peak_2 = max(0.01, 0.3)


def test_step_closed_form_and_float_noise():
    p = build_policy("step", 1e-6, step_size=1.0, gamma=0.5)
    for t, n in ((0.0, 0), (0.99, 0), (1.0, 1), (2.0, 2), (2.5, 2), (9.0, 9)):
        assert p.multiplier(t, TOTAL) == pytest.approx(0.5**n, rel=1e-15)
    almost_one = sum([0.1] * 10)  # 0.9999999999999999: one epoch reached through float accumulation
    assert almost_one < 1.0
    assert p.multiplier(almost_one, TOTAL) == 0.5
    q = build_policy("step", 1e-6, step_size=0.1, gamma=0.5)
    assert 0.3 / 0.1 < 3  # 2.9999999999999996
    assert q.multiplier(0.3, TOTAL) == pytest.approx(0.5**3, rel=1e-15)
    # default step_size is a third of the run in whole epochs (10 -> 3: stairs at epochs 3, 6, 9); floor is lrf
    r = build_policy("step", LRF)
    assert r.multiplier(2.99, TOTAL) == 1.0 and r.multiplier(3.0, TOTAL) == pytest.approx(0.1)
    assert r.multiplier(6.0, TOTAL) == LRF  # 0.01 floored
    assert build_policy("step", LRF).multiplier(0.9, 1.75) == 1.0  # tiny runs: at least one epoch per stair
    assert build_policy("step", LRF).multiplier(1.0, 1.75) == pytest.approx(0.1)  # ... and exactly one


def test_multistep_closed_form():
    p = build_policy("multistep", 1e-6, milestones=[3, 7.5], gamma=0.2)
    for t, n in ((0.0, 0), (2.999, 0), (3.0, 1), (7.49, 1), (7.5, 2), (20.0, 2)):
        assert p.multiplier(t, TOTAL) == pytest.approx(0.2**n, rel=1e-15)
    d = build_policy("multistep", 1e-6, gamma=0.2)  # milestones 0.5 and 0.75 of the run, whole epochs: 5 and 8
    assert d.multiplier(4.99, TOTAL) == 1.0
    assert d.multiplier(5.0, TOTAL) == pytest.approx(0.2)
    assert d.multiplier(7.99, TOTAL) == pytest.approx(0.2)
    assert d.multiplier(8.0, TOTAL) == pytest.approx(0.04)
    assert d.multiplier(8.0, 20.0) == 1.0  # total changes mid-run (time= mode): milestones follow it (10, 15)
    tiny = build_policy("multistep", 1e-6, gamma=0.2)  # 1.5 epochs: both defaults round to epoch 1 (at least 1)
    assert tiny.multiplier(0.99, 1.5) == 1.0 and tiny.multiplier(1.0, 1.5) == pytest.approx(0.2)
    # a milestone reached through float noise counts, in proportion to its size; a clear miss does not
    far = build_policy("multistep", 1e-6, milestones=[3000], gamma=0.2)
    assert far.multiplier(3000 - 1e-7, 1e4) == pytest.approx(0.2) and far.multiplier(2999.99, 1e4) == 1.0
    assert build_policy("multistep", 1e-6, milestones=[1], gamma=0.2).multiplier(1 - 1.5e-9, 10) == 1.0


def test_multistep_copies_milestones():
    ms = [2, 4]
    p = build_policy("multistep", LRF, milestones=ms)
    ms.append(1)
    ms[0] = 9
    assert ms == [9, 4, 1]
    assert p.milestones == (2.0, 4.0)
    assert p.multiplier(2.0, TOTAL) == pytest.approx(0.1)
    src = [1, 2.5]
    direct = MultiStep(lrf=LRF, milestones=src)
    src[0] = 100
    assert direct.milestones == (1.0, 2.5)


def test_exponential_closed_form():
    p = build_policy("exponential", LRF)
    assert p.multiplier(5.0, TOTAL) == pytest.approx(math.sqrt(LRF), rel=1e-14)
    assert p.multiplier(2.0, TOTAL) == pytest.approx(LRF**0.2, rel=1e-14)
    q = build_policy("exponential", LRF, gamma=0.8)
    assert q.multiplier(3.0, TOTAL) == pytest.approx(0.8**3, rel=1e-14)
    assert q.multiplier(0.5, TOTAL) == pytest.approx(math.sqrt(0.8), rel=1e-14)
    assert q.multiplier(50.0, TOTAL) == LRF


def test_poly_closed_form():
    p = build_policy("poly", LRF, power=2.0)
    assert p.multiplier(5.0, TOTAL) == pytest.approx(LRF + (1 - LRF) * 0.25, abs=1e-15)
    q = build_policy("poly", LRF)
    assert q.multiplier(3.0, TOTAL) == pytest.approx(LRF + (1 - LRF) * 0.7**0.9, abs=1e-15)


def test_onecycle_closed_form_and_momentum():
    p = build_policy("onecycle", LRF, pct=0.3, div=25.0, momentum_min=0.85)
    peak = 3.0
    assert p.multiplier(peak, TOTAL) == pytest.approx(1.0, abs=1e-15)
    assert p.multiplier(peak / 2, TOTAL) == pytest.approx((1 / 25 + 1) / 2, abs=1e-15)
    assert p.multiplier(peak + 3.5, TOTAL) == pytest.approx((1 + LRF) / 2, abs=1e-15)
    base = 0.937
    assert p.momentum(0.0, TOTAL, base) == pytest.approx(base, abs=1e-15)
    assert p.momentum(peak, TOTAL, base) == pytest.approx(0.85, abs=1e-15)
    assert p.momentum(peak / 2, TOTAL, base) == pytest.approx((base + 0.85) / 2, abs=1e-15)
    assert p.momentum(TOTAL, TOTAL, base) == pytest.approx(base, abs=1e-15)
    # LR and momentum move in opposite directions everywhere
    ts = [i * 0.05 for i in range(201)]
    lr = [p.multiplier(t, TOTAL) for t in ts]
    mom = [p.momentum(t, TOTAL, base) for t in ts]
    for i in range(1, len(ts)):
        assert (lr[i] - lr[i - 1]) * (mom[i] - mom[i - 1]) <= 1e-18


def test_wsd_closed_form():
    t0 = 8.0  # decay_frac 0.2 of 10 epochs
    for shape, mid in (("linear", 0.5), ("cosine", 0.5), ("sqrt", 1 - math.sqrt(0.5))):
        p = build_policy("wsd", LRF, decay_shape=shape)
        assert p.multiplier(t0, TOTAL) == 1.0
        assert p.multiplier(t0 - 3, TOTAL) == 1.0
        assert p.multiplier(9.0, TOTAL) == pytest.approx(LRF + (1 - LRF) * mid, abs=1e-15)
    c = build_policy("wsd", LRF, decay_shape="cosine")
    assert c.multiplier(8.5, TOTAL) == pytest.approx(LRF + (1 - LRF) * (1 + math.cos(math.pi / 4)) / 2, abs=1e-15)


def test_piecewise_closed_form_factors_above_one():
    """Raise the LR at epoch 300 of 600 (ultralytics#22369): absolute levels, not cumulative, not floored at lrf."""
    p = build_policy("piecewise", LRF, milestones=[300], factors=[2.0])
    assert [p.multiplier(t, 600) for t in (0, 150, 299.99, 300, 450, 600, 700)] == [1, 1, 1, 2, 2, 2, 2]
    q = build_policy("piecewise", LRF, milestones=[2, 4, 7], factors=[3.0, 0.5, 1e-3])
    for t, want in ((0.0, 1.0), (1.999, 1.0), (2.0, 3.0), (sum([0.4] * 10), 0.5), (6.99, 0.5), (7.0, 1e-3)):
        assert q.multiplier(t, TOTAL) == want, t
    assert sum([0.4] * 10) < 4  # 3.9999999999999996: a milestone reached through float accumulation still counts


def test_piecewise_linear_closed_form():
    p = build_policy("piecewise_linear", LRF, milestones=[300, 600], factors=[2.0, 0.01])
    assert p.multiplier(0, 600) == 1.0 and p.multiplier(150, 600) == 1.5 and p.multiplier(300, 600) == 2.0
    assert p.multiplier(450, 600) == pytest.approx((2.0 + 0.01) / 2, rel=1e-15)
    assert p.multiplier(600, 600) == 0.01 and p.multiplier(900, 600) == 0.01  # held after the last point
    # a point at or past the end of the run sits at the run's last step (horizon < epochs in step mode)
    horizon = 600 - 1 / 50
    assert p.multiplier(horizon, horizon) == 0.01
    assert p.multiplier(300 + (horizon - 300) / 2, horizon) == pytest.approx((2.0 + 0.01) / 2, rel=1e-12)
    # points squeezed together past the end never divide by zero
    q = build_policy("piecewise_linear", LRF, milestones=[9.9, 10], factors=[0.5, 0.2])
    assert [q.multiplier(t, 9.75) for t in (0, 9.75, 11)] == [1.0, 0.2, 0.2]
    assert q.multiplier(4.875, 9.75) == pytest.approx(1 - 0.5 * 4.875 / 9.75, rel=1e-15)


def test_piecewise_copies_its_lists():
    ms, fs = [2, 4], [2.0, 0.5]
    p = build_policy("piecewise", LRF, milestones=ms, factors=fs)
    ms[0], fs[0] = 3, 9.0
    assert p.milestones == (2.0, 4.0) and p.factors == (2.0, 0.5) and p.multiplier(2, TOTAL) == 2.0


# -------------------------------------------------------------------------------------------------- native equivalence
def test_linear_equals_ultralytics_native_lambda():
    for epochs in (1, 7, 100, 300):
        for lrf in (0.01, 0.1, 1.0):
            p = build_policy("linear", lrf)
            native = lambda x, n=epochs, f=lrf: max(1 - x / n, 0) * (1.0 - f) + f  # noqa: E731 (trainer.py, cos_lr=False)
            for x in range(epochs + 3):
                assert p.multiplier(x, epochs) == native(x)


def test_cosine_equals_ultralytics_one_cycle():
    from ultralytics.utils.torch_utils import one_cycle

    for epochs in (1, 7, 100, 300):
        for lrf in (0.01, 0.1, 1.0):
            p = build_policy("cosine", lrf)
            native = one_cycle(1, lrf, epochs)  # what the trainer uses when cos_lr=True
            for x in range(epochs + 1):
                assert p.multiplier(x, epochs) == pytest.approx(native(x), abs=1e-12)


# -------------------------------------------------------------------------------------------------- PyTorch references
def _torch_lrs(make_scheduler, steps: int, base_lr: float = 1.0, momentum: float = 0.0):
    """LR / base_lr (and momentum) after 0, 1, ..., steps-1 scheduler steps."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=base_lr, momentum=momentum)
    sched = make_scheduler(opt)
    lrs, moms = [], []
    for i in range(steps):
        if i:
            opt.step()
            sched.step()
        lrs.append(opt.param_groups[0]["lr"] / base_lr)
        moms.append(opt.param_groups[0]["momentum"])
    return lrs, moms


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.5), (3, 0.1), (4, 0.7)])
def test_step_matches_steplr(step_size, gamma):
    n = 30
    ref, _ = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma), n)
    for lrf in (1e-12, LRF):  # tiny lrf: floor never bites; LRF: apply the same floor to torch's value
        p = build_policy("step", lrf, step_size=step_size, gamma=gamma)
        for e in range(n):
            assert p.multiplier(e, n) == pytest.approx(max(ref[e], lrf), rel=1e-12), e


def test_multistep_matches_multisteplr():
    n, ms, gamma = 40, [5, 12, 13, 30], 0.3
    ref, _ = _torch_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=ms, gamma=gamma), n)
    for lrf in (1e-12, LRF):
        p = build_policy("multistep", lrf, milestones=ms, gamma=gamma)
        for e in range(n):
            assert p.multiplier(e, n) == pytest.approx(max(ref[e], lrf), rel=1e-12), e


def test_exponential_matches_exponentiallr():
    n, gamma = 40, 0.85
    ref, _ = _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=gamma), n)
    for lrf in (1e-12, LRF):
        p = build_policy("exponential", lrf, gamma=gamma)
        for e in range(n):
            assert p.multiplier(e, n) == pytest.approx(max(ref[e], lrf), rel=1e-12), e


@pytest.mark.parametrize(("period", "mult", "total"), [(3, 1, 30), (5, 1, 31), (2, 2, 40), (1, 3, 45)])
def test_cosine_restarts_matches_warm_restarts(period, mult, total):
    lrf, base = 0.02, 0.4
    ref, _ = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=period, T_mult=mult, eta_min=lrf * base),
        total,
        base_lr=base,
    )
    p = build_policy("cosine_restarts", lrf, period=period, mult=mult, decay=1.0)
    # Epochs 0 .. total-1 (strictly inside the run; at t=total our curve is pinned to the end of the running cycle).
    for e in range(total):
        assert p.multiplier(e, total) == pytest.approx(ref[e], abs=1e-12), e
    assert max(ref) == pytest.approx(1.0) and sum(r == pytest.approx(1.0) for r in ref) >= 3  # restarts were hit


@pytest.mark.parametrize(
    ("n", "pct", "div", "lrf"), [(100, 0.3, 25.0, 0.05), (57, 0.25, 10.0, 0.01), (40, 0.5, 4.0, 0.2)]
)
def test_onecycle_matches_onecyclelr(n, pct, div, lrf):
    base_m, min_m, total = 0.937, 0.85, 12.0
    ref_lr, ref_m = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o,
            max_lr=1.0,
            total_steps=n,
            pct_start=pct,
            anneal_strategy="cos",
            three_phase=False,
            div_factor=div,
            final_div_factor=1.0 / (lrf * div),  # torch's final lr = max_lr / div / final_div_factor == lrf
            cycle_momentum=True,
            base_momentum=min_m,
            max_momentum=base_m,
        ),
        n,
        momentum=base_m,
    )
    p = build_policy("onecycle", lrf, pct=pct, div=div, momentum_min=min_m)
    # Mapping. Torch defines its phases on step indices: the rise covers steps 0 .. s_peak = pct*n - 1 and the anneal
    # s_peak .. n - 1 (its last step). Our phases are 0 .. pct*total and pct*total .. total. Those are not related by
    # one affine map (pct*n - 1 != pct*(n - 1)), so we map each phase onto ours at the same fraction of the phase:
    #   s <= s_peak: t = pct*total * s / s_peak
    #   s >  s_peak: t = pct*total + (1 - pct)*total * (s - s_peak) / (n - 1 - s_peak)
    # Under this mapping torch's first step, peak step and last step land exactly on our 0, pct*total and total.
    s_peak = pct * n - 1
    for s in range(n):
        if s <= s_peak:
            t = pct * total * s / s_peak
        else:
            t = pct * total + (1 - pct) * total * (s - s_peak) / (n - 1 - s_peak)
        assert p.multiplier(t, total) == pytest.approx(ref_lr[s], abs=1e-12), s
        assert p.momentum(t, total, base_m) == pytest.approx(ref_m[s], abs=1e-12), s
    assert ref_lr[0] == pytest.approx(1 / div) and ref_lr[-1] == pytest.approx(lrf)


# ------------------------------------------------------------------------------------------------------------- warmup
def test_warmup_weight_shapes():
    us = [i / 200 for i in range(201)]
    for shape in WARMUP_SHAPES:
        assert warmup_weight(0.0, shape) == 0.0
        assert warmup_weight(1.0, shape) == 1.0
        assert warmup_weight(-0.5, shape) == 0.0
        assert warmup_weight(3.0, shape) == 1.0 and warmup_weight(1.5, shape) == 1.0
        ws = [warmup_weight(u, shape) for u in us]
        assert all(0.0 <= w <= 1.0 for w in ws)
        assert all(b >= a for a, b in itertools.pairwise(ws))
        assert ws[1] > 0.0 and ws[-2] < 1.0  # strictly inside (0, 1) in the interior
    assert warmup_weight(0.5, "linear") == 0.5
    assert warmup_weight(0.5, "cosine") == pytest.approx(0.5, abs=1e-15)
    assert warmup_weight(0.25, "cosine") == pytest.approx((1 - math.sqrt(0.5)) / 2, abs=1e-15)
    assert warmup_weight(0.5, "quadratic") == 0.25
    assert warmup_weight(0.5, "exponential") == pytest.approx((1 - math.exp(-2.5)) / (1 - math.exp(-5)), rel=1e-14)
    assert warmup_weight(0.2, "exponential") > 0.6  # fast rise


def test_warmup_weight_bad_shape():
    with pytest.raises(ValueError) as err:
        warmup_weight(0.5, "exp")
    assert str(err.value) == "lr_warmup_shape must be one of linear, cosine, exponential, quadratic; got 'exp'"


# --------------------------------------------------------------------------------------------------------- validation
BAD = [
    ("step", {"gamma": 0}, "lr_gamma"),
    ("step", {"gamma": 1.5}, "lr_gamma"),
    ("step", {"gamma": 1.0}, "lr_gamma"),
    ("multistep", {"gamma": 0.0}, "lr_gamma"),
    ("exponential", {"gamma": 1.5}, "lr_gamma"),
    ("exponential", {"gamma": 0.0}, "lr_gamma"),
    ("exponential", {"gamma": 1.0}, "lr_gamma"),
    ("exponential", {"gamma": "0.5"}, "lr_gamma"),
    ("poly", {"power": "2"}, "lr_power"),
    ("onecycle", {"pct": "0.3"}, "lr_onecycle_pct"),
    ("wsd", {"decay_frac": "0.2"}, "lr_decay_frac"),
    ("cosine_restarts", {"period": "2"}, "lr_restart_period"),
    ("cosine_restarts", {"mult": "2"}, "lr_restart_mult"),
    ("cosine_restarts", {"decay": "1"}, "lr_restart_decay"),
    ("cosine_restarts", {"decay": 1.5}, "lr_restart_decay"),
    ("step", {"gamma": "0.5"}, "lr_gamma"),
    ("multistep", {"gamma": "0.5"}, "lr_gamma"),
    ("onecycle", {"div": "4"}, "lr_onecycle_div"),
    ("onecycle", {"momentum_min": "0.8"}, "lr_momentum_min"),
    ("onecycle", {"momentum_min": 0.0}, "lr_momentum_min"),
    ("step", {"step_size": 0}, "lr_step_size"),
    ("step", {"step_size": -1}, "lr_step_size"),
    ("step", {"step_size": "3"}, "lr_step_size"),
    ("multistep", {"milestones": [5, 3]}, "lr_milestones"),
    ("multistep", {"milestones": [3, 3]}, "lr_milestones"),
    ("multistep", {"milestones": 5}, "lr_milestones"),
    ("multistep", {"milestones": "5,8"}, "lr_milestones"),
    ("multistep", {"milestones": [3, "a"]}, "lr_milestones"),
    ("multistep", {"milestones": [0, 3]}, "lr_milestones"),
    ("multistep", {"milestones": [True, 3]}, "lr_milestones"),
    ("poly", {"power": 0}, "lr_power"),
    ("onecycle", {"pct": 0}, "lr_onecycle_pct"),
    ("onecycle", {"pct": 1}, "lr_onecycle_pct"),
    ("onecycle", {"div": 0.5}, "lr_onecycle_div"),
    ("onecycle", {"momentum_min": 1.0}, "lr_momentum_min"),
    ("wsd", {"decay_frac": 0}, "lr_decay_frac"),
    ("wsd", {"decay_frac": 1.2}, "lr_decay_frac"),
    ("wsd", {"decay_shape": "exp"}, "lr_decay_shape"),
    ("cosine_restarts", {"period": 0}, "lr_restart_period"),
    ("cosine_restarts", {"mult": 0.5}, "lr_restart_mult"),
    ("cosine_restarts", {"decay": 0}, "lr_restart_decay"),
    ("cosine_restarts", {"decay": float("nan")}, "lr_restart_decay"),
    ("piecewise", {"milestones": [3]}, "lr_factors"),
    ("piecewise", {"factors": [2.0]}, "lr_milestones"),
    ("piecewise", {"milestones": [3, 5], "factors": [2.0]}, "lr_factors"),
    ("piecewise", {"milestones": [5, 3], "factors": [2.0, 1.0]}, "lr_milestones"),
    ("piecewise_linear", {"milestones": [3], "factors": [0]}, "lr_factors"),
    ("piecewise_linear", {"milestones": [3], "factors": [-1.0]}, "lr_factors"),
    ("piecewise_linear", {"milestones": [3], "factors": "2"}, "lr_factors"),
    ("piecewise_linear", {"milestones": [3], "factors": [True]}, "lr_factors"),
    ("step", {"bogus": 1}, "bogus"),
    ("linear", {"gamma": 0.5}, "gamma"),
]


@pytest.mark.parametrize(("name", "params", "key"), BAD, ids=[f"{n}-{k}-{i}" for i, (n, _, k) in enumerate(BAD)])
def test_bad_params_raise_naming_key(name, params, key):
    # the message starts with key=value (a policy's own parameter names appear in "unknown parameter" errors)
    with pytest.raises(ValueError, match=f"^{key}=.* (must|is required) " if key.startswith("lr_") else key):
        build_policy(name, LRF, **params)


@pytest.mark.parametrize("lrf", [0, 1.5, -0.1, float("nan"), "0.1", True])
@pytest.mark.parametrize("name", ["linear", "onecycle", "constant"])
def test_bad_lrf_raises(name, lrf):
    with pytest.raises(ValueError, match=r"^lrf=\S+ must be a number in \(0, 1\]"):
        build_policy(name, lrf)


def test_error_messages_list_what_is_allowed():
    def message(*args, **kwargs) -> str:
        with pytest.raises(ValueError) as e:
            build_policy(*args, **kwargs)
        return str(e.value)

    allowed = (
        "linear, cosine, cosine_restarts, step, multistep, exponential, piecewise, piecewise_linear, poly, onecycle, "
        "cyclic, wsd, constant, plateau"
    )
    assert message("cosin", LRF) == f"unknown lr policy 'cosin'; allowed: {allowed}"
    assert message(["cosine"], LRF) == f"unknown lr policy ['cosine']; allowed: {allowed}"  # not a name: no lookup
    assert message("linear", LRF, gamma=0.5, power=2) == (
        "unknown parameter(s) gamma, power for lr policy 'linear'; allowed: none"
    )
    assert message("step", LRF, power=2) == "unknown parameter(s) power for lr policy 'step'; allowed: step_size, gamma"
    assert message("wsd", LRF, decay_shape="exp") == "lr_decay_shape='exp' must be one of linear, cosine, sqrt"


def test_boundaries_that_are_allowed():
    assert build_policy("onecycle", LRF, div=1.0).multiplier(0.0, TOTAL) == 1.0  # div 1: no rise
    assert build_policy("cosine_restarts", LRF, decay=1.0, mult=1.0).multiplier(TOTAL / 3, TOTAL) == 1.0
    assert build_policy("wsd", LRF, decay_frac=1.0).multiplier(0.0, TOTAL) == 1.0


@pytest.mark.parametrize(
    ("name", "params"),
    [("cosine", {}), ("onecycle", {}), ("wsd", {"decay_shape": "cosine"}), ("cosine_restarts", {}), ("linear", {})],
)
@pytest.mark.parametrize("lrf", [0.1, 0.3, 0.07])
def test_run_ends_at_lrf_bit_exactly(name, params, lrf):
    """The last step of a run uses exactly lr0*lrf (README), not a value 1 ulp off."""
    assert build_policy(name, lrf, **params).multiplier(TOTAL, TOTAL) == lrf


def test_restart_cycle_longer_than_the_run():
    p = build_policy("cosine_restarts", LRF, period=20.0, decay=0.5)  # one cycle of 20 epochs; the run stops at 10
    half = LRF + (1 - LRF) / 2
    assert p.multiplier(10.0, TOTAL) == pytest.approx(half) and p.cycle(10.0, TOTAL) == 0


def test_lrf_one_is_allowed():
    assert build_policy("cosine", 1.0).multiplier(5.0, TOTAL) == 1.0


def test_unknown_policy_lists_allowed():
    with pytest.raises(ValueError, match="unknown lr policy") as err:
        build_policy("cosin", LRF)
    for name in POLICIES:
        assert name in str(err.value)


def test_direct_constructor_validates_and_is_keyword_only():
    with pytest.raises(ValueError, match="lr_restart_mult"):
        CosineRestarts(lrf=LRF, mult=0.9)
    with pytest.raises(TypeError):
        CosineRestarts(LRF)  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_total_must_be_positive(name):
    p = build_policy(name, LRF, **REQUIRED.get(name, {}))
    assert 0.0 < p.multiplier(0.3, 0.5) <= 1.0  # a run shorter than one epoch is fine (time= estimates, tiny runs)
    if name in ("constant", "plateau"):
        return  # flat: the run length is not used
    with pytest.raises(ValueError, match=r"^total \(the run length in epochs\) must be > 0, got 0\.0$"):
        p.multiplier(1.0, 0.0)


def test_validated_settings_are_stored_as_floats():
    """Constructors store the validated value as a float, also when it was given as an int (the declared keys accept
    int and float only, so values in (0, 1) can only be given as floats)."""
    half = 0.5
    cases = {
        "linear": {},
        "cosine": {},
        "cosine_restarts": {"period": 2, "mult": 2, "decay": 1},
        "step": {"step_size": 2, "gamma": half},
        "multistep": {"milestones": [2, 3], "gamma": half},
        "exponential": {"gamma": half},
        "poly": {"power": 2},
        "onecycle": {"pct": half, "div": 4, "momentum_min": half},
        "wsd": {"decay_frac": half},
    }
    for name, params in cases.items():
        p = build_policy(name, 1, **params)
        for k in ("lrf", *params):
            v = getattr(p, k)
            assert type(v) is (tuple if k == "milestones" else float), (name, k, v)
        if name == "multistep":
            assert all(type(m) is float for m in p.milestones)
        direct = POLICIES[name](lrf=1, **{k: v for k, v in params.items() if k != "milestones"})  # not via build_policy
        assert type(direct.lrf) is float, name


# ------------------------------------------------------------------- details found by mutation testing (BENCHMARKS.md)
def test_lrf_errors_state_the_rule():
    def error(lrf) -> ParamError:
        with pytest.raises(ParamError) as e:
            build_policy("linear", lrf)
        return e.value

    e = error(1.5)
    assert (e.key, e.value, str(e)) == ("lrf", 1.5, "lrf=1.5 must be a number in (0, 1]: the final LR is lr0*lrf")
    e = error("0.1")
    assert (e.key, e.value, str(e)) == ("lrf", "0.1", "lrf='0.1' must be a number in (0, 1]")


def test_piecewise_factor_count_error_carries_the_factors():
    with pytest.raises(ParamError) as e:
        build_policy("piecewise", LRF, milestones=[1, 2], factors=[0.5])
    assert (e.value.key, e.value.value) == ("lr_factors", [0.5])
    assert str(e.value) == "lr_factors=[0.5] must have one factor per milestone: lr_milestones has 2, lr_factors 1"


@pytest.mark.parametrize("name", ["multistep", "piecewise"])
@pytest.mark.parametrize("m", [1.0, 300.0])
def test_a_milestone_counts_as_reached_within_1e9_times_max_1_m(name, m):
    """Float noise (t = 3.9999999999999996 for 4) reaches a milestone: within 1e-9 * max(1, m) of it, edge included;
    further away it is not reached."""
    params = {"milestones": [m], "factors": [0.5]} if name == "piecewise" else {"milestones": [m], "gamma": 0.5}
    p = build_policy(name, 1e-3, **params)
    tol = 1e-9 * max(1.0, m)
    assert p.multiplier(m - tol, 1000.0) == 0.5 and p.multiplier(m - tol / 2, 1000.0) == 0.5
    assert p.multiplier(m - 1.5 * tol, 1000.0) == 1.0


def test_a_named_subclass_registers_itself_and_its_aliases(monkeypatch):
    for n in ("test_only", "test_only_alias"):
        monkeypatch.setitem(POLICIES, n, None)  # removed again after the test

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class TestOnly(Policy):
        name: ClassVar[str] = "test_only"
        aliases: ClassVar[tuple[str, ...]] = ("test_only_alias",)

        def multiplier(self, t: float, total: float) -> float:
            return 1.0

    assert POLICIES["test_only"] is TestOnly and POLICIES["test_only_alias"] is TestOnly
