"""Set every param group's LR (and momentum, for policies that cycle it) right before each optimizer step.

Per epoch, :meth:`StepLR.begin_epoch` computes the LRs of every batch of the epoch (an
:class:`~yolo_lr.schedule.EpochPlan` table: nb rows, about 3 µs each); per step, :meth:`StepLR.hook`, registered as
the optimizer's step pre-hook, looks its row up and writes it into the param groups. Inside training every Python
call costs microseconds (the backward pass has evicted the CPU caches), so the per-step path is this one method, and
batches are counted by a C-level ``list.append`` registered as the ``on_train_batch_start`` callback (Ultralytics keeps
no batch index).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from yolo_lr.backbone import is_backbone, lr_scale
from yolo_lr.config import LRSettings
from yolo_lr.schedule import EpochPlan, Group
from yolo_lr.ultralytics_compat import bias_warmup_groups


def groups_of(optimizer) -> list[Group]:
    """The optimizer's param groups as the schedule sees them: name, peak (``initial_lr``), backbone part or not,
    ``lr_scale``, and whether warmup starts it at ``warmup_bias_lr`` (the installed Ultralytics' rule)."""
    groups = optimizer.param_groups
    bias = set(bias_warmup_groups(groups))
    return [
        Group(g.get("param_group", "?"), g["initial_lr"], is_backbone(g), lr_scale(g), bias_start=j in bias)
        for j, g in enumerate(groups)
    ]


class StepLR:
    """The LR setter of one run.

    Args:
        settings: resolved plugin settings.
        warmup_bias_lr: where bias groups start their warmup (the trainer's, after ``optimizer=auto``).
        momentum: the optimizer's configured momentum (one-cycle cycles down from it and back).

    Attributes:
        count_batch: the ``on_train_batch_start`` callback: appends its argument, so ``len(batches) - 1`` is the index
            of the batch in progress.
        taken: ``(batch index, momentum)`` of every optimizer step of the epoch so far.
        on_first_step: called once, at the run's first optimizer step (when loss names exist), then dropped.
        paused: while True, steps keep the LRs their caller set and are not recorded.
    """

    def __init__(self, settings: LRSettings, warmup_bias_lr: float, momentum: float):
        self.settings = settings
        self.warmup_bias_lr, self.momentum_base = warmup_bias_lr, momentum
        self.batches: list = []
        self.count_batch = self.batches.append
        self.taken: list[tuple[int, float]] = []
        self.epoch, self.ni0, self.steps_before = 0, 0, 0
        self.table: list[list[float]] = []
        self.momenta: list[float] | None = None
        self.on_first_step: Callable[[], Any] | None = None
        self.paused = False
        self.previous: list[float] | None = None  # the LRs of the last step of earlier epochs

    def begin_epoch(
        self,
        optimizer,
        *,
        epoch: int,
        nb: int,
        nw: int,
        epochs: float,
        plateau_factor: float,
        steps_before: int,
        batch_factor: float = 1.0,
    ) -> None:
        """Plan the epoch from the epoch length, warmup length and plateau factor as they are now.

        Args:
            steps_before: optimizer steps taken before this epoch (numbers the lr.csv rows).
        """
        if self.taken:  # the run's last step so far, for an epoch that takes none (lr/pg* in results.csv)
            self.previous = self.table[self.taken[-1][0]]
        self.epoch, self.ni0, self.steps_before = epoch, nb * epoch, steps_before
        self.batches.clear()
        self.taken.clear()
        plan = EpochPlan(
            self.settings,
            groups_of(optimizer),
            epoch=epoch,
            nb=nb,
            nw=nw,
            epochs=epochs,
            warmup_bias_lr=self.warmup_bias_lr,
            plateau_factor=plateau_factor,
            batch_factor=batch_factor,
        )
        self.table = plan.table()
        self.momenta = plan.momenta(self.momentum_base)

    def hook(self, optimizer, args, kwargs) -> None:
        """The optimizer's step pre-hook: write the LRs (and momentum) of the step about to happen."""
        if self.paused:
            return
        i = len(self.batches) - 1
        groups = optimizer.param_groups
        for g, lr in zip(groups, self.table[i]):
            g["lr"] = lr
        if self.momenta is not None:
            m = self.momenta[i]
            for g in groups:
                if "momentum" in g:
                    g["momentum"] = m
                elif "betas" in g:
                    g["betas"] = (m, *tuple(g["betas"])[1:])
        g0 = groups[0]
        self.taken.append((i, g0["momentum"] if "momentum" in g0 else g0["betas"][0] if "betas" in g0 else math.nan))
        if self.on_first_step is not None:
            first, self.on_first_step = self.on_first_step, None
            first()

    def last_lrs(self) -> list[float] | None:
        """The LRs of the run's last optimizer step so far: this epoch's, else an earlier epoch's (an epoch can take
        none: gradient accumulation over few batches); None before the run's first step."""
        return self.table[self.taken[-1][0]] if self.taken else self.previous

    def rows(self) -> list[tuple]:
        """The epoch's lr.csv rows: ``(epoch, iteration, step, lr of each group..., momentum)`` per optimizer step."""
        e, ni0, s0, table = self.epoch, self.ni0, self.steps_before, self.table
        return [(e, ni0 + i, s0 + k + 1, *table[i], m) for k, (i, m) in enumerate(self.taken)]
