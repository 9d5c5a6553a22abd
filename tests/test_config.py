"""Tests for yolo_lr.config and yolo_lr.params: each key declared once, everything else derived from it."""

from __future__ import annotations

import dataclasses
import math
import os
import re

import pytest
from conftest import ROOT

from yolo_lr.config import (
    KEYS,
    SECTIONS,
    LRConfigError,
    check_tune_space,
    closest_key,
    effective_values,
    integer_keys,
    is_active,
    key_docs,
    keys_help,
    note_source,
    policy_span,
    readme_table,
    registry_defaults,
    replace_readme_table,
    resolve,
    tune_start_values,
    unknown_key_error,
    validate,
)
from yolo_lr.params import Param, ParamError, declared, param
from yolo_lr.policies import POLICIES


def test_docs_key_table_matches_the_declarations():
    text = (ROOT / "docs" / "keys.md").read_text()
    m = re.search(r"<!-- keys:start -->\n(.*?)\n<!-- keys:end -->", text, re.S)
    assert m, "docs/keys.md lost its <!-- keys:start --> / <!-- keys:end --> markers"
    assert m.group(1) == readme_table(), "docs/keys.md key table is stale: run `python -m yolo_lr.config docs/keys.md`"


def test_every_declared_field_is_a_registered_key_and_nothing_else():
    declared_keys = [d.param.key for _, cls in SECTIONS for d in declared(cls)]
    assert set(declared_keys) == set(KEYS)
    assert all(k.startswith("lr_") for k in KEYS)
    defaults = registry_defaults()
    # concrete numbers where every declaration agrees on one (a tuner can start from them); None where the default
    # is computed at run time or differs by policy; False for on/off flags; None for lr_warmup_overlay (unset means
    # "decided by lr_interval") and every other non-numeric key
    assert defaults["lr_plateau_patience"] == 10 and defaults["lr_plateau_cooldown"] == 0
    assert defaults["lr_backbone_scale"] == 1.0 and defaults["lr_unfreeze_epoch"] == 0
    assert defaults["lr_layer_decay"] == 1.0 and defaults["lr_warmup_start"] == 0.0
    assert defaults["lr_gamma"] is None and defaults["lr_step_size"] is None
    assert defaults["lr_plateau_min_factor"] is None and defaults["lr_backbone_layers"] is None
    assert defaults["lr_plateau"] is False and defaults["lr_freeze_bn"] is False and defaults["lr_find"] is False
    assert defaults["lr_warmup_overlay"] is None
    for k, v in defaults.items():
        if KEYS[k].kind in {"number", "integer"}:
            assert v is None or KEYS[k].problem(v) is None, k
        else:
            assert v is KEYS[k].unset and v is (False if k in {"lr_plateau", "lr_freeze_bn", "lr_find"} else None), k
    assert KEYS["lr_policy"].choices == tuple(POLICIES)
    # every policy class is a section, so its parameters are keys (adding a policy = one class)
    assert {cls for _, cls in SECTIONS} >= set(POLICIES.values())
    assert [r["key"] for r in key_docs()] == list(KEYS)


def test_a_shared_key_is_one_declaration():
    gamma_owners = [cls for _, cls in SECTIONS if any(d.param.key == "lr_gamma" for d in declared(cls))]
    assert {c.name for c in gamma_owners} == {"step", "multistep", "exponential"}
    params = {id(d.param) for cls in gamma_owners for d in declared(cls) if d.param.key == "lr_gamma"}
    assert len(params) == 1
    row = next(r for r in key_docs() if r["key"] == "lr_gamma")
    assert row["default"] == "0.1 (step, multistep); reach lrf at the end of the run (exponential)"


def test_a_key_declared_twice_is_refused():
    from yolo_lr import config

    @dataclasses.dataclass(frozen=True)
    class Twice:
        a: float = param("lr_gamma", "another declaration of lr_gamma")

    sections = config.SECTIONS
    try:
        config.SECTIONS = (*sections, ("twice", Twice))
        with pytest.raises(TypeError, match="lr_gamma is declared twice"):
            config._collect()
    finally:
        config.SECTIONS = sections


@pytest.mark.parametrize("key", list(KEYS))
def test_a_bad_value_names_its_key_structurally(key):
    """Every key, given a value no kind allows: the error carries the key itself (no substring guessing; lr_plateau
    is a prefix of eight other keys)."""
    with pytest.raises(LRConfigError) as e:
        validate({"lr_policy": "cosine", "epochs": 10, key: {"bad": 1}})
    assert e.value.key == key
    assert str(e.value).startswith(f"yolo_lr: {key}=") and KEYS[key].allowed() in str(e.value)


def test_rules_between_keys_name_the_key():
    with pytest.raises(LRConfigError) as e:
        validate({"lr_policy": "multistep", "lr_milestones": [2, 9], "epochs": 5})
    assert e.value.key == "lr_milestones"
    with pytest.raises(LRConfigError) as e:
        validate({"lr_policy": "plateau", "val": False, "epochs": 5})
    assert e.value.key == "lr_plateau_metric"


def test_param_checks_and_converts():
    p = Param("lr_x", "x", "integer", lo=0)
    assert p.check(3.0) == 3 and isinstance(p.check(3.0), int)
    for bad in (2.5, -1, True, "3", float("nan")):
        with pytest.raises(ParamError) as e:
            p.check(bad)
        assert e.value.key == "lr_x" and "an integer >= 0" in str(e.value)
    ms = Param("lr_m", "m", "epochs")
    assert ms.check([1, 2.5]) == (1.0, 2.5)
    assert "increasing" in ms.problem([3, 2])
    c = Param("lr_c", "c", "choice", choices=("step", "epoch"))
    assert c.problem("steps") == "must be one of step, epoch; did you mean 'step'?"


def test_resolve_takes_declared_defaults():
    s = resolve({"lr_policy": "plateau", "lrf": 0.05})
    assert s.plateau is not None and s.plateau.patience == 10 and s.plateau.factor == 0.1
    assert s.plateau.min_factor == 0.05  # doc_default "lrf"
    assert (
        s.plateau.mode == "max"
        and resolve({"lr_policy": "plateau", "lr_plateau_metric": "val/box_loss"}).plateau.mode == "min"
    )
    assert s.warmup.shape == "linear" and s.interval == "step" and s.finetune.backbone_scale == 1.0
    assert resolve({"lr_policy": "cosine"}).plateau is None
    assert resolve({"lr_policy": "step", "lr_plateau_patience": 3.0}).plateau is None
    assert resolve({"lr_plateau": True, "lr_plateau_patience": 3.0}).plateau.patience == 3


