"""Learning-rate schedule shapes as pure functions of time.

A policy maps a fractional epoch ``t >= 0`` and the run length ``total > 0`` (in epochs) to a *multiplier* of the peak
learning rate (Ultralytics' ``lr0``): 1.0 means ``lr0`` and ``lrf`` (Ultralytics' final factor, ``0 < lrf <= 1``)
means the final LR ``lr0 * lrf``. ``total`` is passed on every call rather than fixed at construction because
Ultralytics' ``time=`` mode re-estimates the number of epochs mid-run.

Policies hold only their (validated, immutable) settings; they keep no state between calls, so the same ``(t, total)``
always gives the same value. Each setting is a dataclass field declared with :func:`yolo_lr.params.param`, which names
its ``lr_*`` key, range, default and help once. Defining a subclass with a ``name`` registers it in :data:`POLICIES`:
adding a policy is one class.

Warmup is not part of a policy: the caller blends towards the policy's value with :meth:`Warmup.weight`, and by
default starts the policy's clock when warmup ends (``t`` counts from there).

This module depends on the standard library only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from yolo_lr.params import Param, ParamError, check_fields, declared, param

__all__ = [
    "PARAMS",
    "POLICIES",
    "WARMUP_SHAPES",
    "WSD_SHAPES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Piecewise",
    "PiecewiseLinear",
    "Policy",
    "Poly",
    "Step",
    "Warmup",
    "WarmupStableDecay",
    "build_policy",
    "warmup_weight",
]

# Slack used where a float ratio lands on an integer boundary (t=2.0 with step 1.0 computed as 1.9999999999999998).
_EPS = 1e-9

WARMUP_SHAPES = ("linear", "cosine", "exponential", "quadratic")
"""Allowed values of ``lr_warmup_shape``."""

WSD_SHAPES = ("linear", "cosine", "sqrt")
"""Allowed values of ``lr_decay_shape`` (the decay phase of ``wsd``)."""

POLICIES: dict[str, type[Policy]] = {}
"""Policy name (a value of ``lr_policy``) -> class; filled by :meth:`Policy.__init_subclass__`, aliases included."""


def _progress(t: float, total: float) -> float:
    """Fraction of the run elapsed, ``clamp(t / total, 0, 1)``."""
    if not total > 0:
        raise ValueError(f"total (the run length in epochs) must be > 0, got {total!r}")
    return min(max(t / total, 0.0), 1.0)


def _check_total(total: float) -> None:
    if not total > 0:
        raise ValueError(f"total (the run length in epochs) must be > 0, got {total!r}")


def _cosine_interp(a: float, b: float, p: float) -> float:
    """Half-cosine from ``a`` (p=0) to ``b`` (p=1): ``b + (a - b) * (1 + cos(pi p)) / 2``.

    Evaluated in the form that is exact at the nearer endpoint, so p=0 returns ``a`` and p=1 returns ``b`` bit-exactly.
    """
    if p < 0.5:
        return a + (b - a) * (1.0 - math.cos(math.pi * p)) / 2.0
    return b + (a - b) * (1.0 + math.cos(math.pi * p)) / 2.0


def _check_lrf(value: Any) -> float:
    """Ultralytics' final LR factor: ``0 < lrf <= 1`` (a native key, checked here because every policy ends on it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamError("lrf", value, "must be a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise ParamError("lrf", value, "must be a number in (0, 1]: the final LR is lr0*lrf")
    return float(value)


