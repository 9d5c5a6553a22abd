"""Teach Ultralytics about the plugin without importing it early.

`install()` runs on `import yolo_lr` (and, through the ``yolo_lr.pth`` startup file, in every Python process of an
environment where the plugin is installed, so the stock ``yolo`` CLI and Ultralytics' own subprocesses see it).
If Ultralytics is already imported it registers at once; otherwise a post-import hook registers the moment
``ultralytics.utils`` and ``ultralytics.cfg`` finish loading. Registration:

1. adds every ``lr_*`` key to ``DEFAULT_CFG_DICT``/``DEFAULT_CFG`` (Ultralytics' key whitelist), so ``yolo train
   lr_policy=cosine`` and ``cfg=preset.yaml`` are accepted and the keys land in args.yaml and checkpoints (resume);
2. appends the plugin's callbacks to ``default_callbacks``, so every model created afterwards carries them;
3. wraps ``YAML.load`` to remember which file set a key, and the config checks in ``ultralytics.cfg`` so a bad
   ``lr_*`` value fails inside ``get_cfg``/``entrypoint``: before the trainer creates a run directory;
4. wraps ``BaseTrainer.build_optimizer`` so the fine-tuning rules can split each param group into head and backbone
   parts at construction (every rank builds the same groups, and a resumed run matches its checkpoint).

Nothing here imports torch.
"""

from __future__ import annotations

import functools
import importlib.abc
import sys

_UTILS, _CFG, _TRAINER = "ultralytics.utils", "ultralytics.cfg", "ultralytics.engine.trainer"


def install() -> None:
    """Register now if Ultralytics is loaded, else when it loads. Safe to call any number of times."""
    actions = {
        _UTILS: ("DEFAULT_CFG_DICT", _register_utils),
        _CFG: ("get_cfg", _register_cfg),
        _TRAINER: ("BaseTrainer", _register_trainer),
    }
    pending = {}
    for name, (attr, action) in actions.items():
        if _ready(name, attr):
            action(sys.modules[name])
        else:
            pending[name] = action
    if pending and not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder(pending))


def _ready(name: str, attr: str) -> bool:
    mod = sys.modules.get(name)
    return mod is not None and hasattr(mod, attr)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Runs a function right after a named module finishes executing (Python has no post-import hook)."""

    def __init__(self, actions: dict):
        self.actions = actions

    def find_spec(self, fullname, path, target=None):
        action = self.actions.get(fullname)
        if action is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            action(module)

        spec.loader = _DelegatingLoader(loader, exec_module)
        return spec


class _DelegatingLoader(importlib.abc.Loader):
    def __init__(self, loader, exec_module):
        self._loader, self._exec = loader, exec_module

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._exec(module)

    def __getattr__(self, name):  # get_code, get_source, is_package ... for tools that ask
        return getattr(self._loader, name)


def _register_utils(utils) -> None:
    """Add the lr_* keys to Ultralytics' defaults and the plugin's callbacks to its default callbacks."""
    from yolo_lr.config import note_source, registry_defaults

    for k, v in registry_defaults().items():
        utils.DEFAULT_CFG_DICT.setdefault(k, v)
        if not hasattr(utils.DEFAULT_CFG, k):
            setattr(utils.DEFAULT_CFG, k, v)

    yaml_cls = utils.YAML
    if not getattr(yaml_cls.load, "_yolo_lr", False):
        original = yaml_cls.load.__func__

        @functools.wraps(original)
        def load(cls, file="data.yaml", *args, **kwargs):
            data = original(cls, file, *args, **kwargs)
            note_source(file, data)
            return data

        load._yolo_lr = True
        yaml_cls.load = classmethod(load)

    from ultralytics.utils.callbacks import base

    from yolo_lr.adapter import callbacks
    from yolo_lr.loggers import callbacks as logger_callbacks

    for event, fn in [*callbacks.items(), *logger_callbacks.items()]:  # loggers after the adapter: lr.png exists
        if fn not in base.default_callbacks[event]:
            base.default_callbacks[event].append(fn)


def _register_cfg(cfg_module) -> None:
    """Validate lr_* keys where Ultralytics validates its own: check_dict_alignment (names) and check_cfg (values)."""
    from yolo_lr.config import KEYS, unknown_key_error, validate

    align = cfg_module.check_dict_alignment
    if not getattr(align, "_yolo_lr", False):

        @functools.wraps(align)
        def check_dict_alignment(base, custom, e=None, allowed_custom_keys=None):
            for k in custom:
                if isinstance(k, str) and k.startswith("lr_") and k not in KEYS:
                    raise unknown_key_error(k)
            return align(base, custom, e, allowed_custom_keys)

        check_dict_alignment._yolo_lr = True
        cfg_module.check_dict_alignment = check_dict_alignment

    check = cfg_module.check_cfg
    if not getattr(check, "_yolo_lr", False):

        @functools.wraps(check)
        def check_cfg(cfg, hard=True):
            if cfg.get("mode", "train") == "train":  # a trainer's merged args; val/predict ignore lr_* keys
                validate(cfg)  # raises LRConfigError naming the key and its file
            return check(cfg, hard)

        check_cfg._yolo_lr = True
        cfg_module.check_cfg = check_cfg


def _register_trainer(trainer_module) -> None:
    """Fine-tuning: give the backbone its own param groups as the optimizer is built (all ranks, resume included)."""
    cls = trainer_module.BaseTrainer
    original = cls.build_optimizer
    if getattr(original, "_yolo_lr", False):
        return

    @functools.wraps(original)
    def build_optimizer(self, model, *args, **kwargs):
        optimizer = original(self, model, *args, **kwargs)
        from yolo_lr.config import is_active, resolve

        if is_active(vars(self.args)):
            settings = resolve(vars(self.args))
            if settings.split_backbone:
                from yolo_lr.adapter import split_backbone_groups

                split_backbone_groups(optimizer, model, settings)
        return optimizer

    build_optimizer._yolo_lr = True
    cls.build_optimizer = build_optimizer
