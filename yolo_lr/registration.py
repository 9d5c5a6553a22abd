"""How yolo_lr plugs into Ultralytics, and how it steps aside: the top of the core.

:func:`install` runs the moment ``ultralytics.utils`` has loaded (the startup hook, or ``import yolo_lr``). It first
asks :func:`yolo_lr.ultralytics_compat.host_problems` whether this Ultralytics is supported and has every internal the
plugin uses. If so it applies a small registry of patches, grouped by concern and all undone by :func:`uninstall`:

- ``keys``: the ``lr_*`` keys in ``DEFAULT_CFG_DICT``/``DEFAULT_CFG``, Ultralytics' key whitelist;
- ``callbacks``: the plugin's callbacks in ``default_callbacks``, so every model created afterwards carries them;
- ``config checks``: ``YAML.load`` remembers which file set a key; ``check_dict_alignment``/``check_cfg`` reject a bad
  ``lr_*`` key or value inside ``get_cfg``/``entrypoint``, before a run directory exists;
- ``trainer``: ``BaseTrainer.run_callbacks``, at a trainer's first event (``on_pretrain_routine_start``, inside its
  ``__init__``), gives every trainer whose ``lr_*`` keys are active the plugin's callbacks, whatever happened to the
  callbacks it was given (``model.reset_callbacks()``, Ray Tune's trainable);
  ``BaseTrainer.build_optimizer`` names the param groups where the release does not, splits them by layer scale and
  backbone (every rank, resume alike), and adds a guard that stops the run at its first optimizer step if the plugin
  is not driving the LR;
- ``presets``: ``check_yaml`` finds a shipped preset by name (``cfg=finetune``) when no file of that name exists;
- ``tuner`` (once ``model.tune`` imports it): integer ``lr_*`` keys rounded, unset ones given a starting value, a
  space the tuner cannot search refused; ``ray tune`` (``model.tune(use_ray=True)``): the ``lr_*`` part of a Ray
  search space checked before any trial starts.

If anything is missing (an unsupported release, an internal that moved, even one found only when a later Ultralytics
module loads), registration *falls back*: every patch is undone, native training is untouched, one warning names the
installed and supported releases and what moved, and the only thing left is ``refusal``: a run that sets an ``lr_*``
key stops before training with that same message instead of Ultralytics' "not a valid YOLO argument".
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yolo_lr import _startup
from yolo_lr import ultralytics_compat as compat

_UTILS, _CHECKS, _CFG, _TRAINER, _CALLBACKS, _TUNER, _RAY = (
    "ultralytics.utils",
    "ultralytics.utils.checks",
    "ultralytics.cfg",
    "ultralytics.engine.trainer",
    "ultralytics.utils.callbacks.base",
    "ultralytics.engine.tuner",
    "ultralytics.utils.tuner",
)


class _Patch:
    __slots__ = ("attr", "concern", "original", "owner")

    def __init__(self, concern: str, owner: Any, attr: str, original: Any):
        self.concern, self.owner, self.attr, self.original = concern, owner, attr, original


_PATCHES: list[_Patch] = []
_ADDED_KEYS: list[str] = []  # lr_* keys this plugin added to DEFAULT_CFG_DICT / DEFAULT_CFG
_ADDED_CALLBACKS: list[tuple[str, Callable]] = []
_LATE: list[str] = []  # modules that were mid-import when registration ran, so could not be patched
_INACTIVE: list[str] = []  # why registration fell back (empty: registered, or not yet tried)


def _wrap(concern: str, owner: Any, attr: str, make: Callable[[Any], Any]) -> None:
    """Replace ``owner.attr`` by ``make(original)``, once; :func:`uninstall` puts the original back."""
    if any(p.owner is owner and p.attr == attr for p in _PATCHES):
        return
    original = vars(owner)[attr]  # the raw attribute (a classmethod object stays one)
    setattr(owner, attr, make(original))
    _PATCHES.append(_Patch(concern, owner, attr, original))


def plugin_callbacks() -> list[tuple[str, Callable]]:
    """The plugin's ``(event, callback)`` pairs, the adapter's before the loggers' (they read what it wrote)."""
    from yolo_lr.adapter import callbacks as adapter_callbacks
    from yolo_lr.loggers import callbacks as logger_callbacks

    return [*adapter_callbacks.items(), *logger_callbacks.items()]