def test_effective_values_cover_the_keys_in_force():
    rows = {k: (v, note) for k, v, note in effective_values({"lr_policy": "step", "lr_gamma": 0.5, "lrf": 0.01})}
    assert rows["lr_gamma"] == (0.5, "")
    assert rows["lr_step_size"] == ("a third of the run, in whole epochs", "default")
    assert rows["lr_plateau"] == (False, "default") and "lr_plateau_patience" not in rows
    assert "lr_restart_period" not in rows  # another policy's key
    assert rows["lr_find"] == (False, "default") and "lr_find_iters" not in rows  # lr_find off: no options shown
    rows = {k: (v, note) for k, v, note in effective_values({"lr_policy": "plateau", "lrf": 0.01})}
    assert rows["lr_plateau"] == (True, "implied by lr_policy=plateau") and rows["lr_plateau_patience"][0] == 10
    rows = {k: (v, note) for k, v, note in effective_values({"lr_find": True, "lr_find_iters": 30})}
    assert (
        rows["lr_find"] == (True, "")
        and rows["lr_find_iters"] == (30, "")
        and rows["lr_find_rule"]
        == (
            "auto",
            "default",
        )
    )


def test_inactive_config_is_not_validated():
    assert not is_active({"lr0": 0.01})
    assert validate({"lr0": -1}) == []  # native training: Ultralytics' own checks apply


# --------------------------------------------------------------------------------------------------------------------
# Pure checks of validate/resolve (no training): every check names the key, where the value came from and what is
# allowed; relations between keys; warnings; how a config resolves to settings. The same errors raised inside a real
# Ultralytics training (before a run directory exists): test_validation.py.
WHERE = "(from the training arguments)"


@pytest.fixture(autouse=True)
def _fresh_sources(monkeypatch):
    """Files noted by trainings earlier in this process (test_validation's malformed presets) must not be named as the
    source of the values these pure tests pass: the record of noted files is process-global."""
    from yolo_lr import config

    monkeypatch.setattr(config, "_SOURCES", {})


# key, bad value, the exact problem the message states (allowed values included)
BAD_VALUES = [
    (
        "lr_policy",
        "cosin",
        (
            "must be one of linear, cosine, cosine_restarts, step, multistep, exponential, piecewise, "
            "piecewise_linear, poly, onecycle, cyclic, wsd, constant, plateau; did you mean 'cosine'?"
        ),
    ),
    ("lr_policy", 3, "must be one of linear, cosine"),
    ("lr_interval", "batch", "must be one of step, epoch"),
    ("lr_warmup_shape", "sigmoid", "must be one of linear, cosine, exponential, quadratic"),
    ("lr_warmup_start", 1.5, "must be a number in [0, 1]"),
    ("lr_warmup_start", -0.1, "must be a number in [0, 1]"),
    ("lr_restart_period", 0, "must be a number > 0."),
    ("lr_restart_mult", 0.5, "must be a number >= 1."),
    ("lr_restart_decay", 0, "must be a number in (0, 1]"),
    ("lr_restart_decay", 1.01, "must be a number in (0, 1]"),
    ("lr_step_size", -1, "must be a number > 0."),
    ("lr_gamma", 0, "must be a number in (0, 1)"),
    ("lr_gamma", 1, "must be a number in (0, 1)"),
    ("lr_gamma", "half", "must be a number in (0, 1)"),
    ("lr_gamma", True, "must be a number in (0, 1)"),
    ("lr_gamma", math.nan, "must be a number in (0, 1)"),
    ("lr_gamma", math.inf, "must be a number in (0, 1)"),
    ("lr_milestones", [], "must be a strictly increasing list of positive epochs, e.g. [30, 60]."),
    ("lr_milestones", 5, "must be a strictly increasing list of positive epochs, e.g. [30, 60]."),
    ("lr_milestones", [1, "a"], "must contain only numbers (epochs)"),
    ("lr_milestones", [1, math.inf], "must contain only numbers (epochs)"),
    ("lr_milestones", [0, 2], "must contain only positive epochs"),
    ("lr_milestones", [2, 2], "must be strictly increasing"),
    ("lr_power", 0, "must be a number > 0."),
    ("lr_onecycle_pct", 1, "must be a number in (0, 1)"),
    ("lr_onecycle_div", 0.99, "must be a number >= 1."),
    ("lr_momentum_min", 0, "must be a number in (0, 1)"),
    ("lr_decay_frac", 0, "must be a number in (0, 1]"),
    ("lr_decay_shape", "exp", "must be one of linear, cosine, sqrt"),
    ("lr_backbone_scale", 0, "must be a number in (0, 10]"),
    ("lr_backbone_scale", 10.5, "must be a number in (0, 10]"),
    ("lr_unfreeze_epoch", 1.5, "must be an integer >= 0."),
    ("lr_unfreeze_epoch", -1, "must be an integer >= 0."),
    ("lr_unfreeze_warmup", -1, "must be a number >= 0."),
    ("lr_backbone_layers", 0, "must be an integer >= 1."),
    ("lr_plateau", "yes", "must be true or false"),
    ("lr_plateau_metric", "  ", "must be a results.csv column name, or fitness, e.g. metrics/mAP50-95(B)."),
    ("lr_plateau_metric", 3, "must be a results.csv column name, or fitness, e.g. metrics/mAP50-95(B)."),
    ("lr_plateau_mode", "maximize", "must be one of min, max."),  # too far from max for a hint
    ("lr_plateau_factor", 1, "must be a number in (0, 1)"),
    ("lr_plateau_patience", 2.5, "must be an integer >= 0."),
    ("lr_plateau_cooldown", -1, "must be an integer >= 0."),
    ("lr_plateau_threshold", -0.1, "must be a number >= 0."),
    ("lr_plateau_threshold_mode", "relative", "must be one of rel, abs"),
    ("lr_plateau_min_factor", 1.5, "must be a number in [0, 1]"),
    ("lr_find", "yes", "must be true or false"),
    ("lr_find", 1, "must be true or false"),
    ("lr_find_start", 0, "must be a number > 0."),
    ("lr_find_end", -1, "must be a number > 0."),
    ("lr_find_iters", 1, "must be an integer >= 2."),
    ("lr_find_iters", 10.5, "must be an integer >= 2."),
    ("lr_find_rule", "fastest", "must be one of auto, valley, steep, min10, edge10."),
    ("lr_find_rule", "edge", "must be one of auto, valley, steep, min10, edge10; did you mean 'edge10'?"),
    ("lr_find_smooth", 1, "must be a number in [0, 1)"),
    ("lr_find_smooth", -0.1, "must be a number in [0, 1)"),
    ("lr_find_diverge", 1, "must be a number > 1."),
]


