"""Plateau reduction in a training run: read the watched metric, decide, keep the state in the checkpoint.

The decision for an epoch is made on rank 0 right before that epoch's checkpoint is written, and the state (the
:class:`~yolo_lr.plateau.Plateau` counters, best value, factor, and the epochs that reduced) is stored in the
optimizer's first param group (:func:`yolo_lr.ultralytics_compat.store_state`). The checkpoint therefore always holds
the weights and the plateau state of the same epoch: a resume after a crash at any moment continues with exactly the
counters an uninterrupted run would have.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from yolo_lr import ultralytics_compat as compat
from yolo_lr.config import LRConfigError
from yolo_lr.plateau import PlateauSettings

STATE_VERSION = 1


class PlateauWatch:
    """Reduce-on-plateau for one training run."""

    def __init__(self, settings: PlateauSettings):
        self.settings = settings
        self.tracker = settings.tracker()
        self.reductions: list[int] = []  # epochs after which the factor was reduced

    @property
    def factor(self) -> float:
        """The factor in force (1.0 until the first reduction)."""
        return self.tracker.factor

    # ------------------------------------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """Everything needed to continue: plain data (it is pickled into the checkpoint)."""
        return {"version": STATE_VERSION, "plateau": self.tracker.state_dict(), "reductions": list(self.reductions)}

    def load(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state`."""
        self.tracker.load_state_dict(state["plateau"])
        self.reductions = list(state["reductions"])

    def restore(self, optimizer) -> bool:
        """Resume: load the state the checkpoint's optimizer carries. False when it carries none."""
        state = compat.load_state(optimizer)
        if state is None or state.get("version") != STATE_VERSION:
            return False
        self.load(state)
        return True

    # --------------------------------------------------------------------------------------------- decisions
    def value(self, trainer) -> float:
        """The watched metric for the epoch just validated; NaN when it is missing (counted as no improvement)."""
        pool = compat.metric_pool(trainer)
        name = self.settings.metric
        if name != "fitness" and name not in pool and trainer.metrics:  # a name the task lacks: never a silent NaN
            raise _metric_error(name, ["fitness", *pool])
        try:
            return float(pool.get(name))
        except (TypeError, ValueError):
            return math.nan

    def decide(self, epoch: int, value: float, optimizer) -> bool:
        """Feed epoch ``epoch``'s metric and store the new state in ``optimizer``. True when the factor dropped."""
        reduced = self.tracker.step(value)
        if reduced:
            self.reductions.append(epoch)
        compat.store_state(optimizer, self.state())
        return reduced

    def sync(self, trainer) -> None:
        """DDP: every rank takes rank 0's state (only rank 0 has validation metrics).

        Called once per trained epoch at its on_fit_epoch_end, which every rank runs, so the collective never waits
        for a rank that will not come (final_eval's extra on_fit_epoch_end is skipped: a rank that has no best.pt,
        on another node, never runs it). Do not make it conditional on per-rank state.
        """
        if getattr(trainer, "world_size", 1) <= 1:
            return
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        box = [self.state() if compat.rank() == 0 else None]
        dist.broadcast_object_list(box, 0)
        self.load(box[0])
        compat.store_state(trainer.optimizer, box[0])

    # ---------------------------------------------------------------------------------------- metric checks
    def check_metric(self, trainer) -> None:
        """Before training: fail when the task never produces the watched metric."""
        name = self.settings.metric
        if name == "fitness" or name.startswith(("train/", "val/")):
            return  # loss names are only known after the first forward pass: checked then (check_loss_metric)
        from yolo_lr.tasks import ultralytics_constants

        main = ultralytics_constants()["TASK2METRIC"].get(trainer.args.task)
        if main is not None and main not in (trainer.metrics or {}):
            return  # this validator names its metrics only when it first runs (depth): checked then (value)
        known = [
            "fitness",
            *(trainer.metrics or {}),
            *(f"lr/pg{j}" for j in range(len(trainer.optimizer.param_groups))),
        ]
        if name not in known:
            raise _metric_error(name, known)

    def check_loss_metric(self, trainer) -> None:
        """After the first forward pass, when loss names exist: a train/ or val/ metric must be one of them."""
        name = self.settings.metric
        names = compat.loss_names(trainer)
        if names is not None and name.startswith(("train/", "val/")) and name not in names:
            raise _metric_error(name, ["fitness", *(trainer.metrics or {}), *names])


def _metric_error(name: str, known: list[str]) -> LRConfigError:
    near = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    return LRConfigError(
        f"yolo_lr: lr_plateau_metric={name!r} is not produced by this task.{hint} Available: {', '.join(known)}.",
        key="lr_plateau_metric",
    )
