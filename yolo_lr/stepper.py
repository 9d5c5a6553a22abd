"""Set every param group's LR (and momentum, for policies that cycle it) right before each optimizer step.

Per epoch, :meth:`StepLR.begin_epoch` builds an :class:`~yolo_lr.schedule.EpochPlan` (everything constant within
the epoch computed once); per step, :meth:`StepLR.apply` evaluates it and writes the param groups. Nothing else runs
per step, so the cost stays a few microseconds.
"""

from __future__ import annotations

from yolo_lr.backbone import is_backbone, lr_scale
from yolo_lr.config import LRSettings
from yolo_lr.schedule import EpochPlan, Group


def groups_of(optimizer) -> list[Group]:
    """The optimizer's param groups as the schedule sees them: name, peak (``initial_lr``), backbone part or not,
    ``lr_scale``."""
    groups = optimizer.param_groups
    return [Group(g.get("param_group", "?"), g["initial_lr"], is_backbone(g), lr_scale(g)) for g in groups]


class StepLR:
    """The LR setter of one run.

    Args:
        settings: resolved plugin settings.
        warmup_bias_lr: where bias groups start their warmup (the trainer's, after ``optimizer=auto``).
        momentum: the optimizer's configured momentum (one-cycle cycles down from it and back).
    """

    def __init__(self, settings: LRSettings, warmup_bias_lr: float, momentum: float):
        self.settings = settings
        self.warmup_bias_lr, self.momentum_base = warmup_bias_lr, momentum
        self.epoch, self.i, self.ni0 = 0, -1, 0
        self.plan: EpochPlan | None = None
        self.param_groups: list[dict] = []
        self.cycles_momentum = settings.cycles_momentum

    def begin_epoch(self, optimizer, *, epoch: int, nb: int, nw: int, epochs: float, plateau_factor: float) -> None:
        """Plan the epoch: batch counter reset, epoch length, warmup length and plateau factor as they are now."""
        self.epoch, self.i, self.ni0 = epoch, -1, nb * epoch
        self.param_groups = optimizer.param_groups  # NaN recovery reloads the optimizer: take the current groups
        self.plan = EpochPlan(
            self.settings,
            groups_of(optimizer),
            epoch=epoch,
            nb=nb,
            nw=nw,
            epochs=epochs,
            warmup_bias_lr=self.warmup_bias_lr,
            plateau_factor=plateau_factor,
        )

    def next_batch(self) -> None:
        """A batch starts (counted here: Ultralytics keeps no batch index on the trainer)."""
        self.i += 1

    def apply(self) -> list[float]:
        """Write the LRs (and momentum) of the step about to happen; returns the LRs."""
        i = self.i if self.i > 0 else 0
        lrs = self.plan.lrs(i)
        for g, lr in zip(self.param_groups, lrs):
            g["lr"] = lr
        if self.cycles_momentum:
            m = self.plan.momentum(i, self.momentum_base)
            for g in self.param_groups:
                if "momentum" in g:
                    g["momentum"] = m
                elif "betas" in g:
                    g["betas"] = (m, *tuple(g["betas"])[1:])
        return lrs