# ---------------------------------------------------------------------------------------------- install / uninstall
def install() -> None:
    """Register with a loaded ``ultralytics.utils``, or fall back (see the module docstring). Idempotent."""
    if _INACTIVE:
        return
    try:
        problems = compat.host_problems(tuple(event for event, _ in plugin_callbacks()))
        if problems:
            raise compat.compat_error(problems)
        utils = sys.modules[_UTILS]
        _register_keys(utils)
        _patch_yaml(utils)
        _register_callbacks()
        for name, ready, action in ((_CFG, "get_cfg", _on_cfg), (_TRAINER, "BaseTrainer", _on_trainer)):
            if not _startup.when_imported(name, ready, action) and name not in _LATE:
                _LATE.append(name)
        _startup.when_imported(_CHECKS, "check_yaml", _on_checks)
        _startup.when_imported(_TUNER, "Tuner", _on_tuner)  # optional: only model.tune needs it
        _startup.when_imported(_RAY, "run_ray_tune", _on_ray)  # optional: model.tune(use_ray=True)
    except Exception as e:  # noqa: BLE001 - whatever went wrong, never break `import ultralytics`: step aside
        _fall_back(_as_compat_error(e))


def _as_compat_error(e: Exception) -> compat.UltralyticsCompatError:
    """A registration failure as the error a run with lr_* keys gets (an unexpected one is named by its type)."""
    if isinstance(e, compat.UltralyticsCompatError):
        return e
    return compat.compat_error([f"registration failed: {type(e).__name__}: {e}"])


def _late(patch: Callable[[Any], None]) -> Callable[[Any], None]:
    """A patch applied when its module loads, after registration: a missing internal there makes the whole
    registration fall back too."""

    @functools.wraps(patch)
    def action(module):
        if _INACTIVE:
            return
        try:
            patch(module)
        except Exception as e:  # noqa: BLE001 - as in install(): step aside rather than break the module's import
            _fall_back(_as_compat_error(e))

    return action


def _fall_back(error: compat.UltralyticsCompatError) -> None:
    """Undo everything, warn once, and leave only the refusal of ``lr_*`` keys."""
    problems = getattr(error, "problems", None) or [str(error)]
    uninstall()
    _INACTIVE[:] = problems
    utils = sys.modules.get(_UTILS)
    log = getattr(utils, "LOGGER", None)
    message = f"{error} Ultralytics runs natively."
    if log is not None:
        log.warning(message)
    else:
        import warnings

        warnings.warn(message, stacklevel=2)
    _startup.when_imported(_CFG, "check_dict_alignment", _refuse)


def _refuse(cfg_module) -> None:
    """The fallback's only patch: a run that sets ``lr_*`` keys stops, naming the releases, before training."""
    if not hasattr(cfg_module, "check_dict_alignment"):
        return

    def make(align):
        @functools.wraps(align)
        def check_dict_alignment(base, custom, *args, **kwargs):
            keys = [k for k in custom if isinstance(k, str) and k.startswith("lr_")]
            if keys and _INACTIVE:
                raise compat.compat_error(_INACTIVE, f"This run sets {', '.join(keys)}: the plugin is needed. ")
            return align(base, custom, *args, **kwargs)

        return check_dict_alignment

    _wrap("refusal", cfg_module, "check_dict_alignment", make)


def uninstall() -> None:
    """Undo every registration: wraps restored, keys and callbacks removed, pending import hooks cancelled.

    Models created afterwards train natively. (Models created before keep the callbacks they copied; a run with no
    ``lr_*`` key is native anyway.)
    """
    _startup.cancel()
    for p in reversed(_PATCHES):
        setattr(p.owner, p.attr, p.original)
    _PATCHES.clear()
    utils = sys.modules.get(_UTILS)
    if utils is not None:
        for k in _ADDED_KEYS:
            utils.DEFAULT_CFG_DICT.pop(k, None)
            if hasattr(utils.DEFAULT_CFG, k):
                delattr(utils.DEFAULT_CFG, k)
    _ADDED_KEYS.clear()
    base = sys.modules.get(_CALLBACKS)
    if base is not None:
        for event, fn in _ADDED_CALLBACKS:
            if fn in base.default_callbacks.get(event, []):
                base.default_callbacks[event].remove(fn)
    _ADDED_CALLBACKS.clear()
    _LATE.clear()
    _INACTIVE.clear()


