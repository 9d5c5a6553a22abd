"""The standalone LR finder, ``yolo-lr find`` and :func:`yolo_lr.find_lr`: a range test on a trainer built for it.

:func:`build_trainer` builds a real trainer exactly as ``Model.train`` would (same dataloader, augmentation, loss,
param groups, gradient accumulation, clipping and EMA) without training; :func:`find_lr` runs the range test on it
(:func:`yolo_lr.finder.trainer_range_test`, which puts back all it changed), writes ``lr_find.csv`` and
``lr_find.png`` and prints a ready-to-run ``yolo-lr train ... lr0=...`` command. The engine (the range test, its
smoothings, rules and defaults) is :mod:`yolo_lr.finder`, shared with ``lr_find`` inside a training.

``optimizer=auto`` (Ultralytics' default) picks its own optimizer *and LR* and ignores ``lr0``, so a suggested lr0
would be thrown away; the finder then runs with SGD (Ultralytics' momentum, 0.937 by default), says so, and the
printed command carries ``optimizer=SGD``. An explicit optimizer (``SGD``, ``AdamW``, ``MuSGD``, ...) is used as
given.

Examples:
    >>> from yolo_lr.tools.find import find_lr
    >>> res = find_lr("yolo26n.yaml", data="coco8.yaml", imgsz=320, batch=16)
    >>> res.lr, res.command
    (0.0031, 'yolo-lr train model=yolo26n.yaml data=coco8.yaml optimizer=SGD lr0=0.0031 ...')

    ``yolo-lr find model=yolo26n.yaml data=coco8.yaml lr_start=1e-5 lr_end=10 iters=50``
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yolo_lr.finder import (
    DEFAULT_RULE,
    DIVERGE,
    FINDER_KEYS,
    ITERS,
    LR_END,
    LR_START,
    SMOOTH,
    RangeTest,
    Work,
    _plot,
    _write_csv,
    check_finder_args,
    suggestions,
    trainer_range_test,
)
from yolo_lr.ultralytics_compat import auto_optimizer, is_auto_optimizer  # Ultralytics' rules, one place


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
            from Ultralytics: ``amp=False`` (its AMP check downloads weights), ``plots=False``, ``name`` =
            ``lr_find``; ``project`` as Ultralytics places any run (its ``runs_dir`` setting, then the task).

    Returns:
        (trainer, setup): the trainer, set up and never stepped, and what was decided.

    Raises:
        ValueError: resume requested, several devices, or a bad ``lr_*`` key.
    """
    from ultralytics.engine.model import Model
    from ultralytics.utils import DEFAULT_CFG_DICT

    import yolo_lr  # noqa: F401  (registers the lr_* keys before Ultralytics checks arguments)
    from yolo_lr.config import is_active, validate
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
    command_args = {
        k: v for k, v in user.items() if k not in {"project", "name", "exist_ok"} and not k.startswith("lr_find")
    }
    if merged.get("lr_find"):
        notes.append(
            "lr_find (a range test inside training) is what this command does by itself: the printed command sets lr0 "
            "instead" + (" and lr_find=False over the preset's" if preset.get("lr_find") else "") + "."
        )
        if preset.get("lr_find"):
            command_args["lr_find"] = False
    command_args.setdefault("epochs", merged.get("epochs", DEFAULT_CFG_DICT["epochs"]))  # explicit: no hidden 100
    if not is_active({**merged, "lr_find": False}):  # no schedule given: the command would train natively
        command_args["lr_policy"] = SCHEDULE
        notes.append(
            f"the command adds lr_policy={SCHEDULE} (per step, from the found lr0 down to lr0*lrf), so the run it "
            "starts has the plugin's schedule, lr.csv and lr.png; pass cfg=PRESET or lr_policy=... to the finder for "
            "another."
        )
    policy_keys = sorted(k for k in merged if k.startswith("lr_") and not k.startswith("lr_find"))
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
    trainer_args.setdefault("name", "lr_find")  # project: Ultralytics' own default (runs_dir/TASK), as `yolo train`

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
        train_args=command_args,
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


# ------------------------------------------------------------------------------------------------- Ultralytics: API
@dataclass
class FindResult:
    """What :func:`find_lr` found.

    Attributes:
        lr: the suggested ``lr0`` (rule ``rule``); None when the rule found nothing.
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
    lr_start: float = LR_START,
    lr_end: float = LR_END,
    iters: int = ITERS,
    rule: str = DEFAULT_RULE,
    smooth: float = SMOOTH,
    diverge: float = DIVERGE,
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
        rule: suggestion rule, one of :data:`yolo_lr.finder.RULES` (default ``auto``).
        smooth: smoothing factor: the EMA of the divergence stop, and the width of the curve the rules read.
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
    found = suggestions(curve)
    marks = {r: s for r, s in found.items() if s is not None}
    values = {r: (s.lr if s is not None else None) for r, s in found.items()}
    lr = values[rule]
    if found[rule] is not None and found[rule].why:
        notes.append(f"rule {rule} read {found[rule].why}")
    if lr is None:
        notes.append(
            f"no suggestion: {'no usable shape' if curve.steps >= 5 else 'too few steps before stopping'}"
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
        suggestions=values,
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


SCHEDULE = "cosine"  # the printed command's schedule when the user gave none


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
