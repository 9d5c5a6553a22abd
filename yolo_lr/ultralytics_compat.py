"""Everything yolo_lr knows about Ultralytics internals, in one file.

A new Ultralytics release that moves something is a change to this file only. Every internal used here is checked
before it is used: a missing one raises :class:`UltralyticsCompatError` when Ultralytics is imported (registration) or
when a training starts, never a silent no-op.

What lives here:

- Ultralytics' rules, as pure functions the ``yolo-lr plot`` preview uses without importing Ultralytics: the warmup
  length, ``optimizer=auto``'s choice, how many devices a ``device=`` value trains on.
- Registration, a small registry of patches grouped by concern, all undone by :func:`uninstall`:
  ``keys`` (the ``lr_*`` keys in ``DEFAULT_CFG_DICT``/``DEFAULT_CFG``, Ultralytics' key whitelist), ``callbacks``
  (the plugin's callbacks in ``default_callbacks``, so every model created afterwards carries them), ``config checks``
  (``YAML.load`` remembers which file set a key; ``check_dict_alignment``/``check_cfg`` reject a bad ``lr_*`` key or
  value inside ``get_cfg``/``entrypoint``, before a run directory exists), ``optimizer groups``
  (``BaseTrainer.build_optimizer`` splits param groups by layer scale and backbone as the optimizer is built, on
  every rank and on resume alike) and, once ``model.tune`` imports it, ``tuner`` (integer ``lr_*`` keys rounded,
  unset ones given a starting value, a space the tuner cannot search refused).
- What a running trainer offers: where to act right before each optimizer step (a step pre-hook on the trainer's
  optimizer: native code writes the LR after ``on_train_batch_start`` during warmup and in ``scheduler.step()``, so a
  callback cannot have the last word) and right before a checkpoint is written (a wrap of the instance's
  ``save_model``), the warmup length the trainer uses, metrics and loss names, and where policy state survives a crash
  (the optimizer's param groups, which Ultralytics saves in every checkpoint and restores on resume and NaN recovery).
- What an LR range test on a running trainer (``lr_find``) needs: everything optimizer steps change on the trainer and
  how to put it back (:func:`trainer_state`), the first epoch's mosaic, and how to make a new ``lr0`` the run's peak
  and record it (:func:`set_lr0`, :func:`save_args`).

The module imports no Ultralytics at import time (it is imported while Ultralytics itself is loading).
"""

from __future__ import annotations

import copy
import functools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolo_lr import _startup

KNOWN = "8.4"  # the Ultralytics series whose internals this file was written against
STATE_KEY = "yolo_lr"  # key of the policy state in the optimizer's first param group
_UTILS, _CFG, _TRAINER, _CALLBACKS, _TUNER = (
    "ultralytics.utils",
    "ultralytics.cfg",
    "ultralytics.engine.trainer",
    "ultralytics.utils.callbacks.base",
    "ultralytics.engine.tuner",
)


class UltralyticsCompatError(RuntimeError):
    """An Ultralytics internal the plugin relies on is missing or changed."""


def _version() -> str:
    return getattr(sys.modules.get("ultralytics"), "__version__", "unknown")


def _require(obj: Any, attrs: tuple[str, ...], where: str) -> None:
    missing = [a for a in attrs if not hasattr(obj, a)]
    if missing:
        raise UltralyticsCompatError(
            f"yolo_lr: Ultralytics {_version()} has no {', '.join(f'{where}.{a}' for a in missing)}. This yolo_lr "
            f"relies on Ultralytics {KNOWN}.x internals (all in yolo_lr/ultralytics_compat.py): install a matching "
            "ultralytics, or set YOLO_LR_DISABLE=1 to run without the plugin."
        )


# ------------------------------------------------------------------------------------------------ Ultralytics' rules
def warmup_iterations(warmup_epochs: float, epochs: int, nb: int) -> int:
    """Ultralytics' warmup length in batches (``BaseTrainer._get_warmup_iterations``): the final epoch never warms."""
    we = min(warmup_epochs, max(epochs - 1, 0))
    return round(we * nb) if we > 0 else 0


def is_auto_optimizer(optimizer: Any) -> bool:
    """True for ``optimizer=auto`` (or unset), which makes Ultralytics ignore ``lr0``."""
    return optimizer is None or str(optimizer).strip().lower() in {"", "auto", "none"}