@pytest.mark.parametrize(
    ("key", "value", "problem"), BAD_VALUES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD_VALUES)]
)
def test_bad_value_names_key_value_source_and_what_is_allowed(key, value, problem):
    with pytest.raises(LRConfigError) as e:
        validate({"epochs": 10, "lr_policy": "multistep" if key == "lr_milestones" else "cosine", key: value})
    assert str(e.value).startswith(f"yolo_lr: {key}={value!r} {WHERE} {problem}"), str(e.value)
    assert not str(e.value).endswith("?."), str(e.value)  # a question keeps its own mark


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lr_warmup_start", 0),
        ("lr_warmup_start", 1),
        ("lr_restart_mult", 1),
        ("lr_restart_decay", 1),
        ("lr_onecycle_div", 1),
        ("lr_decay_frac", 1),
        ("lr_backbone_scale", 10),
        ("lr_unfreeze_epoch", 0),
        ("lr_unfreeze_epoch", 2.0),
        ("lr_backbone_layers", 1),
        ("lr_plateau_patience", 0),
        ("lr_plateau_threshold", 0),
        ("lr_plateau_min_factor", 0),
        ("lr_plateau_min_factor", 1),
        ("lr_milestones", [1, 2.5]),
        ("lr_find_iters", 2),
        ("lr_find_iters", 3.0),
        ("lr_find_smooth", 0),
        ("lr_find_diverge", 1.001),
        ("lr_find_start", 9.99),  # just below lr_find_end's default, 10
    ],
)
def test_boundary_values_are_accepted(key, value):
    owner = {"lr_restart": "cosine_restarts", "lr_onecycle": "onecycle", "lr_momentum": "onecycle", "lr_decay": "wsd"}
    policy = next((p for prefix, p in owner.items() if key.startswith(prefix)), "cosine")
    policy = "multistep" if key == "lr_milestones" else "plateau" if key.startswith("lr_plateau") else policy
    find = {"lr_find": True} if key.startswith("lr_find") else {}
    assert validate({"epochs": 10, "lr_policy": policy, "warmup_epochs": 0, **find, key: value}) == []


@pytest.mark.parametrize(
    ("cfg", "key", "problem"),
    [
        ({"lr_policy": "cosine", "lr0": 0}, "lr0", "must be a positive number (the peak learning rate)."),
        ({"lr_policy": "cosine", "lr0": -1e-3}, "lr0", "must be a positive number (the peak learning rate)."),
        ({"lr_policy": "cosine", "lr0": math.inf}, "lr0", "must be a positive number (the peak learning rate)."),
        ({"lr_policy": "cosine", "lr0": "0.1"}, "lr0", "must be a positive number (the peak learning rate)."),
        ({"lr_policy": "cosine", "lrf": 0}, "lrf", "must be a number in (0, 1]: the final LR is lr0*lrf."),
        ({"lr_policy": "cosine", "lrf": 1.01}, "lrf", "must be a number in (0, 1]: the final LR is lr0*lrf."),
        ({"lr_policy": "cosine", "lrf": "x"}, "lrf", "must be a number in (0, 1]: the final LR is lr0*lrf."),
        ({"lr_policy": "cosine", "warmup_epochs": -1}, "warmup_epochs", "must be a number >= 0."),
        ({"lr_policy": "cosine", "warmup_bias_lr": "a"}, "warmup_bias_lr", "must be a number >= 0."),
        (
            {"lr_policy": "cosine", "cos_lr": True},
            "cos_lr",
            "conflicts with lr_policy='cosine': keep one. Use lr_policy=cosine instead of cos_lr=True, or drop "
            "lr_policy to keep Ultralytics' cosine.",
        ),
        (
            {"lr_policy": "multistep", "lr_milestones": [2, 5, 12]},
            "lr_milestones",
            "must lie inside the run (every milestone < epochs=10).",
        ),
        (
            {"lr_policy": "multistep", "lr_milestones": [2, 10]},
            "lr_milestones",
            "must lie inside the run (every milestone < epochs=10).",
        ),
        (
            {"lr_policy": "cosine", "lr_unfreeze_epoch": 10},
            "lr_unfreeze_epoch",
            "must be smaller than epochs=10 (0-based epoch that starts unfrozen).",
        ),
        (
            {"lr_policy": "step", "lr_step_size": 10},
            "lr_step_size",
            "must be smaller than epochs=10, or the LR never decays.",
        ),
        (
            {"lr_policy": "cosine", "lr_unfreeze_epoch": 1, "freeze": 3},
            "freeze",
            "conflicts with lr_unfreeze_epoch: Ultralytics' freeze is permanent; keep one.",
        ),
        (
            {"lr_policy": "plateau", "val": False},
            "lr_plateau_metric",
            "needs validation every epoch, but val=False; watch a train/ loss instead.",
        ),
        (
            {"lr_plateau": True, "val": False, "lr_plateau_metric": "val/box_loss"},
            "lr_plateau_metric",
            "needs validation every epoch, but val=False; watch a train/ loss instead.",
        ),
        (
            {"lr_find": True, "lr_find_start": 0.1, "lr_find_end": 0.1},
            "lr_find_end",
            "must be greater than lr_find_start=0.1.",
        ),
        ({"lr_find": True, "lr_find_start": 20.0}, "lr_find_end", "must be greater than lr_find_start=20."),
        (
            {"lr_find": True, "device": "0,1"},
            "lr_find",
            "runs its range test on one device, but device='0,1' trains on 2 (DDP, where each rank would test on its "
            "own): train on one device, or run `yolo-lr find` there and pass lr0.",
        ),
        (
            {"lr_find": True, "device": [0, 1, 2]},
            "lr_find",
            "runs its range test on one device, but device=[0, 1, 2] trains on 3 (DDP, where each rank would test on "
            "its own): train on one device, or run `yolo-lr find` there and pass lr0.",
        ),
    ],
)
def test_relations_between_keys(cfg, key, problem):
    with pytest.raises(LRConfigError) as e:
        validate({"epochs": 10, **cfg})
    msg = str(e.value)
    assert msg == f"yolo_lr: {key}={cfg.get(key)!r} {WHERE} {problem}", msg


