"""Tests for yolo_lr.ultralytics_compat: one registry of patches that install() applies once and uninstall() undoes
completely, and internals that fail loudly when Ultralytics moves them."""

from __future__ import annotations

import subprocess

import pytest
from conftest import COCO8, FAST, MODEL, ROOT, Run, attach_recorder, yolo_env

import yolo_lr
from yolo_lr import ultralytics_compat as compat

CONCERNS = {"keys", "callbacks", "config checks", "optimizer groups", "tuner"}


def _snapshot():
    import ultralytics.cfg as cfg
    import ultralytics.engine.tuner as tuner  # model.tune imports it; the plugin patches it then
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.utils import DEFAULT_CFG, DEFAULT_CFG_DICT, YAML
    from ultralytics.utils.callbacks.base import default_callbacks

    return {
        "keys": sorted(k for k in DEFAULT_CFG_DICT if k.startswith("lr_")),
        "cfg_attrs": sorted(k for k in vars(DEFAULT_CFG) if k.startswith("lr_")),
        "callbacks": {e: list(fns) for e, fns in default_callbacks.items()},
        "check_cfg": cfg.check_cfg,
        "check_dict_alignment": cfg.check_dict_alignment,
        "yaml_load": vars(YAML)["load"],
        "build_optimizer": vars(BaseTrainer)["build_optimizer"],
        "tuner_init": vars(tuner.Tuner)["__init__"],
        "tuner_int_keys": tuner.CFG_INT_KEYS,
    }


@pytest.mark.training
def test_install_twice_uninstall_then_training_is_native(tmp_path):
    from ultralytics import YOLO

    installed = _snapshot()
    assert installed["keys"] and set(compat.installed()) == CONCERNS
    assert "lr_plateau_patience" in installed["tuner_int_keys"]  # the tuner rounds integer lr_* keys
    yolo_lr.install()
    yolo_lr.install()
    assert _snapshot() == installed  # nothing applied twice: same wrappers, callbacks listed once

    yolo_lr.uninstall()
    try:
        native = _snapshot()
        assert native["keys"] == [] and native["cfg_attrs"] == [] and compat.installed() == {}
        for name in ("check_cfg", "check_dict_alignment", "build_optimizer", "tuner_init"):
            assert native[name] is installed[name].__wrapped__, name  # the original object is back
            assert not hasattr(native[name], "__wrapped__"), name
        assert not any(k.startswith("lr_") for k in native["tuner_int_keys"])
        assert native["yaml_load"].__func__ is installed["yaml_load"].__func__.__wrapped__
        from yolo_lr.adapter import callbacks

        for event, fn in callbacks.items():
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


@pytest.mark.training
def test_a_missing_trainer_internal_fails_loudly_at_train_start(train, monkeypatch, tmp_path):
    from ultralytics.engine.trainer import BaseTrainer

    monkeypatch.delattr(BaseTrainer, "_get_warmup_iterations")
    with pytest.raises(compat.UltralyticsCompatError, match=r"BaseTrainer\._get_warmup_iterations|_get_warmup_"):
        train(epochs=1, lr_policy="cosine")


def test_a_missing_config_internal_fails_loudly_at_registration(monkeypatch):
    import ultralytics.cfg as cfg

    yolo_lr.uninstall()
    try:
        monkeypatch.delattr(cfg, "check_cfg")
        with pytest.raises(compat.UltralyticsCompatError, match=r"ultralytics\.cfg\.check_cfg"):
            yolo_lr.install()
        assert compat.installed() == {}  # checked before anything was patched
    finally:
        monkeypatch.undo()
        yolo_lr.uninstall()
        yolo_lr.install()
    assert set(compat.installed()) - {"tuner"} == CONCERNS - {"tuner"}


def test_a_missing_callback_event_fails_loudly(monkeypatch):
    from ultralytics.utils.callbacks import base

    yolo_lr.uninstall()
    try:
        monkeypatch.delitem(base.default_callbacks, "on_train_epoch_start")
        with pytest.raises(compat.UltralyticsCompatError, match="on_train_epoch_start"):
            yolo_lr.install()
    finally:
        monkeypatch.undo()
        yolo_lr.uninstall()
        yolo_lr.install()


def test_rules_match_the_installed_trainer():
    """The pure rules the preview uses agree with the trainer's own methods."""
    from types import SimpleNamespace

    from ultralytics.engine.trainer import BaseTrainer

    for we in (0, 0.5, 1, 1.5, 3, 10):
        for epochs in (1, 2, 3, 50):
            fake = SimpleNamespace(args=SimpleNamespace(warmup_epochs=we), epochs=epochs)
            assert compat.warmup_iterations(we, epochs, 7) == BaseTrainer._get_warmup_iterations(fake, 7)
    assert compat.auto_optimizer(8, 16, 64, 100, 80) == ("AdamW", round(0.002 * 5 / 84, 6))
    assert compat.auto_optimizer(200_000, 16, 64, 100, 80)[0] == "MuSGD"
    assert compat.is_auto_optimizer("auto") and compat.is_auto_optimizer(None) and not compat.is_auto_optimizer("SGD")
    # several devices = DDP, which lr_find refuses (each rank would run its own range test)
    counts = {"0,1": 2, "cuda:0,1": 2, "0, 1, 2": 3, "(0, 1)": 2, "0": 1, "cpu": 1, "": 1, None: 1, 0: 1}
    assert {d: compat.device_count(d) for d in counts} == counts
    assert compat.device_count([0, 1]) == compat.device_count((2, 3)) == 2 and compat.device_count([0]) == 1


def test_no_reference_outside_the_repository():
    for path in (ROOT / "yolo_lr").rglob("*.py"):
        text = path.read_text()
        assert "ULTRALYTICS_NOTES" not in text and "shared/" not in text, path