def installed() -> dict[str, list[str]]:
    """What is registered now, by concern (``keys``, ``callbacks``, ``config checks``, ``trainer``, ``tuner``,
    ``ray tune``; ``refusal`` alone after a fallback)."""
    out: dict[str, list[str]] = {}
    if _ADDED_KEYS:
        out["keys"] = list(_ADDED_KEYS)
    if _ADDED_CALLBACKS:
        out["callbacks"] = [event for event, _ in _ADDED_CALLBACKS]
    for p in _PATCHES:
        out.setdefault(p.concern, []).append(f"{getattr(p.owner, '__name__', p.owner)}.{p.attr}")
    return out


def inactive_reasons() -> list[str]:
    """Why the plugin fell back instead of registering (empty when it is registered)."""
    return list(_INACTIVE)


# ------------------------------------------------------------------------------------------------------ the patches
def _register_keys(utils) -> None:
    from yolo_lr.config import registry_defaults

    for k, v in registry_defaults().items():
        if k not in utils.DEFAULT_CFG_DICT:
            utils.DEFAULT_CFG_DICT[k] = v
            setattr(utils.DEFAULT_CFG, k, v)
            _ADDED_KEYS.append(k)


def _register_callbacks() -> None:
    from ultralytics.utils.callbacks import base

    for event, fn in plugin_callbacks():
        if fn not in base.default_callbacks[event]:
            base.default_callbacks[event].append(fn)
            _ADDED_CALLBACKS.append((event, fn))


def _patch_yaml(utils) -> None:
    """Remember which YAML file set a key, so an error can name it."""
    from yolo_lr.config import note_source

    def make(original):
        load = original.__func__

        @functools.wraps(load)
        def wrapped(cls, file="data.yaml", *args, **kwargs):
            data = load(cls, file, *args, **kwargs)
            note_source(file, data)
            return data

        return classmethod(wrapped)

    _wrap("config checks", utils.YAML, "load", make)


def _patch_cfg(cfg_module) -> None:
    """Validate lr_* keys where Ultralytics validates its own: check_dict_alignment (names), check_cfg (values)."""
    from yolo_lr.config import KEYS, LRConfigError, is_active, unknown_key_error, validate

    if gone := compat.missing(cfg_module, compat.CFG_FUNCTIONS, _CFG):
        raise compat.compat_error(gone)

    def make_align(align):
        @functools.wraps(align)
        def check_dict_alignment(base, custom, *args, **kwargs):
            for k in custom:
                if isinstance(k, str) and k.startswith("lr_") and k not in KEYS:
                    raise unknown_key_error(k)
            error = args[0] if args else kwargs.get("e")
            cfg_words = [k for k in custom if isinstance(k, str) and k.startswith("cfg=")]
            if error is not None and cfg_words:  # the CLI's cfg=FILE failed to load: say why, last, not "invalid arg"
                file = cfg_words[0].partition("=")[2]
                why = str(error).replace('"<unicode string>"', repr(file))  # PyYAML's marks: name the file
                raise LRConfigError(f"yolo_lr: {cfg_words[0]} could not be loaded: {why}") from error
            return align(base, custom, *args, **kwargs)

        return check_dict_alignment

    def make_check(check):
        @functools.wraps(check)
        def check_cfg(cfg, hard=True):
            if cfg.get("mode", "train") == "train":  # a trainer's merged args; val/predict ignore lr_* keys
                validate(cfg)  # raises LRConfigError naming the key and its file
                ddp = compat.device_count(cfg.get("device")) > 1
                if ddp and is_active(cfg) and not compat.host_rules().ddp_callbacks:
                    raise LRConfigError(
                        f"yolo_lr: lr_* keys with device={cfg.get('device')} (DDP) need Ultralytics 8.4.145 or newer, "
                        f"whose DDP workers receive the parent's callbacks; Ultralytics {compat.version()} is "
                        "installed. Upgrade Ultralytics, or train on one device."
                    )
            return check(cfg, hard)

        return check_cfg

    _wrap("config checks", cfg_module, "check_dict_alignment", make_align)
    _wrap("config checks", cfg_module, "check_cfg", make_check)