def device_count(device: Any) -> int:
    """How many devices a ``device=`` value trains on (``"0,1"`` or ``[0, 1]``: two, so DDP; anything else: one)."""
    if isinstance(device, (list, tuple)):
        return len(device)
    if isinstance(device, str) and "," in device:
        return len([d for d in device.split(",") if d.strip()])
    return 1


def auto_optimizer(n_images: int, batch: int, nbs: int, epochs: int, nc: int) -> tuple[str, float]:
    """What ``optimizer=auto`` picks (``BaseTrainer.build_optimizer``): ``(name, lr)``; it also zeroes
    ``warmup_bias_lr``."""
    iterations = math.ceil(n_images / max(batch, nbs)) * epochs
    return ("MuSGD", 0.01) if iterations > 10000 else ("AdamW", round(0.002 * 5 / (4 + nc), 6))


# ------------------------------------------------------------------------------------------------- patch registry
CFG_FUNCTIONS = ("check_dict_alignment", "check_cfg", "get_cfg")


class _Patch:
    __slots__ = ("attr", "concern", "original", "owner")

    def __init__(self, concern: str, owner: Any, attr: str, original: Any):
        self.concern, self.owner, self.attr, self.original = concern, owner, attr, original


_PATCHES: list[_Patch] = []
_ADDED_KEYS: list[str] = []  # lr_* keys this plugin added to DEFAULT_CFG_DICT / DEFAULT_CFG
_ADDED_CALLBACKS: list[tuple[str, Callable]] = []
_LATE: list[str] = []  # modules that were mid-import when registration ran, so could not be patched


def _wrap(concern: str, owner: Any, attr: str, make: Callable[[Any], Any]) -> None:
    """Replace ``owner.attr`` by ``make(original)``, once; :func:`uninstall` puts the original back."""
    if any(p.owner is owner and p.attr == attr for p in _PATCHES):
        return
    original = vars(owner)[attr]  # the raw attribute (a classmethod object stays one)
    setattr(owner, attr, make(original))
    _PATCHES.append(_Patch(concern, owner, attr, original))


def install() -> None:
    """Register with a loaded ``ultralytics.utils``; patch ``ultralytics.cfg`` and the trainer when they load.

    Idempotent: a second call changes nothing.
    """
    utils = sys.modules[_UTILS]
    _require(utils, ("DEFAULT_CFG_DICT", "DEFAULT_CFG", "YAML", "RANK", "LOGGER"), _UTILS)
    _require(utils.YAML, ("load",), f"{_UTILS}.YAML")
    if (cfg := sys.modules.get(_CFG)) is not None and hasattr(cfg, "get_cfg"):  # loaded: check before patching
        _require(cfg, CFG_FUNCTIONS, _CFG)
    if (trainer := sys.modules.get(_TRAINER)) is not None and hasattr(trainer, "BaseTrainer"):
        _require(trainer.BaseTrainer, TRAINER_METHODS, f"{_TRAINER}.BaseTrainer")
    _register_keys(utils)
    _patch_yaml(utils)
    _register_callbacks()
    for name, ready, action in ((_CFG, "get_cfg", _patch_cfg), (_TRAINER, "BaseTrainer", _patch_trainer)):
        if not _startup.when_imported(name, ready, action) and name not in _LATE:
            _LATE.append(name)
    _startup.when_imported(_TUNER, "Tuner", _patch_tuner)  # optional: only model.tune needs it


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


def installed() -> dict[str, list[str]]:
    """What is registered now, by concern (``keys``, ``callbacks``, ``config checks``, ``optimizer groups``,
    ``tuner``)."""
    out: dict[str, list[str]] = {}
    if _ADDED_KEYS:
        out["keys"] = list(_ADDED_KEYS)
    if _ADDED_CALLBACKS:
        out["callbacks"] = [event for event, _ in _ADDED_CALLBACKS]
    for p in _PATCHES:
        out.setdefault(p.concern, []).append(f"{getattr(p.owner, '__name__', p.owner)}.{p.attr}")
    return out


