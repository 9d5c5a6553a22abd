"""The ``lr_*`` keys: the registry derived from their declarations, validation, and resolution to settings.

Every key is declared once, on the field it sets (:mod:`yolo_lr.params`): the general keys on :class:`LRSettings`,
the warmup on :class:`~yolo_lr.policies.Warmup`, policy parameters on their policy class, plateau keys on
:class:`~yolo_lr.plateau.PlateauSettings`, fine-tuning keys on :class:`FineTune` and the in-training LR range test
(``lr_find``) on :class:`~yolo_lr.finder.FindSettings`. :data:`KEYS`, the defaults registered with Ultralytics,
validation, ``yolo-lr show`` and the README key table all come from those declarations.
This module imports neither torch nor ultralytics, so the CLI, the startup hook and the tests can use it cheaply.

A training config is the merged Ultralytics argument dict (``vars(trainer.args)`` or the overrides a user passes).
The plugin is *active* when any ``lr_*`` key differs from its registered default; with none set, training is native.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yolo_lr.batch import BatchScaling
from yolo_lr.finder import FindSettings
from yolo_lr.params import (
    NUMERIC,
    Declared,
    Param,
    ParamError,
    check_fields,
    declared,
    from_config,
    param,
    registered_default,
)
from yolo_lr.plateau import PlateauSettings, infer_mode
from yolo_lr.policies import POLICIES, Policy, Warmup
from yolo_lr.ultralytics_compat import device_count

INTERVALS = ("step", "epoch")
PLATEAU_POLICY = "plateau"  # lr_policy=plateau: the constant curve with plateau reduction switched on


class LRConfigError(ValueError):
    """A learning-rate setting is wrong. The message names the key, where it came from and what is allowed.

    Attributes:
        key: the offending key (None when the error is not about one key, e.g. an unreadable preset file).
        source: the file the value came from, when known.
    """

    def __init__(self, message: str, key: str | None = None, source: str | None = None):
        super().__init__(message)
        self.key, self.source = key, source


# ----------------------------------------------------------------------------------------------------------------------
# Where a value came from: Ultralytics loads cfg=... YAML files through YAML.load, which the plugin wraps to call
# `note_source`, so an error can name the file. Explicit loaders (presets, attach) pass `source=` directly.
_SOURCES: dict[str, tuple[str, Any]] = {}

# Native Ultralytics keys whose values the policy depends on and that are checked when the plugin is active.
_NATIVE_CHECKED = ("lr0", "lrf", "cos_lr", "warmup_epochs", "warmup_bias_lr", "epochs", "freeze", "val")


def note_source(path: str | Path, data: Any) -> None:
    """Remember which file set which learning-rate key (only keys this module validates)."""
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(k, str) and (k.startswith("lr_") or k in _NATIVE_CHECKED):
                _SOURCES[k] = (str(path), v)


def _source_of(key: str, value: Any, source: str | None) -> str | None:
    if source:
        return source
    known = _SOURCES.get(key)
    if known is not None and _same(known[1], value):
        return known[0]
    return None


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - exotic values never match
        return False


def _error(key: str, value: Any, problem: str, source: str | None) -> LRConfigError:
    src = _source_of(key, value, source)
    where = f" (from {src})" if src else " (from the training arguments)"
    end = "" if problem.rstrip().endswith(("?", ".", "!")) else "."  # "did you mean 'cosine'?" keeps its own mark
    return LRConfigError(f"yolo_lr: {key}={value!r}{where} {problem}{end}", key=key, source=src)


# ----------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class FineTune:
    """Per-layer LR rules and fine-tuning: layer scales, the backbone's LR relative to the head, and freezing it for
    the first epochs.

    Every rule that gives layers their own LR is one mechanism: a layer's scale (:meth:`scale`) is the product of the
    backbone scale (backbone layers only), the layer-wise decay and its ``lr_layer_scales`` entry; param groups are
    split by that scale when the optimizer is built (:mod:`yolo_lr.backbone`) and each part carries it as
    ``group["lr_scale"]``. Layers are the ``model.N`` modules of the model being trained (the student, when
    distilling).
    """

    backbone_scale: float = param(
        "lr_backbone_scale",
        "backbone LR = head LR x this (backbone layers get their own param groups)",
        default=1.0,
        lo=0,
        hi=10,
        lo_open=True,
    )
    unfreeze_epoch: int = param(
        "lr_unfreeze_epoch",
        "backbone frozen (requires_grad=False, LR 0) before this 0-based epoch",
        "integer",
        default=0,
        lo=0,
        doc_default="0 (never frozen)",
    )
    unfreeze_warmup: float = param(
        "lr_unfreeze_warmup", "epochs over which the backbone LR ramps up after unfreezing", default=0.0, lo=0
    )
    freeze_bn: bool = param(
        "lr_freeze_bn",
        "while the backbone is frozen, its BatchNorm layers stay in eval mode (running statistics frozen too)",
        "flag",
        default=False,
        unset=False,
    )
    backbone_layers: int | None = param(
        "lr_backbone_layers",
        "leading model.N layers that form the backbone",
        "integer",
        lo=1,
        doc_default="the model YAML's backbone section",
        auto=lambda ft, run: run["backbone_layers"],
    )
    layer_scales: tuple[tuple[int, int, float], ...] | None = param(
        "lr_layer_scales",
        "LR multiplier of chosen model.N layers, e.g. {22: 10.0} (combines with the backbone scale and decay)",
        "layers",
    )
    layer_decay: float = param(
        "lr_layer_decay",
        "layer-wise decay: layer N's LR x this**(last layer - N), so the head keeps the full LR",
        default=1.0,
        lo=0,
        hi=1,
        lo_open=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def backbone_rules(self) -> bool:
        """True when a rule needs to know which layers form the backbone (a backbone scale, or a freeze)."""
        return self.backbone_scale != 1.0 or bool(self.unfreeze_epoch)

    @property
    def split(self) -> bool:
        """True when param groups must be split by layer (any per-layer rule, or a freeze before unfreeze_epoch)."""
        return self.backbone_rules or bool(self.layer_scales) or self.layer_decay != 1.0

    def scale(self, layer: int, backbone_layers: int, last_layer: int) -> float:
        """LR multiplier of layer ``layer`` (``lr_scale`` of its param groups).

        ``backbone_scale`` (if ``layer < backbone_layers``) x ``layer_decay ** (last_layer - layer)`` x the
        ``lr_layer_scales`` rule covering the layer (1 when none does).
        """
        s = self.backbone_scale if layer < backbone_layers else 1.0
        if self.layer_decay != 1.0:
            s *= self.layer_decay ** (last_layer - layer)
        for first, last, rule in self.layer_scales or ():
            if first <= layer <= last:
                s *= rule
        return s

    def factor(self, epoch: int, t: float) -> float:
        """Freeze multiplier of a backbone group (on top of its lr_scale): 0 while frozen, then ramps up to 1."""
        unfreeze = self.unfreeze_epoch
        if not unfreeze:
            return 1.0
        if epoch < unfreeze:
            return 0.0
        ramp = self.unfreeze_warmup
        return min(1.0, (t - unfreeze) / ramp) if ramp > 0 else 1.0


@dataclass(frozen=True, kw_only=True)
class LRSettings:
    """Everything that drives the LR, resolved from a training config (see :func:`resolve`)."""

    policy_name: str | None = param(
        "lr_policy",
        "LR curve over the run (plateau: constant, with plateau reduction on)",
        "choice",
        choices=tuple(POLICIES),
        doc_default="linear (cosine if cos_lr=True)",
    )
    interval: str = param(
        "lr_interval",
        "step: recompute the LR before every optimizer step; epoch: once per epoch, like Ultralytics",
        "choice",
        default="step",
        choices=INTERVALS,
    )
    lrf: float = 0.01
    policy: Policy | None = None
    warmup: Warmup = field(default_factory=Warmup)
    plateau: PlateauSettings | None = None
    finetune: FineTune = field(default_factory=FineTune)
    find: FindSettings | None = None  # lr_find: a range test sets lr0 before the first epoch
    batch: BatchScaling = field(default_factory=BatchScaling)  # the LR following the images per optimizer step

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def cycles_momentum(self) -> bool:
        """True when the policy also drives momentum (one-cycle)."""
        return self.policy.cycles_momentum()

    @property
    def overlay(self) -> bool:
        """True when the policy's clock starts at step 0 and warmup blends into it (Ultralytics' way): asked for with
        lr_warmup_overlay, or by default with lr_interval=epoch. Else the policy starts when warmup ends."""
        return self.warmup.overlay if self.warmup.overlay is not None else self.interval == "epoch"

    @property
    def split_backbone(self) -> bool:
        """True when param groups are split by layer (backbone rules, layer scales or decay)."""
        return self.finetune.split

    def multiplier(self, t: float, horizon: float, plateau_factor: float = 1.0, span: float | None = None) -> float:
        """Policy multiplier of the peak LR at fractional epoch ``t``, with a plateau factor applied.

        ``span``: where the run ends in epochs, one batch after ``horizon`` (the last step) in per-step mode (see
        :meth:`~yolo_lr.policies.Policy.at`). A plateau reduction never pushes the LR below the plateau floor; the
        policy itself may go lower if asked to.
        """
        m = self.policy.at(t, horizon, span)
        if plateau_factor != 1.0:
            m = max(m * plateau_factor, min(m, self.plateau.min_factor))
        return m

    def describe(self) -> str:
        """One line for the training log."""
        parts = [f"policy={self.policy_name}", f"interval={self.interval}", f"lrf={self.lrf:g}"]
        extra = {d.name: d.param.text(getattr(self.policy, d.name)) for d in declared(type(self.policy))}
        if extra:
            parts.append("(" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")")
        then = "overlaid on the policy" if self.overlay else "to the peak, then the policy"
        parts.append(f"warmup={self.warmup.shape} from {self.warmup.start:g}x {then}")
        ft = self.finetune
        if ft.backbone_rules:
            frozen = (
                f"frozen{' with BN' if ft.freeze_bn else ''} until epoch {ft.unfreeze_epoch + 1}, "
                if (ft.unfreeze_epoch)
                else ""
            )
            ramp = f" (ramp {ft.unfreeze_warmup:g} ep)" if ft.unfreeze_warmup and ft.unfreeze_epoch else ""
            parts.append(f"backbone={frozen}lr x{ft.backbone_scale:g}{ramp}")
        if ft.layer_scales:
            parts.append(f"layers={KEYS['lr_layer_scales'].text(ft.layer_scales)}")
        if ft.layer_decay != 1.0:
            parts.append(f"layer_decay={ft.layer_decay:g}")
        p = self.plateau
        if p is None:
            parts.append("plateau=off")
        else:
            parts.append(
                f"plateau={p.metric} ({p.mode}, factor={p.factor:g}, patience={p.patience}, cooldown={p.cooldown}, "
                f"threshold={p.threshold:g} {p.threshold_mode}, floor={p.min_factor:g}x)"
            )
        if self.find is not None:
            parts.append(self.find.describe())
        if self.batch.rule != "off":
            parts.append(f"batch_scale={self.batch.rule}")
        return " ".join(parts)


# ----------------------------------------------------------------------------------------------------------------------
# The registry, derived from the declarations. Order = the order of the README table and of `yolo-lr show`.
SECTIONS: tuple[tuple[str, type], ...] = (
    ("general", LRSettings),
    ("warmup", Warmup),
    *((f"lr_policy={name}", cls) for name, cls in POLICIES.items() if name == cls.name),
    ("plateau", PlateauSettings),
    ("fine-tuning", FineTune),
    ("lr_find", FindSettings),
    ("batch size", BatchScaling),
)


def _collect() -> tuple[dict[str, Param], dict[str, list[tuple[type, Declared]]]]:
    keys: dict[str, Param] = {}
    owners: dict[str, list[tuple[type, Declared]]] = {}
    for _, cls in SECTIONS:
        for d in declared(cls):
            p = d.param
            if keys.setdefault(p.key, p) is not p:
                raise TypeError(f"{p.key} is declared twice ({cls.__name__}): share one Param with Param.field()")
            owners.setdefault(p.key, []).append((cls, d))
    return keys, owners


KEYS, _OWNERS = _collect()
"""Every ``lr_*`` key -> its declaration (:class:`~yolo_lr.params.Param`)."""

DEFAULTS: dict[str, Any] = {k: registered_default(KEYS[k], [d.default for _, d in _OWNERS[k]]) for k in KEYS}
"""Every ``lr_*`` key -> the default registered with Ultralytics (:func:`~yolo_lr.params.registered_default`)."""

POLICY_KEYS: dict[str, set[str]] = {name: {d.param.key for d in declared(cls)} for name, cls in POLICIES.items()}
"""Policy name -> the keys of its parameters, so a key set for another policy can be reported as ignored."""


def registry_defaults() -> dict[str, Any]:
    """The ``lr_*`` keys and the defaults registered with Ultralytics."""
    return dict(DEFAULTS)


def is_set(cfg: dict, key: str) -> bool:
    """True when ``cfg`` gives ``key`` a value other than None and its registered default."""
    v = cfg.get(key)
    return v is not None and not _same(v, DEFAULTS[key])


def is_active(cfg: dict) -> bool:
    """True when any ``lr_*`` key is set to something other than its registered default (None counts as unset)."""
    return any(is_set(cfg, k) for k in KEYS)


def closest_key(name: str) -> str | None:
    """The valid ``lr_*`` key closest to a misspelt one."""
    near = difflib.get_close_matches(name, list(KEYS), n=1, cutoff=0.5)
    return near[0] if near else None


def unknown_key_error(name: str, source: str | None = None) -> LRConfigError:
    """The error for an ``lr_*`` key the plugin does not know."""
    near = closest_key(name)
    hint = f" Did you mean '{near}'?" if near else ""
    src = _source_of(name, _SOURCES.get(name, (None, object()))[1], source)
    where = f" (from {src})" if src else " (from the training arguments)"
    return LRConfigError(
        f"yolo_lr: unknown key '{name}'{where}.{hint} Valid lr_* keys: {', '.join(KEYS)}. See `yolo-lr --help`.",
        key=name,
        source=src,
    )


# ----------------------------------------------------------------------------------------------------------------------
def _policy_name(cfg: dict) -> str:
    return cfg.get("lr_policy") or ("cosine" if cfg.get("cos_lr") else "linear")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def policy_span(cfg: dict, epochs: float) -> float:
    """The epochs a policy's clock runs over in a run of ``epochs``: all of them with ``lr_warmup_overlay`` (the
    default with ``lr_interval=epoch``), else those after warmup (``epochs - warmup_epochs``, warmup capped as
    Ultralytics caps it: the last epoch never warms). Step sizes, milestones and run-length defaults count in it."""
    we = cfg.get("warmup_epochs") or 0
    overlay = cfg.get("lr_warmup_overlay")
    if (overlay is False or (overlay is None and cfg.get("lr_interval") != "epoch")) and _is_number(we) and we > 0:
        return epochs - min(we, max(epochs - 1, 0))
    return epochs


def validate(cfg: dict, source: str | None = None) -> list[str]:
    """Check every ``lr_*`` key of a merged training config, and the native keys the policy relies on.

    Args:
        cfg: merged Ultralytics arguments (``lr_*`` keys may be missing: they take their defaults).
        source: where the values came from (a file path), for messages; inferred from loaded YAML files if None.

    Returns:
        Warnings (strings) for settings that are legal but probably not what was meant.

    Raises:
        LRConfigError: the first invalid value, naming the key (``err.key``), its source and what is allowed.
    """
    for k in cfg:
        if isinstance(k, str) and k.startswith("lr_") and k not in KEYS:
            raise unknown_key_error(k, source)
    if not is_active(cfg):
        return []

    def fail(key: str, problem: str) -> LRConfigError:
        return _error(key, cfg.get(key), problem, source)

    for k, p in KEYS.items():
        if is_set(cfg, k) and (problem := p.problem(cfg[k])):
            raise fail(k, problem)

    lr0, lrf = cfg.get("lr0", 0.01), cfg.get("lrf", 0.01)
    if not _is_number(lr0) or lr0 <= 0:
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
    name = _policy_name(cfg)
    for k in sorted(set().union(*POLICY_KEYS.values()) - POLICY_KEYS[name]):
        if is_set(cfg, k):
            warnings.append(f"{k}={cfg[k]!r} is ignored by lr_policy={name}")
    epochs = cfg.get("epochs")
    if _is_number(epochs) and not cfg.get("time"):
        span = policy_span(cfg, epochs)
        why = (
            f"epochs={epochs}"
            if span == epochs
            else f"epochs - warmup_epochs = {span:g}: the policy's clock starts when warmup ends"
        )
        ms = cfg.get("lr_milestones")
        if name in {"multistep", "piecewise"} and ms and ms[-1] >= span:
            raise fail("lr_milestones", f"must lie inside the run (every milestone < {why})")
        if name == "piecewise_linear" and ms and ms[-1] > span:
            raise fail("lr_milestones", f"must lie inside the run (every point <= {why})")
        unfreeze = cfg.get("lr_unfreeze_epoch")
        if unfreeze is not None and unfreeze >= epochs:
            raise fail(
                "lr_unfreeze_epoch", f"must be smaller than epochs={epochs} (0-based epoch that starts unfrozen)"
            )
        step = cfg.get("lr_step_size")
        if name == "step" and step is not None and step >= span:
            raise fail("lr_step_size", f"must be smaller than {why}, or the LR never decays")
    if name in {"onecycle", "cyclic"} and _is_number(cfg.get("warmup_epochs")) and cfg.get("warmup_epochs") > 0:
        warnings.append(
            f"lr_policy={name} has its own rising phase; warmup_epochs={cfg['warmup_epochs']} adds a second ramp "
            f"(set warmup_epochs=0 to use the {name} ramp alone)"
        )
    warnings += footguns(cfg)
    if cfg.get("lr_unfreeze_epoch") and cfg.get("freeze"):
        raise fail("freeze", "conflicts with lr_unfreeze_epoch: Ultralytics' freeze is permanent; keep one")
    for k in ("lr_unfreeze_warmup", "lr_freeze_bn"):
        if is_set(cfg, k) and not cfg.get("lr_unfreeze_epoch"):
            warnings.append(f"{k} is ignored without lr_unfreeze_epoch")
    if cfg.get("lr_find") and cfg.get("lr_batch_scale") not in (None, "off"):
        raise fail(
            "lr_batch_scale",
            "conflicts with lr_find: the range test measures lr0 at this run's own batch, so scaling it again would "
            "count the batch twice; keep one",
        )
    if cfg.get("lr_find"):
        if (n := device_count(cfg.get("device"))) > 1:
            raise fail(
                "lr_find",
                f"runs its range test on one device, but device={cfg.get('device')!r} trains on {n} (DDP, where each "
                "rank would test on its own): train on one device, or run `yolo-lr find` there and pass lr0",
            )
    else:
        for d in declared(FindSettings):
            if d.name != "on" and is_set(cfg, d.param.key):
                warnings.append(f"{d.param.key} is set but lr_find is off (set lr_find=True)")
    if not (cfg.get("lr_plateau") or name == PLATEAU_POLICY):
        for d in declared(PlateauSettings):
            if d.name != "on" and is_set(cfg, d.param.key):
                warnings.append(
                    f"{d.param.key} is set but plateau reduction is off (set lr_plateau=True or lr_policy=plateau)"
                )
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
    except ParamError as e:  # a rule a settings class checks on construction: it names its key
        raise fail(e.key, e.problem) from None
    return warnings


ADAM_FAMILY = {"adam", "adamw", "adamax", "nadam", "radam"}
SGD_SCALE_LR = 0.01  # Ultralytics' default lr0, tuned for SGD; an Adam-family optimizer there usually diverges
BIAS_SPIKE = 10  # warmup_bias_lr more than this many times lr0 (the defaults' 0.1 / 0.01): far above the rest


def footguns(cfg: dict) -> list[str]:
    """Warnings for native settings that are legal but usually a mistake with the LR the run asks for:

    - an Adam-family optimizer at an SGD-scale ``lr0`` (>= 0.01): Ultralytics' own ``optimizer=auto`` picks AdamW at
      ``0.002 * 5 / (4 + nc)`` (0.000119 for COCO's 80 classes);
    - a low ``lr0`` (fine-tuning) with the default ``warmup_bias_lr=0.1``: the bias groups start their warmup more
      than 10x above ``lr0`` (Ultralytics' defaults, 0.1 and 0.01, are the edge) while every other group starts at 0.
    """
    out = []
    opt = str(cfg.get("optimizer") or "").strip().lower()
    lr0 = cfg.get("lr0", SGD_SCALE_LR)
    if opt in ADAM_FAMILY and _is_number(lr0) and lr0 >= SGD_SCALE_LR:
        out.append(
            f"optimizer={cfg.get('optimizer')} with lr0={lr0:g}, an SGD-scale LR: Adam-family optimizers usually need "
            "10-100x less. Ultralytics' own optimizer=auto would pick AdamW at lr0 = 0.002 * 5 / (4 + nc) "
            "(0.000119 for 80 classes, 0.00167 for 2); try lr_find=True, or yolo-lr find"
        )
    bias, warm = cfg.get("warmup_bias_lr", 0.1), cfg.get("warmup_epochs", 3)
    auto = opt in {"", "auto", "none"}  # optimizer=auto zeroes warmup_bias_lr itself
    numbers = _is_number(bias) and _is_number(lr0) and _is_number(warm)
    if numbers and not auto and warm > 0 and lr0 > 0 and bias > BIAS_SPIKE * lr0:
        out.append(
            f"warmup_bias_lr={bias:g} is {bias / lr0:.0f}x lr0={lr0:g}: during warmup the bias groups start there and "
            "fall to lr0 while every other group rises from 0, a spike that can undo pretrained biases. Set "
            "warmup_bias_lr=0 (bias warms up like the rest) or a value near lr0"
        )
    return out


def resolve(cfg: dict) -> LRSettings:
    """Turn a (validated) training config into settings. Unset keys take their declared defaults."""
    name = _policy_name(cfg)
    lrf = cfg.get("lrf", 0.01)
    plateau = None
    if cfg.get("lr_plateau") or name == PLATEAU_POLICY:
        plateau = from_config(PlateauSettings, cfg)
        if plateau.min_factor is None:
            plateau = from_config(PlateauSettings, {**cfg, "lr_plateau_min_factor": lrf})
    return from_config(
        LRSettings,
        {**cfg, "lr_policy": name},
        lrf=float(lrf),
        policy=from_config(POLICIES[name], cfg, lrf=lrf),
        warmup=from_config(Warmup, cfg),
        plateau=plateau,
        finetune=from_config(FineTune, cfg),
        find=from_config(FindSettings, cfg) if cfg.get("lr_find") else None,
        batch=from_config(BatchScaling, cfg),
    )


# ----------------------------------------------------------------------------------------------------------------------
# Hyperparameter tuning (Ultralytics' model.tune): the tuner mutates numbers within the bounds of its search space,
# starting from the training config's values. ultralytics_compat checks the space and fills in starting values.
def integer_keys() -> frozenset[str]:
    """The ``lr_*`` keys that take integers (a tuner must round them)."""
    return frozenset(k for k, p in KEYS.items() if p.kind == "integer")


def check_tune_space(space: dict, cfg: dict | None = None) -> None:
    """Every ``lr_*`` key of a tuner's search space is a numeric key whose bounds it allows (in ``cfg``, if given:
    each bound is validated with the rest of the training config, e.g. a step size shorter than the run).

    Raises:
        LRConfigError: naming the key: unknown, not a number (run one tune per policy instead), or a bound out of
            range.
    """
    for key, bounds in space.items():
        if not (isinstance(key, str) and key.startswith("lr_")):
            continue
        if key not in KEYS:
            raise unknown_key_error(key)
        p = KEYS[key]
        where = f"space={{'{key}': {bounds!r}}}"
        if p.kind not in NUMERIC:
            raise LRConfigError(
                f"yolo_lr: {key} in the tuner's {where}: the tuner mutates numbers only and {key} is "
                f"{p.allowed()}. Fix it in the training arguments and run one tune per value (or use yolo-lr sweep).",
                key=key,
            )
        ok = isinstance(bounds, (list, tuple)) and len(bounds) in {2, 3} and all(_is_number(b) for b in bounds[:2])
        if not ok or bounds[0] > bounds[1]:
            raise LRConfigError(f"yolo_lr: {key} in the tuner's {where}: bounds are (min, max[, gain])", key=key)
        lo, hi = bounds[:2]
        if p.kind == "integer":
            lo, hi = math.ceil(lo), math.floor(hi)
        for b in (lo, hi):
            if problem := p.problem(b):
                raise LRConfigError(
                    f"yolo_lr: {key} in the tuner's {where}: the tuner may try {key}={b!r}, which {problem}", key=key
                )
            if cfg is not None:
                try:
                    validate({**cfg, key: b})
                except LRConfigError as e:
                    raise LRConfigError(
                        f"yolo_lr: {key} in the tuner's {where}: the tuner may try {key}={b!r}, and then "
                        f"{str(e).removeprefix('yolo_lr: ')}",
                        key=e.key,
                        source=e.source,
                    ) from None


def check_ray_space(space: dict, cfg: dict | None = None) -> None:
    """The ``lr_*`` part of a Ray Tune search space (``model.tune(use_ray=True, space=...)``), before any trial runs.

    Ray samples each key from a domain: ``tune.choice([...])`` or ``tune.grid_search([...])`` (any key: ``lr_policy``
    too, so Ray can compare policies), ``tune.uniform``/``loguniform`` (number keys), ``tune.randint`` (integer keys),
    or a plain value. Each value a trial could get is validated with the rest of the training config (``cfg``) where
    it can be listed (choices, plain values) and at the bounds otherwise. Domains are recognised by their attributes
    (``categories``, ``lower``/``upper``), so this needs no Ray import.

    Raises:
        LRConfigError: naming the key: unknown, a float domain on an integer key, or a value it cannot take.
    """
    cfg = dict(cfg or {})
    for key, domain in space.items():
        if not (isinstance(key, str) and key.startswith("lr_")):
            continue
        if key not in KEYS:
            raise unknown_key_error(key)
        p = KEYS[key]
        kind = type(domain).__name__
        if isinstance(domain, dict) and set(domain) == {"grid_search"}:  # tune.grid_search([...])
            values = list(domain["grid_search"])
        elif hasattr(domain, "categories"):
            values = list(domain.categories)
        elif hasattr(domain, "lower") and hasattr(domain, "upper"):
            if p.kind not in NUMERIC:
                raise LRConfigError(
                    f"yolo_lr: {key} in the Ray Tune space is a {kind} range, but {key} is {p.allowed()}: use "
                    f"tune.choice([...]) over its values",
                    key=key,
                )
            if p.kind == "integer" and kind != "Integer":
                raise LRConfigError(
                    f"yolo_lr: {key} in the Ray Tune space is a {kind} range, but {key} takes integers: use "
                    f"tune.randint({math.ceil(domain.lower)}, {math.floor(domain.upper) + 1}) (its upper bound is "
                    "exclusive) or tune.choice([...])",
                    key=key,
                )
            upper = domain.upper - 1 if kind == "Integer" else domain.upper  # randint's upper bound is exclusive
            values = [domain.lower, upper]
        else:
            values = [domain]
        for v in values:
            try:
                validate({**cfg, key: v})
            except LRConfigError as e:
                raise LRConfigError(
                    f"yolo_lr: {key} in the Ray Tune space: a trial may get {key}={v!r}, and then "
                    f"{str(e).removeprefix('yolo_lr: ')}",
                    key=e.key,
                    source=e.source,
                ) from None


def tune_start_values(cfg: dict, keys, backbone_layers: int | None = None) -> dict[str, Any]:
    """Where a tuner starts each unset ``lr_*`` key of ``keys``: the value that key takes in a run of ``cfg``.

    Keys with a registered number already have one in ``cfg``; this computes the others (declared with ``auto``: a
    step size from the run length, the plateau floor from lrf, the backbone's layer count, ...). The run length is the
    policy's span (:func:`policy_span`: the epochs after warmup, unless warmup is overlaid), as in training.

    Args:
        cfg: the tuner's merged training config.
        keys: the tuned keys (others are ignored, as are keys ``cfg`` sets).
        backbone_layers: the model's backbone layer count (needed for ``lr_backbone_layers`` only).
    """
    wanted = [k for k in keys if k in KEYS and cfg.get(k) is None]
    if not wanted:
        return {}
    s = resolve(cfg)
    run = {"epochs": policy_span(cfg, cfg.get("epochs") or 100), "lrf": s.lrf, "backbone_layers": backbone_layers}
    run["nbs"] = cfg.get("nbs") or 64
    in_force = {
        LRSettings: s,
        Warmup: s.warmup,
        type(s.policy): s.policy,
        PlateauSettings: s.plateau or PlateauSettings(),
        FineTune: s.finetune,
        BatchScaling: s.batch,
    }
    out = {}
    for key in wanted:
        for cls, d in sorted(_OWNERS[key], key=lambda o: o[0] not in in_force):  # the owner in force first
            if d.default is not None:
                out[key] = d.default
                break
            if d.auto is not None:
                obj = in_force.get(cls) or cls(lrf=s.lrf)  # a policy not in force (its key is ignored by this run)
                out[key] = d.auto(obj, run)
                break
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Text derived from the declarations: `yolo-lr show`, `yolo-lr --help` and the README key table.
def key_docs() -> list[dict[str, str]]:
    """One entry per key, in :data:`SECTIONS` order: ``key``, ``default``, ``allowed``, ``help``."""
    rows = []
    for key, p in KEYS.items():
        owners = _OWNERS[key]
        texts = {}
        for cls, d in owners:
            texts.setdefault(d.default_text(), []).append(getattr(cls, "name", "") or "")
        if len(texts) == 1:
            default = next(iter(texts))
        else:
            default = "; ".join(f"{t} ({', '.join(names)})" for t, names in texts.items())
        rows.append({"key": key, "default": default, "allowed": p.allowed(), "help": p.help})
    return rows


def keys_help() -> str:
    """Every key with its default, allowed values and meaning, as plain text (for ``--help``)."""
    lines = []
    for r in key_docs():
        lines.append(f"  {r['key']:<26} {r['help']}")
        lines.append(f"  {'':<26} default: {r['default']}; allowed: {r['allowed']}")
    return "\n".join(lines)


def readme_table() -> str:
    """The README key table (Markdown), between the ``<!-- keys:start -->`` and ``<!-- keys:end -->`` markers."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for r in key_docs():
        lines.append(f"| `{r['key']}` | {cell(r['default'])} | {cell(r['allowed'])} | {cell(r['help'])} |")
    return "\n".join(lines)


def effective_values(cfg: dict) -> list[tuple[str, Any, str]]:
    """What every ``lr_*`` key is in force for a (validated) config: ``(key, value, note)`` in registry order.

    ``note`` is ``""`` for a key the config sets, ``"default"`` for an unset one and ``"implied by lr_policy=plateau"``
    for the plateau switch. Keys of other policies, plateau keys while plateau reduction is off and lr_find options
    while lr_find is off are left out.
    """
    s = resolve(cfg)
    plateau = s.plateau or PlateauSettings()
    find = s.find or FindSettings()
    out = []
    for cls, obj in (
        (LRSettings, s),
        (Warmup, s.warmup),
        (type(s.policy), s.policy),
        (PlateauSettings, plateau),
        (FineTune, s.finetune),
        (FindSettings, find),
    ):
        for d in declared(cls):
            key = d.param.key
            if obj is plateau and s.plateau is None and d.name != "on":
                continue  # plateau reduction off: its settings do nothing
            if obj is find and s.find is None and d.name != "on":
                continue  # lr_find off: its options do nothing
            value = getattr(obj, d.name)
            if key == "lr_plateau":
                value = s.plateau is not None
            if key == "lr_warmup_overlay":
                value = s.overlay
            if isinstance(value, tuple):
                value = d.param.text(value)
            note = "" if is_set(cfg, key) else "default"
            if key == "lr_plateau" and value and not cfg.get(key):
                note = "implied by lr_policy=plateau"
            out.append((key, d.default_text() if value is None else value, note))
    return out


def replace_readme_table(text: str) -> str:
    """``text`` (a README) with the key table between its markers regenerated."""
    start, end = "<!-- keys:start -->", "<!-- keys:end -->"
    i, j = text.index(start) + len(start), text.index(end)
    return text[:i] + "\n" + readme_table() + "\n" + text[j:]


if __name__ == "__main__":  # python -m yolo_lr.config docs/keys.md: regenerate the key table in place
    import sys

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/keys.md")
    path.write_text(replace_readme_table(path.read_text()))
    print(f"key table written to {path}")
