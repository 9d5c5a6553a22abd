"""Every ``lr_*`` key the plugin owns: its default, its check, and how a training config resolves to settings.

This is the one place where keys are named, typed and validated. It imports neither torch nor ultralytics, so the
CLI, the startup hook and the tests can use it cheaply.

A training config is the merged Ultralytics argument dict (``vars(trainer.args)`` or the overrides a user passes).
The plugin is *active* when any ``lr_*`` key differs from its registered default; with none set, training is native.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolo_lr.plateau import Plateau, infer_mode
from yolo_lr.policies import PARAMS, POLICIES, WARMUP_SHAPES, Policy, build_policy

INTERVALS = ("step", "epoch")
DECAY_SHAPES = ("linear", "cosine", "sqrt")
PLATEAU_MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


class LRConfigError(ValueError):
    """A learning-rate setting is wrong. The message names the key, where it came from and what is allowed."""


# ----------------------------------------------------------------------------------------------------------------------
# Where a value came from: Ultralytics loads cfg=... YAML files through YAML.load, which the startup hook wraps to
# call `note_source`, so an error can name the file. Explicit loaders (presets, attach) pass `source=` directly.
_SOURCES: dict[str, tuple[str, Any]] = {}


def note_source(path: str | Path, data: Any) -> None:
    """Remember which file set which learning-rate key (only keys this module validates)."""
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(k, str) and (k.startswith("lr_") or k in _NATIVE_CHECKED):
                _SOURCES[k] = (str(path), v)


def _where(key: str, value: Any, source: str | None) -> str:
    if source:
        return f" (from {source})"
    known = _SOURCES.get(key)
    if known is not None and _same(known[1], value):
        return f" (from {known[0]})"
    return " (from the training arguments)"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - exotic values never match
        return False


# ----------------------------------------------------------------------------------------------------------------------
# Checks. Each returns an error string or None.
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(lo: float | None = None, hi: float | None = None, lo_open=False, hi_open=False, integer=False):
    lo_b, hi_b = ("(" if lo_open else "["), (")" if hi_open else "]")
    what = "an integer" if integer else "a number"
    rng = f"{lo_b}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{hi_b}"

    def check(v: Any) -> str | None:
        if not _is_number(v) or (integer and not float(v).is_integer()) or not math.isfinite(v):
            return f"must be {what} in {rng}"
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return f"must be {what} in {rng}"
        if hi is not None and (v > hi or (hi_open and v == hi)):
            return f"must be {what} in {rng}"
        return None

    check.allowed = f"{what} in {rng}"
    return check


def _choice(options: tuple[str, ...]):
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or v not in options:
            near = difflib.get_close_matches(str(v), options, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            return f"must be one of {', '.join(options)}{hint}"
        return None

    check.allowed = "one of " + ", ".join(options)
    return check


def _boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


_boolean.allowed = "true or false"


def _metric_name(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a metric name such as fitness, metrics/mAP50-95(B)"


_metric_name.allowed = "a results.csv column name or fitness"


def _milestones(v: Any) -> str | None:
    if not isinstance(v, (list, tuple)) or not v:
        return "must be a non-empty list of epochs, e.g. [30, 60]"
    if not all(_is_number(m) and math.isfinite(m) for m in v):
        return "must contain only numbers (epochs)"
    if any(m <= 0 for m in v):
        return "must contain only positive epochs"
    if any(b <= a for a, b in zip(v, v[1:])):
        return "must be strictly increasing"
    return None


_milestones.allowed = "a strictly increasing list of positive epochs"


@dataclass(frozen=True)
class Key:
    """One plugin key: the default registered with Ultralytics (None = unset), its check and its meaning."""

    default: Any
    check: Callable[[Any], str | None]
    help: str
    param: str | None = None  # the policy constructor argument it feeds, if any


KEYS: dict[str, Key] = {
    "lr_policy": Key(
        None, _choice(tuple(POLICIES)), "LR curve after warmup (default: native linear, or cosine if cos_lr)"
    ),
    "lr_interval": Key(
        None, _choice(INTERVALS), "update the LR every optimizer step (step, default) or once per epoch"
    ),
    "lr_warmup_shape": Key(None, _choice(WARMUP_SHAPES), "warmup ramp shape (default linear)"),
    "lr_warmup_start": Key(None, _number(0, 1), "warmup start LR as a fraction of the peak (default 0)"),
    "lr_restart_period": Key(None, _number(0, lo_open=True), "cosine_restarts: first cycle in epochs", "period"),
    "lr_restart_mult": Key(None, _number(1), "cosine_restarts: each cycle is this many times longer", "mult"),
    "lr_restart_decay": Key(None, _number(0, 1, lo_open=True), "cosine_restarts: peak factor per cycle", "decay"),
    "lr_step_size": Key(None, _number(0, lo_open=True), "step: epochs between decays", "step_size"),
    "lr_gamma": Key(None, _number(0, 1, True, True), "step/multistep/exponential: decay factor", "gamma"),
    "lr_milestones": Key(None, _milestones, "multistep: epochs where the LR is multiplied by lr_gamma", "milestones"),
    "lr_power": Key(None, _number(0, lo_open=True), "poly: exponent", "power"),
    "lr_onecycle_pct": Key(None, _number(0, 1, True, True), "onecycle: fraction of the run spent rising", "pct"),
    "lr_onecycle_div": Key(None, _number(1), "onecycle: start LR = peak / this", "div"),
    "lr_momentum_min": Key(None, _number(0, 1, True, True), "onecycle: momentum at the LR peak", "momentum_min"),
    "lr_decay_frac": Key(None, _number(0, 1, lo_open=True), "wsd: fraction of the run spent decaying", "decay_frac"),
    "lr_decay_shape": Key(None, _choice(DECAY_SHAPES), "wsd: decay shape", "decay_shape"),
    "lr_backbone_scale": Key(None, _number(0, 10, lo_open=True), "fine-tuning: backbone LR = head LR x this (1)"),
    "lr_unfreeze_epoch": Key(
        None, _number(0, integer=True), "fine-tuning: backbone frozen before this epoch (0-based)"
    ),
    "lr_unfreeze_warmup": Key(
        None, _number(0), "fine-tuning: epochs over which the backbone LR ramps after unfreezing"
    ),
    "lr_backbone_layers": Key(
        None, _number(1, integer=True), "fine-tuning: leading model layers that form the backbone"
    ),
    "lr_plateau": Key(False, _boolean, "reduce the LR when a validation metric stops improving (on top of any policy)"),
    "lr_plateau_metric": Key(None, _metric_name, "metric watched for plateaus (default fitness)"),
    "lr_plateau_mode": Key(None, _choice(PLATEAU_MODES), "max or min; inferred from the metric name when unset"),
    "lr_plateau_factor": Key(None, _number(0, 1, True, True), "multiply the LR by this on a plateau (default 0.1)"),
    "lr_plateau_patience": Key(None, _number(0, integer=True), "epochs without improvement before reducing (10)"),
    "lr_plateau_cooldown": Key(None, _number(0, integer=True), "epochs to wait after a reduction (default 0)"),
    "lr_plateau_threshold": Key(None, _number(0), "minimum change that counts as improvement (default 1e-4)"),
    "lr_plateau_threshold_mode": Key(None, _choice(THRESHOLD_MODES), "threshold relative (rel, default) or absolute"),
    "lr_plateau_min_factor": Key(None, _number(0, 1), "plateau floor as a fraction of the peak (default lrf)"),
}

# Policy-specific keys, so a key set for another policy can be reported as ignored.
POLICY_KEYS = {name: {k for k, spec in KEYS.items() if spec.param in params} for name, params in PARAMS.items()}
PLATEAU_DEFAULTS = {"factor": 0.1, "patience": 10, "cooldown": 0, "threshold": 1e-4, "threshold_mode": "rel"}
# Native Ultralytics keys whose values the policy depends on and that are checked when the plugin is active.
_NATIVE_CHECKED = (
    "lr0",
    "lrf",
    "cos_lr",
    "warmup_epochs",
    "warmup_bias_lr",
    "warmup_momentum",
    "momentum",
    "epochs",
    "freeze",
    "val",
)


def registry_defaults() -> dict[str, Any]:
    """The ``lr_*`` keys and the defaults registered with Ultralytics (all unset)."""
    return {k: spec.default for k, spec in KEYS.items()}


def is_active(cfg: dict) -> bool:
    """True when any ``lr_*`` key is set to something other than its registered default."""
    return any(cfg.get(k, spec.default) != spec.default for k, spec in KEYS.items())


def closest_key(name: str) -> str | None:
    """The valid ``lr_*`` key closest to a misspelt one."""
    near = difflib.get_close_matches(name, list(KEYS), n=1, cutoff=0.5)
    return near[0] if near else None


def unknown_key_error(name: str, source: str | None = None) -> LRConfigError:
    """The error for an ``lr_*`` key the plugin does not know."""
    near = closest_key(name)
    hint = f" Did you mean '{near}'?" if near else ""
    where = _where(name, _SOURCES.get(name, (None, object()))[1], source)
    return LRConfigError(
        f"yolo_lr: unknown key '{name}'{where}.{hint} Valid lr_* keys: {', '.join(KEYS)}. See `yolo-lr --help`."
    )


# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlateauSettings:
    """Plateau reduction settings, resolved."""

    metric: str
    mode: str
    factor: float
    patience: int
    cooldown: int
    threshold: float
    threshold_mode: str
    min_factor: float

    def tracker(self) -> Plateau:
        """A fresh plateau state machine with these settings."""
        return Plateau(
            mode=self.mode,
            factor=self.factor,
            patience=self.patience,
            cooldown=self.cooldown,
            threshold=self.threshold,
            threshold_mode=self.threshold_mode,
            min_factor=self.min_factor,
        )


@dataclass(frozen=True)
class LRSettings:
    """Everything the adapter needs to drive the LR, resolved from a training config."""

    policy_name: str
    policy: Policy
    interval: str
    warmup_shape: str
    warmup_start: float
    plateau: PlateauSettings | None
    lrf: float
    backbone_scale: float = 1.0
    unfreeze_epoch: int | None = None
    unfreeze_warmup: float = 0.0
    backbone_layers: int | None = None

    @property
    def cycles_momentum(self) -> bool:
        """True when the policy also drives momentum (one-cycle)."""
        return type(self.policy).momentum is not Policy.momentum

    @property
    def split_backbone(self) -> bool:
        """True when the backbone needs its own param groups (a scale, or a freeze before unfreeze_epoch)."""
        return self.backbone_scale != 1.0 or bool(self.unfreeze_epoch)

    def multiplier(self, t: float, horizon: float, plateau_factor: float = 1.0) -> float:
        """Policy multiplier of the peak LR at fractional epoch ``t``, with a plateau factor applied.

        A plateau reduction never pushes the LR below the plateau floor; the policy itself may go lower if asked to.
        """
        m = self.policy.multiplier(t, horizon)
        if self.plateau is not None and plateau_factor != 1.0:
            m = max(m * plateau_factor, min(m, self.plateau.min_factor))
        return m

    def describe(self) -> str:
        """One line for the training log."""
        parts = [f"policy={self.policy_name}", f"interval={self.interval}", f"lrf={self.lrf:g}"]
        extra = {k: getattr(self.policy, k) for k in PARAMS[self.policy_name] if hasattr(self.policy, k)}
        if extra:
            parts.append("(" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")")
        parts.append(f"warmup={self.warmup_shape} from {self.warmup_start:g}x")
        if self.split_backbone:
            frozen = f"frozen until epoch {self.unfreeze_epoch + 1}, " if self.unfreeze_epoch else ""
            ramp = f" (ramp {self.unfreeze_warmup:g} ep)" if self.unfreeze_warmup and self.unfreeze_epoch else ""
            parts.append(f"backbone={frozen}lr x{self.backbone_scale:g}{ramp}")
        p = self.plateau
        if p is None:
            parts.append("plateau=off")
        else:
            parts.append(
                f"plateau={p.metric} ({p.mode}, factor={p.factor:g}, patience={p.patience}, cooldown={p.cooldown}, "
                f"threshold={p.threshold:g} {p.threshold_mode}, floor={p.min_factor:g}x)"
            )
        return " ".join(parts)


def validate(cfg: dict, source: str | None = None) -> list[str]:
    """Check every ``lr_*`` key of a merged training config, and the native keys the policy relies on.

    Args:
        cfg: merged Ultralytics arguments (``lr_*`` keys may be missing: they take their defaults).
        source: where the values came from (a file path), for messages; inferred from loaded YAML files if None.

    Returns:
        Warnings (strings) for settings that are legal but probably not what was meant.

    Raises:
        LRConfigError: the first invalid value, naming the key, its source and what is allowed.
    """
    for k in cfg:
        if isinstance(k, str) and k.startswith("lr_") and k not in KEYS:
            raise unknown_key_error(k, source)
    if not is_active(cfg):
        return []

    def fail(key: str, problem: str) -> LRConfigError:
        return LRConfigError(f"yolo_lr: {key}={cfg.get(key)!r}{_where(key, cfg.get(key), source)} {problem}.")

    for k, spec in KEYS.items():
        v = cfg.get(k, spec.default)
        if v is None or v == spec.default:
            continue
        if problem := spec.check(v):
            raise fail(k, problem)

    lr0, lrf = cfg.get("lr0", 0.01), cfg.get("lrf", 0.01)
    if not _is_number(lr0) or not math.isfinite(lr0) or lr0 <= 0:
        raise fail("lr0", "must be a positive number (the peak learning rate)")
    if not _is_number(lrf) or not 0 < lrf <= 1:
        raise fail("lrf", "must be a number in (0, 1]: the final LR is lr0*lrf")
    for k in ("warmup_epochs", "warmup_bias_lr"):
        v = cfg.get(k, 0)
        if not _is_number(v) or v < 0:
            raise fail(k, "must be a number >= 0")
    if cfg.get("cos_lr") and cfg.get("lr_policy"):
        raise fail(
            "cos_lr",
            f"conflicts with lr_policy={cfg['lr_policy']!r}: keep one. Use lr_policy=cosine instead of cos_lr=True, "
            "or drop lr_policy to keep Ultralytics' cosine",
        )

    warnings = []
    name = cfg.get("lr_policy") or ("cosine" if cfg.get("cos_lr") else "linear")
    for k in sorted(set().union(*POLICY_KEYS.values()) - POLICY_KEYS[name]):
        if cfg.get(k) is not None:
            warnings.append(f"{k}={cfg[k]!r} is ignored by lr_policy={name}")
    epochs = cfg.get("epochs")
    if _is_number(epochs) and not cfg.get("time"):
        ms = cfg.get("lr_milestones")
        if name == "multistep" and ms and ms[-1] >= epochs:
            raise fail("lr_milestones", f"must lie inside the run (every milestone < epochs={epochs})")
        unfreeze = cfg.get("lr_unfreeze_epoch")
        if unfreeze is not None and unfreeze >= epochs:
            raise fail(
                "lr_unfreeze_epoch", f"must be smaller than epochs={epochs} (0-based epoch that starts unfrozen)"
            )
        step = cfg.get("lr_step_size")
        if name == "step" and step is not None and step >= epochs:
            raise fail("lr_step_size", f"must be smaller than epochs={epochs}, or the LR never decays")
    if name == "onecycle" and _is_number(cfg.get("warmup_epochs")) and cfg.get("warmup_epochs") > 0:
        warnings.append(
            f"lr_policy=onecycle has its own rising phase; warmup_epochs={cfg['warmup_epochs']} adds a second ramp "
            "(set warmup_epochs=0 to use the one-cycle ramp alone)"
        )
    if cfg.get("lr_unfreeze_epoch") and cfg.get("freeze"):
        raise fail("freeze", "conflicts with lr_unfreeze_epoch: Ultralytics' freeze is permanent; keep one")
    if cfg.get("lr_unfreeze_warmup") and not cfg.get("lr_unfreeze_epoch"):
        warnings.append("lr_unfreeze_warmup is ignored without lr_unfreeze_epoch")
    plateau_on = bool(cfg.get("lr_plateau")) or name == "plateau"
    if not plateau_on:
        for k in KEYS:
            if k.startswith("lr_plateau_") and cfg.get(k) is not None:
                warnings.append(f"{k} is set but plateau reduction is off (set lr_plateau=True or lr_policy=plateau)")
    else:
        metric = cfg.get("lr_plateau_metric") or "fitness"
        if cfg.get("val") is False and not metric.startswith("train/"):
            raise fail("lr_plateau_metric", "needs validation every epoch, but val=False; watch a train/ loss instead")
        if cfg.get("lr_plateau_mode") is None:
            try:
                infer_mode(metric)
            except ValueError as e:
                raise fail("lr_plateau_metric", f"needs lr_plateau_mode=min or max: {e}") from None
    try:
        resolve(cfg)
    except ValueError as e:  # a relation the policy constructor checks (e.g. milestones type)
        key = next((k for k in KEYS if k in str(e)), "lr_policy")
        raise fail(key, str(e)) from None
    return warnings


def resolve(cfg: dict) -> LRSettings:
    """Turn a (validated) training config into settings. Unset keys take the documented defaults."""
    name = cfg.get("lr_policy") or ("cosine" if cfg.get("cos_lr") else "linear")
    lrf = float(cfg.get("lrf", 0.01))
    params = {spec.param: cfg[k] for k, spec in KEYS.items() if k in POLICY_KEYS[name] and cfg.get(k) is not None}
    if "milestones" in params:
        params["milestones"] = list(params["milestones"])
    policy = build_policy(name, lrf, **params)
    plateau = None
    if cfg.get("lr_plateau") or name == "plateau":
        metric = cfg.get("lr_plateau_metric") or "fitness"

        def get(key: str, default: Any) -> Any:
            v = cfg.get(f"lr_plateau_{key}")
            return default if v is None else v

        plateau = PlateauSettings(
            metric=metric,
            mode=cfg.get("lr_plateau_mode") or infer_mode(metric),
            factor=float(get("factor", PLATEAU_DEFAULTS["factor"])),
            patience=int(get("patience", PLATEAU_DEFAULTS["patience"])),
            cooldown=int(get("cooldown", PLATEAU_DEFAULTS["cooldown"])),
            threshold=float(get("threshold", PLATEAU_DEFAULTS["threshold"])),
            threshold_mode=get("threshold_mode", PLATEAU_DEFAULTS["threshold_mode"]),
            min_factor=float(get("min_factor", lrf)),
        )
    return LRSettings(
        policy_name=name,
        policy=policy,
        interval=cfg.get("lr_interval") or "step",
        warmup_shape=cfg.get("lr_warmup_shape") or "linear",
        warmup_start=float(cfg.get("lr_warmup_start") or 0.0),
        plateau=plateau,
        lrf=lrf,
        backbone_scale=float(cfg.get("lr_backbone_scale") or 1.0),
        unfreeze_epoch=None if cfg.get("lr_unfreeze_epoch") is None else int(cfg["lr_unfreeze_epoch"]),
        unfreeze_warmup=float(cfg.get("lr_unfreeze_warmup") or 0.0),
        backbone_layers=None if cfg.get("lr_backbone_layers") is None else int(cfg["lr_backbone_layers"]),
    )
