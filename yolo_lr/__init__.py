"""yolo_lr: learning-rate policies for Ultralytics YOLO training.

Importing the package makes the ``lr_*`` keys valid Ultralytics arguments and registers the callbacks that own the
optimizer's learning rate, now if Ultralytics is loaded, else the moment it loads (:mod:`yolo_lr._startup`). It
imports neither Ultralytics nor torch itself: the ``yolo_lr.pth`` startup hook imports it in every Python process.

Examples:
    >>> import yolo_lr
    >>> from ultralytics import YOLO
    >>> YOLO("yolo26n.yaml").train(data="coco8.yaml", epochs=3, lr_policy="cosine", lr_plateau=True)
    >>> model = yolo_lr.attach(YOLO("yolo26n.pt"), "finetune")  # a preset by name, a YAML path or a dict
    >>> yolo_lr.find_lr("yolo26n.yaml", data="coco8.yaml", imgsz=320).lr  # LR range test: a suggested lr0
    >>> YOLO("best.pt").train(data="my.yaml", optimizer="AdamW", lr_find=True)  # the range test sets lr0 before epoch 1
    >>> yolo_lr.sweep([1e-4, 1e-3, 1e-2], model="yolo26n.yaml", epochs=10)  # one short training per lr0
    >>> yolo_lr.uninstall()  # Ultralytics as if the plugin had never been imported (yolo_lr.install() undoes it)
"""

from yolo_lr import _startup

__version__ = "0.1.0"
__all__ = [
    "LRConfigError",
    "__version__",
    "attach",
    "coco8_yaml",
    "find_lr",
    "install",
    "load_policy",
    "preset_names",
    "preset_path",
    "sweep",
    "uninstall",
]


def install():
    """Register the plugin with Ultralytics now if it is loaded, else as soon as ``ultralytics.utils`` is imported
    (:mod:`yolo_lr.registration`; on an unsupported Ultralytics it falls back and says why)."""
    _startup.when_imported("ultralytics.utils", "DEFAULT_CFG_DICT", _register)


def _register(module):
    from yolo_lr import registration

    registration.install()


install()

_LAZY = {
    "attach": "yolo_lr.api",
    "find_lr": "yolo_lr.tools.find",
    "sweep": "yolo_lr.tools.sweep",
    "load_policy": "yolo_lr.presets",
    "preset_names": "yolo_lr.presets",
    "preset_path": "yolo_lr.presets",
    "coco8_yaml": "yolo_lr.presets",
    "LRConfigError": "yolo_lr.config",
}


def uninstall():
    """Undo the registration with Ultralytics: keys, callbacks and wraps. Models created afterwards train natively."""
    import sys

    from yolo_lr import _startup

    _startup.cancel()
    if "yolo_lr.registration" in sys.modules:
        sys.modules["yolo_lr.registration"].uninstall()


def __getattr__(name):
    """Lazy public API: nothing heavy is imported until used (the package is imported at interpreter start)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'yolo_lr' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