def test_relations_that_hold():
    ok = {"epochs": 10, "lr_plateau": True, "val": False, "lr_plateau_metric": "train/box_loss"}
    assert validate(ok) == []
    assert validate({"epochs": 10, "lr_policy": "multistep", "lr_milestones": [2, 9]}) == []
    assert validate({"epochs": 10, "lr_policy": "step", "lr_step_size": 9, "lr_unfreeze_epoch": 9}) == []
    assert validate({"epochs": 10, "cos_lr": True, "lr_plateau": True}) == []  # cos_lr without lr_policy: fine
    # time= re-estimates epochs: the epoch-based relations are not checked against the initial value
    assert validate({"epochs": 2, "time": 1.0, "lr_policy": "multistep", "lr_milestones": [5, 8]}) == []
    assert validate({"lr_policy": "cosine", "lr_unfreeze_epoch": 1, "freeze": None}) == []
    assert validate({"lr_find": True, "device": "0"}) == validate({"lr_find": True, "device": "cpu"}) == []
    assert validate({"lr_find": True, "device": [0], "lr_find_start": 1e-3, "lr_find_end": 0.0011}) == []
    assert validate({"lr_find_start": 1.0, "lr_find_end": 0.5}) == [  # lr_find off: its options only warn
        "lr_find_start is set but lr_find is off (set lr_find=True)",
        "lr_find_end is set but lr_find is off (set lr_find=True)",
    ]
    assert validate({"lr_policy": "cosine", "lrf": 1.0, "lr0": 1e-6, "warmup_epochs": 0, "warmup_bias_lr": 0}) == []
    assert validate({"lr_plateau": True, "lr_power": 2}) == ["lr_power=2 is ignored by lr_policy=linear"]


def test_the_value_source_is_named():
    with pytest.raises(LRConfigError, match=r"lr_gamma=2 \(from my\.yaml\) must be"):
        validate({"lr_policy": "step", "lr_gamma": 2}, source="my.yaml")
    # values unique to this process: what a file noted in another test (or a parent process) cannot match
    power, lrf = -float(os.getpid()), 1.0 + os.getpid()
    note_source("noted.yaml", {"lr_power": power, "lrf": lrf, "epochs": 3, 5: "not a key"})
    with pytest.raises(LRConfigError, match=rf"lr_power={power!r} \(from noted\.yaml\) must be"):
        validate({"lr_policy": "poly", "lr_power": power})
    with pytest.raises(LRConfigError, match=rf"lrf={lrf!r} \(from noted\.yaml\) must be"):
        validate({"lr_policy": "poly", "lrf": lrf})
    with pytest.raises(LRConfigError, match=r"lr_power=-0\.5 \(from the training arguments\) must be"):
        validate({"lr_policy": "poly", "lr_power": -0.5})  # a different value than the file's: not from the file
    note_source("other.yaml", ["not", "a", "dict"])  # ignored
    import numpy as np

    note_source("array.yaml", {"lr_milestones": np.array([5, 3])})  # comparing with it raises: never "the same"
    with pytest.raises(LRConfigError, match=r"lr_milestones=\[5, 3\] \(from the training arguments\)"):
        validate({"lr_policy": "multistep", "lr_milestones": [5, 3]})
    bogus = f"lr_bogus_{os.getpid()}"
    note_source("bogus.yaml", {bogus: 1})
    assert str(unknown_key_error(bogus)).startswith(f"yolo_lr: unknown key '{bogus}' (from bogus.yaml).")


def test_unknown_keys_suggest_the_closest():
    with pytest.raises(LRConfigError) as e:
        validate({"lr_polcy": "cosine"}, source="x.yaml")
    msg = str(e.value)
    assert msg.startswith("yolo_lr: unknown key 'lr_polcy' (from x.yaml). Did you mean 'lr_policy'? Valid lr_* keys: ")
    assert "lr_plateau_min_factor" in msg and msg.endswith("See `yolo-lr --help`.")
    assert closest_key("lr_plateau_facter") == "lr_plateau_factor"
    assert closest_key("zzzzzzzzz") is None
    assert closest_key("lr_unfrz") == "lr_unfreeze_epoch"  # similarity 0.64: a loose match still helps
    keys = "lr_policy, lr_interval, lr_warmup_shape"
    msg = str(unknown_key_error("lr_zzzzzzzzzzzzzzzzzz"))
    assert msg.startswith(f"yolo_lr: unknown key 'lr_zzzzzzzzzzzzzzzzzz' {WHERE}. Valid lr_* keys: {keys}, ")
    validate({"lrx": 1, "lr0": 0.01})  # only lr_* names are the plugin's


def test_inactive_config_is_native_and_not_checked():
    assert not is_active({}) and not is_active({"lr_policy": None, "lr_plateau": False, "lr0": -1})
    assert validate({"lr0": -1, "lrf": 5}) == []  # native keys are Ultralytics' business while the plugin is off
    assert is_active({"lr_plateau": True}) and is_active({"lr_warmup_start": 0.25})
    assert not is_active({"lr_warmup_start": 0.0})  # its registered default: unset, like lr_plateau=False


def test_warnings_for_legal_but_probably_unintended_settings():
    w = validate({"lr_policy": "cosine", "lr_gamma": 0.5, "lr_milestones": [1], "lr_plateau_patience": 3})
    assert "lr_gamma=0.5 is ignored by lr_policy=cosine" in w
    assert "lr_milestones=[1] is ignored by lr_policy=cosine" in w
    assert "lr_plateau_patience is set but plateau reduction is off (set lr_plateau=True or lr_policy=plateau)" in w
    assert validate({"lr_policy": "step", "lr_gamma": 0.5}) == []
    assert validate({"lr_policy": "plateau", "lr_plateau_patience": 3}) == []
    w = validate({"lr_policy": "onecycle", "warmup_epochs": 2})
    assert w == [
        (
            "lr_policy=onecycle has its own rising phase; warmup_epochs=2 adds a second ramp "
            "(set warmup_epochs=0 to use the onecycle ramp alone)"
        )
    ]
    assert validate({"lr_policy": "onecycle", "warmup_epochs": 0}) == []
    assert len(validate({"lr_policy": "onecycle", "warmup_epochs": 0.5})) == 1
    assert validate({"lr_policy": "cosine", "lr_unfreeze_warmup": 1}) == [
        "lr_unfreeze_warmup is ignored without lr_unfreeze_epoch"
    ]
    assert validate({"lr_policy": "cosine", "lr_unfreeze_warmup": 1, "lr_unfreeze_epoch": 1, "epochs": 5}) == []
    assert validate({"cos_lr": True, "lr_power": 2}) == ["lr_power=2 is ignored by lr_policy=cosine"]
    assert validate({"lr_policy": "cosine", "lr_find_iters": 30}) == [
        "lr_find_iters is set but lr_find is off (set lr_find=True)"
    ]
    assert validate({"lr_find": True, "lr_find_iters": 30}) == []


