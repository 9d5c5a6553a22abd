"""LR finder (range test): train a few hundred images with an exponentially rising LR and read where the loss falls.

Two layers, as in the rest of the package:

- a pure core (no torch, no Ultralytics): :func:`lr_schedule`, :func:`range_test` (drives any ``step_fn(lr) -> loss``
  with a smoothed loss and a divergence stop) and :func:`suggest` (turns the curve into an ``lr0``);
- the Ultralytics part: :func:`build_trainer` builds a real trainer exactly as ``Model.train`` would (same
  dataloader, augmentation, loss, param groups, gradient accumulation, clipping and EMA), :func:`trainer_range_test`
  runs the range test on it and puts the model, EMA, optimizer, grad scaler and RNGs back afterwards, and
  :func:`find_lr` does both, writes ``lr_find.csv`` and ``lr_find.png`` and prints a ready-to-run
  ``yolo-lr train ... lr0=...`` command.

Suggestion rules (:data:`RULES`), all read from the smoothed loss against log10(LR), ignoring the first 10 % of the
points (the bias-corrected average of the first few losses is mostly noise):

- ``valley`` (default): the deepest descent of the curve — the stretch where the loss keeps going down (it never
  climbs more than 2 % of the curve's drop above its lowest value so far), taken as the one that loses the most loss —
  and the first point where two thirds of that stretch's drop is done. It uses the whole descent rather than one
  derivative, so it is robust to noise and to a long flat start (too-small LRs add no drop, so they cannot pull it
  down), and it lands between ``steep`` (often too timid) and the minimum (already at the edge of instability).
- ``steep``: the steepest negative slope d(loss)/d(log10 lr) before the minimum. Classic, but one noisy derivative
  decides it and it is usually on the low side.
- ``min10``: the LR at the minimum of the smoothed loss, divided by 10. Simple; the EMA's lag moves the minimum to
  the right (higher LR), which the /10 partly compensates.

``optimizer=auto`` (Ultralytics' default) picks its own optimizer *and LR* and ignores ``lr0``, so a suggested lr0
would be thrown away; the finder then runs with SGD (Ultralytics' momentum, 0.937 by default), says so, and the
printed command carries ``optimizer=SGD``. An explicit optimizer (``SGD``, ``AdamW``, ``MuSGD``, ...) is used as
given. Every param group gets the same LR at each step, the bias group included (after warmup, training uses one
``lr0`` for all groups too; MuSGD's 3x head groups lose their ratio during the test).

Examples:
    >>> from yolo_lr.finder import find_lr
    >>> res = find_lr("yolo26n.yaml", data="coco8.yaml", iters=100, imgsz=320, batch=16)
    >>> res.lr, res.command
    (0.0031, 'yolo-lr train model=yolo26n.yaml data=coco8.yaml optimizer=SGD lr0=0.0031 ...')

    ``yolo-lr find model=yolo26n.yaml data=coco8.yaml lr_start=1e-6 lr_end=1 iters=100``
"""

from __future__ import annotations

import copy
import csv
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from yolo_lr.ultralytics_compat import auto_optimizer, is_auto_optimizer  # Ultralytics' rules, one place

RULES = ("valley", "steep", "min10")
DEFAULT_RULE = "valley"
FINDER_KEYS = ("lr_start", "lr_end", "iters", "rule", "smooth", "diverge")  # not training keys: never reach Ultralytics
SKIP_START = 0.1  # fraction of the first points the rules ignore
VALLEY_TOLERANCE = 0.02  # a descent may climb back this fraction of the curve's total drop and still count
DEFAULT_PROJECT = Path("runs") / "lr_find"


# ------------------------------------------------------------------------------------------------------ pure core
def lr_schedule(lr_start: float, lr_end: float, iters: int) -> list[float]:
    """The exponential LR ramp: ``lr_i = lr_start * (lr_end / lr_start) ** (i / (iters - 1))``, i = 0 .. iters-1.

    Args:
        lr_start: first LR (> 0).
        lr_end: last LR (> lr_start).
        iters: number of steps (>= 2).

    Returns:
        The ``iters`` LRs, first ``lr_start``, last ``lr_end``.

    Raises:
        ValueError: on a bad argument.
    """
    _check_range(lr_start, lr_end, iters)
    ratio = lr_end / lr_start
    return [lr_start * ratio ** (i / (iters - 1)) for i in range(iters)]


