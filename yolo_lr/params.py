"""How an ``lr_*`` key is declared: once, as metadata on the dataclass field it sets.

A settings class (a policy, the warmup, the plateau rule, the fine-tuning rules) declares each of its fields with
:func:`param`: the key users write, what values are allowed, the default (the field's own default) and a help line.
Everything else is derived from those declarations: the keys registered with Ultralytics, validation (with a
structured :class:`ParamError` that carries the key), the text of ``yolo-lr show`` and the README key table.

This module depends on the standard library only.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Declared",
    "Param",
    "ParamError",
    "check_fields",
    "declared",
    "from_config",
    "param",
    "registered_default",
]

KINDS = ("number", "integer", "choice", "flag", "name", "epochs", "factors", "layers")
NUMERIC = ("number", "integer")
"""Kinds whose values a hyperparameter tuner can mutate."""


class ParamError(ValueError):
    """A value that a declared key does not allow. ``key``, ``value`` and ``problem`` say which and why."""

    def __init__(self, key: str, value: Any, problem: str):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={value!r} {problem}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Param:
    """One ``lr_*`` key.

    Attributes:
        key: the name users write (``lr_gamma``).
        help: one line: what the key does.
        kind: ``number``, ``integer`` (integral floats accepted), ``choice``, ``flag`` (bool), ``name`` (a non-empty
            string), ``epochs`` (a strictly increasing list of positive epochs), ``factors`` (a list of positive
            numbers) or ``layers`` (a mapping of layer indices or ``"first-last"`` ranges to positive scales).
        lo, hi, lo_open, hi_open: the allowed range of a number (None: unbounded).
        choices: the allowed strings of a ``choice``.
        unset: the value a non-numeric key registers with Ultralytics for "not set" (None; a flag that is simply off
            declares False, a flag whose unset state means "decided by other keys" keeps None). See
            :func:`registered_default`.

    A key shared by several settings classes (``lr_gamma``) is one Param object; each class declares its field with
    :meth:`field` and its own default.
    """

    key: str
    help: str
    kind: str = "number"
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    unset: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TypeError(f"{self.key}: kind must be one of {KINDS}, got {self.kind!r}")

    def allowed(self) -> str:
        """The allowed values, in words (``a number in (0, 1)``)."""
        if self.kind in {"number", "integer"}:
            what = "an integer" if self.kind == "integer" else "a number"
            return f"{what} {self._range()}".rstrip()
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "flag":
            return "true or false"
        if self.kind == "name":
            return "a results.csv column name, or fitness"
        if self.kind == "factors":
            return "a list of positive numbers, e.g. [2.0, 0.1]"
        if self.kind == "layers":
            return "a mapping {layer or 'first-last': positive scale}, e.g. {22: 10.0, '0-9': 0.5}"
        return "a strictly increasing list of positive epochs, e.g. [30, 60]"

    def _range(self) -> str:
        lo, hi = self.lo, self.hi
        if lo is None and hi is None:
            return ""
        if hi is None:
            return f"{'>' if self.lo_open else '>='} {lo:g}"
        if lo is None:
            return f"{'<' if self.hi_open else '<='} {hi:g}"
        return f"in {'(' if self.lo_open else '['}{lo:g}, {hi:g}{')' if self.hi_open else ']'}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None when it is."""
        if self.kind in {"number", "integer"}:
            ok = _is_number(value) and (self.kind == "number" or float(value).is_integer())
            if ok and self.lo is not None:
                ok = value > self.lo if self.lo_open else value >= self.lo
            if ok and self.hi is not None:
                ok = value < self.hi if self.hi_open else value <= self.hi
            return None if ok else f"must be {self.allowed()}"
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return None
            near = difflib.get_close_matches(str(value), self.choices, n=1)
            return f"must be {self.allowed()}" + (f"; did you mean '{near[0]}'?" if near else "")
        if self.kind == "flag":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == "name":
            ok = isinstance(value, str) and value.strip()
            return None if ok else f"must be {self.allowed()}, e.g. metrics/mAP50-95(B)"
        if self.kind == "layers":
            return _layer_rules(value)[1]
        if not isinstance(value, (list, tuple)) or not value:
            return f"must be {self.allowed()}"
        if self.kind == "factors":
            ok = all(_is_number(f) and f > 0 for f in value)
            return None if ok else "must contain only positive numbers"
        if not all(_is_number(m) for m in value):
            return "must contain only numbers (epochs)"
        if any(m <= 0 for m in value):
            return "must contain only positive epochs"
        if any(b <= a for a, b in zip(value, value[1:])):
            return "must be strictly increasing"
        return None

    def field(self, default: Any = None, doc_default: str | None = None, auto: Any = None) -> Any:
        """A dataclass field set by this key, with its default (None: computed at run time, as ``doc_default`` says).

        ``auto(obj, run)``, for a numeric field whose default is computed at run time, gives that value as a number:
        ``obj`` is the settings object holding the field, ``run`` a mapping with the run's ``epochs`` (those the
        policy's clock runs over: after warmup, unless warmup is overlaid), ``lrf`` and ``backbone_layers``. A
        hyperparameter tuner starts from it (see :func:`yolo_lr.config.tune_start_values`).
        """
        if auto is not None and (default is not None or self.kind not in NUMERIC):
            raise TypeError(f"{self.key}: auto= is for numeric fields whose default is computed at run time")
        return dataclasses.field(default=default, metadata={"param": self, "doc_default": doc_default, "auto": auto})

    def check(self, value: Any) -> Any:
        """``value`` converted to the field's type (int, float, tuple), or ParamError naming the key."""
        if (problem := self.problem(value)) is not None:
            raise ParamError(self.key, value, problem)
        if self.kind == "integer":
            return int(value)
        if self.kind == "number":
            return float(value)
        if self.kind in {"epochs", "factors"}:
            return tuple(float(m) for m in value)
        if self.kind == "layers":
            return _layer_rules(value)[0]
        return value

    def text(self, value: Any) -> str:
        """``value`` as it would be written in a YAML file (``true``, ``0.1``, ``[30, 60]``, ``{22: 10}``)."""
        if value is True or value is False:
            return str(value).lower()
        if value is None:
            return "none"
        if isinstance(value, float):
            return f"{value:g}"
        if self.kind == "layers" and isinstance(value, tuple):
            rules = (f"{a}: " if a == b else f"'{a}-{b}': " for a, b, _ in value)
            return "{" + ", ".join(f"{r}{s:g}" for r, (_, _, s) in zip(rules, value)) + "}"
        if isinstance(value, tuple):
            return "[" + ", ".join(f"{v:g}" for v in value) + "]"
        return str(value)