def test_resolve_defaults():
    s = resolve({"lr_plateau": False, "lr_warmup_start": None})
    assert (s.policy_name, s.interval, s.warmup.shape, s.warmup.start, s.lrf) == ("linear", "step", "linear", 0.0, 0.01)
    assert s.plateau is None and s.find is None and not s.cycles_momentum and not s.split_backbone
    ft = s.finetune
    assert (ft.backbone_scale, ft.unfreeze_epoch, ft.unfreeze_warmup, ft.backbone_layers) == (1.0, 0, 0.0, None)
    assert (ft.freeze_bn, ft.layer_scales, ft.layer_decay) == (False, None, 1.0) and not ft.split
    assert s.policy.multiplier(5, 10) == pytest.approx(0.505)
    assert resolve({"cos_lr": True, "lrf": 0.2}).policy_name == "cosine"
    p = resolve({"lr_policy": "plateau", "lrf": 0.2}).plateau
    assert (p.metric, p.mode, p.factor, p.patience, p.cooldown, p.threshold, p.threshold_mode, p.min_factor) == (
        "fitness",
        "max",
        0.1,
        10,
        0,
        1e-4,
        "rel",
        0.2,
    )
    assert resolve({"lr_plateau": True, "lr_plateau_metric": "val/box_loss"}).plateau.mode == "min"
    f = resolve({"lr_find": True}).find
    # the finder benchmark's choice (benchmarks/finder_vs_sweep.py; test_benchmarks_smoke checks it is the choice)
    assert (f.on, f.lr_start, f.lr_end, f.iters, f.rule, f.smooth, f.diverge) == (
        True,
        1e-5,
        10.0,
        50,
        "auto",
        0.9,
        4.0,
    )
    assert resolve({"lr_find": False, "lr_find_iters": 30}).find is None


def test_resolve_passes_every_key_on():
    s = resolve(
        {
            "lrf": 0.1,
            "lr_policy": "onecycle",
            "lr_interval": "epoch",
            "lr_warmup_shape": "cosine",
            "lr_warmup_start": 0.2,
            "lr_onecycle_pct": 0.5,
            "lr_onecycle_div": 4,
            "lr_momentum_min": 0.7,
            "lr_gamma": 0.3,  # ignored by onecycle
            "lr_plateau": True,
            "lr_plateau_metric": "metrics/mAP50(B)",
            "lr_plateau_mode": "min",  # overrides the mode inferred from the name (max)
            "lr_plateau_factor": 0.5,
            "lr_plateau_patience": 3,
            "lr_plateau_cooldown": 2,
            "lr_plateau_threshold": 0.01,
            "lr_plateau_threshold_mode": "abs",
            "lr_plateau_min_factor": 0.05,
            "lr_backbone_scale": 0.5,
            "lr_unfreeze_epoch": 2,
            "lr_unfreeze_warmup": 1.5,
            "lr_backbone_layers": 7,
            "lr_find": True,
            "lr_find_start": 1e-4,
            "lr_find_end": 1.0,
            "lr_find_iters": 30.0,
            "lr_find_rule": "valley",
            "lr_find_smooth": 0.8,
            "lr_find_diverge": 3,
        }
    )
    assert (s.policy_name, s.interval, s.warmup.shape, s.warmup.start, s.lrf) == (
        "onecycle",
        "epoch",
        "cosine",
        0.2,
        0.1,
    )
    assert s.policy.multiplier(0, 10) == pytest.approx(0.25) and s.policy.multiplier(5, 10) == pytest.approx(1.0)
    assert s.policy.momentum(5, 10, 0.9) == pytest.approx(0.7) and s.cycles_momentum
    p = s.plateau
    assert (p.metric, p.mode, p.factor, p.patience, p.cooldown, p.threshold, p.threshold_mode, p.min_factor) == (
        "metrics/mAP50(B)",
        "min",
        0.5,
        3,
        2,
        0.01,
        "abs",
        0.05,
    )
    t = p.tracker()
    assert (t.mode, t.reduce_factor, t.patience, t.cooldown, t.threshold, t.threshold_mode, t.min_factor) == (
        "min",
        0.5,
        3,
        2,
        0.01,
        "abs",
        0.05,
    )
    ft = s.finetune
    assert (ft.backbone_scale, ft.unfreeze_epoch, ft.unfreeze_warmup, ft.backbone_layers) == (0.5, 2, 1.5, 7)
    assert s.split_backbone
    f = s.find
    assert (f.lr_start, f.lr_end, f.iters, f.rule, f.smooth, f.diverge) == (1e-4, 1.0, 30, "valley", 0.8, 3.0)
    assert isinstance(f.iters, int) and isinstance(f.diverge, float)
    assert resolve({"lr_policy": "cosine", "lr_unfreeze_epoch": 1}).split_backbone
    assert not resolve({"lr_policy": "cosine", "lr_unfreeze_epoch": 0}).split_backbone
    ms = resolve({"lr_policy": "multistep", "lr_milestones": (2, 4), "lr_gamma": 0.5}).policy
    assert ms.multiplier(3, 10) == 0.5 and ms.multiplier(4, 10) == 0.25


# Every policy-specific key reaches its policy: the curve changes when the key is set.
POLICY_KEYS = [
    ("cosine_restarts", "lr_restart_period", 2.0),
    ("cosine_restarts", "lr_restart_mult", 2.0),
    ("cosine_restarts", "lr_restart_decay", 0.5),
    ("step", "lr_step_size", 2),
    ("step", "lr_gamma", 0.5),
    ("multistep", "lr_milestones", [2, 4]),
    ("multistep", "lr_gamma", 0.5),
    ("exponential", "lr_gamma", 0.5),
    ("poly", "lr_power", 2.0),
    ("onecycle", "lr_onecycle_pct", 0.5),
    ("onecycle", "lr_onecycle_div", 4.0),
    ("onecycle", "lr_momentum_min", 0.7),
    ("wsd", "lr_decay_frac", 0.5),
    ("wsd", "lr_decay_shape", "sqrt"),
]


@pytest.mark.parametrize(("policy", "key", "value"), POLICY_KEYS, ids=[f"{p}-{k}" for p, k, _ in POLICY_KEYS])
def test_every_policy_key_reaches_its_policy(policy, key, value):
    default = resolve({"lr_policy": policy}).policy
    tuned = resolve({"lr_policy": policy, key: value}).policy
    ts = [i * 0.25 for i in range(41)]
    lr = [(default.multiplier(t, 10), tuned.multiplier(t, 10)) for t in ts]
    mom = [(default.momentum(t, 10, 0.9), tuned.momentum(t, 10, 0.9)) for t in ts]
    assert any(a != b for a, b in lr + mom), f"{key}={value!r} did not change lr_policy={policy}"


