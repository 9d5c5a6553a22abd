"""The package layout: the core (``yolo_lr/*.py``, what runs inside a training) never imports the tools on top of it
(``yolo_lr/tools/``: the ``yolo-lr`` command, the standalone finder, the sweep). Pure: the sources are parsed, not
imported."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "yolo_lr"
TOOLS = "yolo_lr.tools"


def _is_tools(name: str) -> bool:
    return name == TOOLS or name.startswith(TOOLS + ".")


def tools_imports(path: Path) -> list[str]:
    """Every import of ``yolo_lr.tools`` in a core module (``import``, ``from ... import``, relative forms, and
    ``import_module``/``__import__`` of a literal name), anywhere in the file (function bodies included), as
    ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            # a core module sits directly in yolo_lr/: level 1 is the package itself
            base = node.module or ""
            if node.level:
                base = ".".join(["yolo_lr", *([base] if base else [])]) if node.level == 1 else base
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in {"import_module", "__import__"} and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
        hit = next((n for n in names if _is_tools(n)), None)
        if hit is not None:
            found.append(f"{node.lineno}: {hit}")
    return found


def test_the_core_never_imports_the_tools():
    core = sorted(PACKAGE.glob("*.py"))
    assert {p.stem for p in core} >= {"finder", "config", "adapter", "find_in_training", "_startup", "__init__"}
    offenders = {p.name: hits for p in core if (hits := tools_imports(p))}
    assert not offenders, f"core modules import yolo_lr.tools (the tools sit on top of the core): {offenders}"


def test_the_check_sees_every_form_of_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import yolo_lr.tools.cli\n"
        "from yolo_lr.tools.find import find_lr\n"
        "from yolo_lr import tools\n"
        "from . import tools\n"
        "from .tools import sweep\n"
        "def f():\n"
        "    from importlib import import_module\n"
        "    return import_module('yolo_lr.tools.sweep')\n"
    )
    assert [h.split(": ")[0] for h in tools_imports(bad)] == ["1", "2", "3", "4", "5", "8"]
    good = tmp_path / "good.py"
    good.write_text('"""See :mod:`yolo_lr.tools.find`."""\nfrom yolo_lr import finder\nimport yolo_lr.toolsx\n')
    assert tools_imports(good) == []


def test_the_tools_live_in_their_subpackage():
    tools = PACKAGE / "tools"
    assert {p.name for p in tools.glob("*.py")} == {"__init__.py", "cli.py", "find.py", "sweep.py"}
    assert not any((PACKAGE / name).exists() for name in ("cli.py", "lr_sweep.py"))
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'yolo-lr = "yolo_lr.tools.cli:main"' in pyproject


def test_the_public_names_reach_the_tools():
    import yolo_lr

    assert yolo_lr.find_lr.__module__ == "yolo_lr.tools.find"
    assert yolo_lr.sweep.__module__ == "yolo_lr.tools.sweep"