def _layer_rules(value: Any) -> tuple[tuple[tuple[int, int, float], ...], str | None]:
    """Parse ``{layer or 'first-last': scale}`` into sorted ``(first, last, scale)`` rules, or say what is wrong."""
    what = "must be " + Param("", "", "layers").allowed()
    if not isinstance(value, dict) or not value:
        return (), what
    rules = []
    for k, s in value.items():
        if isinstance(k, int) and not isinstance(k, bool):
            first = last = k
        elif isinstance(k, str) and (m := re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", k)):
            first, last = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
        else:
            return (), f"{what}; {k!r} is neither a layer index nor a range"
        if first < 0 or last < first:
            return (), f"{what}; {k!r}: layers are >= 0 and a range runs from low to high"
        if not _is_number(s) or s <= 0:
            return (), f"{what}; the scale of {k!r} is {s!r}"
        rules.append((first, last, float(s)))
    rules.sort()
    for (_, a1, _), (b0, _, _) in zip(rules, rules[1:]):
        if b0 <= a1:
            return (), f"{what}; rules overlap (layer {b0} is in two of them)"
    return tuple(rules), None


def param(
    key: str,
    help: str,
    kind: str = "number",
    default: Any = None,
    doc_default: str | None = None,
    auto: Any = None,
    **rules,
):
    """Declare a dataclass field as the setting of key ``key`` (see :class:`Param` for ``kind`` and ``rules``).

    The field's default is ``default``; None means "computed at run time", described by ``doc_default`` and, for a
    numeric key, computed by ``auto`` (see :meth:`Param.field`).
    """
    return Param(key, help, kind, **rules).field(default, doc_default, auto)


@dataclass(frozen=True)
class Declared:
    """A settings field declared with a key: its name, its key, its default and how that default reads in docs."""

    name: str
    param: Param
    default: Any
    doc_default: str | None
    auto: Any = None

    def default_text(self) -> str:
        """The default in words: ``doc_default``, else the value as it would be written in a YAML file."""
        if self.doc_default is not None:
            return self.doc_default
        return self.param.text(self.default)


def declared(cls: type) -> list[Declared]:
    """Every declared field of a settings dataclass, in field order."""
    return [
        Declared(f.name, f.metadata["param"], f.default, f.metadata.get("doc_default"), f.metadata.get("auto"))
        for f in dataclasses.fields(cls)
        if "param" in f.metadata
    ]


def registered_default(param: Param, defaults: list[Any]) -> Any:
    """The value registered with Ultralytics for a key whose declarations have these field defaults.

    A numeric key whose declarations agree on one number registers it, so a tuner (or ``yolo cfg``) reads a concrete
    starting value. Every other key registers its :attr:`Param.unset` (None; False for a plain on/off flag). A key
    equal to its registered default counts as unset: a config that sets no ``lr_*`` key, or sets each to its registered
    default, trains exactly as Ultralytics does.
    """
    distinct = set(defaults)
    if param.kind in NUMERIC and len(distinct) == 1 and None not in distinct:
        return defaults[0]
    return param.unset


def check_fields(obj: Any) -> None:
    """Validate and convert every declared field of a frozen dataclass instance (call from ``__post_init__``).

    None is accepted everywhere and means "the default computed at run time".

    Raises:
        ParamError: the first field whose value its key does not allow.
    """
    for d in declared(type(obj)):
        value = getattr(obj, d.name)
        if value is not None:
            object.__setattr__(obj, d.name, d.param.check(value))


def from_config(cls: type, cfg: dict, **extra: Any) -> Any:
    """Build a settings dataclass from a training config: each declared field takes ``cfg[key]`` unless unset."""
    kwargs = {d.name: cfg[d.param.key] for d in declared(cls) if cfg.get(d.param.key) is not None}
    return cls(**kwargs, **extra)
