"""LR finder (range test): train a few dozen steps with an exponentially rising LR and read the loss curve.

Two layers, as in the rest of the package:

- a pure core (no torch, no Ultralytics): :func:`lr_schedule`, :func:`range_test` (drives any ``step_fn(lr) -> loss``
  with a smoothed loss and a divergence stop), :func:`suggest` (turns the curve into an ``lr0``) and
  :class:`FindSettings` (the ``lr_find`` keys);
- the Ultralytics part: :func:`trainer_range_test` runs the range test on a set-up trainer (a training's own:
  :mod:`yolo_lr.find_in_training`; or one built for the test: :func:`yolo_lr.tools.find.build_trainer`) and puts back
  all it changed (model, EMA, optimizer, grad scaler, RNGs, data order, mosaic buffer:
  :func:`yolo_lr.ultralytics_compat.trainer_state`); :func:`suggestions` reads every rule off the curve, and
  ``lr_find.csv`` and ``lr_find.png`` are written here for both users.

The standalone finder (``yolo-lr find``, :func:`yolo_lr.find_lr`: builds a real trainer exactly as ``Model.train``
would, runs the test on it and prints a ready-to-run ``yolo-lr train ... lr0=...`` command) is a tool on top of this
engine: :mod:`yolo_lr.tools.find`.

The test's defaults (:data:`DEFAULTS`): LR from 1e-5 to 10 over 50 steps, divergence stop when the EMA-smoothed loss
(factor 0.9) exceeds 4x its best, rule ``auto`` read from a running median. They were chosen by
``benchmarks/finder_vs_sweep.py`` on real Ultralytics trainings (yolo26n from scratch with SGD; a pretrained
checkpoint fine-tuned with AdamW on a near and a far target) among 75 readings (5 rules x 3 smoothings x 5 strengths),
and checked on two cases held out (BENCHMARKS.md has the figures). Three training seeds then showed that a one-seed
sweep's best lr0 itself moves by 3x between seeds, so the shape of ``auto`` (:data:`VALLEY_FRACTION`,
:data:`AUTO_DIVISOR`) was chosen against the optimum of the three seeds' mean mAP, on every seed's recordings of the
three cases: within 1.7x on all nine (the shape before, two thirds down the descent and the edge over 10, was up to
3.1x high from scratch). On four cases held out it was within 2x in 10 of 12 recordings; the misses: 2.4x from scratch
on another visual world (where the edge of stability sits further above the optimum), and a target whose mAP is flat
over the whole low end. The old default (``valley`` on the EMA at 0.98, 1e-7 to 1
over 100 steps) was off by factors of 1000, 2.5 and 4.5; ``edge10`` alone missed the far target by 2.4x.

What the rules read (:data:`READING`, :func:`read_curve`): the bias-corrected EMA the test records lags by
``smooth / (1 - smooth)`` points, so it reads every feature late (at a higher LR); a centred exponential mean
(:func:`centred`) has no lag but pulls the blow-up at the end back into earlier points; the default running median
(:func:`running_median`, half-width :func:`median_half_width` of ``smooth``: 5 points at 0.9) has neither problem.

Suggestion rules (:data:`RULES`), all against log10(LR), ignoring the first 10 % of the points:

- ``auto`` (default): ``valley`` when the curve shows a real descent, else the edge of stability (as ``edge10``
  finds it) divided by :data:`AUTO_DIVISOR` (20). Real means the deepest descent drops at least :data:`DESCENT_Z`
  (2) times the noise of one batch's loss (:func:`descent_z`). Fine-tuning a pretrained model gives such a descent,
  and its position says how much LR the pretrained weights take; a short test from scratch usually gives none (the
  loss hardly moves before it explodes), and then only the edge of stability can be read.
- ``edge10``: the edge of stability divided by 10: the first LR at which the read loss is
  :data:`EDGE_RISE` (5 %) above its lowest value so far, over 10. It needs no visible descent, only the blow-up, so it
  still reads a short test from scratch where the loss hardly moves before it explodes (the descent rules found
  nothing but noise there); it needs ``lr_end`` high enough to get there (10 covers SGD and AdamW).
- ``valley``: the deepest descent of the curve — the stretch where the loss keeps going down (it never climbs more
  than 2 % of the curve's drop above its lowest value so far), taken as the one that loses the most loss — and the
  first point where :data:`VALLEY_FRACTION` (60 %) of that stretch's drop is done.
- ``steep``: the steepest negative slope d(loss)/d(log10 lr) before the minimum.
- ``min10``: the LR at the minimum of the read loss, divided by 10.

Every param group gets the same LR at each step, the bias group included (after warmup, training uses one ``lr0`` for
all groups too), except that groups whose ``initial_lr`` is a multiple of ``lr0`` keep that ratio (MuSGD's 3x head
groups).

Examples:
    >>> from yolo_lr.finder import range_test, suggest
    >>> curve = range_test(step_fn)  # step_fn(lr) -> loss: one optimization step at that LR
    >>> suggest(curve.lrs, curve.read(), losses=curve.losses).lr  # rule auto
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from yolo_lr.params import ParamError, check_fields, param

RULES = ("auto", "valley", "steep", "min10", "edge10")
DEFAULT_RULE = "auto"
LR_START, LR_END, ITERS, SMOOTH, DIVERGE = 1e-5, 10.0, 50, 0.9, 4.0
READINGS = ("ema", "centred", "median")
READING = "median"  # what the rules read: the EMA the test records, or a lag-free centred mean or running median
FINDER_KEYS = ("lr_start", "lr_end", "iters", "rule", "smooth", "diverge")  # not training keys: never reach Ultralytics
DEFAULTS = dict(zip(FINDER_KEYS, (LR_START, LR_END, ITERS, DEFAULT_RULE, SMOOTH, DIVERGE)))
SKIP_START = 0.1  # fraction of the first points the rules ignore
VALLEY_TOLERANCE = 0.02  # a descent may climb back this fraction of the curve's total drop and still count
EDGE_RISE = 0.05  # edge10: the loss counts as rising once it is this fraction above its lowest value so far
VALLEY_FRACTION = 0.6  # valley: the suggestion is where this fraction of the deepest descent's drop is done
AUTO_DIVISOR = 20.0  # auto without a real descent: the edge of stability over this
DESCENT_Z = 2.0  # auto: a descent is real when it drops at least this many times the noise of one batch's loss
NOISE_POINTS = 11  # auto: the noise is read over at least this many points (the default running median's window)


# ------------------------------------------------------------------------------------------------------ pure core
def lr_schedule(lr_start: float, lr_end: float, iters: int) -> list[float]:
    """The exponential LR ramp: ``lr_i = lr_start * (lr_end / lr_start) ** (i / (iters - 1))``, i = 0 .. iters-1.

    Args:
        lr_start: first LR (> 0).
        lr_end: last LR (> lr_start).
        iters: number of steps (>= 2).

    Returns:
        The ``iters`` LRs, first ``lr_start``, last ``lr_end``.

    Raises:
        ValueError: on a bad argument.
    """
    _check_range(lr_start, lr_end, iters)
    ratio = lr_end / lr_start
    return [lr_start * ratio ** (i / (iters - 1)) for i in range(iters)]


def check_finder_args(
    lr_start: float = LR_START,
    lr_end: float = LR_END,
    iters: int = ITERS,
    rule: str = DEFAULT_RULE,
    smooth: float = SMOOTH,
    diverge: float = DIVERGE,
) -> None:
    """Check the finder's own arguments (the keys of :data:`FINDER_KEYS`); raises ValueError naming the bad one."""
    _check_range(lr_start, lr_end, iters)
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {', '.join(RULES)}")
    if not (isinstance(smooth, (int, float)) and 0.0 <= smooth < 1.0):
        raise ValueError(f"smooth={smooth!r} must be a number in [0, 1)")
    if not (isinstance(diverge, (int, float)) and math.isfinite(diverge) and diverge > 1.0):
        raise ValueError(f"diverge={diverge!r} must be a finite number > 1")


