"""Tests for yolo_lr.plateau: decisions identical to torch's ReduceLROnPlateau, non-finite values, resume."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from yolo_lr.plateau import Plateau, infer_mode


def _random_config(rng: random.Random) -> dict:
    return {
        "mode": rng.choice(["min", "max"]),
        "factor": rng.choice([0.1, 0.5, 0.7, 0.33]),
        "patience": rng.choice([0, 1, 2, 3, 5]),
        "cooldown": rng.choice([0, 0, 1, 2, 4]),
        "threshold": rng.choice([0.0, 1e-4, 0.01, 0.1]),
        "threshold_mode": rng.choice(["rel", "abs"]),
        "min_factor": rng.choice([0.0, 0.0, 1e-3, 0.05, 0.3]),
    }


def _random_sequence(rng: random.Random, n: int) -> list[float]:
    """A noisy metric with plateaus, exact repeats and (sometimes) negative values."""
    kind = rng.randrange(4)
    level = rng.uniform(-1.0, 1.0) if kind == 0 else rng.uniform(0.0, 2.0)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.25:
            level += rng.gauss(0.0, 0.05)  # drift
        elif r < 0.35:
            level = round(level, 1)  # ties / exact repeats
        out.append(level + (rng.gauss(0.0, 0.01) if kind == 1 else 0.0))
    return out


def _torch_factors(cfg: dict, seq: list[float]) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt,
        mode=cfg["mode"],
        factor=cfg["factor"],
        patience=cfg["patience"],
        threshold=cfg["threshold"],
        threshold_mode=cfg["threshold_mode"],
        cooldown=cfg["cooldown"],
        min_lr=cfg["min_factor"],
        eps=1e-8,
    )
    out = []
    for v in seq:
        opt.step()
        sched.step(v)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_matches_torch_on_random_sequences():
    rng = random.Random(1234)
    modes, reductions = set(), 0
    for _ in range(300):
        cfg = _random_config(rng)
        seq = _random_sequence(rng, rng.randrange(20, 70))
        ref = _torch_factors(cfg, seq)
        p = Plateau(**cfg)
        prev = 1.0
        for i, v in enumerate(seq):
            reduced = p.step(v)
            assert p.factor == ref[i], (cfg, i)
            assert reduced == (ref[i] < prev), (cfg, i)
            prev = ref[i]
        assert p.last_epoch == len(seq)
        modes.add((cfg["mode"], cfg["threshold_mode"]))
        reductions += ref[-1] < 1.0
    assert len(modes) == 4
    assert 50 < reductions < 300  # the sequences exercise both reducing and not reducing


def test_matches_torch_eps_skips_tiny_reductions():
    # factor 0.5 with min 0.3: 1 -> 0.5 -> 0.3 -> (0.3 - 0.3 = 0 <= eps: no change, but cooldown/num_bad still reset)
    cfg = {
        "mode": "min",
        "factor": 0.5,
        "patience": 1,
        "cooldown": 1,
        "threshold": 0.0,
        "threshold_mode": "abs",
        "min_factor": 0.3,
    }
    seq = [1.0] * 20
    ref = _torch_factors(cfg, seq)
    p = Plateau(**cfg)
    reduced, factors = [], []
    for v in seq:
        reduced.append(p.step(v))
        factors.append(p.factor)
    assert factors == ref
    assert ref[-1] == 0.3
    assert sum(reduced) == 2  # only the two actual reductions are reported, not the skipped third


def test_reduce_lr_on_plateau_defaults_match_torch():
    p = Plateau()
    assert (p.mode, p.reduce_factor, p.patience, p.cooldown, p.threshold, p.threshold_mode, p.min_factor, p.eps) == (
        "max",
        0.1,
        10,
        0,
        1e-4,
        "rel",
        0.0,
        1e-8,
    )
    assert p.factor == 1.0 and p.best == -math.inf and p.last_epoch == 0
    assert Plateau(mode="min").best == math.inf


def test_nan_counts_as_no_improvement():
    for mode in ("min", "max"):
        p = Plateau(mode=mode, patience=2, factor=0.5)
        seq = [1.0, math.nan, math.nan, math.nan]
        assert [p.step(v) for v in seq] == [False, False, False, True]
        assert p.best == 1.0 and p.factor == 0.5
        q = Plateau(mode=mode, patience=0)
        assert q.step(math.nan) is True  # the very first value is NaN: a bad epoch, never best
        assert q.best == (math.inf if mode == "min" else -math.inf)


def test_inf_is_not_an_unbeatable_best_where_torch_differs():
    cfg = {
        "mode": "max",
        "factor": 0.5,
        "patience": 2,
        "cooldown": 0,
        "threshold": 1e-4,
        "threshold_mode": "rel",
        "min_factor": 0.0,
    }
    seq = [1.0, math.inf, 1.5, 2.0, 2.5, 3.0]
    ref = _torch_factors(cfg, seq)
    assert ref[-1] < 1.0  # torch adopts +inf as best, so every later (improving) value is "bad" and it reduces
    p = Plateau(**cfg)
    assert [p.step(v) for v in seq] == [False] * len(seq)
    assert p.factor == 1.0 and p.best == 3.0 and p.num_bad_epochs == 0

    # min mode: -inf is the mirror case
    p = Plateau(mode="min", patience=1)
    for v in (1.0, -math.inf, 0.5, 0.4, 0.3):
        p.step(v)
    assert p.factor == 1.0 and p.best == 0.3
    # and inf/-inf in the "wrong" direction is just a bad epoch
    p = Plateau(mode="max", patience=0, factor=0.5)
    assert p.step(-math.inf) is True and p.factor == 0.5


def test_is_better_thresholds():
    assert Plateau(mode="max", threshold=0.1).is_better(1.11, 1.0)
    assert not Plateau(mode="max", threshold=0.1).is_better(1.09, 1.0)
    assert Plateau(mode="max", threshold=0.1, threshold_mode="abs").is_better(1.11, 1.0)
    assert not Plateau(mode="max", threshold=0.1, threshold_mode="abs").is_better(1.1, 1.0)
    assert Plateau(mode="min", threshold=0.1).is_better(0.89, 1.0)
    assert not Plateau(mode="min", threshold=0.1).is_better(0.91, 1.0)
    assert Plateau(mode="min", threshold=0.1, threshold_mode="abs").is_better(0.89, 1.0)
    assert not Plateau(mode="min", threshold=0.1, threshold_mode="abs").is_better(0.9, 1.0)
    assert not Plateau(mode="max").is_better(math.inf, 1.0)
    assert not Plateau(mode="min").is_better(math.nan, 1.0)


def test_min_factor_floor():
    p = Plateau(mode="max", factor=0.1, patience=0, min_factor=0.05)
    seen = []
    for _ in range(10):
        p.step(0.0)
        seen.append(p.factor)
    assert seen[0] == 1.0  # the first value is an improvement over -inf
    assert seen[1] == pytest.approx(0.1)
    assert all(f >= 0.05 for f in seen)
    assert seen[-1] == 0.05
    q = Plateau(mode="min", factor=0.5, patience=0, min_factor=1.0)
    assert not any(q.step(1.0) for _ in range(5)) and q.factor == 1.0


def _json_roundtrip(state: dict) -> dict:
    return json.loads(json.dumps(state, allow_nan=False))  # strict JSON: no Infinity/NaN tokens


def test_state_dict_is_strict_json_and_complete():
    p = Plateau(mode="min", factor=0.5, patience=3, cooldown=2, threshold=0.01, threshold_mode="abs", min_factor=0.01)
    s = _json_roundtrip(p.state_dict())
    assert s["best"] is None  # no value seen yet: infinite best encoded as None
    for v in (3.0, 2.0, 2.5):
        p.step(v)
    s = _json_roundtrip(p.state_dict())
    assert {k: s[k] for k in ("best", "num_bad_epochs", "cooldown_counter", "factor", "last_epoch")} == {
        "best": 2.0,
        "num_bad_epochs": 1,
        "cooldown_counter": 0,
        "factor": 1.0,
        "last_epoch": 3,
    }
    assert Plateau(**s["settings"]).settings() == p.settings()


def test_resume_at_every_split_index_matches_uninterrupted():
    rng = random.Random(99)
    for _ in range(30):
        cfg = _random_config(rng)
        cfg["patience"] = rng.choice([2, 3, 4])  # long enough that splits land mid-patience and mid-cooldown
        cfg["cooldown"] = rng.choice([1, 2, 3])
        seq = _random_sequence(rng, 40)
        seq[rng.randrange(40)] = math.nan
        full = Plateau(**cfg)
        expected = []
        for v in seq:
            r = full.step(v)
            expected.append((full.factor, r))
        for split in range(len(seq) + 1):
            first = Plateau(**cfg)
            got = []
            for v in seq[:split]:
                r = first.step(v)
                got.append((first.factor, r))
            resumed = Plateau()  # different (default) settings: they must come from the state
            resumed.load_state_dict(_json_roundtrip(first.state_dict()))
            for v in seq[split:]:
                r = resumed.step(v)
                got.append((resumed.factor, r))
            assert got == expected, (cfg, split)
            assert resumed.state_dict() == full.state_dict()


def test_load_state_dict_rejects_incomplete_or_invalid():
    p = Plateau()
    s = p.state_dict()
    with pytest.raises(ValueError, match="num_bad_epochs"):
        p.load_state_dict({k: v for k, v in s.items() if k != "num_bad_epochs"})
    bad = json.loads(json.dumps(s))
    bad["settings"]["factor"] = 2.0
    with pytest.raises(ValueError, match="lr_plateau_factor"):
        p.load_state_dict(bad)


def test_infer_mode():
    assert infer_mode("val/box_loss") == "min"
    assert infer_mode("train/DFL_LOSS") == "min"
    assert infer_mode("Loss") == "min"
    assert infer_mode("fitness") == "max"
    assert infer_mode("metrics/mAP50-95(B)") == "max"
    assert infer_mode("metrics/recall(B)") == "max"


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"mode": "maximize"}, "lr_plateau_mode"),
        ({"factor": 0}, "lr_plateau_factor"),
        ({"factor": 1.0}, "lr_plateau_factor"),
        ({"factor": 1.5}, "lr_plateau_factor"),
        ({"patience": -1}, "lr_plateau_patience"),
        ({"patience": 2.5}, "lr_plateau_patience"),
        ({"patience": True}, "lr_plateau_patience"),
        ({"cooldown": -2}, "lr_plateau_cooldown"),
        ({"cooldown": "1"}, "lr_plateau_cooldown"),
        ({"threshold": -1e-3}, "lr_plateau_threshold"),
        ({"threshold": float("nan")}, "lr_plateau_threshold"),
        ({"threshold_mode": "relative"}, "lr_plateau_threshold_mode"),
        ({"min_factor": -0.1}, "lr_plateau_min_factor"),
        ({"min_factor": 1.1}, "lr_plateau_min_factor"),
    ],
)
def test_bad_args_raise_naming_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        Plateau(**kwargs)


def test_integral_float_counts_are_accepted():
    p = Plateau(patience=3.0, cooldown=1.0)
    assert p.patience == 3 and isinstance(p.patience, int) and p.cooldown == 1


def test_error_messages_name_key_and_what_is_allowed():
    def message(**kwargs) -> str:
        with pytest.raises(ValueError) as e:
            Plateau(**kwargs)
        return str(e.value)

    assert message(mode="maximize") == "lr_plateau_mode='maximize' must be one of min, max"
    assert message(threshold_mode="x") == "lr_plateau_threshold_mode='x' must be one of rel, abs"
    assert message(factor="0.5") == "lr_plateau_factor='0.5' must be a number in (0, 1)"
    assert message(factor=math.nan) == "lr_plateau_factor=nan must be a number in (0, 1)"
    assert message(threshold=math.inf) == "lr_plateau_threshold=inf must be a number >= 0"
    assert message(min_factor="0") == "lr_plateau_min_factor='0' must be a number in [0, 1]"
    assert message(eps="0") == "eps must be a number >= 0, got '0'"
    assert message(eps=-1e-9) == "eps must be a number >= 0, got -1e-09"
    assert message(patience="1") == "lr_plateau_patience='1' must be an integer >= 0"
    assert message(cooldown=-1) == "lr_plateau_cooldown=-1 must be an integer >= 0"
    assert Plateau(eps=0.0).eps == 0.0  # eps 0: every reduction counts
    p = Plateau()
    with pytest.raises(ValueError) as e:
        p.load_state_dict({k: v for k, v in p.state_dict().items() if k not in ("num_bad_epochs", "factor")})
    assert str(e.value) == "plateau state is missing num_bad_epochs, factor"


def test_a_fresh_plateau_has_no_bad_epochs():
    assert Plateau().state_dict()["num_bad_epochs"] == 0
    p = Plateau(patience=1)
    assert p.step(math.nan) is False and p.num_bad_epochs == 1  # one bad epoch is within patience 1
    assert p.step(math.nan) is True


def test_a_factor_at_its_floor_is_not_reported_as_a_reduction():
    p = Plateau(mode="max", factor=0.5, patience=0, min_factor=0.5, eps=0.0)
    assert [p.step(v) for v in (1.0, 0.0, 0.0, 0.0)] == [False, True, False, False]
    assert p.factor == 0.5


def test_infer_mode_says_which_names_it_knows():
    with pytest.raises(ValueError) as e:
        infer_mode("lr/pg0")
    assert str(e.value) == (
        "cannot tell from the name 'lr/pg0' whether higher or lower is better (names with loss, err, rmse, mse, mae, "
        "abs_rel, sq_rel, silog are minimised; names with fitness, map, precision, recall, acc, top1, top5, iou, "
        "delta, f1, dice are maximised)"
    )


def test_a_state_whose_settings_omit_eps_restores_the_default_eps():
    """Settings are constructor kwargs: one left out takes its default, eps (1e-8, torch's) included."""
    p = Plateau(eps=0.5)
    state = p.state_dict()
    state["settings"] = {k: v for k, v in state["settings"].items() if k != "eps"}
    p.load_state_dict(state)
    assert p.eps == 1e-8 == Plateau().eps
