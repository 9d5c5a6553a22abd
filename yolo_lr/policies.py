"""Learning-rate schedule shapes as pure functions of time.

A policy maps a fractional epoch ``t >= 0`` and the run length ``total > 0`` (in epochs) to a *multiplier* of the peak
learning rate (Ultralytics' ``lr0``): 1.0 means ``lr0`` and ``lrf`` (Ultralytics' final factor, ``0 < lrf <= 1``)
means the final LR ``lr0 * lrf``. ``total`` is passed on every call rather than fixed at construction because
Ultralytics' ``time=`` mode re-estimates the number of epochs mid-run.

Policies hold only their (validated, immutable) settings; they keep no state between calls, so the same ``(t, total)``
always gives the same value. Warmup is not part of a policy: the caller blends towards the policy's value with
:func:`warmup_weight`.

This module depends on the standard library only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from numbers import Real
from typing import Any, ClassVar

__all__ = [
    "PARAMS",
    "PARAM_KEYS",
    "POLICIES",
    "WARMUP_SHAPES",
    "WSD_SHAPES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Exponential",
    "Linear",
    "MultiStep",
    "OneCycle",
    "PlateauPolicy",
    "Policy",
    "Poly",
    "Step",
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

PARAM_KEYS = {
    "period": "lr_restart_period",
    "mult": "lr_restart_mult",
    "decay": "lr_restart_decay",
    "step_size": "lr_step_size",
    "gamma": "lr_gamma",
    "milestones": "lr_milestones",
    "power": "lr_power",
    "pct": "lr_onecycle_pct",
    "div": "lr_onecycle_div",
    "momentum_min": "lr_momentum_min",
    "decay_frac": "lr_decay_frac",
    "decay_shape": "lr_decay_shape",
}
"""Constructor kwarg name -> plugin config key, as used in error messages."""


# --------------------------------------------------------------------------------------------------------- validation
def _real(value: Any, key: str) -> float:
    """Return ``value`` as a float, or raise ValueError naming ``key`` if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    return float(value)


def _lrf(value: Any) -> float:
    """Validate Ultralytics' final LR factor: ``0 < lrf <= 1``."""
    v = _real(value, "lrf")
    if not 0.0 < v <= 1.0:
        raise ValueError(f"lrf must be in (0, 1], got {value!r}")
    return v


def _set(obj: object, name: str, value: Any) -> None:
    """Assign on a frozen dataclass instance (used only while validating in ``__post_init__``)."""
    object.__setattr__(obj, name, value)


def _progress(t: float, total: float) -> float:
    """Fraction of the run elapsed, ``clamp(t / total, 0, 1)``."""
    if not total > 0:
        raise ValueError(f"total (the run length in epochs) must be > 0, got {total!r}")
    return min(max(t / total, 0.0), 1.0)


def _cosine_interp(a: float, b: float, p: float) -> float:
    """Half-cosine from ``a`` (p=0) to ``b`` (p=1): ``b + (a - b) * (1 + cos(pi p)) / 2``.

    Evaluated in the form that is exact at the nearer endpoint, so p=0 returns ``a`` and p=1 returns ``b`` bit-exactly.
    """
    if p < 0.5:
        return a + (b - a) * (1.0 - math.cos(math.pi * p)) / 2.0
    return b + (a - b) * (1.0 + math.cos(math.pi * p)) / 2.0