@dataclass(frozen=True, kw_only=True)
class FindSettings:
    """``lr_find``: the range test inside a training (:mod:`yolo_lr.find_in_training`) and its options.

    The options are those of ``yolo-lr find`` (:data:`FINDER_KEYS`) under ``lr_find_*`` names, with the same
    defaults (:data:`DEFAULTS`, chosen by the finder benchmark).
    """

    on: bool = param(
        "lr_find",
        "LR range test on the run's own trainer before epoch 1; lr0 = its suggestion (a resume reuses it)",
        "flag",
        default=False,
        unset=False,
    )
    lr_start: float = param(
        "lr_find_start", "lr_find: first LR of the range test", default=LR_START, lo=0, lo_open=True
    )
    lr_end: float = param(
        "lr_find_end", "lr_find: last LR of the range test (above lr_find_start)", default=LR_END, lo=0, lo_open=True
    )
    iters: int = param("lr_find_iters", "lr_find: optimizer steps of the range test", "integer", default=ITERS, lo=2)
    rule: str = param(
        "lr_find_rule",
        "lr_find: suggestion rule (auto: valley on a real descent of the loss, else the edge of stability / 20; "
        "see yolo-lr find --help)",
        "choice",
        default=DEFAULT_RULE,
        choices=RULES,
    )
    smooth: float = param(
        "lr_find_smooth",
        "lr_find: smoothing: the divergence stop's EMA factor; the rules read a running median of half-width "
        "smooth/(1-smooth)/2 points",
        default=SMOOTH,
        lo=0,
        hi=1,
        hi_open=True,
    )
    diverge: float = param(
        "lr_find_diverge",
        "lr_find: stop once the smoothed loss exceeds this many times its best",
        default=DIVERGE,
        lo=1,
        lo_open=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.lr_end <= self.lr_start:
            raise ParamError("lr_find_end", self.lr_end, f"must be greater than lr_find_start={self.lr_start:g}")

    def describe(self) -> str:
        """One phrase for the training log."""
        return f"lr_find=rule {self.rule}, lr {self.lr_start:g} -> {self.lr_end:g} over {self.iters} steps"


def _check_range(lr_start: float, lr_end: float, iters: int) -> None:
    if not (isinstance(lr_start, (int, float)) and math.isfinite(lr_start) and lr_start > 0):
        raise ValueError(f"lr_start={lr_start!r} must be a finite number > 0")
    if not (isinstance(lr_end, (int, float)) and math.isfinite(lr_end) and lr_end > lr_start):
        raise ValueError(f"lr_end={lr_end!r} must be a finite number > lr_start={lr_start!r}")
    if not isinstance(iters, int) or isinstance(iters, bool) or iters < 2:
        raise ValueError(f"iters={iters!r} must be an integer >= 2")


@dataclass
class RangeTest:
    """The curve a range test recorded (one entry per optimizer step actually taken with a finite loss).

    Attributes:
        lrs: LR of each step.
        losses: raw loss each step returned.
        smoothed: bias-corrected exponential moving average of ``losses``.
        stop_reason: ``"completed"``, ``"diverged"`` (smoothed loss > diverge x best) or ``"non-finite"``.
        planned: number of steps the schedule had.
        stop_lr: LR of the step that stopped the test (None when completed).
        lr_start, lr_end: the schedule's range.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    stop_reason: str = "completed"
    planned: int = 0
    stop_lr: float | None = None
    lr_start: float = math.nan
    lr_end: float = math.nan
    smooth: float = 0.0

    def read(self) -> list[float]:
        """The curve the rules read (:data:`READING`): the recorded EMA, or the lag-free centred smoothing."""
        return read_curve(self.losses, self.smoothed, self.smooth, READING)

    @property
    def steps(self) -> int:
        """Optimizer steps taken (a step whose loss was not finite was not applied and is not counted)."""
        return len(self.lrs)

    @property
    def best_index(self) -> int:
        """Index of the lowest smoothed loss."""
        return min(range(len(self.smoothed)), key=self.smoothed.__getitem__)


def range_test(
    step_fn: Callable[[float], float],
    lr_start: float = LR_START,
    lr_end: float = LR_END,
    iters: int = ITERS,
    smooth: float = SMOOTH,
    diverge: float = DIVERGE,
    min_iters: int = 5,
    on_step: Callable[[int, float, float, float], None] | None = None,
) -> RangeTest:
    """Run an LR range test: one optimization step per LR of an exponential ramp, until done or diverged.

    The smoothed loss is the bias-corrected EMA ``avg_i = smooth * avg_{i-1} + (1 - smooth) * loss_i``,
    ``smoothed_i = avg_i / (1 - smooth ** (i + 1))`` (so it is an average of the losses seen so far, not pulled
    towards 0 at the start). The test stops early when a loss is not finite (that point is not recorded) or, from
    step ``min_iters`` on, when the smoothed loss exceeds ``diverge`` times the best smoothed loss so far (for a
    best <= 0: when it exceeds ``best + (diverge - 1) * |best|``); the diverged point is recorded.

    Args:
        step_fn: performs one optimization step at the given LR and returns the loss of that step (before the
            update). It is responsible for setting the LR.
        lr_start: first LR.
        lr_end: last LR.
        iters: planned number of steps.
        smooth: EMA factor in [0, 1); 0 means no smoothing.
        diverge: stop factor (> 1).
        min_iters: no divergence stop before this many steps.
        on_step: called as ``on_step(i, lr, loss, smoothed)`` after each recorded step (progress display).

    Returns:
        The recorded curve.

    Raises:
        ValueError: on a bad argument.
    """
    check_finder_args(lr_start, lr_end, iters, DEFAULT_RULE, smooth, diverge)
    lrs = lr_schedule(lr_start, lr_end, iters)
    out = RangeTest(planned=iters, lr_start=lr_start, lr_end=lr_end, smooth=smooth)
    avg, best = 0.0, math.inf
    for i, lr in enumerate(lrs):
        loss = float(step_fn(lr))
        if not math.isfinite(loss):
            out.stop_reason, out.stop_lr = "non-finite", lr
            break
        avg = smooth * avg + (1.0 - smooth) * loss
        value = avg / (1.0 - smooth ** (len(out.lrs) + 1))
        out.lrs.append(lr)
        out.losses.append(loss)
        out.smoothed.append(value)
        if on_step is not None:
            on_step(i, lr, loss, value)
        if len(out.lrs) > min_iters and value > best + (diverge - 1.0) * abs(best):
            out.stop_reason, out.stop_lr = "diverged", lr
            break
        best = min(best, value)
    return out


def ema(values: list[float], smooth: float) -> list[float]:
    """The bias-corrected exponential moving average :func:`range_test` records (each point averages the past only).

    Its centre of mass trails the current point by about ``smooth / (1 - smooth)`` points, so on a rising LR ramp it
    reads every feature of the curve late, at a higher LR (49 points at 0.98).
    """
    out, avg = [], 0.0
    for i, v in enumerate(values):
        avg = smooth * avg + (1.0 - smooth) * v
        out.append(avg / (1.0 - smooth ** (i + 1)))
    return out


def centred(values: list[float], smooth: float) -> list[float]:
    """Symmetric exponential smoothing: ``y_i = sum_j smooth^|i-j| x_j / sum_j smooth^|i-j|`` over the recorded points.

    The same weights as :func:`ema` looking both ways, so it has no lag: a minimum or a steep stretch stays at the LR
    where it happened. Two passes, O(n).
    """
    n = len(values)
    fwd, fwd_w, bwd, bwd_w = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    acc = acc_w = 0.0
    for i, v in enumerate(values):
        acc, acc_w = v + smooth * acc, 1.0 + smooth * acc_w
        fwd[i], fwd_w[i] = acc, acc_w
    acc = acc_w = 0.0
    for i in range(n - 1, -1, -1):
        acc, acc_w = values[i] + smooth * acc, 1.0 + smooth * acc_w
        bwd[i], bwd_w[i] = acc, acc_w
    return [(fwd[i] + bwd[i] - values[i]) / (fwd_w[i] + bwd_w[i] - 1.0) for i in range(n)]


def median_half_width(smooth: float) -> int:
    """The running median's half-width for a smoothing factor: about half the EMA's lag, ``smooth / (1 - smooth) / 2``
    points (1 at 0.6, 2 at 0.8, 5 at 0.9, 10 at 0.95, 25 at 0.98), at least 1."""
    return max(1, math.floor(smooth / (1.0 - smooth) / 2.0 + 0.5 + 1e-9))  # halves round up, float fuzz aside


def running_median(values: list[float], half_width: int) -> list[float]:
    """Median of each point's window ``[i - half_width, i + half_width]`` (shorter at the ends).

    No lag, and, unlike a weighted mean, a blow-up at the end of the curve or a single bad batch does not leak into
    its neighbours: a minimum or the start of a rise stays where it happened.
    """
    import statistics

    n = len(values)
    return [statistics.median(values[max(0, i - half_width) : i + half_width + 1]) for i in range(n)]


def read_curve(losses: list[float], smoothed: list[float], smooth: float, reading: str) -> list[float]:
    """The curve the rules read: ``ema`` (the recorded EMA), ``centred`` or ``median`` smoothing of the raw losses."""
    if reading == "ema":
        return list(smoothed)
    if reading == "centred":
        return centred(losses, smooth)
    if reading == "median":
        return running_median(losses, median_half_width(smooth))
    raise ValueError(f"reading={reading!r} is not one of {', '.join(READINGS)}")


class Suggestion(NamedTuple):
    """A suggested LR: its value, its index on the curve, the rule that chose it and (``auto``) which rule it applied
    and why."""

    lr: float
    index: int
    rule: str
    why: str = ""


class NoDescentError(ValueError):
    """The smoothed loss never went down: no rule can suggest an LR."""


def suggest(
    lrs: list[float],
    smoothed: list[float],
    rule: str = DEFAULT_RULE,
    losses: list[float] | None = None,
    *,
    fraction: float = VALLEY_FRACTION,
    divisor: float = AUTO_DIVISOR,
) -> Suggestion:
    """Suggest an LR from a range-test curve (see the module docstring for the rules).

    Args:
        lrs: increasing LRs.
        smoothed: smoothed loss at each LR.
        rule: one of :data:`RULES`.
        losses: the raw loss at each LR; ``auto`` needs them to measure the batch-to-batch noise.
        fraction: ``valley`` (and ``auto``'s valley): how far down the deepest descent the suggestion sits (0-1).
        divisor: ``auto`` without a real descent: the edge of stability is divided by this (``edge10``: always 10).

    Returns:
        The suggestion, always inside ``[lrs[0], lrs[-1]]``: ``min10`` is clipped to ``lrs[0]`` when the minimum is
        within a decade of the start (the tested range says nothing below it); its index is that of the curve's
        point nearest to its LR.

    Raises:
        ValueError: unknown rule, too few points (< 5), mismatched lengths, ``auto`` without ``losses``.
        NoDescentError: the smoothed loss never decreased after the skipped start (``edge10``: never rose;
            ``auto``: neither a real descent nor a rise).
    """
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is not one of {', '.join(RULES)}")
    if len(lrs) != len(smoothed):
        raise ValueError(f"{len(lrs)} LRs but {len(smoothed)} losses")
    n = len(lrs)
    if n < 5:
        raise ValueError(f"{n} points are too few to suggest an LR (need >= 5)")
    if not (0.0 < fraction < 1.0 and divisor >= 1.0):
        raise ValueError(f"fraction must be in (0, 1) and divisor >= 1, got {fraction!r} and {divisor!r}")
    if rule == "auto":
        if losses is None or len(losses) != n:
            raise ValueError(
                f"rule 'auto' needs the {n} raw losses (losses=), got {None if losses is None else len(losses)}"
            )
        z = descent_z(lrs, smoothed, losses)
        if z >= DESCENT_Z:
            s = suggest(lrs, smoothed, "valley", fraction=fraction)
            size = "a noiseless descent" if math.isinf(z) else f"the loss falls {z:.1f}x its batch noise"
            return Suggestion(s.lr, s.index, rule, f"valley: {size}")
        lr, index = _edge(lrs, smoothed, divisor)
        why = "no descent" if z == 0.0 else f"the descent is only {z:.1f}x the batch noise"
        return Suggestion(lr, index, rule, f"edge of stability / {divisor:g}: {why}")
    k0 = int(SKIP_START * n)
    y = list(smoothed)
    x = [math.log10(v) for v in lrs]
    if rule == "edge10":
        lr, index = _edge(lrs, y, 10.0)
        return Suggestion(lr, index, rule)
    imin = min(range(k0, n), key=y.__getitem__)
    if imin == k0 or y[imin] >= max(y[k0 : imin + 1]):
        raise NoDescentError("the smoothed loss never decreased: widen the range (lr_end) or add iterations")
    if rule == "min10":
        lr = max(lrs[imin] / 10.0, lrs[0])
        return Suggestion(lr, min(range(n), key=lambda i: abs(x[i] - math.log10(lr))), rule)
    if rule == "steep":
        slopes = _slopes(x, y)
        j = min(range(k0, imin + 1), key=slopes.__getitem__)
        return Suggestion(lrs[j], j, rule)
    start, bottom = _deepest_descent(y[: imin + 1], k0)
    target = y[start] - fraction * (y[start] - y[bottom])
    j = next(i for i in range(start, bottom + 1) if y[i] <= target)
    return Suggestion(lrs[j], j, rule)


def _edge(lrs: list[float], y: list[float], divisor: float) -> tuple[float, int]:
    """The edge of stability over ``divisor``: the first LR (after the skipped start) at which ``y`` is
    :data:`EDGE_RISE` above its lowest value so far, divided by ``divisor`` and clipped to ``lrs[0]``; with the
    index of the curve's point nearest to it. Raises NoDescentError when the curve never rises."""
    n, k0 = len(y), int(SKIP_START * len(y))
    onset, low = None, y[k0]
    for i in range(k0 + 1, n):
        if y[i] > low + EDGE_RISE * abs(low):
            onset = i
            break
        low = min(low, y[i])
    if onset is None:
        raise NoDescentError("the smoothed loss never rose: raise lr_end so that the test reaches instability")
    lr = max(lrs[onset] / divisor, lrs[0])
    return lr, min(range(n), key=lambda i: abs(math.log10(lrs[i]) - math.log10(lr)))


def descent_z(lrs: list[float], smoothed: list[float], losses: list[float]) -> float:
    """How real the curve's deepest descent is: its drop over the noise of one batch's loss (0: no descent).

    The noise is the robust standard deviation (1.4826 x the median absolute deviation) of the raw losses around the
    read curve, from the end of the skipped start to the read curve's minimum (the diverging tail left out), over
    at least :data:`NOISE_POINTS` points. On simulated 50-step tests of pure noise the deepest descent of the
    default reading reaches :data:`DESCENT_Z` (2) in a few per cent of curves (tests/test_finder.py checks it); on
    the finder benchmark's recordings it was 0.4 from scratch and 4.3-6.8 when fine-tuning. With noiseless losses
    any descent is real (``inf``).

    Raises:
        ValueError: fewer than 5 points, lengths that differ, a loss that is not finite.
    """
    import statistics

    n = len(smoothed)
    if not len(lrs) == len(losses) == n >= 5:
        raise ValueError(
            f"descent_z needs >= 5 points and as many LRs, read and raw losses: {len(lrs)}, {n}, {len(losses)}"
        )
    if not all(math.isfinite(v) for v in (*smoothed, *losses)):
        raise ValueError("descent_z needs finite losses (a range test records only finite ones)")
    k0 = int(SKIP_START * n)
    imin = min(range(k0, n), key=smoothed.__getitem__)
    if imin == k0 or smoothed[imin] >= max(smoothed[k0 : imin + 1]):
        return 0.0
    start, bottom = _deepest_descent(list(smoothed[: imin + 1]), k0)
    drop = smoothed[start] - smoothed[bottom]
    # a minimum just past the skipped start leaves too few residuals (a running median passes through some points
    # exactly), so the noise is read over at least NOISE_POINTS of them; more points only make the estimate larger
    # (the rise after the minimum) and the verdict more cautious
    end = min(n, max(imin + 1, k0 + NOISE_POINTS))
    sigma = 1.4826 * statistics.median(abs(losses[i] - smoothed[i]) for i in range(k0, end))
    if sigma <= 0.0:
        return math.inf if drop > 0.0 else 0.0
    return drop / sigma


def _slopes(x: list[float], y: list[float]) -> list[float]:
    """dy/dx by central differences (one-sided at the ends)."""
    n = len(y)
    out = []
    for i in range(n):
        a, b = max(i - 1, 0), min(i + 1, n - 1)
        out.append((y[b] - y[a]) / (x[b] - x[a]) if x[b] != x[a] else 0.0)
    return out


def _deepest_descent(y: list[float], k0: int) -> tuple[int, int]:
    """(start, bottom) of the descending stretch of ``y[k0:]`` that loses the most; ``y`` ends at its minimum.

    Only the curve up to the global minimum is searched: after it the LR is too high, and the wiggles of a
    diverging tail can "drop" more than the real descent. A stretch starts at some index and continues while the
    curve stays within ``tol`` of its lowest value so far; its bottom is that lowest point. ``tol`` is
    :data:`VALLEY_TOLERANCE` of the curve's total drop (highest point to the minimum), so noise does not cut a descent
    in pieces but a real rise ends it.
    """
    tol = VALLEY_TOLERANCE * (max(y[k0:]) - min(y[k0:]))
    best, s, n = (k0, k0, -1.0), k0, len(y)
    while s < n - 1:
        low, bottom, j = y[s], s, s + 1
        while j < n and y[j] <= low + tol:
            if y[j] < low:
                low, bottom = y[j], j
            j += 1
        if y[s] - low > best[2]:
            best = (s, bottom, y[s] - low)
        s = j
    return best[0], best[1]


# ------------------------------------------------------------------------------------------- Ultralytics: the test
@dataclass
class Work:
    """Compute a range test used."""

    steps: int = 0  # optimizer steps
    batches: int = 0  # forward/backward passes
    images: int = 0
    seconds: float = 0.0  # wall time of the test (set-up not included)


def group_scales(trainer) -> list[float]:
    """Each param group's LR relative to ``lr0`` as training will use it (``initial_lr / lr0``).

    1 for every group of SGD/Adam-family optimizers; MuSGD's head groups run at 3x. A range test that multiplies its
    LR by these gives every group the LR it would get at that ``lr0``.
    """
    lr0 = float(trainer.args.lr0)
    groups = trainer.optimizer.param_groups
    if not (math.isfinite(lr0) and lr0 > 0):
        return [1.0] * len(groups)
    return [float(g.get("initial_lr", g["lr"])) / lr0 for g in groups]


def trainer_step_fn(trainer, work: Work, scales: list[float] | None = None) -> Callable[[float], float]:
    """``step_fn(lr)`` for :func:`range_test` on a set-up Ultralytics trainer.

    Each call sets every param group's LR to ``lr`` (times the group's entry of ``scales``, default 1), then does what
    one optimizer step of ``BaseTrainer._do_train`` does: ``trainer.accumulate`` batches (the nominal value,
    ``round(nbs / batch)``; no warmup ramp) from the train loader (cycled), the trainer's ``preprocess_batch``, forward
    with the loss, backward through the grad scaler, and the trainer's ``optimizer_step`` (unscale, clip to norm 10,
    step, EMA update). Returns the mean over the accumulated batches of the summed loss components (box + cls + l1 for
    YOLO26 detection: the sum of results.csv's ``train/*`` columns). A non-finite loss is returned without stepping.
    """
    import torch
    from ultralytics.utils.torch_utils import autocast

    model, optimizer = trainer.model, trainer.optimizer
    step = trainer.optimizer_step  # inside a training the plugin's step pre-hook must be paused (LRController.paused)
    loader = trainer.train_loader
    batches = iter(loader)
    amp = torch.bfloat16 if trainer.args.amp == "bf16" else trainer.amp
    scales = list(scales) if scales is not None else [1.0] * len(optimizer.param_groups)

    def next_batch():
        nonlocal batches
        try:
            return next(batches)
        except StopIteration:
            batches = iter(loader)
            return next(batches)

    def step_fn(lr: float) -> float:
        for g, k in zip(optimizer.param_groups, scales):
            g["lr"] = lr * k
        total, n = 0.0, max(int(trainer.accumulate), 1)
        for _ in range(n):
            batch = next_batch()
            with autocast(amp, device=trainer.device.type):
                batch = trainer.preprocess_batch(batch)
                loss, items = model(batch)
                loss = loss.sum()
            value = float(sum(float(v) for v in items.values())) if isinstance(items, dict) else float(items.sum())
            work.batches += 1
            work.images += int(batch["img"].shape[0])
            if not (math.isfinite(value) and bool(torch.isfinite(loss))):
                optimizer.zero_grad(set_to_none=True)
                return math.nan
            trainer.scaler.scale(loss).backward()
            total += value
        step()
        work.steps += 1
        return total / n

    return step_fn


def trainer_range_test(
    trainer,
    lr_start: float = LR_START,
    lr_end: float = LR_END,
    iters: int = ITERS,
    smooth: float = SMOOTH,
    diverge: float = DIVERGE,
    min_iters: int = 5,
    on_step: Callable[[int, float, float, float], None] | None = None,
    scales: list[float] | None = None,
) -> tuple[RangeTest, Work]:
    """Run :func:`range_test` on a set-up trainer, then restore the trainer exactly as it was
    (:func:`yolo_lr.ultralytics_compat.trainer_state` says what that covers).

    The test sees the data the first epoch will see: when that epoch runs without mosaic (``close_mosaic``), mosaic
    is closed for the test too. Every param group runs at the test's LR times its entry of ``scales`` (default
    :func:`group_scales`). On a trainer whose LR the plugin drives, call it inside ``trainer.yolo_lr.paused()``.

    Args:
        trainer: a trainer after ``_setup_train()`` (see :func:`yolo_lr.tools.find.build_trainer`).
        lr_start, lr_end, iters, smooth, diverge, min_iters, on_step: as in :func:`range_test`.
        scales: each param group's LR relative to the test's LR.

    Returns:
        (curve, work).
    """
    from yolo_lr import ultralytics_compat as compat

    _check_range(lr_start, lr_end, iters)
    work = Work()
    saved = compat.trainer_state(trainer)
    scales = group_scales(trainer) if scales is None else list(scales)
    t0 = time.perf_counter()
    try:
        if compat.first_epoch_without_mosaic(trainer):
            compat.close_mosaic(trainer)
        trainer._model_train()
        trainer.optimizer.zero_grad(set_to_none=True)
        curve = range_test(
            trainer_step_fn(trainer, work, scales), lr_start, lr_end, iters, smooth, diverge, min_iters, on_step
        )
    finally:
        work.seconds = time.perf_counter() - t0
        compat.restore_trainer_state(trainer, saved)
    return curve, work


def suggestions(curve: RangeTest) -> dict[str, Suggestion | None]:
    """Every rule's suggestion for a recorded curve (None where a rule finds nothing)."""
    out: dict[str, Suggestion | None] = {}
    for r in RULES:
        try:
            out[r] = suggest(curve.lrs, curve.read(), r, curve.losses)
        except ValueError:  # NoDescentError, or too few points
            out[r] = None
    return out


# ---------------------------------------------------------------------------- results: lr_find.csv and lr_find.png
def _write_csv(curve: RangeTest, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "lr", "loss", "smoothed", "read"])
        for i, (lr, loss, sm, rd) in enumerate(zip(curve.lrs, curve.losses, curve.smoothed, curve.read())):
            w.writerow([i, f"{lr:.8g}", f"{loss:.8g}", f"{sm:.8g}", f"{rd:.8g}"])


def _plot(curve: RangeTest, marks: dict[str, Suggestion], rule: str, path: Path, title: str) -> Path:
    """Loss vs LR (log x): raw and smoothed, the chosen suggestion as a line, the other rules as dots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(curve.lrs, curve.losses, color="0.7", linewidth=0.9, label="loss")
    y_read = curve.read()
    ax.plot(curve.lrs, y_read, color="tab:blue", linewidth=1.8, label=f"smoothed loss ({READING} {curve.smooth:g})")
    ax.set_xscale("log")
    imin = min(range(len(y_read)), key=y_read.__getitem__)
    top = max(max(curve.losses[: imin + 1]), y_read[0]) * 1.15
    low = min(curve.losses) * 0.95 if min(curve.losses) > 0 else min(curve.losses) - 0.05 * abs(top)
    if max(curve.losses) > top:
        ax.set_ylim(low, top)
        ax.text(0.99, 0.97, "diverging tail clipped", transform=ax.transAxes, fontsize=8, ha="right", va="top")
    colors = {"auto": "black", "valley": "tab:red", "steep": "tab:green", "min10": "tab:purple", "edge10": "tab:orange"}
    at: dict[float, int] = {}  # markers already drawn at an LR: the next one there is drawn beside, not under
    for r, s in marks.items():
        y = y_read[s.index]
        if r == rule:
            ax.axvline(s.lr, color=colors[r], linestyle="--", linewidth=1.4, label=f"suggested lr0={s.lr:.3g} ({r})")
        else:
            k = at.get(s.lr, 0)
            at[s.lr] = k + 1
            ax.plot([s.lr], [y], "o", color=colors[r], markersize=6 + 4 * k, markerfacecolor="none" if k else None,
                    label=f"{r}: {s.lr:.3g}" + (" (same lr)" if k else ""))  # fmt: skip
    if curve.stop_reason != "completed":
        ax.set_title(f"LR range test: {title} (stopped: {curve.stop_reason})", fontsize=10)
    else:
        ax.set_title(f"LR range test: {title}", fontsize=10)
    ax.set_xlabel("learning rate (all param groups, log scale)")
    ax.set_ylabel("train loss (sum of the loss components)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    return path