def check_finder_args(
    lr_start: float = 1e-7,
    lr_end: float = 1.0,
    iters: int = 100,
    rule: str = DEFAULT_RULE,
    smooth: float = 0.98,
    diverge: float = 4.0,
) -> None:
    """Check the finder's own arguments (the keys of :data:`FINDER_KEYS`); raises ValueError naming the bad one."""
    _check_range(lr_start, lr_end, iters)
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {', '.join(RULES)}")
    if not (isinstance(smooth, (int, float)) and 0.0 <= smooth < 1.0):
        raise ValueError(f"smooth={smooth!r} must be a number in [0, 1)")
    if not (isinstance(diverge, (int, float)) and math.isfinite(diverge) and diverge > 1.0):
        raise ValueError(f"diverge={diverge!r} must be a finite number > 1")


def _check_range(lr_start: float, lr_end: float, iters: int) -> None:
    if not (isinstance(lr_start, (int, float)) and math.isfinite(lr_start) and lr_start > 0):
        raise ValueError(f"lr_start={lr_start!r} must be a finite number > 0")
    if not (isinstance(lr_end, (int, float)) and math.isfinite(lr_end) and lr_end > lr_start):
        raise ValueError(f"lr_end={lr_end!r} must be a finite number > lr_start={lr_start!r}")
    if not isinstance(iters, int) or isinstance(iters, bool) or iters < 2:
        raise ValueError(f"iters={iters!r} must be an integer >= 2")


