"""Reduce-on-plateau as a pure state machine on an LR factor.

:class:`Plateau` makes exactly the decisions of ``torch.optim.lr_scheduler.ReduceLROnPlateau`` on an optimizer whose
LR is 1.0, but it owns no optimizer: it only tracks a multiplier (``factor``) that the caller applies on top of the
schedule. Being plain data, its state saves to JSON and resumes mid-patience without changing any later decision.
Its settings, and the ``lr_plateau*`` keys that set them, are declared once in :class:`PlateauSettings`.

This module depends on the standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from yolo_lr.params import check_fields, param

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "MODES",
    "THRESHOLD_MODES",
    "Plateau",
    "PlateauSettings",
    "infer_mode",
]

MODES = ("min", "max")
"""Allowed values of ``lr_plateau_mode``."""

THRESHOLD_MODES = ("rel", "abs")
"""Allowed values of ``lr_plateau_threshold_mode``."""

_RULE = ("mode", "factor", "patience", "cooldown", "threshold", "threshold_mode", "min_factor")
_COUNTERS = ("best", "num_bad_epochs", "cooldown_counter", "factor", "last_epoch")


# Name fragments (lower case) that say which way a metric is better. Lower-is-better wins when both match
# ("val/dice_loss"), so a loss is never maximised.
LOWER_IS_BETTER = ("loss", "err", "rmse", "mse", "mae", "abs_rel", "sq_rel", "silog")
HIGHER_IS_BETTER = ("fitness", "map", "precision", "recall", "acc", "top1", "top5", "iou", "delta", "f1", "dice")


def infer_mode(metric_name: str) -> str:
    """Whether a metric should be minimised or maximised, judged by its name.

    Args:
        metric_name: e.g. ``"metrics/mAP50-95(B)"``, ``"fitness"``, ``"val/box_loss"`` or ``"metrics/abs_rel"``.

    Returns:
        ``"min"`` if the name contains one of :data:`LOWER_IS_BETTER` (loss, err/error, rmse, mse, mae, abs_rel,
        sq_rel, silog; case-insensitive), else ``"max"`` if it contains one of :data:`HIGHER_IS_BETTER` (fitness,
        mAP, precision, recall, acc/accuracy, top1/top5, IoU, delta, f1, dice).

    Raises:
        ValueError: the name says neither (e.g. ``lr/pg0``, ``time`` or a custom column): the caller must be told.
    """
    name = metric_name.lower()
    if any(k in name for k in LOWER_IS_BETTER):
        return "min"
    if any(k in name for k in HIGHER_IS_BETTER):
        return "max"
    raise ValueError(
        f"cannot tell from the name {metric_name!r} whether higher or lower is better (names with "
        f"{', '.join(LOWER_IS_BETTER)} are minimised; names with {', '.join(HIGHER_IS_BETTER)} are maximised)"
    )


@dataclass(frozen=True, kw_only=True)
class PlateauSettings:
    """Plateau reduction: when it is on, what it watches and how it decides (as ``ReduceLROnPlateau``).

    ``mode`` None is inferred from the metric name (:func:`infer_mode`); ``min_factor`` None means no floor here (the
    training config resolves it to ``lrf``).
    """

    on: bool = param(
        "lr_plateau",
        "reduce the LR when the watched metric stops improving, on top of any policy",
        "flag",
        default=False,
        doc_default="false (true with lr_policy=plateau)",
        unset=False,
    )
    metric: str = param(
        "lr_plateau_metric",
        "metric watched for plateaus: fitness or any results.csv column",
        "name",
        default="fitness",
    )
    mode: str | None = param(
        "lr_plateau_mode",
        "min: lower values of the metric are better; max: higher are better",
        "choice",
        choices=MODES,
        doc_default=(
            "from the name: min for loss/err/rmse/mse/mae/abs_rel/sq_rel/silog, max for "
            "fitness/mAP/precision/recall/acc/top1/top5/IoU/delta/f1/dice; other names must set it"
        ),
    )
    factor: float = param(
        "lr_plateau_factor",
        "multiply the LR by this on a plateau",
        default=0.1,
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
    )
    patience: int = param(
        "lr_plateau_patience", "epochs without improvement tolerated before a reduction", "integer", default=10, lo=0
    )
    cooldown: int = param(
        "lr_plateau_cooldown",
        "epochs after a reduction during which bad epochs are not counted",
        "integer",
        default=0,
        lo=0,
    )
    threshold: float = param(
        "lr_plateau_threshold", "smallest change that counts as an improvement", default=1e-4, lo=0
    )
    threshold_mode: str = param(
        "lr_plateau_threshold_mode",
        "threshold relative to the best value (rel) or absolute (abs)",
        "choice",
        default="rel",
        choices=THRESHOLD_MODES,
    )
    min_factor: float | None = param(
        "lr_plateau_min_factor",
        "floor of plateau reductions, as a fraction of the peak",
        lo=0,
        hi=1,
        doc_default="lrf",
        auto=lambda p, run: run["lrf"],
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.mode is None:
            object.__setattr__(self, "mode", infer_mode(self.metric))

    def tracker(self) -> Plateau:
        """A fresh state machine with these settings."""
        return Plateau(**{k: getattr(self, k) for k in _RULE})


class Plateau:
    """Multiply a factor by ``factor`` when a metric stops improving (torch's ReduceLROnPlateau on a bare number).

    Per :meth:`step` with value ``v`` (all as in torch)::

        improved = v > best * (1 + threshold)   # mode max, rel    | v > best + threshold   # max, abs
                   v < best * (1 - threshold)   # mode min, rel    | v < best - threshold   # min, abs
        if improved: best = v; num_bad = 0  else: num_bad += 1
        if cooldown_counter > 0: cooldown_counter -= 1; num_bad = 0
        if num_bad > patience:
            new = max(self.factor * factor, min_factor)
            if self.factor - new > eps: self.factor = new
            cooldown_counter = cooldown; num_bad = 0

    ``best`` starts at -inf (max) or +inf (min). Unlike torch, a NaN or infinite value is never an improvement (it
    counts as a bad epoch), so one diverged validation cannot become an unbeatable ``best``.

    Args:
        eps: Reductions smaller than this are skipped (torch's ``eps``).
        **settings: :class:`PlateauSettings` fields (``mode``, ``factor``, ``patience``, ``cooldown``,
            ``threshold``, ``threshold_mode``, ``min_factor``); unset ones take its defaults.

    Attributes:
        factor: Current multiplier, starting at 1.0.
        best: Best value seen so far (±inf before the first finite value).
        num_bad_epochs: Consecutive steps without improvement (reset by cooldown and by reductions).
        cooldown_counter: Steps of cooldown left.
        last_epoch: Number of :meth:`step` calls so far.
    """

    def __init__(self, *, eps: float = 1e-8, **settings: Any) -> None:
        self._configure(eps=eps, **settings)
        self.factor = 1.0
        self.best = self._worst()
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _configure(self, *, eps: float = 1e-8, **settings: Any) -> None:
        """Validate and store the settings."""
        rule = PlateauSettings(**settings)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0.0:
            raise ValueError(f"eps must be a number >= 0, got {eps!r}")
        self.mode = rule.mode
        self.reduce_factor = rule.factor
        self.patience = rule.patience
        self.cooldown = rule.cooldown
        self.threshold = rule.threshold
        self.threshold_mode = rule.threshold_mode
        self.min_factor = 0.0 if rule.min_factor is None else rule.min_factor
        self.eps = float(eps)

    def _worst(self) -> float:
        """Initial ``best``: the worst possible value for the mode."""
        return -math.inf if self.mode == "max" else math.inf

    @property
    def in_cooldown(self) -> bool:
        """True while reductions are suspended after the last one."""
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold (always False for NaN/±inf ``value``)."""
        value = float(value)
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def step(self, value: float) -> bool:
        """Feed one epoch's metric.

        Args:
            value: The watched metric (a NaN or infinite value counts as no improvement).

        Returns:
            True iff the factor was reduced by this call.
        """
        value = float(value)
        self.last_epoch += 1
        if self.is_better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown are ignored
        if self.num_bad_epochs <= self.patience:
            return False
        self.cooldown_counter = self.cooldown
        self.num_bad_epochs = 0
        new = max(self.factor * self.reduce_factor, self.min_factor)
        if self.factor - new > self.eps:
            self.factor = new
            return True
        return False

    def settings(self) -> dict[str, Any]:
        """Constructor kwargs that reproduce these settings."""
        return {
            "mode": self.mode,
            "factor": self.reduce_factor,
            "patience": self.patience,
            "cooldown": self.cooldown,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "min_factor": self.min_factor,
            "eps": self.eps,
        }

    def state_dict(self) -> dict[str, Any]:
        """Full state as strict JSON-serialisable data.

        Returns:
            ``{"best", "num_bad_epochs", "cooldown_counter", "factor", "last_epoch", "settings"}`` where ``settings``
            holds the constructor kwargs and ``best`` is None while no finite value has been seen (so the dict never
            contains ±inf and survives ``json.dumps(..., allow_nan=False)``).
        """
        return {
            "best": self.best if math.isfinite(self.best) else None,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "factor": self.factor,
            "last_epoch": self.last_epoch,
            "settings": self.settings(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` (settings included, as torch does).

        Raises:
            ValueError: Missing keys or invalid settings.
        """
        missing = [k for k in (*_COUNTERS, "settings") if k not in state]
        if missing:
            raise ValueError(f"plateau state is missing {', '.join(missing)}")
        self._configure(**state["settings"])
        best = state["best"]
        self.best = self._worst() if best is None else float(best)
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.factor = float(state["factor"])
        self.last_epoch = int(state["last_epoch"])

    def __repr__(self) -> str:
        """Compact description for logs."""
        return (
            f"Plateau(mode={self.mode!r}, factor={self.factor:g}, best={self.best:g}, "
            f"num_bad_epochs={self.num_bad_epochs}, cooldown_counter={self.cooldown_counter}, "
            f"settings={self.settings()})"
        )