# --------------------------------------------------------------------------------------------------------------- base
class Policy(ABC):
    """Base class of all schedule shapes.

    Attributes:
        name: Registry name of the policy (the value of ``lr_policy``).
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def multiplier(self, t: float, total: float) -> float:
        """Multiplier of the peak LR at fractional epoch ``t``.

        Args:
            t: Time in epochs since the start of training (fractional, >= 0).
            total: Length of the run in epochs (> 0).

        Returns:
            The LR divided by ``lr0``.
        """

    def momentum(self, t: float, total: float, base: float) -> float | None:
        """Momentum (or Adam beta1) to use at t, or None to leave the optimizer's momentum alone. Default None.

        Args:
            t: Time in epochs since the start of training.
            total: Length of the run in epochs.
            base: The optimizer's configured momentum.
        """
        return None


# ----------------------------------------------------------------------------------------------------------- policies
@dataclass(frozen=True, kw_only=True)
class Linear(Policy):
    """Linear decay from 1 to ``lrf``; Ultralytics' native default.

    ``m(t) = max(1 - t / total, 0) * (1 - lrf) + lrf``

    Args:
        lrf: Final multiplier, reached at ``t = total`` and held afterwards.
    """

    name: ClassVar[str] = "linear"
    lrf: float

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        if not total > 0:
            raise ValueError(f"total (the run length in epochs) must be > 0, got {total!r}")
        # Same operation order as Ultralytics' lambda so the two agree bit for bit.
        return max(1.0 - max(t, 0.0) / total, 0.0) * (1.0 - self.lrf) + self.lrf


@dataclass(frozen=True, kw_only=True)
class Cosine(Policy):
    """Half-cosine decay from 1 to ``lrf`` (Ultralytics' ``cos_lr=True``, i.e. ``one_cycle(1, lrf, epochs)``).

    ``m(t) = lrf + (1 - lrf) * (1 + cos(pi * min(t, total) / total)) / 2``

    Args:
        lrf: Final multiplier.
    """

    name: ClassVar[str] = "cosine"
    lrf: float

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))

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

    Args:
        lrf: Floor of every cycle.
        period: Length of the first cycle in epochs (``lr_restart_period``). None: chosen so that exactly three cycles
            fill the run, ``period = total / (1 + mult + mult**2)``.
        mult: Growth factor of the cycle length, >= 1 (``lr_restart_mult``).
        decay: Peak multiplier applied per restart, in (0, 1] (``lr_restart_decay``).
    """

    name: ClassVar[str] = "cosine_restarts"
    lrf: float
    period: float | None = None
    mult: float = 1.0
    decay: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        if self.period is not None:
            period = _real(self.period, "lr_restart_period")
            if not period > 0:
                raise ValueError(f"lr_restart_period must be > 0 (or None for 3 cycles per run), got {self.period!r}")
            _set(self, "period", period)
        mult = _real(self.mult, "lr_restart_mult")
        if not mult >= 1.0:
            raise ValueError(f"lr_restart_mult must be >= 1, got {self.mult!r}")
        decay = _real(self.decay, "lr_restart_decay")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"lr_restart_decay must be in (0, 1], got {self.decay!r}")
        _set(self, "mult", mult)
        _set(self, "decay", decay)

    def first_period(self, total: float) -> float:
        """Length of cycle 0 in epochs for a run of ``total`` epochs."""
        if self.period is not None:
            return self.period
        return total / (1.0 + self.mult + self.mult**2)

    def _locate(self, t: float, total: float) -> tuple[int, float, float]:
        """Return ``(k, tc, T_k)``: cycle index, time into the cycle and the cycle's length."""
        _progress(t, total)  # validates total
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


def _gamma(value: Any) -> float:
    """A decay factor in (0, 1) (``lr_gamma``)."""
    gamma = _real(value, "lr_gamma")
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"lr_gamma must be in (0, 1), got {value!r}")
    return gamma


def default_step_size(total: float) -> int:
    """A third of the run, rounded to whole epochs (at least 1): stairs on epoch boundaries."""
    return max(1, round(total / 3.0))


def default_milestones(total: float) -> tuple[int, ...]:
    """Half and three quarters of the run, rounded to whole epochs (at least 1, duplicates dropped)."""
    return tuple(sorted({max(1, round(f * total)) for f in (0.5, 0.75)}))


@dataclass(frozen=True, kw_only=True)
class Step(Policy):
    """Step decay: multiply by ``gamma`` every ``step_size`` epochs, never below ``lrf``.

    ``m(t) = max(gamma ** floor(t / step_size), lrf)``

    Args:
        lrf: Floor.
        step_size: Epochs between decays, > 0 (``lr_step_size``). None: a third of the run in whole epochs
            (:func:`default_step_size`), so the stairs fall on epoch boundaries.
        gamma: Decay per step, in (0, 1) (``lr_gamma``).
    """

    name: ClassVar[str] = "step"
    lrf: float
    step_size: float | None = None
    gamma: float = 0.1

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        if self.step_size is not None:
            size = _real(self.step_size, "lr_step_size")
            if not size > 0:
                raise ValueError(f"lr_step_size must be > 0 (or None for a third of the run), got {self.step_size!r}")
            _set(self, "step_size", size)
        _set(self, "gamma", _gamma(self.gamma))

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        if not total > 0:
            raise ValueError(f"total (the run length in epochs) must be > 0, got {total!r}")
        size = self.step_size if self.step_size is not None else default_step_size(total)
        return max(self.gamma ** math.floor(max(t, 0.0) / size + _EPS), self.lrf)