def check_installed() -> None:
    """At train start: every concern is in place, or a loud error (never a half-registered plugin)."""
    missing = [c for c in ("keys", "callbacks", "config checks", "optimizer groups") if c not in installed()]
    if missing or _LATE:
        late = f" ({', '.join(_LATE)} was already being imported when the plugin registered)" if _LATE else ""
        raise UltralyticsCompatError(
            f"yolo_lr: registration with Ultralytics is incomplete: {', '.join(missing) or 'late modules'} missing"
            f"{late}. Import yolo_lr (or keep its startup hook on) before Ultralytics."
        )


def _register_keys(utils) -> None:
    from yolo_lr.config import registry_defaults

    for k, v in registry_defaults().items():
        if k not in utils.DEFAULT_CFG_DICT:
            utils.DEFAULT_CFG_DICT[k] = v
            setattr(utils.DEFAULT_CFG, k, v)
            _ADDED_KEYS.append(k)


def _register_callbacks() -> None:
    from ultralytics.utils.callbacks import base

    from yolo_lr.adapter import callbacks as adapter_callbacks
    from yolo_lr.loggers import callbacks as logger_callbacks

    _require(base, ("default_callbacks",), _CALLBACKS)
    callbacks = [*adapter_callbacks.items(), *logger_callbacks.items()]  # loggers after the adapter: lr.png exists
    unknown = [event for event, _ in callbacks if event not in base.default_callbacks]
    if unknown:
        raise UltralyticsCompatError(
            f"yolo_lr: Ultralytics {_version()} has no callback event {', '.join(unknown)} (yolo_lr relies on "
            f"Ultralytics {KNOWN}.x; see yolo_lr/ultralytics_compat.py). Set YOLO_LR_DISABLE=1 to run without it."
        )
    for event, fn in callbacks:
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
    from yolo_lr.config import KEYS, unknown_key_error, validate

    _require(cfg_module, CFG_FUNCTIONS, _CFG)

    def make_align(align):
        @functools.wraps(align)
        def check_dict_alignment(base, custom, e=None, allowed_custom_keys=None):
            for k in custom:
                if isinstance(k, str) and k.startswith("lr_") and k not in KEYS:
                    raise unknown_key_error(k)
            return align(base, custom, e, allowed_custom_keys)

        return check_dict_alignment

    def make_check(check):
        @functools.wraps(check)
        def check_cfg(cfg, hard=True):
            if cfg.get("mode", "train") == "train":  # a trainer's merged args; val/predict ignore lr_* keys
                validate(cfg)  # raises LRConfigError naming the key and its file
            return check(cfg, hard)

        return check_cfg

    _wrap("config checks", cfg_module, "check_dict_alignment", make_align)
    _wrap("config checks", cfg_module, "check_cfg", make_check)


def _patch_trainer(trainer_module) -> None:
    """Per-layer LR rules: split the param groups by layer as the optimizer is built (all ranks, resume included)."""
    _require(trainer_module, ("BaseTrainer",), _TRAINER)
    cls = trainer_module.BaseTrainer
    _require(cls, TRAINER_METHODS, f"{_TRAINER}.BaseTrainer")

    def make(build):
        @functools.wraps(build)
        def build_optimizer(self, model, *args, **kwargs):
            optimizer = build(self, model, *args, **kwargs)
            from yolo_lr.config import is_active, resolve

            if is_active(vars(self.args)):
                settings = resolve(vars(self.args))
                if settings.split_backbone:
                    from yolo_lr.backbone import split_param_groups

                    split_param_groups(optimizer, student_of(model), settings.finetune)
            return optimizer

        return build_optimizer

    _wrap("optimizer groups", cls, "build_optimizer", make)


def student_of(model):
    """The model whose layers the per-layer rules address: DDP/compile wrappers removed, and for knowledge
    distillation (``distill_model=``, a ``DistillationModel``) its student, never the teacher."""
    from ultralytics.utils.torch_utils import unwrap_model

    inner = unwrap_model(model)
    return getattr(inner, "student_model", inner)


def _patch_tuner(tuner_module) -> None:
    """``model.tune`` over lr_* keys: the tuner rounds integer lr_* keys like its own integer keys, and starts unset
    lr_* keys of its search space from the value they take in the run; a space it cannot search fails first."""
    _require(tuner_module, ("Tuner", "CFG_INT_KEYS"), _TUNER)
    _require(tuner_module.Tuner, ("__init__", "_mutate"), f"{_TUNER}.Tuner")
    from yolo_lr.config import integer_keys

    _wrap("tuner", tuner_module, "CFG_INT_KEYS", lambda keys: frozenset(keys) | integer_keys())

    def make(init):
        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)
            prepare_tuner(self)

        return __init__

    _wrap("tuner", tuner_module.Tuner, "__init__", make)


