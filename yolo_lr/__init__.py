"""yolo_lr: learning-rate policies for Ultralytics YOLO training.

Importing the package makes the ``lr_*`` keys valid Ultralytics arguments and registers the callbacks that own the
optimizer's learning rate (see :mod:`yolo_lr.hooks`). It does not import Ultralytics or torch itself.

Examples:
    >>> import yolo_lr
    >>> from ultralytics import YOLO
    >>> YOLO("yolo26n.yaml").train(data="coco8.yaml", epochs=3, lr_policy="cosine", lr_plateau=True)
    >>> model = yolo_lr.attach(YOLO("yolo26n.pt"), "finetune")  # a preset by name, a YAML path or a dict
    >>> yolo_lr.find_lr("yolo26n.yaml", data="coco8.yaml", imgsz=320).lr  # LR range test: a suggested lr0
    >>> yolo_lr.sweep([1e-4, 1e-3, 1e-2], model="yolo26n.yaml", epochs=10)  # one short training per lr0
"""

from __future__ import annotations

from yolo_lr.hooks import install as _install

__version__ = "0.1.0"
__all__ = [
    "LRConfigError",
    "__version__",
    "attach",
    "coco8_yaml",
    "find_lr",
    "load_policy",
    "preset_names",
    "preset_path",
    "sweep",
]

_install()


def __getattr__(name):
    """Lazy public API: nothing heavy is imported until used (the package is imported at interpreter start)."""
    if name in {"attach"}:
        from yolo_lr import api

        return getattr(api, name)
    if name == "find_lr":
        from yolo_lr.finder import find_lr

        return find_lr
    if name == "sweep":
        from yolo_lr.lr_sweep import sweep

        return sweep
    if name in {"load_policy", "preset_names", "preset_path", "coco8_yaml"}:
        from yolo_lr import presets

        return getattr(presets, name)
    if name == "LRConfigError":
        from yolo_lr.config import LRConfigError

        return LRConfigError
    raise AttributeError(f"module 'yolo_lr' has no attribute {name!r}")