@dataclass(frozen=True, kw_only=True)
class MultiStep(Policy):
    """Decay by ``gamma`` at each milestone epoch, never below ``lrf``.

    ``m(t) = max(gamma ** #{m in milestones : m <= t}, lrf)``

    Args:
        lrf: Floor.
        milestones: Strictly increasing positive epochs (``lr_milestones``); stored as a tuple (the caller's list is
            copied). None: half and three quarters of the run, in whole epochs (:func:`default_milestones`).
        gamma: Decay per milestone, in (0, 1) (``lr_gamma``).
    """

    name: ClassVar[str] = "multistep"
    lrf: float
    milestones: tuple[float, ...] | None = None
    gamma: float = 0.1

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        if self.milestones is not None:
            ms = self.milestones
            if not isinstance(ms, (list, tuple)) or not ms:
                raise ValueError(f"lr_milestones must be a non-empty list of epochs, got {ms!r}")
            values = tuple(_real(m, "lr_milestones entries") for m in ms)
            if values[0] <= 0 or any(b <= a for a, b in zip(values, values[1:])):
                raise ValueError(f"lr_milestones must be positive and strictly increasing, got {list(ms)!r}")
            _set(self, "milestones", values)
        _set(self, "gamma", _gamma(self.gamma))

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        if not total > 0:
            raise ValueError(f"total (the run length in epochs) must be > 0, got {total!r}")
        ms = self.milestones if self.milestones is not None else default_milestones(total)
        passed = sum(1 for m in ms if t + _EPS * max(1.0, m) >= m)
        return max(self.gamma**passed, self.lrf)


@dataclass(frozen=True, kw_only=True)
class Exponential(Policy):
    """Exponential decay.

    ``gamma`` None: ``m(t) = lrf ** (min(t, total) / total)``, reaching ``lrf`` exactly at the end of the run.
    ``gamma`` given: ``m(t) = max(gamma ** t, lrf)`` (``gamma`` is the decay per epoch).

    Args:
        lrf: Final multiplier (gamma None) or floor (gamma given).
        gamma: Per-epoch decay in (0, 1), or None (``lr_gamma``).
    """

    name: ClassVar[str] = "exponential"
    lrf: float
    gamma: float | None = None

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        if self.gamma is not None:
            gamma = _real(self.gamma, "lr_gamma")
            if not 0.0 < gamma < 1.0:
                raise ValueError(f"lr_gamma must be in (0, 1) (or None to reach lrf at the end), got {self.gamma!r}")
            _set(self, "gamma", gamma)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        p = _progress(t, total)
        if self.gamma is None:
            return self.lrf**p
        return max(self.gamma ** max(t, 0.0), self.lrf)


@dataclass(frozen=True, kw_only=True)
class Poly(Policy):
    """Polynomial decay.

    ``m(t) = lrf + (1 - lrf) * (1 - min(t, total) / total) ** power``

    Args:
        lrf: Final multiplier.
        power: Exponent, > 0 (``lr_power``); 1 is linear.
    """

    name: ClassVar[str] = "poly"
    lrf: float
    power: float = 0.9

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        power = _real(self.power, "lr_power")
        if not power > 0:
            raise ValueError(f"lr_power must be > 0, got {self.power!r}")
        _set(self, "power", power)

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return self.lrf + (1.0 - self.lrf) * (1.0 - _progress(t, total)) ** self.power