def _patch_checks(checks_module) -> None:
    """A shipped preset's name works as ``cfg=`` in the stock CLI and ``model.train(cfg=...)`` (both load it through
    ``check_yaml``); a file of that name that Ultralytics finds still wins."""
    if not hasattr(checks_module, "check_yaml"):
        return
    from yolo_lr.presets import preset_dir, preset_names

    def make(check):
        @functools.wraps(check)
        def check_yaml(file, *args, **kwargs):
            name = Path(str(file))
            bare = isinstance(file, (str, Path)) and name.parent == Path(".") and not name.exists()
            preset = bare and name.suffix in {"", ".yaml", ".yml"} and name.stem in preset_names()
            if preset and not name.suffix:  # cfg=finetune: Ultralytics would refuse the missing suffix
                return check(str(preset_dir() / f"{name.stem}.yaml"), *args, **kwargs)
            try:
                return check(file, *args, **kwargs)
            except FileNotFoundError:
                if not preset:
                    raise
                return check(str(preset_dir() / f"{name.stem}.yaml"), *args, **kwargs)

        return check_yaml

    _wrap("presets", checks_module, "check_yaml", make)


def _patch_trainer(trainer_module) -> None:
    """Every trainer with active lr_* keys gets the plugin (callbacks, named and split param groups, first-step
    guard), whoever built it and whatever its callbacks dict holds."""
    cls = getattr(trainer_module, "BaseTrainer", None)
    if cls is None or (gone := compat.missing(cls, compat.TRAINER_METHODS, f"{_TRAINER}.BaseTrainer")):
        raise compat.compat_error(gone if cls is not None else [f"no {_TRAINER}.BaseTrainer"])

    def make_run(run):
        @functools.wraps(run)
        def run_callbacks(self, event):
            if compat.HOOKED not in self.__dict__:  # the trainer's first event (inside __init__ on rank 0)
                hook_trainer(self)
            return run(self, event)

        return run_callbacks

    def make_build(build):
        @functools.wraps(build)
        def build_optimizer(self, model, *args, **kwargs):
            optimizer = build(self, model, *args, **kwargs)
            from yolo_lr.config import is_active, resolve

            if is_active(vars(self.args)):
                compat.name_param_groups(optimizer)
                settings = resolve(vars(self.args))
                if settings.split_backbone:
                    from yolo_lr.backbone import split_param_groups

                    split_param_groups(optimizer, compat.student_of(model), settings.finetune)
                _guard_first_step(self, optimizer)
            return optimizer

        return build_optimizer

    _wrap("trainer", cls, "run_callbacks", make_run)
    _wrap("trainer", cls, "build_optimizer", make_build)


def hook_trainer(trainer) -> None:
    """Mark the trainer as built under the plugin and, when its lr_* keys are active, add every plugin callback its
    callbacks dict lacks (appended, so callbacks it already has keep their place)."""
    from yolo_lr.config import is_active

    trainer.__dict__[compat.HOOKED] = True
    callbacks = getattr(trainer, "callbacks", None)
    if callbacks is None or not is_active(vars(trainer.args)):
        return
    from inspect import unwrap

    for event, fn in plugin_callbacks():  # a callback wrapped by someone (functools.wraps: a timer, ...) counts,
        own = unwrap(fn)  # and so does the plugin's own callback when it is itself a wrapper (a profiler, mutmut)
        if not any(unwrap(f) is own for f in callbacks.setdefault(event, []) if callable(f)):
            callbacks[event].append(fn)


def _guard_first_step(trainer, optimizer) -> None:
    """Stop a run with active lr_* keys at its first optimizer step if the plugin is not driving the optimizer (its
    callbacks removed after the trainer was built): never lr_* keys in args.yaml and native LRs."""
    from yolo_lr.adapter import is_driving

    checked = []

    def guard(opt, args, kwargs):
        if checked:
            return
        if not is_driving(trainer):
            raise compat.UltralyticsCompatError(
                "yolo_lr: this run sets lr_* keys but the plugin is not driving its optimizer: its callbacks were "
                "removed from the trainer after it was built (trainer.callbacks edited). Stopping rather than "
                "training with Ultralytics' native LRs. Leave the plugin's callbacks in place, or drop the lr_* keys."
            )
        checked.append(True)

    compat.before_optimizer_step(optimizer, guard)


