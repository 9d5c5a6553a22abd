"""Tests for yolo_lr.config and yolo_lr.params: each key declared once, everything else derived from it."""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import ROOT

from yolo_lr.config import (
    KEYS,
    SECTIONS,
    LRConfigError,
    check_tune_space,
    effective_values,
    is_active,
    key_docs,
    readme_table,
    registry_defaults,
    resolve,
    tune_start_values,
    validate,
)
from yolo_lr.params import Param, ParamError, declared, param
from yolo_lr.policies import POLICIES


def test_readme_key_table_matches_the_declarations():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- keys:start -->\n(.*?)\n<!-- keys:end -->", text, re.S)
    assert m, "README.md lost its <!-- keys:start --> / <!-- keys:end --> markers"
    assert m.group(1) == readme_table(), "README key table is stale: run `python -m yolo_lr.config README.md`"


def test_every_declared_field_is_a_registered_key_and_nothing_else():
    declared_keys = [d.param.key for _, cls in SECTIONS for d in declared(cls)]
    assert set(declared_keys) == set(KEYS)
    assert all(k.startswith("lr_") for k in KEYS)
    defaults = registry_defaults()
    # concrete numbers where every declaration agrees on one (a tuner can start from them); None where the default
    # is computed at run time or differs by policy; False for flags; None for every non-numeric key
    assert defaults["lr_plateau_patience"] == 10 and defaults["lr_plateau_cooldown"] == 0
    assert defaults["lr_backbone_scale"] == 1.0 and defaults["lr_unfreeze_epoch"] == 0
    assert defaults["lr_layer_decay"] == 1.0 and defaults["lr_warmup_start"] == 0.0
    assert defaults["lr_gamma"] is None and defaults["lr_step_size"] is None
    assert defaults["lr_plateau_min_factor"] is None and defaults["lr_backbone_layers"] is None
    assert defaults["lr_plateau"] is False and defaults["lr_freeze_bn"] is False
    for k, v in defaults.items():
        if KEYS[k].kind in {"number", "integer"}:
            assert v is None or KEYS[k].problem(v) is None, k
        else:
            assert v is (False if KEYS[k].kind == "flag" else None), k
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
    rows = {k: (v, note) for k, v, note in effective_values({"lr_policy": "plateau", "lrf": 0.01})}
    assert rows["lr_plateau"] == (True, "implied by lr_policy=plateau") and rows["lr_plateau_patience"][0] == 10


def test_inactive_config_is_not_validated():
    assert not is_active({"lr0": 0.01})
    assert validate({"lr0": -1}) == []  # native training: Ultralytics' own checks apply


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
