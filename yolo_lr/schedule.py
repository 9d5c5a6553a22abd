"""The LR of every param group at one optimizer step: warmup + policy + plateau + fine-tuning backbone rules.

Pure Python (no torch, no ultralytics). The trainer adapter calls :func:`group_lrs` right before each optimizer step
and the ``yolo-lr plot`` preview calls it for simulated steps, so a preview and a real run share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from yolo_lr.config import LRSettings
from yolo_lr.policies import warmup_weight


@dataclass(frozen=True)
class Group:
    """What the schedule needs to know about a param group."""

    name: str  # Ultralytics' param_group: weight, bn, bias, muon
    initial_lr: float  # the group's peak (effective base LR)
    backbone: bool = False  # a backbone part split off by the fine-tuning rules


def warmup_iterations(warmup_epochs: float, epochs: int, nb: int) -> int:
    """Ultralytics' warmup length in batches: at least the final epoch stays out of warmup."""
    we = min(warmup_epochs, max(epochs - 1, 0))
    return round(we * nb) if we > 0 else 0


def policy_time(settings: LRSettings, epoch: int, i: int, nb: int, epochs: float) -> tuple[float, float]:
    """Policy time (fractional epoch) of batch ``i`` of ``epoch`` and the horizon the policy decays over.

    Per step (``lr_interval: step``) the horizon is the time of the run's last batch, so the final step uses exactly
    lr0*lrf. Per epoch, time and horizon are Ultralytics' own: ``lf(epoch)`` over ``epochs``.
    """
    if settings.interval == "epoch":
        return float(epoch), float(epochs)
    return epoch + i / nb, max(epochs - 1 / nb, 1e-9)


def backbone_factor(settings: LRSettings, epoch: int, t: float) -> float:
    """Multiplier of a backbone group's LR relative to its head group: 0 while frozen, then ramps to the scale."""
    scale = settings.backbone_scale
    unfreeze = settings.unfreeze_epoch
    if unfreeze is None or unfreeze <= 0:
        return scale
    if epoch < unfreeze:
        return 0.0
    ramp = settings.unfreeze_warmup
    return scale * (min(1.0, (t - unfreeze) / ramp) if ramp > 0 else 1.0)


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
) -> list[float]:
    """LR of each group for the optimizer step taken at batch ``i`` of ``epoch``.

    Args:
        settings: resolved plugin settings.
        groups: the optimizer's param groups, in order.
        epoch, i, nb: epoch index, batch index inside the epoch, batches per epoch.
        nw: warmup length in batches (Ultralytics' ``nw``); warmup covers batches ``ni <= nw``.
        epochs: length of the run in epochs.
        warmup_bias_lr: where ``bias`` groups start their warmup (Ultralytics' meaning).
        plateau_factor: current plateau reduction factor.

    Returns:
        One LR per group. Head groups: ``initial_lr * policy * plateau``, blended from the warmup start with the
        warmup shape while ``ni <= nw``. Backbone groups: their head value times :func:`backbone_factor`.
    """
    t, horizon = policy_time(settings, epoch, i, nb, epochs)
    mult = settings.multiplier(t, horizon, plateau_factor)
    ni = i + nb * epoch
    warm = bool(nw) and ni <= nw
    w = warmup_weight(ni / nw, settings.warmup_shape) if warm else 1.0
    bb = backbone_factor(settings, epoch, t) if any(g.backbone for g in groups) else 1.0
    out = []
    for g in groups:
        lr = g.initial_lr * mult
        if warm:
            start = warmup_bias_lr if g.name == "bias" else settings.warmup_start * g.initial_lr
            lr = start + (lr - start) * w
        out.append(lr * bb if g.backbone else lr)
    return out
