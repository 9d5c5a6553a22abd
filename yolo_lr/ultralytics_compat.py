"""What yolo_lr knows about the installed Ultralytics: facts, rules and accessors, at the bottom of the package.

This module imports nothing of the plugin (registration, which patches Ultralytics, is :mod:`yolo_lr.registration`,
at the top). A new Ultralytics release that moves something is a change here and, for what is patched, there.

- The supported range (:data:`SUPPORTED`) and :func:`host_problems`: every internal the plugin relies on, checked at
  registration; any problem makes registration fall back to leaving Ultralytics untouched.
- Ultralytics' rules, as pure functions the ``yolo-lr plot`` preview uses without importing Ultralytics, each chosen
  by what the installed release does (its source files are read, not imported; :func:`host_rules`): the warmup
  length, which param group warms up from ``warmup_bias_lr``, ``optimizer=auto``'s choice, whether DDP workers get the
  parent's callbacks, how many devices a ``device=`` value trains on.
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

# The releases this yolo_lr supports: from YOLO26's first release to the newest one its compatibility suite ran on.
# Older releases get no plugin (a warning, Ultralytics untouched); newer ones work if every internal is still there.
SUPPORTED = ("8.4.0", "8.4.190")
STATE_KEY = "yolo_lr"  # key of the policy state in the optimizer's first param group
HOOKED = "_yolo_lr_hooked"  # set on a trainer by the registration's BaseTrainer.run_callbacks wrap
_UTILS, _CFG, _TRAINER, _CALLBACKS, _TUNER = (
    "ultralytics.utils",
    "ultralytics.cfg",
    "ultralytics.engine.trainer",
    "ultralytics.utils.callbacks.base",
    "ultralytics.engine.tuner",
)
UTILS_ATTRS = ("DEFAULT_CFG_DICT", "DEFAULT_CFG", "YAML", "RANK", "LOGGER")
CFG_FUNCTIONS = ("check_dict_alignment", "check_cfg", "get_cfg")
TRAINER_METHODS = ("build_optimizer", "save_model", "label_loss_items", "add_callback", "run_callbacks", "_model_train")
TRAINER_ATTRS = ("args", "epochs", "start_epoch", "optimizer", "train_loader", "save_dir", "metrics")


class UltralyticsCompatError(RuntimeError):
    """An Ultralytics internal the plugin relies on is missing or changed, or the release is not supported."""


# ------------------------------------------------------------------------------------------------ the installed release
def version() -> str:
    """The installed Ultralytics version (from the loaded module, else the package metadata; never imports it)."""
    loaded = getattr(sys.modules.get("ultralytics"), "__version__", None)
    if loaded:
        return str(loaded)
    from importlib import metadata

    try:
        return metadata.version("ultralytics")
    except metadata.PackageNotFoundError:
        return "unknown"


def _parse(v: str) -> tuple[int, ...]:
    out = []
    for part in v.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def supported_range() -> str:
    """``'8.4.0 to 8.4.190'``: the floor and the newest release tested."""
    return f"{SUPPORTED[0]} to {SUPPORTED[1]}"


def version_problem(v: str | None = None) -> str | None:
    """Why this release is not supported (older than the floor, unreadable), or None. Newer ones are judged by their
    internals (:func:`host_problems`)."""
    v = v or version()
    parsed = _parse(v)
    if len(parsed) < 2:
        return f"Ultralytics version {v!r} cannot be read"
    if parsed < _parse(SUPPORTED[0]):
        return f"older than {SUPPORTED[0]}, the oldest release it supports"
    return None


def missing(obj: Any, attrs: tuple[str, ...], where: str) -> list[str]:
    """``no where.attr`` for every attribute ``obj`` lacks."""
    return [f"no {where}.{a}" for a in attrs if not hasattr(obj, a)]


def host_problems(events: tuple[str, ...] = ()) -> list[str]:
    """Everything the plugin needs from the Ultralytics modules loaded so far that is not there (empty: all good).

    Args:
        events: callback events the plugin registers (checked in ``default_callbacks``).
    """
    out = []
    if (problem := version_problem()) is not None:
        return [problem]
    if (utils := sys.modules.get(_UTILS)) is not None:
        out += missing(utils, UTILS_ATTRS, _UTILS)
        if hasattr(utils, "YAML"):
            out += missing(utils.YAML, ("load",), f"{_UTILS}.YAML")
    if (cfg := sys.modules.get(_CFG)) is not None and hasattr(cfg, "get_cfg"):
        out += missing(cfg, CFG_FUNCTIONS, _CFG)
    if (trainer := sys.modules.get(_TRAINER)) is not None and hasattr(trainer, "BaseTrainer"):
        out += missing(trainer.BaseTrainer, TRAINER_METHODS, f"{_TRAINER}.BaseTrainer")
    if events and (base := sys.modules.get(_CALLBACKS)) is not None:
        callbacks = getattr(base, "default_callbacks", None)
        if callbacks is None:
            out.append(f"no {_CALLBACKS}.default_callbacks")
        else:
            out += [f"no callback event {e!r}" for e in events if e not in callbacks]
    return out


def compat_error(problems: list[str], what: str = "") -> UltralyticsCompatError:
    """The error a run with ``lr_*`` keys gets when the plugin could not register: versions and what moved."""
    because = "; ".join(problems)
    error = UltralyticsCompatError(
        f"yolo_lr {_plugin_version()} is inactive with Ultralytics {version()} ({because}). It supports Ultralytics "
        f"{supported_range()} (tested). {what}Install a supported release (pip install 'ultralytics>={SUPPORTED[0]}'), "
        "or remove the lr_* keys to train natively; YOLO_LR_DISABLE=1 silences this."
    )
    error.problems = list(problems)
    return error


def _plugin_version() -> str:
    return getattr(sys.modules.get("yolo_lr"), "__version__", "")


# ------------------------------------------------------------------------------------------------ Ultralytics' rules
@dataclass(frozen=True)
class HostRules:
    """How the installed Ultralytics behaves where releases differ (read from its source, see :func:`host_rules`).

    Attributes:
        warmup_floor: the warmup lasts at least this many iterations (100 before ``_get_warmup_iterations``, 8.4.103;
            0 after, when the final epoch never warms up instead).
        bias_by_name: native warmup starts the ``param_group == "bias"`` group at ``warmup_bias_lr``; False: it starts
            the *first* group there (the first 8.4 releases, before groups had names: 8.4.0, not 8.4.50).
        auto: ``optimizer=auto``'s pair: ``("MuSGD", "AdamW")`` (many iterations, few) since 8.4.x, ``("SGD", "MuSGD")``
            in the first 8.4 releases.
        ddp_callbacks: DDP workers receive the parent's callbacks (cloudpickled, about 8.4.145); before, a worker has
            only what its own imports register.
        warmup_last: native warmup also writes batch ``ni == nw`` (``ni <= nw``: 8.4.0 and the newest releases); False
            where it stops one batch earlier (``ni < nw``, 8.4.103 to about 8.4.150), so the momentum and accumulate
            ramps, which stay native, end one step short of their targets. The plugin's LR lands on the target at
            ``ni == nw`` either way.
    """

    warmup_floor: int = 0
    bias_by_name: bool = True
    auto: tuple[str, str] = ("MuSGD", "AdamW")
    ddp_callbacks: bool = True
    warmup_last: bool = True


def _source(module: str) -> str:
    """The text of an Ultralytics module's file, without importing anything ('' when it cannot be found).

    Only the top-level package is looked up (``find_spec`` of a submodule would import its parents, Ultralytics
    itself, and run the registration from inside this lookup)."""
    from importlib.util import find_spec

    top, _, rest = module.partition(".")
    try:
        spec = find_spec(top)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.submodule_search_locations:
        return ""
    path = Path(next(iter(spec.submodule_search_locations)), *rest.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        try:
            return candidate.read_text(encoding="utf-8")
        except OSError:
            continue
    return ""


@functools.lru_cache(maxsize=1)
def host_rules() -> HostRules:
    """The installed release's rules, detected from what its trainer and DDP code do (not from the version string)."""
    trainer = _source(_TRAINER)
    if not trainer:
        return HostRules()
    legacy_warmup = "_get_warmup_iterations" not in trainer and "warmup_epochs * nb), 100)" in trainer
    return HostRules(
        warmup_floor=100 if legacy_warmup else 0,
        bias_by_name='param_group") == "bias"' in trainer or "j == 0" not in trainer,
        auto=("SGD", "MuSGD") if '("SGD", 0.01, 0.9) if iterations' in trainer else ("MuSGD", "AdamW"),
        ddp_callbacks="cloudpickle" in _source("ultralytics.utils.dist"),
        warmup_last="ni <= nw" in trainer,
    )