def prepare_tuner(tuner) -> None:
    """Check the lr_* keys of a tuner's search space and give the unset ones a starting value in ``tuner.args``."""
    from yolo_lr.config import FineTune, check_tune_space, is_active, tune_start_values

    space = {k: v for k, v in tuner.space.items() if isinstance(k, str) and k.startswith("lr_")}
    if not space:
        return
    cfg = vars(tuner.args)
    check_tune_space(space, cfg)
    layers = None
    if "lr_backbone_layers" in space and cfg.get("lr_backbone_layers") is None:
        from yolo_lr.backbone import backbone_layer_count

        layers = backbone_layer_count(student_of(tuner.model), FineTune())
    for k, v in tune_start_values(cfg, space, layers).items():
        setattr(tuner.args, k, v)
    if not cfg.get("lr_policy") and not is_active(cfg):
        logger().warning(
            f"yolo_lr: tuning {', '.join(space)} without lr_policy: an iteration whose lr_* values all equal their "
            "defaults trains natively (Ultralytics' per-epoch LR), the others with the plugin's per-step linear "
            "policy. Set lr_policy (e.g. lr_policy=linear) so every iteration runs the same kind of schedule."
        )


# ----------------------------------------------------------------------------------------------- a running trainer
TRAINER_METHODS = (
    "build_optimizer",
    "save_model",
    "_get_warmup_iterations",
    "label_loss_items",
    "add_callback",
)
TRAINER_ATTRS = ("args", "epochs", "start_epoch", "optimizer", "train_loader", "save_dir", "metrics")


def check_trainer(trainer) -> None:
    """At train start (``on_pretrain_routine_end``): everything the plugin reads or wraps on the trainer exists."""
    check_installed()
    _require(trainer, TRAINER_METHODS + TRAINER_ATTRS, type(trainer).__name__)
    _require(trainer.optimizer, ("register_step_pre_hook", "param_groups"), type(trainer.optimizer).__name__)


def before_optimizer_step(optimizer, hook: Callable[[Any, tuple, dict], None]):
    """Run ``hook(optimizer, args, kwargs)`` right before every step of the trainer's optimizer (a torch step pre-hook).

    Native code writes the LR after ``on_train_batch_start`` during warmup and in ``scheduler.step()``, so the last
    word must come later than any callback: inside ``optimizer.step()``, after AMP unscaling and gradient clipping.
    Ultralytics keeps the optimizer object for the whole run (an OOM retry rebuilds the loaders only, NaN recovery
    loads a state dict into it, which keeps hooks), and a step the AMP scaler skips runs no hook. Returns the handle.
    """
    return optimizer.register_step_pre_hook(hook)


def before_checkpoint(trainer, before: Callable[[], Any]) -> None:
    """Make ``trainer.save_model()`` call ``before()`` first, so state stored then is inside the checkpoint.

    ``save_model`` serialises ``optimizer.state_dict()`` with the weights (rank 0, every epoch when ``save=True``).
    An instance attribute, so it dies with the trainer; marked ``_yolo_lr``, original kept as ``__wrapped__``.
    """
    original = trainer.save_model
    if getattr(original, "_yolo_lr", False):
        return

    @functools.wraps(original)
    def save_model(*args, **kwargs):
        before()
        return original(*args, **kwargs)

    save_model._yolo_lr = True
    trainer.save_model = save_model


def call_after(trainer, name: str, after: Callable[[], None]) -> None:
    """Make ``trainer.<name>()`` call ``after()`` once it returns (an instance attribute, as :func:`before_checkpoint`
    makes).

    Used for ``_model_train`` (Ultralytics puts the whole model in train mode at every epoch start, and on NaN
    recovery): ``lr_freeze_bn`` puts the frozen backbone's BatchNorm layers back in eval mode right after.
    """
    _require(trainer, (name,), type(trainer).__name__)
    original = getattr(trainer, name)
    if getattr(original, "_yolo_lr", False):
        return

    @functools.wraps(original)
    def wrapped(*args, **kwargs):
        out = original(*args, **kwargs)
        after()
        return out

    wrapped._yolo_lr = True
    setattr(trainer, name, wrapped)