def _patch_tuner(tuner_module) -> None:
    """``model.tune`` over lr_* keys: the tuner rounds integer lr_* keys like its own integer keys, and starts unset
    lr_* keys of its search space from the value they take in the run; a space it cannot search fails first."""
    if gone := compat.missing(tuner_module, ("Tuner",), _TUNER) or compat.missing(
        tuner_module.Tuner, ("__init__", "_mutate"), f"{_TUNER}.Tuner"
    ):
        raise compat.compat_error(gone)
    from yolo_lr.config import integer_keys

    if hasattr(tuner_module, "CFG_INT_KEYS"):
        _wrap("tuner", tuner_module, "CFG_INT_KEYS", lambda keys: frozenset(keys) | integer_keys())
    else:  # releases before the tuner rounded integer keys: round the plugin's own after each mutation

        def make_mutate(mutate):
            @functools.wraps(mutate)
            def _mutate(self, *args, **kwargs):
                hyp = mutate(self, *args, **kwargs)
                for key in integer_keys() & set(hyp):
                    hyp[key] = int(round(hyp[key]))
                return hyp

            return _mutate

        _wrap("tuner", tuner_module.Tuner, "_mutate", make_mutate)

    def make(init):
        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)
            prepare_tuner(self)

        return __init__

    _wrap("tuner", tuner_module.Tuner, "__init__", make)


def prepare_tuner(tuner) -> None:
    """Check the lr_* keys of a tuner's search space and give the unset ones a starting value in ``tuner.args``."""
    from yolo_lr.config import FineTune, LRConfigError, check_tune_space, is_active, tune_start_values

    space = {k: v for k, v in tuner.space.items() if isinstance(k, str) and k.startswith("lr_")}
    if not space:
        return
    cfg = vars(tuner.args)
    check_tune_space(space, cfg)
    layers = None
    if "lr_backbone_layers" in space and cfg.get("lr_backbone_layers") is None:
        from yolo_lr.backbone import backbone_layer_count

        model = getattr(tuner, "model", None)
        if model is None:
            raise LRConfigError(
                "yolo_lr: tuning lr_backbone_layers from its default needs the model the tuner was made for "
                f"(Tuner(model=...), Ultralytics 8.4.145 on; {compat.version()} is installed): set lr_backbone_layers "
                "in the training arguments.",
                key="lr_backbone_layers",
            )
        layers = backbone_layer_count(compat.student_of(model), FineTune())
    for k, v in tune_start_values(cfg, space, layers).items():
        setattr(tuner.args, k, v)
    if not cfg.get("lr_policy") and not is_active(cfg):
        compat.logger().warning(
            f"yolo_lr: tuning {', '.join(space)} without lr_policy: an iteration whose lr_* values all equal their "
            "defaults trains natively (Ultralytics' per-epoch LR), the others with the plugin's per-step linear "
            "policy. Set lr_policy (e.g. lr_policy=linear) so every iteration runs the same kind of schedule."
        )


def _patch_ray(ray_module) -> None:
    """``model.tune(use_ray=True)``: the lr_* part of the search space is checked before Ray starts any trial."""
    if not hasattr(ray_module, "run_ray_tune"):
        return

    def make(run):
        @functools.wraps(run)
        def run_ray_tune(model, space=None, *args, **kwargs):
            from yolo_lr.config import check_ray_space

            if space:
                fixed = {k: v for k, v in kwargs.items() if k not in {"grace_period", "gpu_per_trial", "iterations"}}
                overrides = getattr(model, "overrides", None) or {}
                check_ray_space(space, {**overrides, **fixed})
            return run(model, space, *args, **kwargs)

        return run_ray_tune

    _wrap("ray tune", ray_module, "run_ray_tune", make)


_on_cfg, _on_checks, _on_trainer, _on_tuner, _on_ray = map(
    _late, (_patch_cfg, _patch_checks, _patch_trainer, _patch_tuner, _patch_ray)
)
