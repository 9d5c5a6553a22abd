"""The LR of every param group at one optimizer step: warmup + policy + plateau + fine-tuning backbone rules.

Pure Python (no torch, no ultralytics). A training run builds one :class:`EpochPlan` per epoch and asks it for the
LRs of each optimizer step; the ``yolo-lr plot`` preview calls :func:`group_lrs` (the same code) for simulated steps,
so a preview and a real run share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from yolo_lr.config import LRSettings
from yolo_lr.ultralytics_compat import warmup_iterations

__all__ = ["EpochPlan", "Group", "group_lrs", "policy_time", "step_batches", "warmup_iterations"]


@dataclass(frozen=True)
class Group:
    """What the schedule needs to know about a param group."""

    name: str  # Ultralytics' param_group: weight, bn, bias, muon
    initial_lr: float  # the group's peak (effective base LR)
    backbone: bool = False  # a backbone part split off by the fine-tuning rules
    scale: float = 1.0  # the group's lr_scale (per-layer LR rules): its LR is the schedule's value times this
    bias_start: bool | None = (
        None  # warms up from warmup_bias_lr (None: when named bias, as in all but the first 8.4 releases)
    )

    @property
    def warms_from_bias(self) -> bool:
        return self.name == "bias" if self.bias_start is None else self.bias_start


def policy_time(settings: LRSettings, epoch: int, i: int, nb: int, epochs: float, nw: int = 0) -> tuple[float, float]:
    """The policy's time (in epochs) at batch ``i`` of ``epoch``, and the horizon it decays over.

    Per step (``lr_interval: step``) the run's time is ``epoch + i/nb`` and its last batch is at ``epochs - 1/nb``; per
    epoch they are Ultralytics' own (``lf(epoch)`` over ``epochs``). Unless ``settings.overlay``, the policy's clock
    starts when warmup ends (``nw`` batches in): time and horizon are counted from there, so warmup ramps to the
    policy's start value (the peak) and the last step still uses exactly lr0*lrf.
    """
    if settings.interval == "epoch":
        t, horizon = float(epoch), float(epochs)
    else:
        t, horizon = epoch + i / nb, max(epochs - 1 / nb, 1e-9)
    if nw and not settings.overlay:
        start = nw / nb
        return (t - start if t > start else 0.0), max(horizon - start, 1e-9)
    return t, horizon


class EpochPlan:
    """The LRs of the optimizer steps of one epoch. What is constant within the epoch is computed once, here.

    Args:
        settings: resolved plugin settings.
        groups: the optimizer's param groups, in order.
        epoch, nb: epoch index and batches per epoch.
        nw: warmup length in batches (Ultralytics' ``nw``); warmup covers batches ``ni <= nw``.
        epochs: length of the run in epochs.
        warmup_bias_lr: where ``bias`` groups start their warmup (Ultralytics' meaning).
        plateau_factor: the plateau reduction factor in force during this epoch.
        batch_factor: the factor ``lr_batch_scale`` puts on every peak for this epoch's batch (1: off).
    """

    __slots__ = (
        "_span",
        "_start",
        "_bb",
        "_bb_idx",
        "_epoch",
        "_horizon",
        "_m",
        "_nb",
        "_ni0",
        "_nw",
        "_peaks",
        "_pf",
        "_settings",
        "_starts",
        "_step_mode",
        "_warm_until",
    )

    def __init__(
        self,
        settings: LRSettings,
        groups: list[Group],
        *,
        epoch: int,
        nb: int,
        nw: int,
        epochs: float,
        warmup_bias_lr: float,
        plateau_factor: float = 1.0,
        batch_factor: float = 1.0,
    ) -> None:
        self._settings, self._epoch, self._nb, self._nw, self._pf = settings, epoch, nb, nw, plateau_factor
        self._ni0 = nb * epoch
        self._warm_until = nw if nw else -1  # warmup covers ni <= nw (none when nw == 0)
        # lr_scale and the batch factor (lr_batch_scale) folded into each peak: no per-step cost
        self._peaks = [g.initial_lr * g.scale * batch_factor for g in groups]
        start = settings.warmup.start
        self._starts = [(warmup_bias_lr if g.warms_from_bias else start * g.initial_lr) * g.scale for g in groups]
        self._step_mode = settings.interval != "epoch"
        _, self._horizon = policy_time(settings, epoch, 0, nb, epochs, nw)
        self._start = nw / nb if nw and not settings.overlay else 0.0  # where the policy's clock starts (epochs)
        # where the run ends on the policy's clock, one batch after its last step (per step only)
        self._span = self._horizon + 1 / nb if settings.interval != "epoch" else None
        self._m = None
        if not self._step_mode:
            t = float(epoch) - self._start if epoch > self._start else 0.0
            self._m = settings.multiplier(t, self._horizon, plateau_factor, self._span)
        self._bb_idx = [j for j, g in enumerate(groups) if g.backbone]
        ft = settings.finetune
        ramping = ft.unfreeze_epoch and ft.unfreeze_warmup > 0 and ft.unfreeze_epoch <= epoch
        ramping = ramping and epoch < ft.unfreeze_epoch + ft.unfreeze_warmup
        self._bb = None if ramping else ft.factor(epoch, float(epoch))  # None: recomputed at each step

    def lrs(self, i: int) -> list[float]:
        """LR of each group for the optimizer step taken at batch ``i`` of the epoch.

        Every group: ``lr_scale * initial_lr * policy * plateau`` (policy time from :func:`policy_time`), blended
        from the warmup start (also times ``lr_scale``) with the warmup shape while ``ni <= nw``. Backbone groups:
        times the freeze factor (0 while frozen, then the unfreeze ramp; its epochs count from the start of the run).
        """
        t = self._epoch + i / self._nb if self._step_mode else float(self._epoch)
        if self._m is not None:
            m = self._m
        else:
            m = self._settings.multiplier(
                t - self._start if t > self._start else 0.0, self._horizon, self._pf, self._span
            )
        ni = self._ni0 + i
        if ni <= self._warm_until:
            w = self._settings.warmup.weight(ni / self._nw)
            out = [s + (p * m - s) * w for p, s in zip(self._peaks, self._starts)]
        else:
            out = [p * m for p in self._peaks]
        if self._bb_idx:
            bb = self._bb if self._bb is not None else self._settings.finetune.factor(self._epoch, t)
            for j in self._bb_idx:
                out[j] *= bb
        return out

    def table(self) -> list[list[float]]:
        """The LRs of every batch of the epoch, ``table()[i] == lrs(i)`` (computed once, looked up per step)."""
        return [self.lrs(i) for i in range(self._nb)]

    def momenta(self, base: float) -> list[float] | None:
        """The policy's momentum at every batch of the epoch, or None when the policy leaves momentum alone."""
        if not self._settings.cycles_momentum:
            return None
        return [self.momentum(i, base) for i in range(self._nb)]

    def momentum(self, i: int, base: float) -> float | None:
        """The policy's momentum at batch ``i`` (one-cycle), or None when the policy leaves momentum alone."""
        s = self._settings
        if not s.cycles_momentum:
            return None
        t = self._epoch + i / self._nb if self._step_mode else float(self._epoch)
        return s.policy.momentum(t - self._start if t > self._start else 0.0, self._horizon, base)


def group_lrs(
    settings: LRSettings,
    groups: list[Group],
    *,
    epoch: int,
    i: int,
    nb: int,
    nw: int,
    epochs: float,
    warmup_bias_lr: float,
    plateau_factor: float = 1.0,
    batch_factor: float = 1.0,
) -> list[float]:
    """LR of each group for the optimizer step taken at batch ``i`` of ``epoch`` (see :class:`EpochPlan`)."""
    plan = EpochPlan(
        settings,
        groups,
        epoch=epoch,
        nb=nb,
        nw=nw,
        epochs=epochs,
        warmup_bias_lr=warmup_bias_lr,
        plateau_factor=plateau_factor,
        batch_factor=batch_factor,
    )
    return plan.lrs(i)


def step_batches(nb: int, epochs: int, nw: int, acc0: int) -> list[int]:
    """The batches (Ultralytics' ``ni``) at which a run takes an optimizer step: Ultralytics' cadence, a step whenever
    ``ni - last_step >= accumulate``, with ``accumulate`` ramped from 1 to ``acc0`` over the ``nw`` warmup batches.

    Args:
        nb: batches per epoch; epochs: the run's epochs; nw: warmup batches (0: none);
        acc0: the nominal accumulation, ``max(round(nbs / batch), 1)`` capped at the run's batches.
    """
    steps, last = [], -1
    for ni in range(nb * epochs):
        accumulate = max(1, int(round(1 + (acc0 - 1) * ni / nw))) if nw and ni <= nw else acc0
        if ni - last >= accumulate:
            steps.append(ni)
            last = ni
    return steps