# --------------------------------------------------------------------------------------------------------------- base
@dataclass(frozen=True, kw_only=True)
class Policy(ABC):
    """Base class of all schedule shapes.

    Subclasses are frozen keyword-only dataclasses; each field besides ``lrf`` is declared with
    :func:`~yolo_lr.params.param` and validated on construction.

    Attributes:
        name: Registry name of the policy (the value of ``lr_policy``).
        aliases: Other ``lr_policy`` values that select this class.
        lrf: Final multiplier (Ultralytics' ``lrf``), in (0, 1].
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    lrf: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            for n in (cls.name, *cls.aliases):
                POLICIES[n] = cls

    def __post_init__(self) -> None:
        object.__setattr__(self, "lrf", _check_lrf(self.lrf))
        check_fields(self)

    @abstractmethod
    def multiplier(self, t: float, total: float) -> float:
        """Multiplier of the peak LR at fractional epoch ``t``.

        Args:
            t: Time in epochs since the start of training (fractional, >= 0).
            total: Length of the run in epochs (> 0).

        Returns:
            The LR divided by ``lr0``.
        """

    def at(self, t: float, total: float, span: float | None = None) -> float:
        """:meth:`multiplier` for a run whose last step is at ``total`` and which ends, in epochs, at ``span``
        (per-step mode: one batch later). Only a policy whose shape is tied to whole epochs needs ``span``
        (:class:`CosineRestarts`); the others decay over ``total`` and land on ``lrf`` at the last step."""
        return self.multiplier(t, total)

    def momentum(self, t: float, total: float, base: float) -> float | None:
        """Momentum (or Adam beta1) to use at t, or None to leave the optimizer's momentum alone. Default None.

        Args:
            t: Time in epochs since the start of training.
            total: Length of the run in epochs.
            base: The optimizer's configured momentum.
        """
        return None

    @classmethod
    def cycles_momentum(cls) -> bool:
        """True when the policy also drives momentum (one-cycle)."""
        return cls.momentum is not Policy.momentum


# ----------------------------------------------------------------------------------------------------------- policies
@dataclass(frozen=True, kw_only=True)
class Linear(Policy):
    """Linear decay from 1 to ``lrf``; Ultralytics' native default.

    ``m(t) = max(1 - t / total, 0) * (1 - lrf) + lrf``
    """

    name: ClassVar[str] = "linear"

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        _check_total(total)
        # Same operation order as Ultralytics' lambda so the two agree bit for bit.
        return max(1.0 - max(t, 0.0) / total, 0.0) * (1.0 - self.lrf) + self.lrf


@dataclass(frozen=True, kw_only=True)
class Cosine(Policy):
    """Half-cosine decay from 1 to ``lrf`` (Ultralytics' ``cos_lr=True``, i.e. ``one_cycle(1, lrf, epochs)``).

    ``m(t) = lrf + (1 - lrf) * (1 + cos(pi * min(t, total) / total)) / 2``
    """

    name: ClassVar[str] = "cosine"

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return _cosine_interp(1.0, self.lrf, _progress(t, total))


@dataclass(frozen=True, kw_only=True)
class CosineRestarts(Policy):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle ``k`` (from 0) lasts ``T_k = period * mult**k`` epochs and starts at
    ``S_k = period * (mult**k - 1) / (mult - 1)`` (``period * k`` when ``mult == 1``). Within it, at local time
    ``tc = t - S_k``::

        peak_k = max(decay**k, lrf)
        m(t) = lrf + (peak_k - lrf) * (1 + cos(pi * tc / T_k)) / 2

    A restart instant belongs to the new cycle (value ``peak_k``), except at ``t >= total``, which is evaluated as the
    end of the cycle running at ``total``; with the default period the run therefore ends exactly at ``lrf``.
    """

    name: ClassVar[str] = "cosine_restarts"
    period: float | None = param(
        "lr_restart_period",
        "cosine_restarts: length of the first cycle in epochs",
        lo=0,
        lo_open=True,
        doc_default="three cycles fill the run",
        auto=lambda p, run: p.first_period(run["epochs"]),
    )
    mult: float = param("lr_restart_mult", "cosine_restarts: each cycle is this many times longer", default=1.0, lo=1)
    decay: float = param(
        "lr_restart_decay", "cosine_restarts: peak factor per restart", default=1.0, lo=0, hi=1, lo_open=True
    )

    def first_period(self, total: float) -> float:
        """Length of cycle 0 in epochs for a run of ``total`` epochs."""
        if self.period is not None:
            return self.period
        return total / (1.0 + self.mult + self.mult**2)

    def _locate(self, t: float, total: float) -> tuple[int, float, float]:
        """Return ``(k, tc, T_k)``: cycle index, time into the cycle and the cycle's length."""
        _check_total(total)
        at_end = t >= total
        t = min(max(t, 0.0), total)
        period, mult = self.first_period(total), self.mult
        # x = number of whole cycles elapsed (real-valued); its integer crossings are the restarts.
        x = t / period if mult == 1.0 else math.log1p(t / period * (mult - 1.0)) / math.log(mult)
        k = max(math.ceil(x - _EPS) - 1, 0) if at_end else math.floor(x + _EPS)
        if mult == 1.0:
            start, length = k * period, period
        else:
            start, length = period * (mult**k - 1.0) / (mult - 1.0), period * mult**k
        return k, min(max(t - start, 0.0), length), length

    def cycle(self, t: float, total: float) -> int:
        """Index (from 0) of the restart cycle that ``t`` falls in; handy for logging."""
        return self._locate(t, total)[0]

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        k, tc, length = self._locate(t, total)
        peak = max(self.decay**k, self.lrf)
        return _cosine_interp(peak, self.lrf, tc / length)

    def at(self, t: float, total: float, span: float | None = None) -> float:
        """With a fixed ``period`` whose cycles end exactly when the run does (``span``, in epochs), the last cycle
        anneals over its steps, to the last one (``total``), so the run ends at ``lrf``. Restarts stay on their
        epochs. A cycle cut off by the end of the run ends where it is."""
        if span is None or self.period is None or span <= total:
            return self.multiplier(t, total)
        k, tc, length = self._locate(t, total)
        start = min(max(t, 0.0), total) - tc
        if abs(start + length - span) > _EPS * max(1.0, span) or total - start <= 0:
            return self.multiplier(t, total)
        peak = max(self.decay**k, self.lrf)
        return _cosine_interp(peak, self.lrf, min(tc / (total - start), 1.0))


def default_step_size(total: float) -> int:
    """A third of the run, rounded to whole epochs (at least 1): stairs on epoch boundaries."""
    return max(1, round(total / 3.0))


def default_milestones(total: float) -> tuple[int, ...]:
    """Half and three quarters of the run, rounded to whole epochs (at least 1, duplicates dropped)."""
    return tuple(sorted({max(1, round(f * total)) for f in (0.5, 0.75)}))


GAMMA = Param(
    "lr_gamma",
    "step, multistep: factor per decay; exponential: decay per epoch",
    lo=0,
    hi=1,
    lo_open=True,
    hi_open=True,
)
"""``lr_gamma``: one key shared by three policies, each with its own default."""

MILESTONES = Param(
    "lr_milestones",
    "multistep: epochs where the LR is multiplied by lr_gamma; piecewise, piecewise_linear: epochs where the "
    "multiplier lr_factors[i] is reached",
    "epochs",
)
"""``lr_milestones``: shared by multistep and the piecewise policies."""

FACTORS = Param(
    "lr_factors",
    "piecewise, piecewise_linear: multiplier of lr0 at each of lr_milestones (may exceed 1)",
    "factors",
)
"""``lr_factors``: one multiplier per milestone of the piecewise policies."""


@dataclass(frozen=True, kw_only=True)
class Step(Policy):
    """Step decay: multiply by ``gamma`` every ``step_size`` epochs, never below ``lrf``.

    ``m(t) = max(gamma ** floor(t / step_size), lrf)``
    """

    name: ClassVar[str] = "step"
    step_size: float | None = param(
        "lr_step_size",
        "step: epochs between decays",
        lo=0,
        lo_open=True,
        doc_default="a third of the run, in whole epochs",
        auto=lambda p, run: default_step_size(run["epochs"]),
    )
    gamma: float = GAMMA.field(0.1)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        _check_total(total)
        size = self.step_size if self.step_size is not None else default_step_size(total)
        return max(self.gamma ** math.floor(max(t, 0.0) / size + _EPS), self.lrf)


@dataclass(frozen=True, kw_only=True)
class MultiStep(Policy):
    """Decay by ``gamma`` at each milestone epoch, never below ``lrf``.

    ``m(t) = max(gamma ** #{m in milestones : m <= t}, lrf)``
    """

    name: ClassVar[str] = "multistep"
    milestones: tuple[float, ...] | None = MILESTONES.field(None, "half and three quarters of the run, in whole epochs")
    gamma: float = GAMMA.field(0.1)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        _check_total(total)
        ms = self.milestones if self.milestones is not None else default_milestones(total)
        passed = sum(1 for m in ms if t + _EPS * max(1.0, m) >= m)
        return max(self.gamma**passed, self.lrf)


@dataclass(frozen=True, kw_only=True)
class Exponential(Policy):
    """Exponential decay.

    ``gamma`` None: ``m(t) = lrf ** (min(t, total) / total)``, reaching ``lrf`` exactly at the end of the run.
    ``gamma`` given: ``m(t) = max(gamma ** t, lrf)`` (``gamma`` is the decay per epoch).
    """

    name: ClassVar[str] = "exponential"
    gamma: float | None = GAMMA.field(
        None, "reach lrf at the end of the run", auto=lambda p, run: p.lrf ** (1.0 / run["epochs"])
    )

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        p = _progress(t, total)
        if self.gamma is None:
            return self.lrf**p
        return max(self.gamma ** max(t, 0.0), self.lrf)


@dataclass(frozen=True, kw_only=True)
class _Points(Policy):
    """A curve through given points: ``(0, 1)`` then ``(milestones[i], factors[i])``; both lists are required and
    have the same length. ``lrf`` is not used: the factors say where the LR goes, and they may exceed 1."""

    milestones: tuple[float, ...] | None = MILESTONES.field(None, "required")
    factors: tuple[float, ...] | None = FACTORS.field(None, "required")

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, value in (("lr_milestones", self.milestones), ("lr_factors", self.factors)):
            if value is None:
                raise ParamError(key, value, f"is required by lr_policy={self.name} (with lr_milestones/lr_factors)")
        if len(self.factors) != len(self.milestones):
            raise ParamError(
                "lr_factors",
                list(self.factors),
                f"must have one factor per milestone: lr_milestones has {len(self.milestones)}, "
                f"lr_factors {len(self.factors)}",
            )


@dataclass(frozen=True, kw_only=True)
class Piecewise(_Points):
    """Stairs with free levels: the multiplier is 1 until ``milestones[0]``, then ``factors[i]`` from
    ``milestones[i]`` on (absolute multipliers of lr0, not cumulative; a factor > 1 raises the LR).

    ``m(t) = factors[k - 1]`` with ``k = #{m in milestones : m <= t}`` (1 when k = 0)
    """

    name: ClassVar[str] = "piecewise"

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        _check_total(total)
        passed = sum(1 for m in self.milestones if t + _EPS * max(1.0, m) >= m)
        return self.factors[passed - 1] if passed else 1.0


@dataclass(frozen=True, kw_only=True)
class PiecewiseLinear(_Points):
    """Straight lines through ``(0, 1)`` and each ``(milestones[i], factors[i])``, held after the last point.

    A point at or past ``total`` is placed at ``total`` (the run's last step): ``lr_milestones=[.., epochs]``
    reaches its factor exactly on the last optimizer step.
    """

    name: ClassVar[str] = "piecewise_linear"

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        _check_total(total)
        t = max(t, 0.0)
        x0, y0 = 0.0, 1.0
        for m, f in zip(self.milestones, self.factors):
            x1 = min(m, total)
            if t < x1:  # here x0 <= t < x1
                return y0 + (f - y0) * (t - x0) / (x1 - x0)
            x0, y0 = x1, f
        return y0


@dataclass(frozen=True, kw_only=True)
class Poly(Policy):
    """Polynomial decay.

    ``m(t) = lrf + (1 - lrf) * (1 - min(t, total) / total) ** power``
    """

    name: ClassVar[str] = "poly"
    power: float = param("lr_power", "poly: exponent (1 is linear)", default=0.9, lo=0, lo_open=True)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return self.lrf + (1.0 - self.lrf) * (1.0 - _progress(t, total)) ** self.power


MOMENTUM_MIN = Param(
    "lr_momentum_min",
    "onecycle, cyclic: momentum (or Adam beta1) at the LR peak",
    lo=0,
    hi=1,
    lo_open=True,
    hi_open=True,
)
"""``lr_momentum_min``: shared by the policies that cycle momentum inversely to the LR."""

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
"""Allowed values of ``lr_cyclic_mode`` (as ``torch.optim.lr_scheduler.CyclicLR``'s ``mode``)."""


@dataclass(frozen=True, kw_only=True)
class OneCycle(Policy):
    """Leslie Smith's one-cycle policy (as ``torch.optim.lr_scheduler.OneCycleLR``, cos annealing, two phases).

    With ``tp = pct * total``::

        t <= tp:  m(t) = 1 + (1/div - 1) * (1 + cos(pi * t / tp)) / 2                 # 1/div -> 1
        t >  tp:  m(t) = lrf + (1 - lrf) * (1 + cos(pi * (t - tp) / (total - tp))) / 2  # 1 -> lrf

    Momentum moves the opposite way, from ``base`` (the optimizer's configured momentum, the maximum) down to
    ``momentum_min`` at ``tp`` and back up to ``base`` at ``total``, with the same half-cosines.
    """

    name: ClassVar[str] = "onecycle"
    pct: float = param(
        "lr_onecycle_pct",
        "onecycle: fraction of the run spent rising",
        default=0.3,
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
    )
    div: float = param("lr_onecycle_div", "onecycle: the LR starts at peak / this", default=25.0, lo=1)
    momentum_min: float = MOMENTUM_MIN.field(0.85)

    def _phase(self, t: float, total: float) -> tuple[int, float]:
        """Return ``(phase, progress within it)``: phase 0 is the rise, phase 1 the anneal."""
        p = _progress(t, total)
        if p <= self.pct:
            return 0, p / self.pct
        return 1, (p - self.pct) / (1.0 - self.pct)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        phase, q = self._phase(t, total)
        if phase == 0:
            return _cosine_interp(1.0 / self.div, 1.0, q)
        return _cosine_interp(1.0, self.lrf, q)

    def momentum(self, t: float, total: float, base: float) -> float | None:
        """Momentum cycled inversely to the LR: ``base`` -> ``momentum_min`` (at the LR peak) -> ``base``."""
        phase, q = self._phase(t, total)
        if phase == 0:
            return _cosine_interp(base, self.momentum_min, q)
        return _cosine_interp(self.momentum_min, base, q)


@dataclass(frozen=True, kw_only=True)
class Cyclic(Policy):
    """Cyclical LR (Smith 2017; ``torch.optim.lr_scheduler.CyclicLR``): triangles between the floor ``lrf`` and 1.

    Each cycle rises for ``up`` epochs and falls for ``down`` (default ``up``). With ``c = up + down``, cycle
    ``k = floor(t / c)`` and ``x = t / c - k``, ``r = up / c``::

        s(t) = x / r                  if x <= r   (rising)
               (x - 1) / (r - 1)      otherwise   (falling)
        m(t) = lrf + (1 - lrf) * s(t) * scale
        scale: triangular 1 | triangular2 1 / 2**k | exp_range exp_gamma**t

    Momentum moves the opposite way, between ``base`` (the optimizer's momentum, at the floor) and ``momentum_min``
    (at the peak): ``base - (base - momentum_min) * s(t) * scale``. PyTorch's ``step_size_up`` is ``up * nb`` and its
    ``gamma`` per iteration is ``exp_gamma ** (1 / nb)``. Time past the run's end is the end. The run ends wherever
    the last cycle is, not at ``lrf``, unless whole cycles fill it (the default: two).
    """

    name: ClassVar[str] = "cyclic"
    up: float | None = param(
        "lr_cyclic_up",
        "cyclic: epochs of each rise from lr0*lrf to lr0",
        lo=0,
        lo_open=True,
        doc_default="a quarter of the run (two full cycles)",
        auto=lambda p, run: run["epochs"] / 4.0,
    )
    down: float | None = param(
        "lr_cyclic_down",
        "cyclic: epochs of each fall back",
        lo=0,
        lo_open=True,
        doc_default="lr_cyclic_up",
        auto=lambda p, run: p.up if p.up is not None else run["epochs"] / 4.0,
    )
    mode: str = param("lr_cyclic_mode", "cyclic: cycle amplitude", "choice", default="triangular", choices=CYCLIC_MODES)
    exp_gamma: float = param(
        "lr_cyclic_gamma", "cyclic exp_range: amplitude factor per epoch", default=0.9, lo=0, hi=1, lo_open=True
    )
    momentum_min: float = MOMENTUM_MIN.field(0.85)

    def _shape(self, t: float, total: float) -> float:
        """``s(t) * scale``: where in its cycle ``t`` is, times the mode's amplitude."""
        _check_total(total)
        t = min(max(t, 0.0), total)
        up = self.up if self.up is not None else total / 4.0
        down = self.down if self.down is not None else up
        c = up + down
        k = math.floor(t / c + _EPS)
        x = max(t / c - k, 0.0)
        r = up / c
        s = x / r if x <= r else (x - 1.0) / (r - 1.0)
        if self.mode == "triangular2":
            return s / 2.0**k
        if self.mode == "exp_range":
            return s * self.exp_gamma**t
        return s

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return self.lrf + (1.0 - self.lrf) * self._shape(t, total)

    def momentum(self, t: float, total: float, base: float) -> float | None:
        """Momentum cycled inversely to the LR: ``base`` at the floor, ``momentum_min`` at the peak."""
        return base - (base - self.momentum_min) * self._shape(t, total)


@dataclass(frozen=True, kw_only=True)
class WarmupStableDecay(Policy):
    """Warmup-stable-decay (trapezoidal) schedule; the warmup itself is applied by the caller.

    With ``t0 = (1 - decay_frac) * total`` and decay progress ``p = clamp((t - t0) / (decay_frac * total), 0, 1)``::

        m(t) = lrf + (1 - lrf) * shape(p)
        shape: linear 1 - p | cosine (1 + cos(pi p)) / 2 | sqrt 1 - sqrt(p)
    """

    name: ClassVar[str] = "wsd"
    decay_frac: float = param(
        "lr_decay_frac", "wsd: fraction of the run spent decaying", default=0.2, lo=0, hi=1, lo_open=True
    )
    decay_shape: str = param("lr_decay_shape", "wsd: decay shape", "choice", default="linear", choices=WSD_SHAPES)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        u = _progress(t, total)
        p = min(max((u - (1.0 - self.decay_frac)) / self.decay_frac, 0.0), 1.0)
        if self.decay_shape == "cosine":
            return _cosine_interp(1.0, self.lrf, p)
        shape = 1.0 - p if self.decay_shape == "linear" else 1.0 - math.sqrt(p)
        return self.lrf + (1.0 - self.lrf) * shape


@dataclass(frozen=True, kw_only=True)
class Constant(Policy):
    """Constant peak LR: ``m(t) = 1``. ``lr_policy=plateau`` is this curve with plateau reduction switched on."""

    name: ClassVar[str] = "constant"
    aliases: ClassVar[tuple[str, ...]] = ("plateau",)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return 1.0


# ----------------------------------------------------------------------------------------------------------- registry
PARAMS: dict[str, tuple[str, ...]] = {name: tuple(d.name for d in declared(cls)) for name, cls in POLICIES.items()}
"""Policy name -> the constructor kwargs it accepts besides ``lrf``."""


def build_policy(name: str, lrf: float, **params: Any) -> Policy:
    """Build a policy by registry name.

    Args:
        name: One of :data:`POLICIES`.
        lrf: Final LR factor, in (0, 1].
        **params: Policy kwargs (see :data:`PARAMS`). A value of None means "use the default".

    Returns:
        The policy instance.

    Raises:
        ValueError: Unknown name or a parameter the policy does not take.
        ParamError: ``lrf`` or a parameter out of range (``err.key`` names the config key).
    """
    cls = POLICIES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown lr policy {name!r}; allowed: {', '.join(POLICIES)}")
    allowed = PARAMS[name]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for lr policy {name!r}; allowed: {', '.join(allowed) or 'none'}"
        )
    return cls(lrf=lrf, **{k: v for k, v in params.items() if v is not None})


