"""The host contract: one registry of patches that install() applies once and uninstall() undoes completely; a
missing internal or an unsupported release makes registration fall back (Ultralytics untouched, lr_* keys refused
with the versions named); the rules the plugin follows are the installed release's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import COCO8, FAST, MODEL, ROOT, Run, attach_recorder, yolo_env

import yolo_lr
from yolo_lr import registration
from yolo_lr import ultralytics_compat as compat

CONCERNS = {"keys", "callbacks", "config checks", "presets", "trainer", "tuner", "ray tune"}


def _snapshot():
    import ultralytics.cfg as cfg
    import ultralytics.engine.tuner as tuner  # model.tune imports it; the plugin patches it then
    import ultralytics.utils.tuner as ray_tuner  # model.tune(use_ray=True) imports it (Ray itself only when called)
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.utils import DEFAULT_CFG, DEFAULT_CFG_DICT, YAML, checks
    from ultralytics.utils.callbacks.base import default_callbacks

    return {
        "keys": sorted(k for k in DEFAULT_CFG_DICT if k.startswith("lr_")),
        "cfg_attrs": sorted(k for k in vars(DEFAULT_CFG) if k.startswith("lr_")),
        "callbacks": {e: list(fns) for e, fns in default_callbacks.items()},
        "check_cfg": cfg.check_cfg,
        "check_dict_alignment": cfg.check_dict_alignment,
        "yaml_load": vars(YAML)["load"],
        "build_optimizer": vars(BaseTrainer)["build_optimizer"],
        "run_callbacks": vars(BaseTrainer)["run_callbacks"],
        "tuner_init": vars(tuner.Tuner)["__init__"],
        "tuner_int_keys": tuner.CFG_INT_KEYS,
        "run_ray_tune": ray_tuner.run_ray_tune,
        "check_yaml": checks.check_yaml,
    }


@pytest.mark.training
def test_install_twice_uninstall_then_training_is_native(tmp_path):
    from ultralytics import YOLO

    installed = _snapshot()
    assert installed["keys"] and set(registration.installed()) == CONCERNS
    assert "lr_plateau_patience" in installed["tuner_int_keys"]  # the tuner rounds integer lr_* keys
    yolo_lr.install()
    yolo_lr.install()
    assert _snapshot() == installed  # nothing applied twice: same wrappers, callbacks listed once

    yolo_lr.uninstall()
    try:
        native = _snapshot()
        assert native["keys"] == [] and native["cfg_attrs"] == [] and registration.installed() == {}
        for name in (
            "check_cfg",
            "check_dict_alignment",
            "build_optimizer",
            "run_callbacks",
            "tuner_init",
            "check_yaml",
        ):
            assert native[name] is installed[name].__wrapped__, name  # the original object is back
            assert not hasattr(native[name], "__wrapped__"), name
        assert native["run_ray_tune"] is installed["run_ray_tune"].__wrapped__
        assert not any(k.startswith("lr_") for k in native["tuner_int_keys"])
        assert native["yaml_load"].__func__ is installed["yaml_load"].__func__.__wrapped__
        for event, fn in registration.plugin_callbacks():
            assert fn not in native["callbacks"][event], event
        # lr_* keys are Ultralytics' unknown arguments again
        with pytest.raises(SyntaxError, match="'lr_policy' is not a valid YOLO argument"):
            YOLO(MODEL).train(data=str(COCO8), epochs=1, lr_policy="cosine", project=str(tmp_path), **FAST)

        # a run now is plugin-free: the same LRs, step for step, as a process where the plugin never loaded
        run = Run()
        model = YOLO(MODEL)
        attach_recorder(model, run)
        args = dict(epochs=2, optimizer="SGD", lr0=0.02, warmup_epochs=1)
        model.train(data=str(COCO8), project=str(tmp_path), name="uninstalled", **{**FAST, **args})
        assert "yolo_lr" not in vars(run.trainer) and not (run.save_dir / "lr.csv").exists()
    finally:
        yolo_lr.install()
    assert _snapshot()["keys"] == installed["keys"]  # and install() brings everything back

    trace = tmp_path / "trace.jsonl"
    env = {**yolo_env(), "YOLO_LR_DISABLE": "1", "PYTHONPATH": str(ROOT / "tests" / "probe")}
    env["LR_PROBE_TRACE"] = str(trace)
    words = [f"{k}={v}" for k, v in {**FAST, **args, "model": MODEL, "data": COCO8}.items() if k != "verbose"]
    code = "import sys; from ultralytics.cfg import entrypoint; print('yolo_lr' in sys.modules); entrypoint()"
    p = subprocess.run(
        [*_python(), "-c", code, "train", *words, f"project={tmp_path}", "name=plugin_free"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert p.returncode == 0 and p.stdout.startswith("False"), p.stdout[-2000:] + p.stderr[-2000:]
    import json

    free = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [s.lr["weight"] + s.lr["bn"] + s.lr["bias"] for s in run.steps] == [s["lr"] for s in free]


def _python() -> list[str]:
    import sys

    return [sys.executable]


def _break_config(monkeypatch):
    import ultralytics.cfg as cfg

    monkeypatch.delattr(cfg, "check_cfg")
    return "no ultralytics.cfg.check_cfg"


def _break_callbacks(monkeypatch):
    from ultralytics.utils.callbacks import base

    monkeypatch.delitem(base.default_callbacks, "on_train_epoch_start")
    return "no callback event 'on_train_epoch_start'"


def _break_version(monkeypatch):
    import ultralytics

    monkeypatch.setattr(ultralytics, "__version__", "8.3.253")
    return "older than 8.4.0"


@pytest.mark.parametrize("breakage", [_break_config, _break_callbacks, _break_version])
def test_a_missing_internal_or_an_old_release_falls_back_and_refuses_lr_keys(monkeypatch, ultralytics_log, breakage):
    """Nothing patched but the refusal, one warning naming the versions, native config untouched, lr_* keys stop
    with the versions named (not Ultralytics' 'not a valid YOLO argument')."""
    import ultralytics.cfg as cfg
    from ultralytics.utils import DEFAULT_CFG_DICT

    _snapshot()  # every patched module loaded, so the full registration is comparable
    yolo_lr.uninstall()
    try:
        why = breakage(monkeypatch)
        yolo_lr.install()
        assert set(registration.installed()) == {"refusal"}, registration.installed()
        assert not any(k.startswith("lr_") for k in DEFAULT_CFG_DICT)
        warnings = [m for m in ultralytics_log if "yolo_lr" in m]
        assert len(warnings) == 1 and why in warnings[0] and "8.4.0 to 8.4.190" in warnings[0], warnings
        yolo_lr.install()  # a second call neither re-warns nor registers
        assert len([m for m in ultralytics_log if "yolo_lr" in m]) == 1
        cfg.check_dict_alignment(DEFAULT_CFG_DICT, {"epochs": 3})  # native arguments still pass (get_cfg's check)
        with pytest.raises(compat.UltralyticsCompatError, match=rf"{why}.*supports Ultralytics 8\.4\.0.*lr_policy"):
            cfg.check_dict_alignment(DEFAULT_CFG_DICT, {"epochs": 3, "lr_policy": "cosine"})
    finally:
        monkeypatch.undo()
        yolo_lr.uninstall()
        yolo_lr.install()
    assert set(registration.installed()) == CONCERNS


def test_a_trainer_internal_missing_when_the_trainer_loads_falls_back_too(monkeypatch):
    """The trainer module is patched when it loads, after the keys are registered: a problem found then still undoes
    everything (keys included)."""
    from ultralytics.engine import trainer as trainer_module
    from ultralytics.utils import DEFAULT_CFG_DICT

    _snapshot()
    yolo_lr.uninstall()
    try:
        monkeypatch.delattr(trainer_module.BaseTrainer, "save_model")
        yolo_lr.install()
        assert set(registration.installed()) == {"refusal"}
        assert registration.inactive_reasons() == ["no ultralytics.engine.trainer.BaseTrainer.save_model"]
        assert not any(k.startswith("lr_") for k in DEFAULT_CFG_DICT)
    finally:
        monkeypatch.undo()
        yolo_lr.uninstall()
        yolo_lr.install()
    assert set(registration.installed()) == CONCERNS


def test_rules_match_the_installed_trainer():
    """The pure rules the preview uses agree with the trainer's own methods, and with the releases before them."""
    from types import SimpleNamespace

    from ultralytics.engine.trainer import BaseTrainer

    rules = compat.host_rules()
    if hasattr(BaseTrainer, "_get_warmup_iterations"):
        assert rules.warmup_floor == 0
        for we in (0, 0.5, 1, 1.5, 3, 10):
            for epochs in (1, 2, 3, 50):
                fake = SimpleNamespace(args=SimpleNamespace(warmup_epochs=we), epochs=epochs)
                assert compat.warmup_iterations(we, epochs, 7) == BaseTrainer._get_warmup_iterations(fake, 7)
    else:  # before 8.4.103: at least 100 iterations, and the final epoch may warm up
        assert rules.warmup_floor == 100
    # the rule of releases before 8.4.103, chosen explicitly
    assert compat.warmup_iterations(3, 2, 7, floor=100) == 100 and compat.warmup_iterations(0, 2, 7, floor=100) == 0
    assert compat.warmup_iterations(30, 2, 7, floor=100) == 210
    many, few = rules.auto
    assert compat.auto_optimizer(8, 16, 64, 100, 80) == (few, round(0.002 * 5 / 84, 6))
    assert compat.auto_optimizer(200_000, 16, 64, 100, 80)[0] == many
    assert compat.is_auto_optimizer("auto") and compat.is_auto_optimizer(None) and not compat.is_auto_optimizer("SGD")
    # several devices = DDP, which lr_find refuses (each rank would run its own range test)
    counts = {"0,1": 2, "cuda:0,1": 2, "0, 1, 2": 3, "(0, 1)": 2, "0": 1, "cpu": 1, "": 1, None: 1, 0: 1}
    assert {d: compat.device_count(d) for d in counts} == counts
    assert compat.device_count([0, 1]) == compat.device_count((2, 3)) == 2 and compat.device_count([0]) == 1


def test_version_rules():
    assert compat.version_problem("8.3.253") and compat.version_problem("7.0") and compat.version_problem("dev")
    assert compat.version_problem("8.4.0") is None and compat.version_problem("8.4.190") is None
    assert compat.version_problem("8.5.2") is None and compat.version_problem("9.0.0rc1") is None  # judged by internals


def test_param_groups_of_unnamed_releases_get_the_later_names():
    from types import SimpleNamespace

    opt = SimpleNamespace(param_groups=[{}, {}, {}])
    compat.name_param_groups(opt)
    assert [g["param_group"] for g in opt.param_groups] == ["weight", "bn", "bias"]
    musgd = SimpleNamespace(param_groups=[{} for _ in range(8)])
    compat.name_param_groups(musgd)
    assert [g["param_group"] for g in musgd.param_groups][::2] == ["weight", "bn", "bias", "muon"]
    named = SimpleNamespace(param_groups=[{"param_group": "bias"}, {}, {}])
    compat.name_param_groups(named)
    assert named.param_groups == [{"param_group": "bias"}, {}, {}]  # a release that names them: left alone


def test_ddp_needs_a_release_whose_workers_get_the_callbacks():
    """On a release whose DDP workers get the parent's callbacks the combination is allowed; before, refused with
    the version that adds it (checked in the compatibility suite on 8.4.0)."""
    from ultralytics.cfg import get_cfg
    from ultralytics.utils import DEFAULT_CFG

    from yolo_lr.config import LRConfigError

    args = {"lr_policy": "cosine", "device": "0,1"}
    if compat.host_rules().ddp_callbacks:
        assert get_cfg(DEFAULT_CFG, args).lr_policy == "cosine"
    else:
        with pytest.raises(LRConfigError, match=r"8\.4\.145"):
            get_cfg(DEFAULT_CFG, args)


def test_no_reference_outside_the_repository():
    for path in (ROOT / "yolo_lr").rglob("*.py"):
        text = path.read_text()
        assert "ULTRALYTICS_NOTES" not in text and "shared/" not in text, path


OLD_RELEASE = "8.3.253"  # the last 8.3 release: before YOLO26, before the floor


@pytest.mark.training
def test_an_unsupported_release_in_its_own_environment_keeps_working_and_refuses_lr_keys(tmp_path):
    """A real Ultralytics older than the floor, installed with yolo-lr (its startup hook on) in its own environment:
    importing and training work natively with one warning; a run with an lr_* key stops before training, naming the
    installed and supported releases, in Python and through the stock CLI."""
    made = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compat_env.sh"), OLD_RELEASE], capture_output=True, text=True, timeout=600
    )
    assert made.returncode == 0, made.stderr[-2000:]
    python = made.stdout.strip().splitlines()[-1]
    args = {**FAST, "data": str(COCO8), "epochs": 1, "project": str(tmp_path)}
    code = f"""
import ultralytics
from ultralytics import YOLO
from ultralytics.utils import DEFAULT_CFG_DICT
assert ultralytics.__version__ == {OLD_RELEASE!r}, ultralytics.__version__
assert not any(k.startswith("lr_") for k in DEFAULT_CFG_DICT)
YOLO("yolov8n.yaml").train(name="native", **{args!r})
print("NATIVE_OK")
try:
    YOLO("yolov8n.yaml").train(name="policy", lr_policy="cosine", **{args!r})
except Exception as e:
    print("REFUSED", type(e).__name__, e)
"""
    p = subprocess.run([python, "-c", code], env=yolo_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "NATIVE_OK" in p.stdout, out[-3000:]
    assert (tmp_path / "native" / "weights" / "last.pt").exists() and not (tmp_path / "native" / "lr.csv").exists()
    warnings = [line for line in out.splitlines() if "yolo_lr" in line and "inactive" in line and "REFUSED" not in line]
    assert len(warnings) == 1 and OLD_RELEASE in warnings[0] and "8.4.0 to 8.4.190" in warnings[0], warnings
    refused = next(line for line in p.stdout.splitlines() if line.startswith("REFUSED"))
    assert "UltralyticsCompatError" in refused and "lr_policy" in refused and "8.4.0 to 8.4.190" in refused, refused
    assert not (tmp_path / "policy").exists()  # stopped before a run directory was made

    cli = Path(python).parent / "yolo"
    words = [f"{k}={v}" for k, v in {**args, "model": "yolov8n.yaml", "name": "cli"}.items() if k != "verbose"]
    p = subprocess.run([str(cli), "train", *words, "lr_policy=cosine"], env=yolo_env(), capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert p.returncode != 0 and "8.4.0 to 8.4.190" in (p.stdout + p.stderr)[-3000:], (p.stdout + p.stderr)[-3000:]
    assert "not a valid YOLO argument" not in p.stdout + p.stderr

    check = subprocess.run([str(Path(python).parent / "yolo-lr"), "check"], env=yolo_env(), capture_output=True,
                           text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"ultralytics   {OLD_RELEASE}" in check.stdout and "INACTIVE (older than 8.4.0" in check.stdout


def test_an_unexpected_error_during_registration_steps_aside_too(monkeypatch, ultralytics_log):
    """Not only a missing attribute: any exception while registering falls back instead of breaking Ultralytics."""
    from ultralytics.utils import DEFAULT_CFG_DICT

    _snapshot()
    yolo_lr.uninstall()
    try:

        def broken(utils):
            raise KeyError("something Ultralytics renamed")

        monkeypatch.setattr(registration, "_register_keys", broken)
        yolo_lr.install()
        assert set(registration.installed()) == {"refusal"}
        assert registration.inactive_reasons() == ["registration failed: KeyError: 'something Ultralytics renamed'"]
        assert not any(k.startswith("lr_") for k in DEFAULT_CFG_DICT)
        assert any("registration failed: KeyError" in m for m in ultralytics_log)
    finally:
        monkeypatch.undo()
        yolo_lr.uninstall()
        yolo_lr.install()
    assert set(registration.installed()) == CONCERNS
