"""The LR follows the batch: a factor on every group's peak from the images per optimizer step. Pure Python.

The images one optimizer step sees are ``batch x accumulate`` (Ultralytics' ``batch`` is the total over DDP ranks and
``accumulate = max(round(nbs / batch), 1)``). Relative to a reference (``lr_batch_ref``, default Ultralytics' ``nbs``)
that is ``k = images / ref``, and a rule says how the *effective* update should follow it:

- ``linear``: the update grows like ``k`` (Goyal et al. 2017, for SGD);
- ``sqrt``: like ``sqrt(k)`` (Malladi et al. 2022, for Adam-family optimizers);
- ``auto``: ``linear`` for SGD-family optimizers (SGD, MuSGD), ``sqrt`` for adaptive ones (Adam, AdamW, NAdam, RAdam,
  Adamax, RMSProp).

What the optimizer already does is accounted for, so nothing is counted twice. Ultralytics' losses are *summed* over
the images of a step, so an SGD-family step already grows like ``k`` at a fixed LR: the LR factor is
``rule(k) / k`` (1 for ``linear``). An adaptive optimizer divides the sum away: its factor is ``rule(k)`` itself.
(Gradient clipping at norm 10 can cap large steps either way.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from yolo_lr.params import check_fields, param

RULES = ("off", "linear", "sqrt", "auto")
ADAPTIVE = {"adam", "adamw", "adamax", "nadam", "radam", "rmsprop"}  # scale-invariant to the summed loss


@dataclass(frozen=True, kw_only=True)
class BatchScaling:
    """How the peak LR follows the images per optimizer step."""

    rule: str = param(
        "lr_batch_scale",
        "make the LR follow the images per optimizer step (batch x accumulate) relative to lr_batch_ref: the effective "
        "update grows like k (linear) or sqrt(k) (sqrt); auto: linear for SGD/MuSGD, sqrt for Adam-family",
        "choice",
        default="off",
        choices=RULES,
    )
    ref: float | None = param(
        "lr_batch_ref",
        "lr_batch_scale: the images per optimizer step lr0 is meant for",
        lo=0,
        lo_open=True,
        doc_default="nbs (Ultralytics' nominal batch, 64)",
        auto=lambda p, run: run["nbs"],
    )

    def __post_init__(self) -> None:
        check_fields(self)

    def factor(self, optimizer: str, images: float, nbs: float) -> tuple[float, str]:
        """The factor on every group's peak, and a line saying how it was found.

        Args:
            optimizer: the optimizer's class name (``SGD``, ``AdamW``, ...), after ``optimizer=auto`` resolved.
            images: images per optimizer step (``batch * accumulate``).
            nbs: Ultralytics' nominal batch size (the default reference).
        """
        if self.rule == "off":
            return 1.0, "off"
        ref = self.ref if self.ref is not None else nbs
        k = images / ref
        adaptive = optimizer.lower() in ADAPTIVE
        rule = self.rule if self.rule != "auto" else ("sqrt" if adaptive else "linear")
        target = k if rule == "linear" else math.sqrt(k)
        f = target if adaptive else target / k
        does = "divides the summed loss away" if adaptive else "steps on the summed loss"
        why = (
            f"{rule}{' (auto)' if self.rule == 'auto' else ''}: {images:g} images per optimizer step / reference "
            f"{ref:g} = {k:.4g}; {optimizer} {does}, so lr x{f:.4g}"
        )
        return f, why
