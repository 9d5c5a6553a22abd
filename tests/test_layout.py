"""The package layout. The layers (the tools on the core, registration on what it registers, the compatibility layer
at the bottom, importing nothing of the plugin) are declared once, in pyproject.toml's ``[tool.importlinter]``, and
checked by import-linter (``lint-imports``) on the checkout's sources."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "yolo_lr"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the repository's contracts, on the ``yolo_lr`` package found under ``root``."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )


def test_the_layer_contracts_hold():
    p = _lint_imports(ROOT)
    assert p.returncode == 0 and "1 kept, 0 broken" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]


def test_the_contracts_see_a_lazy_import_that_runs_back_up(tmp_path):
    """A function-level import of the plugin inside the compatibility layer breaks the contract, naming the chain."""
    shutil.copytree(PACKAGE, tmp_path / "yolo_lr", ignore=shutil.ignore_patterns("__pycache__"))
    compat = tmp_path / "yolo_lr" / "ultralytics_compat.py"
    compat.write_text(compat.read_text() + "\n\ndef _late():\n    from yolo_lr import config\n\n    return config\n")
    p = _lint_imports(tmp_path)
    assert p.returncode != 0 and "yolo_lr.ultralytics_compat -> yolo_lr.config" in p.stdout, p.stdout[-3000:]


def test_the_tools_live_in_their_subpackage():
    tools = PACKAGE / "tools"
    assert {p.name for p in tools.glob("*.py")} == {"__init__.py", "cli.py", "find.py", "sweep.py", "sweep_ray.py"}
    assert not any((PACKAGE / name).exists() for name in ("cli.py", "lr_sweep.py"))
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'yolo-lr = "yolo_lr.tools.cli:main"' in pyproject


def test_the_public_names_reach_the_tools():
    import yolo_lr

    assert yolo_lr.find_lr.__module__ == "yolo_lr.tools.find"
    assert yolo_lr.sweep.__module__ == "yolo_lr.tools.sweep"