@dataclass(frozen=True, kw_only=True)
class OneCycle(Policy):
    """Leslie Smith's one-cycle policy (as ``torch.optim.lr_scheduler.OneCycleLR``, cos annealing, two phases).

    With ``tp = pct * total``::

        t <= tp:  m(t) = 1 + (1/div - 1) * (1 + cos(pi * t / tp)) / 2                 # 1/div -> 1
        t >  tp:  m(t) = lrf + (1 - lrf) * (1 + cos(pi * (t - tp) / (total - tp))) / 2  # 1 -> lrf

    Momentum moves the opposite way, from ``base`` (the optimizer's configured momentum, the maximum) down to
    ``momentum_min`` at ``tp`` and back up to ``base`` at ``total``, with the same half-cosines.

    Args:
        lrf: Final multiplier.
        pct: Fraction of the run spent rising, in (0, 1) (``lr_onecycle_pct``).
        div: Initial multiplier is ``1 / div``; >= 1 (``lr_onecycle_div``).
        momentum_min: Momentum at the LR peak, in (0, 1) (``lr_momentum_min``).
    """

    name: ClassVar[str] = "onecycle"
    lrf: float
    pct: float = 0.3
    div: float = 25.0
    momentum_min: float = 0.85

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        pct = _real(self.pct, "lr_onecycle_pct")
        if not 0.0 < pct < 1.0:
            raise ValueError(f"lr_onecycle_pct must be in (0, 1), got {self.pct!r}")
        div = _real(self.div, "lr_onecycle_div")
        if not div >= 1.0:
            raise ValueError(f"lr_onecycle_div must be >= 1, got {self.div!r}")
        mom = _real(self.momentum_min, "lr_momentum_min")
        if not 0.0 < mom < 1.0:
            raise ValueError(f"lr_momentum_min must be in (0, 1), got {self.momentum_min!r}")
        _set(self, "pct", pct)
        _set(self, "div", div)
        _set(self, "momentum_min", mom)

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
class WarmupStableDecay(Policy):
    """Warmup-stable-decay (trapezoidal) schedule; the warmup itself is applied by the caller.

    With ``t0 = (1 - decay_frac) * total`` and decay progress ``p = clamp((t - t0) / (decay_frac * total), 0, 1)``::

        m(t) = lrf + (1 - lrf) * shape(p)
        shape: linear 1 - p | cosine (1 + cos(pi p)) / 2 | sqrt 1 - sqrt(p)

    Args:
        lrf: Final multiplier.
        decay_frac: Fraction of the run spent decaying, in (0, 1] (``lr_decay_frac``).
        decay_shape: One of :data:`WSD_SHAPES` (``lr_decay_shape``).
    """

    name: ClassVar[str] = "wsd"
    lrf: float
    decay_frac: float = 0.2
    decay_shape: str = "linear"

    def __post_init__(self) -> None:
        _set(self, "lrf", _lrf(self.lrf))
        frac = _real(self.decay_frac, "lr_decay_frac")
        if not 0.0 < frac <= 1.0:
            raise ValueError(f"lr_decay_frac must be in (0, 1], got {self.decay_frac!r}")
        _set(self, "decay_frac", frac)
        if self.decay_shape not in WSD_SHAPES:
            raise ValueError(f"lr_decay_shape must be one of {', '.join(WSD_SHAPES)}; got {self.decay_shape!r}")

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
    """Constant peak LR: ``m(t) = 1``.

    Args:
        lrf: Accepted for a uniform constructor signature and ignored.
    """

    name: ClassVar[str] = "constant"
    lrf: float | None = None

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return 1.0


@dataclass(frozen=True, kw_only=True)
class PlateauPolicy(Policy):
    """Constant ``m(t) = 1``; the LR is reduced on plateaus by :class:`yolo_lr.plateau.Plateau`, not here.

    Args:
        lrf: Accepted for a uniform constructor signature and ignored by the curve.
    """

    name: ClassVar[str] = "plateau"
    lrf: float | None = None

    def multiplier(self, t: float, total: float) -> float:
        """See class docstring."""
        return 1.0


# ----------------------------------------------------------------------------------------------------------- registry
POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (
        Linear,
        Cosine,
        CosineRestarts,
        Step,
        MultiStep,
        Exponential,
        Poly,
        OneCycle,
        WarmupStableDecay,
        Constant,
        PlateauPolicy,
    )
}
"""Policy name (the value of ``lr_policy``) -> class."""

PARAMS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls) if f.name != "lrf") for name, cls in POLICIES.items()
}
"""Policy name -> constructor kwargs it accepts besides ``lrf`` (see :data:`PARAM_KEYS` for their config keys)."""


def build_policy(name: str, lrf: float, **params: Any) -> Policy:
    """Build a policy by registry name.

    Args:
        name: One of :data:`POLICIES`.
        lrf: Final LR factor, in (0, 1].
        **params: Policy kwargs (see :data:`PARAMS`). A value of None means "use the default".

    Returns:
        The policy instance.

    Raises:
        ValueError: Unknown name, ``lrf`` out of range, a parameter the policy does not take, or an invalid value
            (the message names the plugin config key).
    """
    cls = POLICIES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown lr policy {name!r}; allowed: {', '.join(POLICIES)}")
    lrf = _lrf(lrf)
    allowed = PARAMS[name]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for lr policy {name!r}; allowed: {', '.join(allowed) or 'none'}"
        )
    return cls(lrf=lrf, **{k: v for k, v in params.items() if v is not None})


# ------------------------------------------------------------------------------------------------------------- warmup
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