def warmup_iterations_of(trainer, nb: int) -> int:
    """The warmup length the trainer itself uses for ``nb`` batches per epoch (so accumulate ramps align)."""
    return int(trainer._get_warmup_iterations(nb))


def steps_done(trainer) -> int | None:
    """Optimizer steps taken so far in the run (EMA updates; restored on resume), or None without an EMA."""
    ema = getattr(trainer, "ema", None)
    return ema.updates if ema is not None else None


def metric_pool(trainer) -> dict[str, Any]:
    """Every number a plateau can watch after an epoch: validation metrics, train losses and ``lr/pg*``."""
    pool = dict(trainer.metrics or {})
    if getattr(trainer, "tloss", None) is not None:
        pool.update(trainer.label_loss_items(trainer.tloss, prefix="train"))
    pool.update(getattr(trainer, "lr", None) or {})
    pool["fitness"] = getattr(trainer, "fitness", None)
    return pool


def loss_names(trainer) -> list[str] | None:
    """``train/...`` and ``val/...`` loss names, known after the first forward pass (None before)."""
    if not getattr(trainer, "loss_names", None):
        return None
    return trainer.label_loss_items(prefix="train") + trainer.label_loss_items(prefix="val")


def load_state(optimizer) -> dict | None:
    """The policy state stored in the optimizer (restored from the checkpoint on resume), if any."""
    state = optimizer.param_groups[0].get(STATE_KEY)
    return state if isinstance(state, dict) else None


def store_state(optimizer, state: dict) -> None:
    """Keep policy state where Ultralytics checkpoints it: ``save_model`` saves ``optimizer.state_dict()`` (param
    groups with all their keys) in the same file as the weights, and resume and NaN recovery load it back."""
    optimizer.param_groups[0][STATE_KEY] = state


def rank() -> int:
    """This process's DDP rank (-1 without DDP)."""
    return sys.modules[_UTILS].RANK


def logger():
    """Ultralytics' logger."""
    return sys.modules[_UTILS].LOGGER


# -------------------------------------------------------------------------- a range test on a running trainer (lr_find)
_DATASET_CACHES = ("buffer", "ims", "im_hw0", "im_hw")  # what loading an image changes on the dataset (workers=0)


@dataclass
class TrainerState:
    """What a few optimizer steps taken on a set-up trainer change (:func:`trainer_state`)."""

    model: dict
    ema: dict | None
    ema_updates: int
    optimizer: dict
    scaler: dict | None
    rng: tuple
    loader_rng: Any  # the train loader's shuffling generator state (None without one)
    dataset: dict  # the dataset's image caches and mosaic buffer, transforms and mosaic flag
    criterion: Any  # the model's loss object before the test (None: built lazily by the first forward)


def _bare(model):
    return model.module if hasattr(model, "module") else model


