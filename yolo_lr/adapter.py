"""The training adapter: Ultralytics callbacks that hand each training event to the parts of one run.

:class:`LRController` (stored as ``trainer.yolo_lr``) owns four parts, each with one job and reached only through
its methods:

- :class:`~yolo_lr.stepper.StepLR` sets every param group's LR right before each optimizer step;
- :class:`~yolo_lr.lr_log.LRLog` writes ``lr.csv`` and ``lr.png`` (rank 0);
- :class:`~yolo_lr.plateau_watch.PlateauWatch` decides plateau reductions and keeps their state in the checkpoint;
- :class:`~yolo_lr.backbone.BackboneFreeze` freezes the backbone until ``lr_unfreeze_epoch``.

With ``lr_find``, :func:`yolo_lr.find_in_training.run` sets ``lr0`` from an LR range test on the trainer, once the
parts are in place and before the first epoch, with the step pre-hook paused (:meth:`LRController.paused`).

How it hooks into the trainer (and every other Ultralytics internal it relies on) is in
:mod:`yolo_lr.ultralytics_compat` (and :mod:`yolo_lr.registration`). The plugin stays inert (native LRs at every
step) when no ``lr_*`` key is set.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from yolo_lr import find_in_training
from yolo_lr import ultralytics_compat as compat
from yolo_lr.backbone import BackboneFreeze, has_pretrained_weights, is_backbone, lr_scale
from yolo_lr.config import LRSettings, is_active, resolve, validate
from yolo_lr.lr_log import PLOT_NAME, LRLog, plot_lr_csv
from yolo_lr.plateau_watch import PlateauWatch
from yolo_lr.schedule import step_batches
from yolo_lr.stepper import StepLR

__all__ = ["LRController", "callbacks", "is_driving", "plot_lr_csv"]

_ATTR = "yolo_lr"  # trainer attribute holding the controller of that run


class LRController:
    """Drives the LR of one Ultralytics trainer: dispatches training events to its parts."""

    def __init__(self, settings: LRSettings):
        self.settings = settings
        self.requested: dict[str, Any] = {}  # optimizer/lr0 as the user asked, before optimizer=auto
        self.plateau = PlateauWatch(settings.plateau) if settings.plateau else None
        self.freeze = BackboneFreeze(settings.finetune) if settings.split_backbone else None
        self.stepper: StepLR | None = None
        self.log: LRLog | None = None  # rank 0 only
        self._open_epoch: int | None = None  # epoch trained but not yet closed (plateau decision, lr.csv rows)
        self._unsynced_epoch: int | None = None  # epoch trained whose plateau state is not yet shared (DDP)
        self.found: find_in_training.FoundLR | None = None  # what lr_find set (None: off, or a resumed run)
        self._batch_why: str | None = None  # the last lr_batch_scale line logged

    # ---------------------------------------------------------------------------------------------- lifecycle
    def remember_request(self, args) -> None:
        """Rank 0, before the optimizer exists: what the user asked for (optimizer=auto replaces it later)."""
        self.requested = {"optimizer": args.optimizer, "lr0": args.lr0}

    def setup(self, trainer) -> None:
        """After the optimizer exists and resume state is loaded (on_pretrain_routine_end): take over the LR."""
        compat.check_trainer(trainer)
        main = compat.rank() in {-1, 0}
        if self.plateau is not None and main:
            self.plateau.check_metric(trainer)
        self.stepper = StepLR(self.settings, trainer.args.warmup_bias_lr, trainer.args.momentum)
        if main:
            self.log = LRLog(trainer.save_dir, _csv_header(trainer.optimizer, self.settings.finetune.backbone_scale))
            self.log.start(trainer.start_epoch - 1 if trainer.start_epoch > 0 else None)
        if self.plateau is not None and not self.plateau.restore(trainer.optimizer) and trainer.start_epoch > 0:
            compat.logger().warning(
                "yolo_lr: the checkpoint carries no plateau state (made without yolo_lr, or by an older version): "
                "the plateau restarts from scratch"
            )
        if self.freeze is not None:
            self._freeze_setup(trainer, main)
        if self.plateau is not None and main:  # loss names exist once the first forward pass ran
            self.stepper.on_first_step = functools.partial(self.plateau.check_loss_metric, trainer)
        trainer.add_callback("on_train_batch_start", self.stepper.count_batch)
        compat.before_optimizer_step(trainer.optimizer, self.stepper.hook)
        compat.before_checkpoint(trainer, functools.partial(self.close_epoch, trainer))
        if self.settings.find is not None:  # the peak is read at each epoch's start: lr0 can still change here
            with self.paused():
                self.found = find_in_training.run(trainer, self.settings, self.requested.get("optimizer"))
        if main:
            self._report(trainer)

    @contextlib.contextmanager
    def paused(self):
        """Optimizer steps taken inside this block keep the LRs their caller set (e.g. an LR range test run on the
        trainer); the policy takes over again afterwards."""
        self.stepper.paused = True
        try:
            yield
        finally:
            self.stepper.paused = False

    def epoch_start(self, trainer) -> None:
        """Plan the epoch (also when Ultralytics repeats one after NaN recovery or an OOM retry)."""
        nb = max(len(trainer.train_loader), 1)
        self.stepper.begin_epoch(
            trainer.optimizer,
            epoch=trainer.epoch,
            nb=nb,
            nw=compat.warmup_iterations_of(trainer, nb),
            epochs=trainer.epochs,
            plateau_factor=self.plateau.factor if self.plateau is not None else 1.0,
            steps_before=compat.steps_done(trainer) or 0,
            batch_factor=self._batch_factor(trainer, nb),
        )
        if self.freeze is not None and (n := self.freeze.epoch_start(trainer.epoch)):
            compat.logger().info(f"yolo_lr: epoch {trainer.epoch + 1}: backbone unfrozen ({n} tensors)")
        self._open_epoch = self._unsynced_epoch = trainer.epoch

    def _batch_factor(self, trainer, nb: int) -> float:
        """``lr_batch_scale``'s factor for the batch the trainer uses now (AutoBatch and OOM retries change it; a
        change is logged)."""
        if self.settings.batch.rule == "off":
            return 1.0
        factor, why = self.settings.batch.factor(
            type(trainer.optimizer).__name__, compat.images_per_step(trainer, nb), float(trainer.args.nbs)
        )
        if why != self._batch_why and compat.rank() in {-1, 0}:
            compat.logger().info(f"yolo_lr: lr_batch_scale={why}")
        self._batch_why = why
        return factor

    def step_rows(self) -> tuple[list[str], list[list]]:
        """lr.csv's header and this epoch's rows so far (read by yolo_lr.loggers at on_train_epoch_end)."""
        if self.log is None or self.stepper is None:
            return [], []
        return self.log.header, self.stepper.rows()

    def epoch_end(self, trainer) -> None:
        """Report the LR the optimizer last used as this epoch's lr/pg* (results.csv, loggers): never a value no step
        used (NaN before the run's first step), not Ultralytics' per-epoch formula."""
        lrs = self.stepper.last_lrs()
        n = len(trainer.optimizer.param_groups)
        trainer.lr = {f"lr/pg{j}": lr for j, lr in enumerate(lrs if lrs is not None else [float("nan")] * n)}

    def close_epoch(self, trainer) -> None:
        """Once per trained epoch, on rank 0, before its checkpoint is written: the plateau decision (stored in the
        optimizer, so the checkpoint carries it) and the epoch's lr.csv rows."""
        if self._open_epoch is None or self._open_epoch != trainer.epoch:
            return  # final_eval's extra on_fit_epoch_end, or already closed right before save_model
        epoch, self._open_epoch = trainer.epoch, None
        if compat.rank() not in {-1, 0}:
            return
        if self.plateau is not None:
            before = self.plateau.factor
            value = self.plateau.value(trainer)
            if self.plateau.decide(epoch, value, trainer.optimizer):
                compat.logger().info(
                    f"yolo_lr: {self.settings.plateau.metric} did not improve for {self.plateau.tracker.patience + 1} "
                    f"epochs (last {value:.5g}); LR factor {before:.4g} -> {self.plateau.factor:.4g}"
                )
        if self.log is not None:
            self.log.append(self.stepper.rows())

    def fit_epoch_end(self, trainer) -> None:
        """After the epoch (checkpoint written or skipped): close it if save_model did not run; DDP state sync."""
        self.close_epoch(trainer)
        if self.plateau is not None and self._unsynced_epoch == trainer.epoch:
            # once per trained epoch, on every rank; never at final_eval's extra call (a rank without best.pt skips it)
            self._unsynced_epoch = None
            self.plateau.sync(trainer)

    def finish(self, trainer) -> None:
        """Draw lr.png (rank 0, end of training), unless plots=False."""
        if self.log is None or not trainer.args.plots:
            return
        note = find_in_training.plot_note(trainer.args.lr0) if self.settings.find is not None else None
        try:
            png = self.log.plot(self.plateau.reductions if self.plateau is not None else [], note=note)
        except Exception as e:  # noqa: BLE001 - a plot must never fail a finished training
            compat.logger().warning(f"yolo_lr: could not draw {PLOT_NAME}: {e}")
            return
        if png is not None:
            from yolo_lr.loggers import register_plot

            register_plot(trainer, png)  # W&B and ClearML upload what trainer.plots holds

    # ------------------------------------------------------------------------------------------------ helpers
    def _freeze_setup(self, trainer, main: bool) -> None:
        log = compat.logger()
        ft = self.settings.finetune
        pretrained = has_pretrained_weights(trainer.args.model, getattr(trainer.args, "pretrained", None))
        if main and ft.backbone_rules and not pretrained:
            log.warning(
                f"yolo_lr: fine-tuning rules (lr_backbone_scale/lr_unfreeze_epoch) on model={trainer.args.model}, "
                "which has no pretrained weights: freezing or slowing a randomly initialised backbone only hurts. "
                "Fine-tune from a .pt checkpoint, or train from scratch without these keys."
            )
        if n := self.freeze.start(trainer.optimizer, trainer.start_epoch, compat.student_of(trainer.model)):
            bn = f", {len(self.freeze.bn)} BatchNorm layers in eval mode" if self.freeze.bn else ""
            log.info(f"yolo_lr: backbone frozen ({n} tensors{bn}) until epoch {ft.unfreeze_epoch + 1}")
            if self.freeze.bn:  # Ultralytics calls model.train() at every epoch start: hold the BN layers after it
                compat.call_after(trainer, "_model_train", self.freeze.hold_bn)

    def _report(self, trainer) -> None:
        log = compat.logger()
        groups = trainer.optimizer.param_groups
        req = self.requested
        auto = compat.is_auto_optimizer(req.get("optimizer", "")) and "optimizer" in req
        if auto and self.settings.find is None:  # with lr_find, find_in_training says what became of auto's LR
            g0 = groups[0]
            mom = g0.get("momentum", (g0.get("betas") or (float("nan"),))[0])
            log.warning(
                f"yolo_lr: optimizer=auto replaced lr0={req.get('lr0')} with {type(trainer.optimizer).__name__}"
                f"(lr={trainer.args.lr0:g}, momentum={mom:g}) and warmup_bias_lr="
                f"{trainer.args.warmup_bias_lr:g}. The policy runs on that effective peak LR. Set optimizer=SGD, "
                "AdamW, ... to have lr0 honoured."
            )
        peaks = sorted({round(g["initial_lr"], 12) for g in groups})
        nb = max(len(trainer.train_loader), 1)
        if few := _few_steps(trainer, nb):
            log.warning(few)
        peak = "/".join(f"{p:g}" for p in peaks)
        final = "/".join(f"{p * self.settings.lrf:g}" for p in peaks)
        log.info(
            f"yolo_lr: {self.settings.describe()} | peak lr={peak} final={final} | "
            f"warmup_epochs={trainer.args.warmup_epochs:g} ({compat.warmup_iterations_of(trainer, nb)} iterations, "
            f"bias from {trainer.args.warmup_bias_lr:g}) | {type(trainer.optimizer).__name__}, {len(groups)} param "
            f"groups, {nb} batches/epoch"
        )


FEW_STEPS_PER_EPOCH = 2  # below this many optimizer steps per epoch (on average) a schedule has too few points
FEW_WARMUP_STEPS = 3


def _few_steps(trainer, nb: int) -> str | None:
    """A warning when the run will take few optimizer steps (gradient accumulation over few batches): the numbers,
    and the fix. None when the schedule has enough points."""
    acc = max(int(getattr(trainer, "accumulate", 1) or 1), 1)
    nw = compat.warmup_iterations_of(trainer, nb)
    steps = [ni for ni in step_batches(nb, trainer.epochs, nw, acc) if ni >= trainer.start_epoch * nb]
    epochs = max(trainer.epochs - trainer.start_epoch, 1)
    warm = sum(ni <= nw for ni in steps) if nw else None
    if len(steps) >= FEW_STEPS_PER_EPOCH * epochs and (warm is None or warm >= FEW_WARMUP_STEPS):
        return None
    images = len(getattr(trainer.train_loader, "dataset", ())) or "?"
    batch, nbs = trainer.batch_size, trainer.args.nbs
    n = len(steps)
    what = f"{n} optimizer step{'' if n == 1 else 's'} in {epochs} epoch{'' if epochs == 1 else 's'}"
    what += f" ({n / epochs:.2g} per epoch)"
    fixes = [f"nbs={batch} (one step per batch: {nb * epochs} steps)"] if acc > 1 else []
    if nb < FEW_STEPS_PER_EPOCH:
        fixes.append("a smaller batch (more batches per epoch)")
    if warm is not None and warm < FEW_WARMUP_STEPS:
        what += f", {warm} of them in warmup"
        fixes.append("warmup_epochs=0, or a warmup of more steps")
    return (
        f"yolo_lr: this run takes only {what}: {images} images, batch={batch}, {nb} batches per epoch, accumulate="
        f"{acc} (nbs={nbs} / batch), so the per-step schedule has only those points. For more: {'; '.join(fixes)}."
    )


def _csv_header(optimizer, backbone_scale: float) -> list[str]:
    """Column names: ``lr/pg3(weight/backbone)``; a group whose lr_scale is not the one its part implies (1, or
    lr_backbone_scale for the backbone) also shows it: ``lr/pg6(weight x10)``."""
    cols = []
    for j, g in enumerate(optimizer.param_groups):
        bb, scale = is_backbone(g), lr_scale(g)
        tag = f" x{scale:.4g}" if scale != (backbone_scale if bb else 1.0) else ""
        cols.append(f"lr/pg{j}({g.get('param_group', j)}{'/backbone' if bb else ''}{tag})")
    return ["epoch", "iteration", "step", *cols, "momentum"]


# ---------------------------------------------------------------------------------------------------- the callbacks
def _controller(trainer) -> LRController | None:
    return trainer.__dict__.get(_ATTR)


def is_driving(trainer) -> bool:
    """True once the plugin drives this trainer's optimizer (its controller is set up, the step pre-hook in place)."""
    ctl = _controller(trainer)
    return ctl is not None and ctl.stepper is not None


def _create(trainer) -> LRController | None:
    ctl = trainer.__dict__.get(_ATTR)
    if ctl is None and is_active(vars(trainer.args)):
        ctl = trainer.__dict__[_ATTR] = LRController(resolve(vars(trainer.args)))
    return ctl


def on_pretrain_routine_start(trainer):
    """Rank 0, before data and optimizer: print config warnings (once per run) and remember the request."""
    if not is_active(vars(trainer.args)):
        return
    for w in validate(vars(trainer.args)):
        compat.logger().warning(f"yolo_lr: {w}")
    _create(trainer).remember_request(trainer.args)


def on_pretrain_routine_end(trainer):
    if ctl := _create(trainer):
        ctl.setup(trainer)


def on_train_epoch_start(trainer):
    if ctl := _controller(trainer):
        ctl.epoch_start(trainer)


def on_train_epoch_end(trainer):
    if ctl := _controller(trainer):
        ctl.epoch_end(trainer)


def on_fit_epoch_end(trainer):
    if ctl := _controller(trainer):
        ctl.fit_epoch_end(trainer)


def on_train_end(trainer):
    if ctl := _controller(trainer):
        ctl.finish(trainer)


callbacks = {
    "on_pretrain_routine_start": on_pretrain_routine_start,
    "on_pretrain_routine_end": on_pretrain_routine_end,
    "on_train_epoch_start": on_train_epoch_start,
    "on_train_epoch_end": on_train_epoch_end,
    "on_fit_epoch_end": on_fit_epoch_end,
    "on_train_end": on_train_end,
}