def warmup_iterations(warmup_epochs: float, epochs: int, nb: int, floor: int | None = None) -> int:
    """Ultralytics' warmup length in batches: since 8.4.103 (``BaseTrainer._get_warmup_iterations``) the final epoch
    never warms; before, ``max(round(warmup_epochs * nb), 100)`` (``floor``: the installed rule's, by default)."""
    floor = host_rules().warmup_floor if floor is None else floor
    if floor:
        return max(round(warmup_epochs * nb), floor) if warmup_epochs > 0 else 0
    we = min(warmup_epochs, max(epochs - 1, 0))
    return round(we * nb) if we > 0 else 0


def bias_warmup_groups(groups: list[dict]) -> list[int]:
    """Indices of the param groups that native warmup starts at ``warmup_bias_lr`` (the plugin follows the same rule):
    the ``bias`` group, or the first group on releases that find it by position."""
    if host_rules().bias_by_name:
        return [j for j, g in enumerate(groups) if g.get("param_group") == "bias"]
    return [0] if groups else []


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
    ``warmup_bias_lr``. Many iterations (> 10000): the first of :attr:`HostRules.auto` at 0.01, else the second at
    ``0.002 * 5 / (4 + nc)``."""
    iterations = math.ceil(n_images / max(batch, nbs)) * epochs
    many, few = host_rules().auto
    return (many, 0.01) if iterations > 10000 else (few, round(0.002 * 5 / (4 + nc), 6))


def name_param_groups(optimizer) -> None:
    """Give the param groups of releases that do not name them (the first 8.4 releases: 8.4.0, not 8.4.50) the names
    later releases use: ``weight``, ``bn``, ``bias`` (``muon``), in the order ``build_optimizer`` makes them (MuSGD:
    each twice, the first of a pair the head's faster part). Named groups are left alone."""
    groups = optimizer.param_groups
    if any("param_group" in g for g in groups):
        return
    if len(groups) == 3:
        names = ["weight", "bn", "bias"]
    elif len(groups) == 8:
        names = [n for n in ("weight", "bn", "bias", "muon") for _ in range(2)]
    else:
        return
    for g, name in zip(groups, names):
        g["param_group"] = name


# ----------------------------------------------------------------------------------------------- a running trainer
def check_trainer(trainer) -> None:
    """At train start (``on_pretrain_routine_end``): the registration hooked this trainer when it was built, and
    everything the plugin reads or wraps on it exists."""
    if not trainer.__dict__.get(HOOKED):
        raise UltralyticsCompatError(
            f"yolo_lr: this {type(trainer).__name__} was built without the plugin's hooks (Ultralytics' trainer module "
            "was already being imported when yolo_lr registered, or yolo_lr.uninstall() ran). Import yolo_lr before "
            "Ultralytics, or keep its startup hook on (unset YOLO_LR_DISABLE)."
        )
    _require(trainer, TRAINER_METHODS + TRAINER_ATTRS, type(trainer).__name__)
    _require(trainer.optimizer, ("register_step_pre_hook", "param_groups"), type(trainer.optimizer).__name__)


def _require(obj: Any, attrs: tuple[str, ...], where: str) -> None:
    if gone := missing(obj, attrs, where):
        raise compat_error(gone)


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


def student_of(model):
    """The model whose layers the per-layer rules address: DDP/compile wrappers removed, and for knowledge
    distillation (``distill_model=``, a ``DistillationModel``) its student, never the teacher."""
    from ultralytics.utils.torch_utils import unwrap_model

    inner = unwrap_model(model)
    return getattr(inner, "student_model", inner)


def warmup_iterations_of(trainer, nb: int) -> int:
    """The warmup length the trainer itself uses for ``nb`` batches per epoch (so accumulate ramps align): its own
    ``_get_warmup_iterations`` where it has one (8.4.103 on), else the earlier inline rule
    (:func:`warmup_iterations`)."""
    if hasattr(trainer, "_get_warmup_iterations"):
        return int(trainer._get_warmup_iterations(nb))
    return warmup_iterations(float(trainer.args.warmup_epochs), trainer.epochs, nb)


def images_per_step(trainer, nb: int) -> int:
    """Images one optimizer step sees after warmup: ``batch`` (the total over DDP ranks; AutoBatch's or an OOM
    retry's, once they ran) times Ultralytics' nominal ``accumulate = max(round(nbs / batch), 1)``, capped at the run's
    batches as the trainer caps it."""
    batch = int(trainer.batch_size)
    acc = max(round(float(trainer.args.nbs) / batch), 1)
    return batch * min(acc, max(nb * int(trainer.epochs), 1))


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