def test_multiplier_applies_the_plateau_floor():
    s = resolve({"lr_policy": "constant", "lr_plateau": True, "lr_plateau_min_factor": 0.3})
    assert s.multiplier(1, 10) == 1.0 and s.multiplier(1, 10, 0.5) == 0.5 and s.multiplier(1, 10, 0.1) == 0.3
    low = resolve({"lr_policy": "linear", "lrf": 0.01, "lr_plateau": True, "lr_plateau_min_factor": 0.3})
    assert low.multiplier(9, 10, 0.1) == pytest.approx(0.109)  # the policy itself is below the floor: kept, not raised


def test_describe_is_one_line_with_every_setting():
    s = resolve(
        {
            "lr_policy": "step",
            "lr_step_size": 2,
            "lr_plateau": True,
            "lr_backbone_scale": 0.5,
            "lr_unfreeze_epoch": 1,
            "lr_unfreeze_warmup": 2,
        }
    )
    assert s.describe() == (
        "policy=step interval=step lrf=0.01 (step_size=2, gamma=0.1) "
        "warmup=linear from 0x to the peak, then the policy "
        "backbone=frozen until epoch 2, lr x0.5 (ramp 2 ep) plateau=fitness (max, factor=0.1, patience=10, "
        "cooldown=0, threshold=0.0001 rel, floor=0.01x)"
    )
    assert resolve({"lr_policy": "linear"}).describe() == (
        "policy=linear interval=step lrf=0.01 warmup=linear from 0x to the peak, then the policy plateau=off"
    )
    assert "backbone=lr x0.5 plateau" in resolve({"lr_policy": "linear", "lr_backbone_scale": 0.5}).describe()
    assert (
        resolve({"lr_find": True, "lr_find_iters": 30})
        .describe()
        .endswith("plateau=off lr_find=rule auto, lr 1e-05 -> 10 over 30 steps")
    )
    frozen = resolve({"lr_policy": "linear", "lr_unfreeze_epoch": 2}).describe()
    assert "backbone=frozen until epoch 3, lr x1 plateau=off" in frozen  # no ramp without lr_unfreeze_warmup


def test_a_key_at_its_registered_default_or_none_is_unset():
    """Concrete registered defaults keep a plain config inert: Ultralytics' merged args carry every key."""
    assert not is_active(registry_defaults())
    assert not is_active({**registry_defaults(), "lr_plateau_patience": 10.0, "lr_backbone_scale": 1})
    assert not is_active({"lr_plateau_patience": None, "lr_unfreeze_epoch": None})  # a checkpoint of an older version
    assert is_active({"lr_plateau_cooldown": 1}) and is_active({"lr_plateau": True})
    # no "set but ignored" warning for keys at their default
    assert validate({**registry_defaults(), "lr_policy": "cosine", "epochs": 10}) == []
    assert validate({**registry_defaults(), "lr_policy": "cosine", "lr_plateau_patience": 3, "epochs": 10}) == [
        "lr_plateau_patience is set but plateau reduction is off (set lr_plateau=True or lr_policy=plateau)"
    ]


NUMERIC_KEYS = [k for k, p in KEYS.items() if p.kind in {"number", "integer"}]


@pytest.mark.parametrize("key", NUMERIC_KEYS)
def test_every_numeric_key_has_a_tuner_start_value(key):
    """What model.tune starts from when the key is unset: its registered number, else the value it takes in the run
    (the owning policy in force)."""
    owners = [cls for _, cls in SECTIONS if any(d.param.key == key for d in declared(cls))]
    policy = next((c.name for c in owners if c in POLICIES.values()), None)
    cfg = {**registry_defaults(), "epochs": 9, "lrf": 0.04, "lr_policy": policy}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    start = tune_start_values(cfg, [key], backbone_layers=11)
    assert set(start) == ({key} if registry_defaults()[key] is None else set())
    value = start.get(key, cfg.get(key))
    assert value is not None and KEYS[key].problem(value) is None, (key, value)


def test_tuner_start_values_follow_the_run():
    base = {"epochs": 9, "lrf": 0.04}
    assert tune_start_values({**base, "lr_policy": "step"}, ["lr_step_size", "lr_gamma"]) == {
        "lr_step_size": 3,
        "lr_gamma": 0.1,
    }
    got = tune_start_values({**base, "lr_policy": "exponential"}, ["lr_gamma"])
    assert got["lr_gamma"] == pytest.approx(0.04 ** (1 / 9))  # reaches lrf at the end, like the default
    got = tune_start_values({**base, "lr_policy": "cosine_restarts", "lr_restart_mult": 2.0}, ["lr_restart_period"])
    assert got == {"lr_restart_period": pytest.approx(9 / 7)}
    assert tune_start_values({**base, "lr_plateau": True}, ["lr_plateau_min_factor"]) == {"lr_plateau_min_factor": 0.04}
    assert tune_start_values({**base, "lr_step_size": 2}, ["lr_step_size"]) == {}  # set: the tuner reads it


@pytest.mark.parametrize(
    ("space", "key", "words"),
    [
        ({"lr_policy": ("cosine", "step")}, "lr_policy", "mutates numbers only"),
        ({"lr_milestones": (1, 3)}, "lr_milestones", "mutates numbers only"),
        ({"lr_plateau_cooldown": (-1, 2)}, "lr_plateau_cooldown", "lr_plateau_cooldown=-1"),
        ({"lr_plateau_factor": (0.1, 1.0)}, "lr_plateau_factor", "must be a number in (0, 1)"),
        ({"lr_gamma": (0.5,)}, "lr_gamma", "(min, max[, gain])"),
        ({"lr_plateau_patiense": (1, 3)}, "lr_plateau_patiense", "Did you mean 'lr_plateau_patience'"),
    ],
)
def test_a_tuner_space_it_cannot_search_names_the_key(space, key, words):
    with pytest.raises(LRConfigError) as e:
        check_tune_space({"lr0": (1e-3, 1e-2), **space})
    assert e.value.key == key and words in str(e.value)
    check_tune_space({"lr0": (1e-3, 1e-2), "lr_plateau_patience": (0.5, 3.7), "lr_gamma": (0.05, 0.5, 0.3)})