def trainer_state(trainer) -> TrainerState:
    """A copy of everything optimizer steps on the trainer change, so that training afterwards is what it would have
    been without them (an LR range test before the first epoch).

    Model (parameters and BatchNorm buffers), EMA (weights and update count), optimizer (state and param groups:
    LRs, momenta, ``initial_lr``), grad scaler, the torch/numpy/random/CUDA RNGs, the train loader's shuffling
    generator, the dataset's mosaic buffer and image caches (changed when images load in this process, workers=0),
    its transforms and mosaic flag, and the model's loss object (built by the first forward pass).
    """
    import random

    import numpy as np
    import torch

    ema = getattr(trainer, "ema", None)
    scaler = getattr(trainer, "scaler", None)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    loader = trainer.train_loader
    generator = getattr(loader, "generator", None)
    ds = loader.dataset
    dataset = {k: list(getattr(ds, k)) for k in _DATASET_CACHES if isinstance(getattr(ds, k, None), list)}
    dataset.update({k: getattr(ds, k) for k in ("transforms", "mosaic") if hasattr(ds, k)})
    return TrainerState(
        model={k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
        ema={k: v.detach().clone() for k, v in ema.ema.state_dict().items()} if ema is not None else None,
        ema_updates=ema.updates if ema is not None else 0,
        optimizer=copy.deepcopy(trainer.optimizer.state_dict()),
        scaler=copy.deepcopy(scaler.state_dict()) if scaler is not None else None,
        rng=(torch.get_rng_state(), np.random.get_state(), random.getstate(), cuda),
        loader_rng=generator.get_state() if generator is not None else None,
        dataset=dataset,
        criterion=getattr(_bare(trainer.model), "criterion", None),
    )


def restore_trainer_state(trainer, state: TrainerState) -> None:
    """Put back what :func:`trainer_state` saved (gradients cleared, the train loader's iterator dropped)."""
    import random

    import numpy as np
    import torch

    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.model.load_state_dict(state.model)
    if state.ema is not None:
        trainer.ema.ema.load_state_dict(state.ema)
        trainer.ema.updates = state.ema_updates
    trainer.optimizer.load_state_dict(copy.deepcopy(state.optimizer))
    if state.scaler is not None:
        trainer.scaler.load_state_dict(state.scaler)
    torch_rng, np_rng, py_rng, cuda_rng = state.rng
    torch.set_rng_state(torch_rng)
    np.random.set_state(np_rng)
    random.setstate(py_rng)
    if cuda_rng is not None:
        torch.cuda.set_rng_state_all(cuda_rng)
    loader = trainer.train_loader
    if hasattr(loader, "reset"):  # Ultralytics' persistent iterator: the first epoch starts a fresh one, as without
        loader.reset()
    if state.loader_rng is not None:
        loader.generator.set_state(state.loader_rng)
    ds = loader.dataset
    for k, v in state.dataset.items():
        if k in _DATASET_CACHES:
            getattr(ds, k)[:] = v
        else:
            setattr(ds, k, v)
    bare = _bare(trainer.model)
    if hasattr(bare, "criterion") or state.criterion is not None:
        bare.criterion = state.criterion


def first_epoch_without_mosaic(trainer) -> bool:
    """True when the run's first epoch trains without mosaic (``close_mosaic`` covers it: short runs)."""
    close = getattr(trainer.args, "close_mosaic", 0)
    return bool(close) and trainer.start_epoch >= trainer.epochs - close


def close_mosaic(trainer) -> None:
    """Close the train loader's mosaic as ``_do_train`` does when the last ``close_mosaic`` epochs begin."""
    if hasattr(trainer, "_close_dataloader_mosaic"):
        trainer._close_dataloader_mosaic()


def is_resumed(trainer) -> bool:
    """True for a resumed run (its first epoch is not epoch 0, or ``resume`` was asked)."""
    return trainer.start_epoch > 0 or bool(getattr(trainer, "resume", False))


def set_lr0(trainer, lr0: float) -> None:
    """Make ``lr0`` the run's peak LR after the optimizer was built: ``args.lr0``; every group's ``initial_lr`` (the
    peak the plugin and native warmup read), keeping its ratio to the old lr0 (1, or MuSGD's 3 for head groups); the
    group's current LR as the native scheduler had set it (``initial_lr * lf(start_epoch)``); and the native
    scheduler's ``base_lrs``. Checkpoints carry all of it (``train_args`` and the optimizer's param groups)."""
    old = float(trainer.args.lr0)
    groups = trainer.optimizer.param_groups
    ratios = [float(g.get("initial_lr", g["lr"])) / old if old > 0 else 1.0 for g in groups]
    lf = getattr(trainer, "lf", None)
    factor = float(lf(trainer.start_epoch)) if callable(lf) else 1.0
    trainer.args.lr0 = lr0
    for g, k in zip(groups, ratios):
        g["initial_lr"] = lr0 * k
        g["lr"] = g["initial_lr"] * factor
    scheduler = getattr(trainer, "scheduler", None)
    if scheduler is not None and hasattr(scheduler, "base_lrs"):
        scheduler.base_lrs = [g["initial_lr"] for g in groups]


def save_args(trainer) -> None:
    """Rewrite the run's ``args.yaml`` from the trainer's arguments (rank 0), as ``BaseTrainer.__init__`` wrote it."""
    if rank() in {-1, 0}:
        sys.modules[_UTILS].YAML.save(Path(trainer.save_dir) / "args.yaml", vars(trainer.args))
