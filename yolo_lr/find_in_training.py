"""``lr_find``: the LR range test inside a training, before the first epoch, on the trainer's own set-up.

Ask for it like any other key: ``model.train(..., lr_find=True)``, ``lr_find: true`` in a cfg/preset YAML, or
``yolo train ... lr_find=True``. The test's options are keys too (:class:`yolo_lr.finder.FindSettings`:
``lr_find_start``, ``lr_find_end``, ``lr_find_iters``, ``lr_find_rule``, ``lr_find_smooth``, ``lr_find_diverge``,
the options of ``yolo-lr find`` with the same defaults). Like every ``lr_*`` key, ``lr_find`` turns the plugin on:
without ``lr_policy`` the LR follows Ultralytics' linear decay, recomputed at every optimizer step.

What :func:`run` does (:meth:`yolo_lr.adapter.LRController.setup` calls it at ``on_pretrain_routine_end``, when the
optimizer, the dataloaders and the EMA exist, inside ``trainer.yolo_lr.paused()`` so that the plugin's step pre-hook
leaves the test's LRs alone, and before anything reads the peak LR):

1. On a resumed run it does nothing but say so: the checkpoint's ``train_args`` hold the ``lr0`` found when the run
   started, and Ultralytics rebuilds the optimizer from them. The range test never runs twice for one run.
2. Otherwise it runs the range test (:func:`yolo_lr.finder.trainer_range_test`) on this trainer's model, train loader
   (augmentation, batch size, mosaic as the first epoch has it), optimizer and param groups (each at its ratio to
   ``lr0`` as the first epoch runs it: MuSGD's 3x head groups, ``lr_backbone_scale``, a backbone frozen by
   ``lr_unfreeze_epoch`` at 0), gradient accumulation, clipping and EMA, and restores all of it afterwards
   (:func:`yolo_lr.ultralytics_compat.trainer_state`): weights and BatchNorm statistics, EMA, optimizer state and the
   groups' LRs/momenta, the RNGs, the loader's shuffling generator and the dataset's mosaic buffer. Epoch 1 then
   trains exactly as a run started with that ``lr0`` by hand would.
3. ``lr0`` becomes the suggestion, rounded to 3 significant digits, and every param group's ``initial_lr`` (the peak
   the policies read) follows (:func:`yolo_lr.ultralytics_compat.set_lr0`).
4. ``args.yaml`` is rewritten from the trainer's arguments, so it says the ``lr0`` (and the optimizer) really used;
   the checkpoints' ``train_args`` carry the same values. ``lr_find.csv`` and ``lr_find.png`` (the curve) go to the
   run directory, the suggestion is logged, and ``lr.png`` names it.

``optimizer=auto``: Ultralytics has already replaced it by a concrete optimizer (AdamW, or MuSGD for long runs) with
its own LR and ``warmup_bias_lr=0`` when the test runs. The test runs on that optimizer and the suggestion replaces
auto's LR; a log line says which optimizer auto chose, and ``args.yaml`` records it, so the run can be repeated.

Refused before training (:func:`yolo_lr.config.validate`, naming the key): a bad value of any ``lr_find*`` key,
``lr_find_end <= lr_find_start``, and several devices (DDP: each rank would run its own test). A test in which the
rule finds nothing stops the training with an error naming ``lr_find`` (its curve is written first).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yolo_lr import ultralytics_compat as compat
from yolo_lr.backbone import is_backbone, lr_scale
from yolo_lr.finder import FindSettings, RangeTest, Suggestion, Work, group_scales, suggestions, trainer_range_test

CSV_NAME, PLOT_NAME = "lr_find.csv", "lr_find.png"


@dataclass
class FoundLR:
    """What :func:`run` found and set."""

    lr0: float  # the lr0 training uses (the suggestion, 3 significant digits)
    before: float  # lr0 before the test (the configured value, or optimizer=auto's)
    rule: str
    suggestions: dict[str, Suggestion | None]
    curve: RangeTest
    work: Work
    optimizer: str
    csv: Path | None
    png: Path | None


def plot_note(lr0: float) -> str:
    """The line ``lr.png`` shows for a run whose ``lr0`` came from ``lr_find``."""
    return f"lr0={lr0:g} found by lr_find"


def start_scales(trainer, settings) -> list[float]:
    """Each param group's LR relative to the test's LR, as the run's first optimizer steps will have it: its ratio to
    ``lr0`` (:func:`yolo_lr.finder.group_scales`) times its ``lr_scale`` (per-layer rules, ``lr_backbone_scale``
    included) and, for a backbone group, the freeze factor at the start (0 while ``lr_unfreeze_epoch`` keeps it
    frozen)."""
    start = trainer.start_epoch
    bb = settings.finetune.factor(start, float(start))
    groups = trainer.optimizer.param_groups
    return [k * lr_scale(g) * (bb if is_backbone(g) else 1.0) for g, k in zip(groups, group_scales(trainer))]


def run(trainer, settings, requested_optimizer=None) -> FoundLR | None:
    """Run the range test and set ``lr0`` (see the module). ``settings`` is the run's
    :class:`~yolo_lr.config.LRSettings` (its ``find`` is set); ``requested_optimizer`` the optimizer as the user asked
    for it, before ``optimizer=auto`` was resolved.

    Returns:
        What was found and set; None on a resumed run.

    Raises:
        LRConfigError: several devices (normally refused earlier, by the config check).
        RuntimeError: the rule found nothing on the tested range (no suggestion).
    """
    find: FindSettings = settings.find
    log = compat.logger()
    if compat.is_resumed(trainer):
        log.info(
            f"yolo_lr: lr_find: resumed run: training on with lr0={float(trainer.args.lr0):g} from its checkpoint "
            "(found when the run started); the range test is not rerun"
        )
        return None
    if getattr(trainer, "world_size", 0) > 1 or compat.rank() not in {-1, 0}:
        from yolo_lr.config import LRConfigError

        raise LRConfigError(f"yolo_lr: lr_find runs on one device; got device={trainer.args.device!r}", key="lr_find")
    optimizer = type(trainer.optimizer).__name__
    before = float(trainer.args.lr0)
    scales = start_scales(trainer, settings)
    curve, work = trainer_range_test(
        trainer, find.lr_start, find.lr_end, find.iters, find.smooth, find.diverge, scales=scales
    )
    found = suggestions(curve)
    pick = found[find.rule]
    csv_path, png = _write_curve(trainer, curve, found, find.rule, optimizer)
    stop = {"completed": "ran all steps", "diverged": "stopped: diverged", "non-finite": "stopped: loss not finite"}
    where = f" at lr={curve.stop_lr:.3g}" if curve.stop_lr is not None else ""
    log.info(
        f"yolo_lr: lr_find: range test on this run's model, data and {optimizer} param groups: {curve.steps}/"
        f"{curve.planned} steps of lr {find.lr_start:g} -> {find.lr_end:g} ({stop[curve.stop_reason]}{where}), "
        f"{work.images} images, {work.seconds:.1f} s; weights, EMA, optimizer, RNGs and data order restored"
    )
    if pick is None:
        raise RuntimeError(
            f"yolo_lr: lr_find: no suggestion from rule {find.rule}: the smoothed loss never "
            f"{'rose' if find.rule in ('edge10', 'auto') else 'decreased'} between lr={find.lr_start:g} and "
            f"{curve.lrs[-1] if curve.lrs else find.lr_start:g} (curve: {csv_path}). Widen the range (lr_find_start, "
            "lr_find_end), raise lr_find_iters, or set lr0 yourself without lr_find."
        )
    lr0 = float(f"{pick.lr:.3g}")
    compat.set_lr0(trainer, lr0)
    compat.save_args(trainer)
    if requested_optimizer is not None and compat.is_auto_optimizer(requested_optimizer):
        log.info(
            f"yolo_lr: lr_find: optimizer=auto had chosen {optimizer} with lr={before:g}; the range test ran on that "
            f"{optimizer} and its LR is replaced by the suggestion (args.yaml now says optimizer={optimizer})"
        )
    others = ", ".join(f"{r} {s.lr:.3g}" if s is not None else f"{r} none" for r, s in found.items() if r != pick.rule)
    how = f" = {pick.why}" if pick.why else ""
    log.info(
        f"yolo_lr: lr_find: lr0={lr0:g} (rule {pick.rule}{how}; {others}) is every param group's peak LR in this run; "
        "args.yaml and the checkpoints record it" + (f"; curve: {csv_path}" if csv_path else "")
    )
    return FoundLR(lr0, before, pick.rule, found, curve, work, optimizer, csv_path, png)


def _write_curve(trainer, curve: RangeTest, found: dict, rule: str, optimizer: str) -> tuple[Path | None, Path | None]:
    """lr_find.csv and lr_find.png in the run directory (rank 0); the plot is skipped with plots=False."""
    from yolo_lr.finder import _plot, _write_csv

    if compat.rank() not in {-1, 0}:
        return None, None
    save_dir = Path(trainer.save_dir)
    csv_path = save_dir / CSV_NAME
    _write_csv(curve, csv_path)
    png = None
    if curve.steps >= 2 and trainer.args.plots:
        marks = {r: s for r, s in found.items() if s is not None}
        title = f"{Path(str(trainer.args.model)).name}, {optimizer}, before epoch 1"
        try:
            png = _plot(curve, marks, rule, save_dir / PLOT_NAME, title)
        except Exception as e:  # noqa: BLE001 - a plot must never fail a training
            compat.logger().warning(f"yolo_lr: lr_find: could not draw {PLOT_NAME}: {e}")
    if png is not None:
        from yolo_lr.loggers import register_plot

        register_plot(trainer, png)  # W&B and ClearML upload what trainer.plots holds, like lr.png
    return csv_path, png