@pytest.mark.parametrize(
    ("policy", "key", "inside", "outside", "words"),
    [
        ("multistep", "lr_milestones", [2, 6.5], [2, 7], "every milestone <"),
        ("piecewise", "lr_milestones", [2, 6.5], [2, 7], "every milestone <"),
        ("piecewise_linear", "lr_milestones", [2, 7], [2, 7.5], "every point <="),
        ("step", "lr_step_size", 6.5, 7, "must be smaller than"),
    ],
)
def test_epoch_values_are_checked_against_the_span_after_warmup(policy, key, inside, outside, words):
    """10 epochs with a 3-epoch warmup: the policy's clock runs over the 7 epochs after warmup, so milestones and step
    sizes are checked against 7; with lr_warmup_overlay (the default with lr_interval=epoch) against 10."""
    factors = {"lr_factors": [0.5, 0.1]} if policy.startswith("piecewise") else {}
    cfg = {"epochs": 10, "warmup_epochs": 3, "lr_policy": policy, **factors}
    assert validate({**cfg, key: inside}) == []
    with pytest.raises(LRConfigError) as e:
        validate({**cfg, key: outside})
    assert e.value.key == key and words in str(e.value)
    assert "epochs - warmup_epochs = 7: the policy's clock starts when warmup ends" in str(e.value)
    for overlaid in ({"lr_warmup_overlay": True}, {"lr_interval": "epoch"}, {"warmup_epochs": 0}):
        assert validate({**cfg, **overlaid, key: outside}) == [], overlaid
    assert policy_span({"warmup_epochs": 3}, 10) == 7 and policy_span({"warmup_epochs": 20}, 10) == 1  # capped


def test_tuner_start_values_count_the_run_after_warmup():
    """The value an unset key takes in the run: the default step size is a third of the policy's span."""
    cfg = {"epochs": 12, "warmup_epochs": 3, "lrf": 0.04}
    assert tune_start_values({**cfg, "lr_policy": "step"}, ["lr_step_size"]) == {"lr_step_size": 3}  # 9 / 3
    got = tune_start_values({**cfg, "lr_policy": "exponential"}, ["lr_gamma"])
    assert got["lr_gamma"] == pytest.approx(0.04 ** (1 / 9))
    overlaid = {**cfg, "lr_policy": "step", "lr_warmup_overlay": True}
    assert tune_start_values(overlaid, ["lr_step_size"]) == {"lr_step_size": 4}  # 12 / 3


def test_layer_scales_parse_and_refuse_overlaps():
    p = KEYS["lr_layer_scales"]
    assert p.check({22: 10, "0-9": 0.5, " 12 - 14 ": 2}) == ((0, 9, 0.5), (12, 14, 2.0), (22, 22, 10.0))
    assert p.text(p.check({22: 10, "0-9": 0.5})) == "{'0-9': 0.5, 22: 10}"
    for bad, words in (
        ({"0-9": 0.5, 9: 2}, "overlap"),
        ({"9-3": 1.0}, "low to high"),
        ({22: 0}, "scale of 22"),
        ({"head": 2}, "neither a layer"),
        ({}, "mapping"),
        ([22, 10], "mapping"),
    ):
        with pytest.raises(ParamError) as e:
            p.check(bad)
        assert e.value.key == "lr_layer_scales" and words in str(e.value), bad


# --------------------------------------------------------------------------------------------------------------------
# Details the tests above left open (found by mutation testing, BENCHMARKS.md "Mutation testing").
def test_errors_carry_their_source_file():
    with pytest.raises(LRConfigError) as e:
        validate({"lr_policy": "step", "lr_gamma": 2}, source="my.yaml")
    assert (e.value.key, e.value.source) == ("lr_gamma", "my.yaml")
    with pytest.raises(LRConfigError) as e:
        validate({"lr_policy": "step", "lr_gamma": 2})
    assert e.value.source is None
    assert unknown_key_error("lr_polcy", "x.yaml").source == "x.yaml" and unknown_key_error("lr_polcy").source is None


def test_closest_key_accepts_a_loose_match():
    assert closest_key("lr_xyz") == "lr_policy"  # similarity 0.53: above the 0.5 cutoff (difflib's default is 0.6)
    assert closest_key("lr_gam") == "lr_gamma"


def test_describe_names_the_overlay_the_bn_freeze_and_the_layer_rules():
    assert resolve({"lr_policy": "cosine", "lr_warmup_overlay": True}).describe() == (
        "policy=cosine interval=step lrf=0.01 warmup=linear from 0x overlaid on the policy plateau=off"
    )
    s = resolve(
        {
            "lr_policy": "cosine",
            "lr_unfreeze_epoch": 1,
            "lr_freeze_bn": True,
            "lr_layer_scales": {"20-21": 3.0, 22: 10},
            "lr_layer_decay": 0.8,
        }
    )
    assert s.describe() == (
        "policy=cosine interval=step lrf=0.01 warmup=linear from 0x to the peak, then the policy "
        "backbone=frozen with BN until epoch 2, lr x1 layers={'20-21': 3, 22: 10} layer_decay=0.8 plateau=off"
    )


def test_policy_span_of_short_warmups_and_one_epoch_runs():
    assert policy_span({"warmup_epochs": 0.5}, 10) == 9.5 and policy_span({"warmup_epochs": 1}, 10) == 9
    assert policy_span({"warmup_epochs": 3}, 1) == 1  # a one-epoch run never warms (Ultralytics: min(we, epochs - 1))
    assert policy_span({"warmup_epochs": 0}, 10) == 10 and policy_span({}, 10) == 10


@pytest.mark.parametrize("lrf", [0, 1.5])
def test_lrf_is_checked_before_the_other_native_keys(lrf):
    with pytest.raises(LRConfigError) as e:
        validate({"lr_policy": "cosine", "lrf": lrf, "warmup_epochs": -1})
    assert e.value.key == "lrf"
    assert str(e.value) == f"yolo_lr: lrf={lrf} {WHERE} must be a number in (0, 1]: the final LR is lr0*lrf."


def test_the_last_piecewise_linear_point_is_checked():
    cfg = {"epochs": 10, "warmup_epochs": 3, "lr_policy": "piecewise_linear", "lr_factors": [0.5, 0.2, 0.1]}
    assert validate({**cfg, "lr_milestones": [2, 5, 7]}) == []
    with pytest.raises(LRConfigError) as e:
        validate({**cfg, "lr_milestones": [2, 5, 7.5]})  # the middle point lies inside: the last one does not
    assert str(e.value) == (
        f"yolo_lr: lr_milestones=[2, 5, 7.5] {WHERE} must lie inside the run (every point <= epochs - warmup_epochs "
        "= 7: the policy's clock starts when warmup ends)."
    )


def test_freeze_bn_without_unfreeze_epoch_warns():
    assert validate({"lr_policy": "cosine", "lr_freeze_bn": True}) == [
        "lr_freeze_bn is ignored without lr_unfreeze_epoch"
    ]
    assert validate({"lr_policy": "cosine", "lr_freeze_bn": True, "lr_unfreeze_epoch": 1, "epochs": 5}) == []


