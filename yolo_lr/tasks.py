"""Task-aware defaults: the tasks and modes the installed Ultralytics knows, the task of a model, the data a command
may default to, and the metric that ranks a task's runs.

The task and mode lists come from the installed Ultralytics (its ``cfg/__init__.py``), read without importing it so
``yolo-lr --help`` and argument checks stay fast. Only :func:`model_info` imports Ultralytics (and torch).
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from yolo_lr.config import LRConfigError

_NAMES = ("TASKS", "MODES", "TASK2DATA", "TASK2METRIC", "TASK2MODEL")


@lru_cache(maxsize=1)
def ultralytics_constants() -> dict[str, Any]:
    """``TASKS``, ``MODES``, ``TASK2DATA``, ``TASK2METRIC`` and ``TASK2MODEL`` of the installed Ultralytics."""
    spec = importlib.util.find_spec("ultralytics")
    found: dict[str, Any] = {}
    if spec is not None and spec.submodule_search_locations:
        source = Path(spec.submodule_search_locations[0]) / "cfg" / "__init__.py"
        try:
            tree = ast.parse(source.read_text())
        except (OSError, SyntaxError):
            tree = ast.Module(body=[], type_ignores=[])
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(target, ast.Name) and target.id in _NAMES:
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    if any(n not in found for n in _NAMES):  # written differently in this release: import it after all
        from ultralytics import cfg

        found = {n: getattr(cfg, n) for n in _NAMES}
    return found


def tasks() -> tuple[str, ...]:
    """The tasks of the installed Ultralytics (detect, segment, classify, pose, obb, ...)."""
    return tuple(ultralytics_constants()["TASKS"])


def modes() -> tuple[str, ...]:
    """The modes of the installed Ultralytics (train, val, predict, export, track, benchmark)."""
    return tuple(ultralytics_constants()["MODES"])


def main_metric(task: str) -> str:
    """The results.csv column that says how good a run of this task is (Ultralytics' ``TASK2METRIC``).

    detect and obb: ``metrics/mAP50-95(B)``, segment: ``metrics/mAP50-95(M)``, pose: ``metrics/mAP50-95(P)``,
    classify: ``metrics/accuracy_top1``, and whatever newer tasks the installed release declares.
    """
    table = ultralytics_constants()["TASK2METRIC"]
    if task not in table:
        raise LRConfigError(f"yolo_lr: unknown task '{task}'. Tasks: {', '.join(tasks())}.")
    return table[task]


def default_data(task: str) -> Path | None:
    """Data a training of this task may default to: the bundled COCO8 for detect, nothing for other tasks."""
    from yolo_lr.presets import coco8_yaml

    return coco8_yaml() if task == "detect" else None


def example_data(task: str) -> str:
    """Ultralytics' own small example dataset of a task (downloaded on first use), for messages."""
    return ultralytics_constants()["TASK2DATA"].get(task, "data.yaml")


def example_model(task: str) -> str:
    """The nano model YAML of a task (``yolo26n-seg.yaml``), for messages."""
    return str(ultralytics_constants()["TASK2MODEL"].get(task, "yolo26n.pt")).replace(".pt", ".yaml")


@dataclass(frozen=True)
class ModelInfo:
    """What a ``model=`` value tells about the run before anything is built."""

    task: str
    read: bool  # True: read from the model YAML's head or the checkpoint; False: guessed from the name
    data: str | None = None  # a checkpoint's train_args['data']


def model_info(model: Any) -> ModelInfo:
    """The task of ``model`` (YAML head, checkpoint, else its file name) and, for a checkpoint, its training data.

    Args:
        model: ``None`` (Ultralytics' default ``yolo26n.pt``), a model YAML (``yolo26n-seg.yaml``), a ``.pt`` file,
            or any other name Ultralytics accepts.
    """
    if model is None:
        return ModelInfo("detect", False)
    from ultralytics.nn.tasks import guess_model_task, yaml_model_load

    path = Path(str(model))
    if path.suffix in {".yaml", ".yml"}:
        try:
            cfg = yaml_model_load(path)
        except FileNotFoundError:
            raise LRConfigError(f"yolo_lr: model={model}: no such model YAML") from None
        task = guess_model_task(cfg)
        return ModelInfo(task or "detect", task is not None)
    if path.suffix == ".pt" and path.is_file():
        from ultralytics.utils.patches import torch_load

        ckpt = torch_load(str(path), map_location="cpu")
        args = (ckpt.get("train_args") or {}) if isinstance(ckpt, dict) else {}
        net = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else ckpt
        task = args.get("task") or guess_model_task(net)
        data = args.get("data")
        return ModelInfo(task or "detect", task is not None, str(data) if data else None)
    return ModelInfo(guess_model_task(str(model)) or "detect", False)


def resolve_task(model: Any, task: str | None) -> ModelInfo:
    """The model's task, checked against a task word (``yolo-lr segment train``) or ``task=``.

    Raises:
        LRConfigError: an unknown task, or a task that contradicts what the model YAML or checkpoint says.
    """
    if task is not None and task not in tasks():
        raise LRConfigError(f"yolo-lr: unknown task '{task}'. Tasks: {', '.join(tasks())}.")
    if model is None and task is not None:
        return ModelInfo(task, False)
    info = model_info(model)
    if task is not None and task != info.task:
        if info.read:
            raise LRConfigError(
                f"yolo-lr: task '{task}' does not match model={model}, which is a {info.task} model. "
                f"Drop the task word or give a {task} model, e.g. model={example_model(task)}."
            )
        return ModelInfo(task, False, info.data)
    return info