@dataclass
class RangeTest:
    """The curve a range test recorded (one entry per optimizer step actually taken with a finite loss).

    Attributes:
        lrs: LR of each step.
        losses: raw loss each step returned.
        smoothed: bias-corrected exponential moving average of ``losses``.
        stop_reason: ``"completed"``, ``"diverged"`` (smoothed loss > diverge x best) or ``"non-finite"``.
        planned: number of steps the schedule had.
        stop_lr: LR of the step that stopped the test (None when completed).
        lr_start, lr_end: the schedule's range.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    stop_reason: str = "completed"
    planned: int = 0
    stop_lr: float | None = None
    lr_start: float = math.nan
    lr_end: float = math.nan

    @property
    def steps(self) -> int:
        """Optimizer steps taken (a step whose loss was not finite was not applied and is not counted)."""
        return len(self.lrs)

    @property
    def best_index(self) -> int:
        """Index of the lowest smoothed loss."""
        return min(range(len(self.smoothed)), key=self.smoothed.__getitem__)


def range_test(
    step_fn: Callable[[float], float],
    lr_start: float = 1e-7,
    lr_end: float = 1.0,
    iters: int = 100,
    smooth: float = 0.98,
    diverge: float = 4.0,
    min_iters: int = 5,
    on_step: Callable[[int, float, float, float], None] | None = None,
) -> RangeTest:
    """Run an LR range test: one optimization step per LR of an exponential ramp, until done or diverged.

    The smoothed loss is the bias-corrected EMA ``avg_i = smooth * avg_{i-1} + (1 - smooth) * loss_i``,
    ``smoothed_i = avg_i / (1 - smooth ** (i + 1))`` (so it is an average of the losses seen so far, not pulled
    towards 0 at the start). The test stops early when a loss is not finite (that point is not recorded) or, from
    step ``min_iters`` on, when the smoothed loss exceeds ``diverge`` times the best smoothed loss so far (for a
    best <= 0: when it exceeds ``best + (diverge - 1) * |best|``); the diverged point is recorded.

    Args:
        step_fn: performs one optimization step at the given LR and returns the loss of that step (before the
            update). It is responsible for setting the LR.
        lr_start: first LR.
        lr_end: last LR.
        iters: planned number of steps.
        smooth: EMA factor in [0, 1); 0 means no smoothing.
        diverge: stop factor (> 1).
        min_iters: no divergence stop before this many steps.
        on_step: called as ``on_step(i, lr, loss, smoothed)`` after each recorded step (progress display).

    Returns:
        The recorded curve.

    Raises:
        ValueError: on a bad argument.
    """
    check_finder_args(lr_start, lr_end, iters, DEFAULT_RULE, smooth, diverge)
    lrs = lr_schedule(lr_start, lr_end, iters)
    out = RangeTest(planned=iters, lr_start=lr_start, lr_end=lr_end)
    avg, best = 0.0, math.inf
    for i, lr in enumerate(lrs):
        loss = float(step_fn(lr))
        if not math.isfinite(loss):
            out.stop_reason, out.stop_lr = "non-finite", lr
            break
        avg = smooth * avg + (1.0 - smooth) * loss
        value = avg / (1.0 - smooth ** (len(out.lrs) + 1))
        out.lrs.append(lr)
        out.losses.append(loss)
        out.smoothed.append(value)
        if on_step is not None:
            on_step(i, lr, loss, value)
        if len(out.lrs) > min_iters and value > best + (diverge - 1.0) * abs(best):
            out.stop_reason, out.stop_lr = "diverged", lr
            break
        best = min(best, value)
    return out


class Suggestion(NamedTuple):
    """A suggested LR: its value, its index on the curve and the rule that chose it."""

    lr: float
    index: int
    rule: str


class NoDescentError(ValueError):
    """The smoothed loss never went down: no rule can suggest an LR."""


def suggest(lrs: list[float], smoothed: list[float], rule: str = DEFAULT_RULE) -> Suggestion:
    """Suggest an LR from a range-test curve (see the module docstring for the rules).

    Args:
        lrs: increasing LRs.
        smoothed: smoothed loss at each LR.
        rule: one of :data:`RULES`.

    Returns:
        The suggestion, always inside ``[lrs[0], lrs[-1]]``: ``min10`` is clipped to ``lrs[0]`` when the minimum is
        within a decade of the start (the tested range says nothing below it); its index is that of the curve's
        point nearest to its LR.

    Raises:
        ValueError: unknown rule, too few points (< 5), mismatched lengths.
        NoDescentError: the smoothed loss never decreased after the skipped start.
    """
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {', '.join(RULES)}")
    if len(lrs) != len(smoothed):
        raise ValueError(f"{len(lrs)} LRs but {len(smoothed)} losses")
    n = len(lrs)
    if n < 5:
        raise ValueError(f"{n} points are too few to suggest an LR (need >= 5)")
    k0 = int(SKIP_START * n)
    y = list(smoothed)
    imin = min(range(k0, n), key=y.__getitem__)
    if imin == k0 or y[imin] >= max(y[k0 : imin + 1]):
        raise NoDescentError("the smoothed loss never decreased: widen the range (lr_end) or add iterations")
    x = [math.log10(v) for v in lrs]
    if rule == "min10":
        lr = max(lrs[imin] / 10.0, lrs[0])
        return Suggestion(lr, min(range(n), key=lambda i: abs(x[i] - math.log10(lr))), rule)
    if rule == "steep":
        slopes = _slopes(x, y)
        j = min(range(k0, imin + 1), key=slopes.__getitem__)
        return Suggestion(lrs[j], j, rule)
    start, bottom = _deepest_descent(y[: imin + 1], k0)
    target = y[start] - 2.0 / 3.0 * (y[start] - y[bottom])
    j = next(i for i in range(start, bottom + 1) if y[i] <= target)
    return Suggestion(lrs[j], j, rule)


def _slopes(x: list[float], y: list[float]) -> list[float]:
    """dy/dx by central differences (one-sided at the ends)."""
    n = len(y)
    out = []
    for i in range(n):
        a, b = max(i - 1, 0), min(i + 1, n - 1)
        out.append((y[b] - y[a]) / (x[b] - x[a]) if x[b] != x[a] else 0.0)
    return out


def _deepest_descent(y: list[float], k0: int) -> tuple[int, int]:
    """(start, bottom) of the descending stretch of ``y[k0:]`` that loses the most; ``y`` ends at its minimum.

    Only the curve up to the global minimum is searched: after it the LR is too high, and the wiggles of a
    diverging tail can "drop" more than the real descent. A stretch starts at some index and continues while the
    curve stays within ``tol`` of its lowest value so far; its bottom is that lowest point. ``tol`` is
    :data:`VALLEY_TOLERANCE` of the curve's total drop (highest point to the minimum), so noise does not cut a descent
    in pieces but a real rise ends it.
    """
    tol = VALLEY_TOLERANCE * (max(y[k0:]) - min(y[k0:]))
    best, s, n = (k0, k0, -1.0), k0, len(y)
    while s < n - 1:
        low, bottom, j = y[s], s, s + 1
        while j < n and y[j] <= low + tol:
            if y[j] < low:
                low, bottom = y[j], j
            j += 1
        if y[s] - low > best[2]:
            best = (s, bottom, y[s] - low)
        s = j
    return best[0], best[1]


# --------------------------------------------------------------------------------------------- Ultralytics: set-up
@dataclass
class FinderSetup:
    """What :func:`build_trainer` decided besides the trainer itself."""

    train_args: dict[str, Any]  # the user's training keys (for the printed command), cfg= preset included
    model_name: str  # model= for the printed command
    optimizer: str  # optimizer the finder runs with
    notes: list[str] = field(default_factory=list)  # things the user should know (optimizer=auto, lr_* keys, ...)
    force_sgd: bool = False  # optimizer was auto/unset: the finder and the command use SGD


def build_trainer(model: Any, data: str | Path | None = None, **train_args: Any) -> tuple[Any, FinderSetup]:
    """Build and set up a real Ultralytics trainer, as ``Model.train`` does, without training.

    The trainer is created with the model's own trainer class and callbacks, its model built from the YOLO model's
    weights (a checkpoint) or YAML, and ``_setup_train()`` runs: dataloaders, param groups, grad scaler, EMA. The
    user's YOLO object is not modified (the trainer trains its own copy). ``lr_*`` policy keys are kept for the
    printed command but not given to the trainer (the range test sets the LR itself). ``optimizer=auto`` becomes SGD.

    Args:
        model: a model path/name (``yolo26n.yaml``, ``best.pt``) or an Ultralytics ``Model`` (``YOLO``) object.
        data: dataset YAML; the bundled COCO8 when None.
        **train_args: any ``yolo train`` keys (and ``cfg=`` a preset name, YAML path or dict). Defaults that differ
            from Ultralytics: ``amp=False`` (its AMP check downloads weights), ``plots=False``, ``project`` =
            ``runs/lr_find`` under the current directory, ``name`` = ``find``.

    Returns:
        (trainer, setup): the trainer, set up and never stepped, and what was decided.

    Raises:
        ValueError: resume requested, several devices, or a bad ``lr_*`` key.
    """
    from ultralytics.engine.model import Model
    from ultralytics.utils import DEFAULT_CFG_DICT

    import yolo_lr  # noqa: F401  (registers the lr_* keys before Ultralytics checks arguments)
    from yolo_lr.config import validate
    from yolo_lr.presets import coco8_yaml, load_policy

    user = dict(train_args)
    for key in FINDER_KEYS:
        if key in user:
            raise ValueError(f"{key}= is a finder argument: pass it to find_lr()/range_test, not as a training key")
    if user.get("resume"):
        raise ValueError("the LR finder cannot resume a training: pass the weights as model= instead")
    user.pop("resume", None)
    preset, _ = load_policy(user.get("cfg"))
    merged = {**preset, **{k: v for k, v in user.items() if k != "cfg"}}
    validate({**DEFAULT_CFG_DICT, **merged})  # unknown or bad lr_* keys fail here, before anything is built
    if data is None:
        data = merged.get("data") or coco8_yaml()
    yolo = model if isinstance(model, Model) else _load_model(model)
    model_name = str(yolo.overrides.get("model") or getattr(yolo, "ckpt_path", None) or model)

    notes: list[str] = []
    policy_keys = sorted(k for k in merged if k.startswith("lr_"))
    trainer_args = {k: v for k, v in merged.items() if not k.startswith("lr_")}
    if policy_keys:
        notes.append(
            f"{', '.join(policy_keys)}: not applied during the range test (one LR on every group, nothing frozen); "
            "they go to the printed command."
        )
    force_sgd = is_auto_optimizer(trainer_args.get("optimizer", DEFAULT_CFG_DICT.get("optimizer")))
    if force_sgd:
        trainer_args["optimizer"] = "SGD"
    trainer_args.setdefault("amp", False)
    trainer_args.setdefault("plots", False)
    trainer_args.setdefault("project", str(DEFAULT_PROJECT.resolve()))
    trainer_args.setdefault("name", "find")

    # Model.train's argument merge, minus what only a real training needs
    custom = {"data": str(data), "model": yolo.overrides["model"], "task": yolo.task}
    args = {**yolo.overrides, **custom, **trainer_args, "mode": "train"}
    pretrained = args.setdefault("pretrained", yolo.overrides.get("pretrained", True))
    trainer = yolo._smart_load("trainer")(overrides=args, _callbacks=yolo.callbacks)
    try:
        if getattr(trainer, "ddp", False) or getattr(trainer, "world_size", 0) > 1:
            raise ValueError(f"the LR finder runs on one device; got device={trainer.args.device}")
        if yolo.ckpt:  # as Model.train: reuse the loaded checkpoint's weights (the trainer model is a copy)
            from ultralytics.nn.tasks import load_checkpoint

            weights = None if pretrained is False else yolo.model
            if isinstance(pretrained, (str, Path)):
                weights, _ = load_checkpoint(pretrained)
            trainer.model = trainer.get_model(weights=weights, cfg=yolo.model.yaml)
        trainer._setup_train()
    except BaseException:
        release(trainer)  # deterministic mode off, loaders closed, as a failed native training would
        raise
    weights_dir = Path(trainer.wdir)
    if weights_dir.is_dir() and not any(weights_dir.iterdir()):
        weights_dir.rmdir()  # the finder saves no checkpoint

    optimizer = type(trainer.optimizer).__name__
    if force_sgd:
        notes.insert(0, _auto_note(trainer))
    setup = FinderSetup(
        train_args={k: v for k, v in user.items() if k not in {"project", "name", "exist_ok"}},
        model_name=model_name,
        optimizer=optimizer,
        notes=notes,
        force_sgd=force_sgd,
    )
    setup.train_args["data"] = str(data)
    return trainer, setup


def _load_model(model: Any):
    from ultralytics import YOLO

    return YOLO(str(model))


def _auto_note(trainer) -> str:
    """What optimizer=auto would have done on this run, and what the finder does instead."""
    try:
        n = len(trainer.train_loader.dataset)
        name, lr = auto_optimizer(n, trainer.batch_size, trainer.args.nbs, trainer.epochs, trainer.data.get("nc", 10))
        auto = f"{name}(lr={lr:g})"
        would = f" (here it would pick {auto})"
    except (AttributeError, TypeError, KeyError):
        would = ""
    return (
        f"optimizer=auto ignores lr0 and picks its own optimizer and LR{would}, so a suggested lr0 would be thrown "
        f"away: the finder runs with SGD (momentum={trainer.args.momentum:g}, nesterov) and the printed "
        "command sets optimizer=SGD."
    )


# ------------------------------------------------------------------------------------------- Ultralytics: the test
@dataclass
class _Snapshot:
    model: dict
    ema: dict | None
    ema_updates: int
    optimizer: dict
    scaler: dict | None
    rng: tuple


def snapshot(trainer) -> _Snapshot:
    """Deep copy of everything a range test changes: model (params and BN buffers), EMA, optimizer, scaler, RNGs."""
    import random

    import numpy as np
    import torch

    ema = getattr(trainer, "ema", None)
    scaler = getattr(trainer, "scaler", None)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return _Snapshot(
        model={k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
        ema={k: v.detach().clone() for k, v in ema.ema.state_dict().items()} if ema is not None else None,
        ema_updates=ema.updates if ema is not None else 0,
        optimizer=copy.deepcopy(trainer.optimizer.state_dict()),
        scaler=copy.deepcopy(scaler.state_dict()) if scaler is not None else None,
        rng=(torch.get_rng_state(), np.random.get_state(), random.getstate(), cuda),
    )


def restore(trainer, snap: _Snapshot) -> None:
    """Put back what :func:`snapshot` saved (gradients cleared)."""
    import random

    import numpy as np
    import torch

    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.model.load_state_dict(snap.model)
    if snap.ema is not None:
        trainer.ema.ema.load_state_dict(snap.ema)
        trainer.ema.updates = snap.ema_updates
    trainer.optimizer.load_state_dict(copy.deepcopy(snap.optimizer))
    if snap.scaler is not None:
        trainer.scaler.load_state_dict(snap.scaler)
    torch_rng, np_rng, py_rng, cuda_rng = snap.rng
    torch.set_rng_state(torch_rng)
    np.random.set_state(np_rng)
    random.setstate(py_rng)
    if cuda_rng is not None:
        torch.cuda.set_rng_state_all(cuda_rng)


@dataclass
class Work:
    """Compute a range test used."""

    steps: int = 0  # optimizer steps
    batches: int = 0  # forward/backward passes
    images: int = 0
    seconds: float = 0.0  # wall time of the test (set-up not included)


def trainer_step_fn(trainer, work: Work) -> Callable[[float], float]:
    """``step_fn(lr)`` for :func:`range_test` on a set-up Ultralytics trainer.

    Each call sets every param group's LR, then does what one optimizer step of ``BaseTrainer._do_train`` does:
    ``trainer.accumulate`` batches (the nominal value, ``round(nbs / batch)``; no warmup ramp) from the train loader
    (cycled), the trainer's ``preprocess_batch``, forward with the loss, backward through the grad scaler, and the
    trainer's ``optimizer_step`` (unscale, clip to norm 10, step, EMA update). Returns the mean over the accumulated
    batches of the summed loss components (box + cls + l1 for YOLO26 detection: the sum of results.csv's ``train/*``
    columns). A non-finite loss is returned without stepping.
    """
    import torch
    from ultralytics.utils.torch_utils import autocast

    model, optimizer = trainer.model, trainer.optimizer
    step = trainer.optimizer_step
    if getattr(step, "_yolo_lr", False):  # the plugin's LR-setting wrapper (only if a policy is active): bypass it
        step = step.__wrapped__
    loader = trainer.train_loader
    batches = iter(loader)
    amp = torch.bfloat16 if trainer.args.amp == "bf16" else trainer.amp

    def next_batch():
        nonlocal batches
        try:
            return next(batches)
        except StopIteration:
            batches = iter(loader)
            return next(batches)

    def step_fn(lr: float) -> float:
        for g in optimizer.param_groups:
            g["lr"] = lr
        total, n = 0.0, max(int(trainer.accumulate), 1)
        for _ in range(n):
            batch = next_batch()
            with autocast(amp, device=trainer.device.type):
                batch = trainer.preprocess_batch(batch)
                loss, items = model(batch)
                loss = loss.sum()
            value = float(sum(float(v) for v in items.values())) if isinstance(items, dict) else float(items.sum())
            work.batches += 1
            work.images += int(batch["img"].shape[0])
            if not (math.isfinite(value) and bool(torch.isfinite(loss))):
                optimizer.zero_grad(set_to_none=True)
                return math.nan
            trainer.scaler.scale(loss).backward()
            total += value
        step()
        work.steps += 1
        return total / n

    return step_fn


def trainer_range_test(
    trainer,
    lr_start: float = 1e-7,
    lr_end: float = 1.0,
    iters: int = 100,
    smooth: float = 0.98,
    diverge: float = 4.0,
    min_iters: int = 5,
    on_step: Callable[[int, float, float, float], None] | None = None,
) -> tuple[RangeTest, Work]:
    """Run :func:`range_test` on a set-up trainer, then restore the trainer exactly as it was.

    Args:
        trainer: a trainer after ``_setup_train()`` (see :func:`build_trainer`).
        lr_start, lr_end, iters, smooth, diverge, min_iters, on_step: as in :func:`range_test`.

    Returns:
        (curve, work).
    """
    _check_range(lr_start, lr_end, iters)
    work = Work()
    saved = snapshot(trainer)
    trainer._model_train()
    trainer.optimizer.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    try:
        curve = range_test(trainer_step_fn(trainer, work), lr_start, lr_end, iters, smooth, diverge, min_iters, on_step)
    finally:
        work.seconds = time.perf_counter() - t0
        restore(trainer, saved)
    return curve, work


# ------------------------------------------------------------------------------------------------- Ultralytics: API
@dataclass
class FindResult:
    """What :func:`find_lr` found.

    Attributes:
        lr: the suggested ``lr0`` (rule ``rule``); None when the loss never decreased.
        rule: the rule used for ``lr``.
        suggestions: every rule's suggestion (None where it found nothing).
        curve: the recorded range test.
        optimizer: the optimizer the test ran with (``SGD`` when ``optimizer=auto`` was asked).
        groups: the param groups, all driven with the same LR (bias included).
        notes: what the user should know (optimizer=auto, policy keys, no descent, ...).
        command: a ready-to-run ``yolo-lr train`` command with ``lr0=<suggestion>`` (None without a suggestion).
        work: optimizer steps, batches, images and wall time of the test; ``seconds_total`` includes set-up.
        save_dir, csv, png: where the results went.
    """

    lr: float | None
    rule: str
    suggestions: dict[str, float | None]
    curve: RangeTest
    optimizer: str
    groups: list[str]
    notes: list[str]
    command: str | None
    work: Work
    seconds_total: float
    save_dir: Path
    csv: Path
    png: Path | None

    def summary(self) -> str:
        """The lines :func:`find_lr` prints."""
        c = self.curve
        stop = {
            "completed": "ran all steps",
            "diverged": "stopped: loss diverged",
            "non-finite": "stopped: loss not finite",
        }[c.stop_reason]
        lines = [
            f"yolo-lr find: {c.steps}/{c.planned} steps of lr={c.lr_start:.3g} -> {c.lr_end:.3g} ({stop}"
            + (f" at lr={c.stop_lr:.3g}" if c.stop_lr is not None else "")
            + f"); {self.optimizer}, same LR on all {len(self.groups)} param groups ({', '.join(self.groups)}"
            + ("; bias included)" if "bias" in self.groups else ")"),
            (
                f"  {self.work.steps} optimizer steps, {self.work.images} images, {self.work.seconds:.1f} s "
                f"({self.seconds_total:.1f} s with set-up)"
            ),
            "  suggestions: "
            + ", ".join(f"{r}={v:.3g}" if v is not None else f"{r}=none" for r, v in self.suggestions.items()),
        ]
        lines += [f"  note: {n}" for n in self.notes]
        if self.lr is not None:
            lines.append(f"suggested lr0={self.lr:.3g} (rule: {self.rule})")
        lines.append(f"curve: {self.csv}" + (f"\nplot: {self.png}" if self.png else ""))
        if self.command:
            lines.append(f"run:\n  {self.command}")
        return "\n".join(lines)


def find_lr(
    model: Any,
    data: str | Path | None = None,
    lr_start: float = 1e-7,
    lr_end: float = 1.0,
    iters: int = 100,
    rule: str = DEFAULT_RULE,
    smooth: float = 0.98,
    diverge: float = 4.0,
    verbose: bool = True,
    **train_args: Any,
) -> FindResult:
    """LR range test on a real Ultralytics training set-up; suggests ``lr0`` and prints a command that uses it.

    Args:
        model: a model path/name or an Ultralytics ``YOLO`` object (left unchanged).
        data: dataset YAML (the bundled COCO8 when None).
        lr_start: first LR of the exponential ramp.
        lr_end: last LR.
        iters: planned optimizer steps (each uses ``round(nbs / batch)`` batches, as training does).
        rule: suggestion rule, one of :data:`RULES` (default ``valley``).
        smooth: EMA factor of the smoothed loss.
        diverge: stop when the smoothed loss exceeds this many times its best.
        verbose: print the summary and the command.
        **train_args: ``yolo train`` keys (imgsz, batch, optimizer, momentum, cfg=preset, lr_* keys, project, name,
            ...); see :func:`build_trainer` for the finder's defaults.

    Returns:
        The result; ``lr_find.csv`` (iteration, lr, loss, smoothed) and ``lr_find.png`` are in ``result.save_dir``.

    Examples:
        >>> res = find_lr("yolo26n.yaml", imgsz=64, batch=2, iters=20, workers=0)
        >>> print(res.command)
    """
    check_finder_args(lr_start, lr_end, iters, rule, smooth, diverge)
    t0 = time.perf_counter()
    trainer, setup = build_trainer(model, data=data, **train_args)
    try:
        groups = [str(g.get("param_group", j)) for j, g in enumerate(trainer.optimizer.param_groups)]
        curve, work = trainer_range_test(trainer, lr_start, lr_end, iters, smooth, diverge)
        save_dir = Path(trainer.save_dir)
    finally:
        release(trainer)
    notes = list(setup.notes)
    suggestions: dict[str, float | None] = {}
    marks: dict[str, Suggestion] = {}
    for r in RULES:
        try:
            s = suggest(curve.lrs, curve.smoothed, r)
        except ValueError:  # NoDescentError, or too few points
            suggestions[r] = None
            continue
        suggestions[r], marks[r] = s.lr, s
    lr = suggestions[rule]
    if lr is None:
        notes.append(
            f"no suggestion: {'the loss never decreased' if curve.steps >= 5 else 'too few steps before stopping'}"
            f" between lr={lr_start:g} and {curve.lrs[-1] if curve.lrs else lr_start:g}; widen the range (lr_start, "
            "lr_end) or raise iters."
        )
    csv_path = save_dir / "lr_find.csv"
    _write_csv(curve, csv_path)
    png = None
    if curve.steps >= 2:
        data_path = Path(str(setup.train_args["data"]))
        data_name = f"{data_path.parent.name}/{data_path.name}" if data_path.parent.name else data_path.name
        title = f"{Path(setup.model_name).name} on {data_name}, {setup.optimizer}"
        png = _plot(curve, marks, rule, save_dir / "lr_find.png", title)
    command = _command(setup, lr) if lr is not None else None
    res = FindResult(
        lr=lr,
        rule=rule,
        suggestions=suggestions,
        curve=curve,
        optimizer=setup.optimizer,
        groups=groups,
        notes=notes,
        command=command,
        work=work,
        seconds_total=time.perf_counter() - t0,
        save_dir=save_dir,
        csv=csv_path,
        png=png,
    )
    if verbose:
        print(res.summary(), flush=True)
    return res


def release(trainer) -> None:
    """What BaseTrainer.train() does on the way out: teardown callbacks, deterministic mode off, loaders closed."""
    import gc

    from ultralytics.utils.torch_utils import unset_deterministic

    try:
        trainer.run_callbacks("teardown")
    finally:
        unset_deterministic()
        for loader in (getattr(trainer, "train_loader", None), getattr(trainer, "test_loader", None)):
            if hasattr(loader, "close"):
                loader.close()
        gc.collect()


def format_value(v: Any) -> str:
    """A value as Ultralytics' CLI reads it back (``smart_value``)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(format_value(x) for x in v) + "]"
    return str(v)