def test_a_plateau_metric_of_unknown_direction_needs_a_mode():
    cfg = {"lr_plateau": True, "lr_plateau_metric": "my/score"}
    with pytest.raises(LRConfigError) as e:
        validate(cfg)
    assert e.value.key == "lr_plateau_metric"
    assert str(e.value) == (
        f"yolo_lr: lr_plateau_metric='my/score' {WHERE} needs lr_plateau_mode=min or max: cannot tell from the name "
        "'my/score' whether higher or lower is better (names with loss, err, rmse, mse, mae, abs_rel, sq_rel, silog "
        "are minimised; names with fitness, map, precision, recall, acc, top1, top5, iou, delta, f1, dice "
        "are maximised)."
    )
    assert validate({**cfg, "lr_plateau_mode": "max"}) == []
    assert validate({**cfg, "lr_plateau_mode": "min"}) == []


def test_integer_keys():
    assert integer_keys() == {
        "lr_backbone_layers",
        "lr_find_iters",
        "lr_plateau_cooldown",
        "lr_plateau_patience",
        "lr_unfreeze_epoch",
    }


def test_tuner_bounds_in_order_and_equal_bounds():
    with pytest.raises(LRConfigError) as e:
        check_tune_space({"lr_gamma": (0.5, 0.05)})
    assert e.value.key == "lr_gamma"
    assert (
        str(e.value)
        == "yolo_lr: lr_gamma in the tuner's space={'lr_gamma': (0.5, 0.05)}: bounds are (min, max[, gain])"
    )
    check_tune_space({"lr_gamma": (0.1, 0.1)})  # a one-point range is allowed


def test_a_tuner_bound_the_run_refuses_names_the_rule_and_the_file():
    note_source("tune.yaml", {"lr_step_size": 12})
    with pytest.raises(LRConfigError) as e:
        check_tune_space({"lr_step_size": (1, 12)}, {"epochs": 10, "lr_policy": "step"})
    assert (e.value.key, e.value.source) == ("lr_step_size", "tune.yaml")
    assert str(e.value) == (
        "yolo_lr: lr_step_size in the tuner's space={'lr_step_size': (1, 12)}: the tuner may try lr_step_size=12, and "
        "then lr_step_size=12 (from tune.yaml) must be smaller than epochs=10, or the LR never decays."
    )
    check_tune_space({"lr_step_size": (1, 9)}, {"epochs": 10, "lr_policy": "step"})


def test_tuner_start_values_without_epochs_and_for_a_policy_not_in_force():
    got = tune_start_values({"lr_policy": "exponential", "lrf": 0.04}, ["lr_gamma"])
    assert got["lr_gamma"] == pytest.approx(0.04 ** (1 / 100), rel=1e-12)  # no epochs: Ultralytics' default 100
    assert tune_start_values({"lr_policy": "cosine", "epochs": 9}, ["lr_step_size"]) == {"lr_step_size": 3}


def test_keys_help_lists_every_key_with_its_default_and_allowed_values():
    lines = keys_help().split("\n")
    assert len(lines) == 2 * len(KEYS)
    assert (
        lines[0] == "  lr_policy                  LR curve over the run (plateau: constant, with plateau reduction on)"
    )
    assert lines[1] == (
        "                             default: linear (cosine if cos_lr=True); allowed: one of linear, cosine, "
        "cosine_restarts, step, multistep, exponential, piecewise, piecewise_linear, poly, onecycle, cyclic, wsd, "
        "constant, plateau"
    )
    for row, key_line, more in zip(key_docs(), lines[::2], lines[1::2]):
        assert key_line == f"  {row['key']:<26} {row['help']}"
        assert more == f"  {'':<26} default: {row['default']}; allowed: {row['allowed']}"


def test_effective_values_show_the_overlay_in_force_and_layer_rules_as_text():
    rows = {
        k: (v, note)
        for k, v, note in effective_values(
            {"lr_policy": "multistep", "lr_milestones": [3, 6], "lr_layer_scales": {22: 10}, "lr_plateau": True}
        )
    }
    assert rows["lr_warmup_overlay"] == (False, "default")  # the policy starts when warmup ends
    assert rows["lr_milestones"] == ("[3, 6]", "") and rows["lr_layer_scales"] == ("{22: 10}", "")
    assert rows["lr_plateau"] == (True, "")  # set, not implied
    rows = {k: (v, note) for k, v, note in effective_values({"lr_policy": "cosine", "lr_interval": "epoch"})}
    assert rows["lr_warmup_overlay"] == (True, "default")  # lr_interval=epoch overlays by default


def test_replace_readme_table_rewrites_the_first_marked_table_only():
    readme = (ROOT / "docs" / "keys.md").read_text()
    assert replace_readme_table(readme) == readme  # the table is up to date (as checked above): nothing changes
    start, end = "<!-- keys:start -->", "<!-- keys:end -->"
    later = f"\nThe table lives between {start} and {end}.\n"
    assert (
        replace_readme_table(f"a\n{start}\nold | table\n{end}{later}") == f"a\n{start}\n{readme_table()}\n{end}{later}"
    )
    with pytest.raises(ValueError):
        replace_readme_table("no markers")


@pytest.mark.parametrize(
    ("cfg", "needle"),
    [
        ({"optimizer": "AdamW", "lr0": 0.01}, "optimizer=AdamW with lr0=0.01, an SGD-scale LR"),
        ({"optimizer": "Adam", "lr0": 0.05}, "0.000119 for 80 classes"),
        ({"optimizer": "SGD", "lr0": 0.001, "warmup_bias_lr": 0.1}, "warmup_bias_lr=0.1 is 100x lr0=0.001"),
        ({"optimizer": "AdamW", "lr0": 0.0005}, "Set warmup_bias_lr=0"),  # the default 0.1 bias start
    ],
    ids=["adamw-sgd-scale", "adam-names-auto", "bias-spike", "bias-spike-default"],
)
def test_footguns_warn_naming_the_values_and_the_fix(cfg, needle):
    from yolo_lr.config import validate

    warnings = validate({"lr_policy": "cosine", "epochs": 10, "warmup_epochs": 3, **cfg})
    assert any(needle in w for w in warnings), warnings


@pytest.mark.parametrize(
    "cfg",
    [
        {"optimizer": "SGD", "lr0": 0.01},  # Ultralytics' defaults: warmup_bias_lr 10x lr0, the edge
        {"optimizer": "AdamW", "lr0": 0.001, "warmup_bias_lr": 0.0},
        {"optimizer": "auto", "lr0": 0.001},  # auto zeroes warmup_bias_lr and picks its own LR
        {"optimizer": "SGD", "lr0": 0.001, "warmup_epochs": 0},  # no warmup, no spike
    ],
    ids=["sgd-defaults", "adamw-fine", "auto", "no-warmup"],
)
def test_no_footgun_warning_for_sane_settings(cfg):
    from yolo_lr.config import footguns

    assert footguns({"lr_policy": "cosine", "epochs": 10, "warmup_epochs": 3, **cfg}) == []