# ------------------------------------------------------------------------------------------------------------- warmup
@dataclass(frozen=True, kw_only=True)
class Warmup:
    """How the LR ramps up over Ultralytics' warmup (its length is Ultralytics' ``warmup_epochs``), and whether the
    policy's clock starts when warmup ends (warmup ramps to exactly the peak) or at step 0 (``overlay``)."""

    shape: str = param("lr_warmup_shape", "warmup ramp shape", "choice", default="linear", choices=WARMUP_SHAPES)
    start: float = param(
        "lr_warmup_start",
        "warmup start as a fraction of the peak (bias groups start at warmup_bias_lr)",
        default=0.0,
        lo=0,
        hi=1,
    )
    overlay: bool | None = param(
        "lr_warmup_overlay",
        "true: Ultralytics' overlay, the policy's clock starts at step 0 and warmup blends into its already decayed "
        "value; false: the policy starts when warmup ends, so warmup ramps to exactly lr0",
        "flag",
        doc_default="false (true with lr_interval=epoch, which reproduces Ultralytics)",
    )

    def __post_init__(self) -> None:
        check_fields(self)

    def weight(self, u: float) -> float:
        """Blend weight at warmup progress ``u`` (see :func:`warmup_weight`)."""
        return warmup_weight(u, self.shape)


