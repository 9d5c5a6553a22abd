"""Tests for yolo_lr._startup and the yolo_lr.pth startup hook: it imports nothing but itself, and registration
happens the moment Ultralytics is imported."""

from __future__ import annotations

import subprocess
import sys

from conftest import yolo_env

MODULES = "import sys; print('\\n'.join(sorted(sys.modules)))"


def _python(code: str, disable: bool = False) -> str:
    env = {**yolo_env(), **({"YOLO_LR_DISABLE": "1"} if disable else {})}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_the_startup_hook_imports_only_its_two_modules():
    """No importlib.abc, pathlib, functools, dataclasses...: a process that never uses Ultralytics pays for two tiny
    module imports (timed by benchmarks/startup.py)."""
    on, off = set(_python(MODULES).split()), set(_python(MODULES, disable=True).split())
    assert on - off == {"yolo_lr", "yolo_lr._startup"}


def test_registration_waits_for_ultralytics_then_happens_on_import():
    code = (
        "import sys; r = [any('ultralytics' in m for m in sys.modules)]; "
        "from ultralytics.utils import DEFAULT_CFG_DICT; r.append('lr_policy' in DEFAULT_CFG_DICT); "
        "import ultralytics.cfg as c; r.append(hasattr(c.check_cfg, '__wrapped__')); "
        "from ultralytics.engine.trainer import BaseTrainer as T; r.append(hasattr(T.build_optimizer, '__wrapped__')); "
        "print('result', *r)"
    )
    result = [line.split()[1:] for line in _python(code).splitlines() if line.startswith("result ")]
    assert result == [["False", "True", "True", "True"]]
    result = [line.split()[1:] for line in _python(code, disable=True).splitlines() if line.startswith("result ")]
    assert result == [["False", "False", "False", "False"]]


def test_when_imported_runs_after_the_module_executed(tmp_path, monkeypatch):
    from yolo_lr import _startup

    (tmp_path / "yolo_lr_probe_mod.py").write_text("VALUE = 41\nREADY = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    assert _startup.when_imported("yolo_lr_probe_mod", "READY", lambda m: seen.append(m.VALUE + 1))
    assert seen == [] and _startup._FINDER in sys.meta_path
    import importlib.util

    assert importlib.util.find_spec("yolo_lr_probe_mod") is not None  # a lookup without import keeps it pending
    assert seen == [] and "yolo_lr_probe_mod" in _startup._PENDING
    import yolo_lr_probe_mod  # noqa: F401

    assert seen == [42]
    assert "yolo_lr_probe_mod" not in _startup._PENDING
    assert _startup.when_imported("yolo_lr_probe_mod", "READY", lambda m: seen.append(0))  # loaded: runs now
    assert seen == [42, 0]
    sys.modules.pop("yolo_lr_probe_mod")