def _command(setup: FinderSetup, lr: float) -> str:
    """``yolo-lr train model=... data=... optimizer=... lr0=...`` plus the user's other training keys."""
    args = dict(setup.train_args)
    words = {"model": setup.model_name, "data": args.pop("data")}
    if "cfg" in args:
        words = {"cfg": args.pop("cfg"), **words}
    optimizer = args.pop("optimizer", None)
    words["optimizer"] = "SGD" if setup.force_sgd else (optimizer or setup.optimizer)
    args.pop("lr0", None)
    words["lr0"] = float(f"{lr:.3g}")
    words.update(args)
    return shlex.join(["yolo-lr", "train", *(f"{k}={format_value(v)}" for k, v in words.items())])


def _write_csv(curve: RangeTest, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "lr", "loss", "smoothed"])
        for i, (lr, loss, sm) in enumerate(zip(curve.lrs, curve.losses, curve.smoothed)):
            w.writerow([i, f"{lr:.8g}", f"{loss:.8g}", f"{sm:.8g}"])


def _plot(curve: RangeTest, marks: dict[str, Suggestion], rule: str, path: Path, title: str) -> Path:
    """Loss vs LR (log x): raw and smoothed, the chosen suggestion as a line, the other rules as dots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(curve.lrs, curve.losses, color="0.7", linewidth=0.9, label="loss")
    ax.plot(curve.lrs, curve.smoothed, color="tab:blue", linewidth=1.8, label="smoothed loss")
    ax.set_xscale("log")
    imin = curve.best_index
    top = max(max(curve.losses[: imin + 1]), curve.smoothed[0]) * 1.15
    low = min(curve.losses) * 0.95 if min(curve.losses) > 0 else min(curve.losses) - 0.05 * abs(top)
    if max(curve.losses) > top:
        ax.set_ylim(low, top)
        ax.text(0.99, 0.97, "diverging tail clipped", transform=ax.transAxes, fontsize=8, ha="right", va="top")
    colors = {"valley": "tab:red", "steep": "tab:green", "min10": "tab:purple"}
    for r, s in marks.items():
        y = curve.smoothed[s.index]
        if r == rule:
            ax.axvline(s.lr, color=colors[r], linestyle="--", linewidth=1.4, label=f"suggested lr0={s.lr:.3g} ({r})")
        else:
            ax.plot([s.lr], [y], "o", color=colors[r], markersize=6, label=f"{r}: {s.lr:.3g}")
    if curve.stop_reason != "completed":
        ax.set_title(f"LR range test: {title} (stopped: {curve.stop_reason})", fontsize=10)
    else:
        ax.set_title(f"LR range test: {title}", fontsize=10)
    ax.set_xlabel("learning rate (all param groups, log scale)")
    ax.set_ylabel("train loss (sum of the loss components)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    return path