def warmup_weight(u: float, shape: str) -> float:
    """Warmup blend weight at progress ``u`` through the warmup.

    The caller computes ``lr = start + (target - start) * warmup_weight(u, shape)``. ``u`` is clamped to [0, 1]; every
    shape is monotonic with ``w(0) = 0`` and ``w(1) = 1``::

        linear       w = u
        cosine       w = (1 - cos(pi u)) / 2
        quadratic    w = u ** 2
        exponential  w = (1 - exp(-5 u)) / (1 - exp(-5))      # fast early rise

    Args:
        u: Warmup progress (iterations done / warmup iterations).
        shape: One of :data:`WARMUP_SHAPES` (``lr_warmup_shape``).

    Returns:
        The weight in [0, 1].

    Raises:
        ValueError: Unknown shape.
    """
    if shape not in WARMUP_SHAPES:
        raise ValueError(f"lr_warmup_shape must be one of {', '.join(WARMUP_SHAPES)}; got {shape!r}")
    if not u > 0.0:  # also maps NaN to the start
        return 0.0
    if u >= 1.0:
        return 1.0
    if shape == "linear":
        return u
    if shape == "cosine":
        return (1.0 - math.cos(math.pi * u)) / 2.0
    if shape == "quadratic":
        return u * u
    return -math.expm1(-5.0 * u) / -math.expm1(-5.0)
