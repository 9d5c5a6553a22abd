"""Presets (``configs/*.yaml``) and the bundled COCO8 dataset: where they are and how a policy spec is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yolo_lr.config import LRConfigError, note_source

_PKG = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    """A folder shipped in the wheel (``yolo_lr/<name>``), or the source checkout's top-level one."""
    inside = _PKG / name
    return inside if inside.is_dir() else _PKG.parent / name


def preset_dir() -> Path:
    """Folder holding the preset YAML files."""
    return _resource("configs")


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in preset_dir().glob("*.yaml"))


def preset_path(name: str) -> Path:
    """Path of a preset by name (``finetune``) or of a YAML file; raises LRConfigError listing presets if unknown."""
    p = Path(name)
    if p.suffix in {".yaml", ".yml"} and p.exists():
        return p
    candidate = preset_dir() / f"{p.stem if p.suffix in {'.yaml', '.yml'} else name}.yaml"
    if candidate.exists():
        return candidate
    import difflib

    near = difflib.get_close_matches(str(name), preset_names(), n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise LRConfigError(f"yolo_lr: no preset or YAML file '{name}'.{hint} Presets: {', '.join(preset_names())}.")


def coco8_yaml() -> Path:
    """The bundled COCO8 data YAML (offline default dataset)."""
    return _resource("datasets") / "coco8" / "coco8.yaml"


def load_policy(policy: str | Path | dict | None) -> tuple[dict[str, Any], str | None]:
    """Load a policy spec into training arguments.

    Args:
        policy: a preset name, a YAML path, a dict of arguments, or None.

    Returns:
        (arguments, source): the dict of Ultralytics/``lr_*`` arguments and the file they came from (None for a dict).
    """
    if policy is None:
        return {}, None
    if isinstance(policy, dict):
        return dict(policy), None
    path = preset_path(str(policy))
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise LRConfigError(f"yolo_lr: {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise LRConfigError(f"yolo_lr: {path} must be a mapping of key: value, got {type(data).__name__}")
    data.pop("cfg", None)
    note_source(path, data)
    return data, str(path)
