"""Sweeps: one short Ultralytics training per point of a grid (``lr0`` x any listed ``lr_*`` values, policies
included), a table of what each reached, and the best one.

Every point trains a fresh model from the same ``model=`` (same weights or same seeded initialisation) in its own
run folder of a sweep directory, with every other key identical. Per run: the final train loss (the sum of the
``train/*`` columns of the last results.csv row), the ranking metric of that row and the trainer's fitness of the last
epoch, the wall time of the training (``model.train`` as a whole: set-up, epochs, validation, final evaluation), and
the optimizer steps and images it trained on. The ranking metric is the task's own (Ultralytics' ``TASK2METRIC``:
detect and obb ``metrics/mAP50-95(B)``, segment ``metrics/mAP50-95(M)``, pose ``metrics/mAP50-95(P)``, classify
``metrics/accuracy_top1``, ...) unless ``metric=`` names another results.csv column or ``fitness``; whether higher or
lower is better follows from its name, as for the plateau metric. Best = the best metric, ties broken by the lower
final loss. The sweep directory gets ``sweep.csv``, ``sweep.md`` and ``sweep.png`` (metric against lr0, log x, one
line per combination of the other values, best marked).

Two engines run the trainings: ``local`` (default) one after another in this process, ``ray`` as Ray Tune trials in
parallel as the resources allow (:mod:`yolo_lr.tools.sweep_ray`, with optional ASHA early stopping). Both write a
``row.json`` into a run folder when its training finished, and ``sweep.json`` (what was asked) into the sweep
directory, so a killed sweep continues with ``resume=DIR`` without retraining a finished point.

``optimizer=auto`` (Ultralytics' default) ignores ``lr0``, which would make every run of the sweep identical: the
sweep then uses SGD and says so. An explicit optimizer is used as given.

Examples:
    >>> from yolo_lr.tools.sweep import sweep
    >>> res = sweep([1e-4, 1e-3, 1e-2], model="yolo26n.yaml", data="coco8.yaml", epochs=10, imgsz=320)
    >>> res.best.lr0
    >>> import yolo_lr
    >>> yolo_lr.sweep([1e-3, 1e-2], model="yolo26n.yaml", epochs=3, lr_policy=["cosine", "wsd"], engine="ray")

    ``yolo-lr sweep lr0=1e-4,1e-3,1e-2 lr_policy=cosine,wsd model=yolo26n.yaml epochs=10 engine=ray``
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAP50, MAP = "metrics/mAP50(B)", "metrics/mAP50-95(B)"
FITNESS = "fitness"
TRAIN_LOSS = "train_loss"  # early_stop_metric: the sum of the train/* loss columns (a row's final_loss)


ENGINES = ("local", "ray")
# Keys a sweep can vary besides lr0: lrf and every lr_* key taking one value (a list-valued key such as lr_milestones
# takes its commas as its own value).
GRID_KINDS = frozenset({"choice", "number", "flag", "integer", "name"})


def parse_lr0s(value: Any) -> list[float]:
    """The lr0 values of a sweep, sorted: a list/tuple (``lr0=1e-4,1e-3`` reaches us as a tuple), one number, or a
    comma-separated string.

    Raises:
        ValueError: empty, not a positive finite number, or a value given twice.
    """
    out = []
    for v in _items(value):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"lr0 value {v!r} is not a number") from None
        if isinstance(v, bool) or not math.isfinite(f) or f <= 0:
            raise ValueError(f"lr0 value {v!r} must be a finite number > 0")
        out.append(f)
    if not out:
        raise ValueError("no lr0 value to sweep: give lr0=1e-4,1e-3,1e-2")
    if len(set(out)) != len(out):
        raise ValueError(f"lr0 values given twice: {value!r}")
    return sorted(out)


def _items(value: Any) -> list[Any]:
    if isinstance(value, str):
        from yolo_lr.tools.cli import smart_value

        return [smart_value(v) for v in value.replace(" ", "").strip("[]()").split(",") if v]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def grid_keys() -> frozenset[str]:
    """The keys besides lr0 whose list of values makes an axis of the grid."""
    from yolo_lr.config import KEYS

    return frozenset({"lrf", *(k for k, p in KEYS.items() if p.kind in GRID_KINDS)})


def split_grid(args: dict[str, Any]) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Split training keys into the grid's other axes (a grid key given several values: a list, a tuple, or a
    comma-separated string) and the keys every run shares.

    Raises:
        ValueError: a value given twice on an axis.
    """
    keys = grid_keys()
    axes: dict[str, list[Any]] = {}
    rest: dict[str, Any] = {}
    for k, v in args.items():
        if k in keys and (isinstance(v, (list, tuple)) or (isinstance(v, str) and "," in v)):
            values = _items(v)
            if not values:
                raise ValueError(f"{k}={v!r}: no value to sweep")
            if len({repr(x) for x in values}) != len(values):
                raise ValueError(f"{k} values given twice: {v!r}")
            axes[k] = values
        else:
            rest[k] = v
    return axes, rest


def grid_points(lr0s: list[float], axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, lr0 first (sorted), then each axis in the order given."""
    import itertools

    names = ["lr0", *axes]
    return [dict(zip(names, combo)) for combo in itertools.product(lr0s, *axes.values())]


@dataclass
class SweepRow:
    """One training of the sweep: one point of the grid."""

    lr0: float
    point: dict[str, Any] = field(default_factory=dict)  # the other grid values of this run (besides lr0)
    final_loss: float = math.nan  # sum of the train/* columns, last results.csv row
    metric: float = math.nan  # the ranking metric (last results.csv row, or the last epoch's fitness)
    metrics: dict[str, float] = field(default_factory=dict)  # every metrics/* column of that row, and fitness
    seconds: float = math.nan  # wall time of model.train()
    epochs: int = 0  # epochs trained
    steps: int = 0  # optimizer steps
    images: int = 0  # training images processed (validation not counted)
    run_dir: Path | None = None
    error: str | None = None  # the exception of a run that failed
    stopped: bool = False  # stopped early by the engine's scheduler (ASHA): not ranked
    best: bool = False

    @property
    def label(self) -> str:
        """The point in words: ``lr0=0.001`` or ``lr0=0.001 lr_policy=wsd``."""
        return " ".join(f"{k}={_val(v)}" for k, v in {"lr0": self.lr0, **self.point}.items())

    def to_json(self) -> dict[str, Any]:
        """The row as JSON-safe values (NaN kept as None)."""
        out = {k: getattr(self, k) for k in ("lr0", "point", "final_loss", "metric", "metrics", "seconds")}
        out |= {k: getattr(self, k) for k in ("epochs", "steps", "images", "error", "stopped")}
        out["run_dir"] = str(self.run_dir) if self.run_dir is not None else None
        nan = {k for k in ("final_loss", "metric", "seconds") if not math.isfinite(out[k])}
        return {**out, **dict.fromkeys(nan), "metrics": {k: _none(v) for k, v in self.metrics.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SweepRow:
        """The row :meth:`to_json` wrote."""
        f = {k: math.nan if d.get(k) is None else float(d[k]) for k in ("final_loss", "metric", "seconds")}
        metrics = {k: math.nan if v is None else float(v) for k, v in (d.get("metrics") or {}).items()}
        run_dir = Path(d["run_dir"]) if d.get("run_dir") else None
        counts = {k: int(d.get(k) or 0) for k in ("epochs", "steps", "images")}
        return cls(
            float(d["lr0"]),
            dict(d.get("point") or {}),
            **f,
            metrics=metrics,
            **counts,
            run_dir=run_dir,
            error=d.get("error"),
            stopped=bool(d.get("stopped")),
        )

    @property
    def map50(self) -> float:
        """Box mAP50 (detect, obb and the box part of segment/pose); NaN for tasks without boxes."""
        return self.metrics.get(MAP50, math.nan)

    @property
    def map(self) -> float:
        """Box mAP50-95; NaN for tasks without boxes."""
        return self.metrics.get(MAP, math.nan)

    @property
    def fitness(self) -> float:
        """The trainer's fitness after the last trained epoch."""
        return self.metrics.get(FITNESS, math.nan)


@dataclass
class SweepResult:
    """A finished sweep: rows sorted by lr0, the best one marked, and where the files are."""

    rows: list[SweepRow]
    optimizer: str
    notes: list[str]
    save_dir: Path
    csv: Path
    md: Path
    png: Path | None
    seconds: float
    train_args: dict[str, Any] = field(default_factory=dict)
    task: str = "detect"
    metric: str = MAP  # the ranking metric
    mode: str = "max"  # max: higher is better; min: lower is better
    reason: str = ""  # why the best row won, or why none did
    axes: list[str] = field(default_factory=list)  # the grid's keys besides lr0
    engine: str = "local"

    @property
    def epochs(self) -> int:
        """Training epochs over all runs (fewer than points x epochs when runs were stopped early)."""
        return sum(r.epochs for r in self.rows)

    @property
    def best(self) -> SweepRow | None:
        """The best row (None when every run failed)."""
        return next((r for r in self.rows if r.best), None)

    @property
    def steps(self) -> int:
        """Optimizer steps over all runs."""
        return sum(r.steps for r in self.rows)

    @property
    def images(self) -> int:
        """Training images over all runs."""
        return sum(r.images for r in self.rows)

    def table(self) -> str:
        """The rows as a Markdown table, the best one in bold with a ``<- best`` mark."""
        extra = [] if self.metric == FITNESS else [FITNESS]
        head = ["lr0", *self.axes, "final train loss", self.metric, *extra, "time (s)", "epochs", "steps", "images", ""]
        lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * (len(head) - 1) + "---|"]
        for r in self.rows:
            point = [f"{r.lr0:.3g}", *(_val(r.point.get(k)) for k in self.axes)]
            if r.error:
                blanks = " |" * len(extra)
                lines.append(
                    f"| {' | '.join(point)} | failed: {r.error} | |{blanks} {_fmt(r.seconds, '.1f')} | | | | |"
                )
                continue
            cells = [*point, _fmt(r.final_loss, ".4f"), _fmt(r.metric, ".4f")]
            cells += [_fmt(r.metrics.get(k, math.nan), ".4f") for k in extra]
            cells += [_fmt(r.seconds, ".1f"), str(r.epochs), str(r.steps), str(r.images)]
            if r.best:
                cells = [f"**{c}**" for c in cells]
            mark = "<- best" if r.best else "stopped early" if r.stopped else ""
            lines.append("| " + " | ".join(cells) + f" | {mark} |")
        return "\n".join(lines)

    def rule(self) -> str:
        """How the best row was chosen, in words."""
        return f"{'highest' if self.mode == 'max' else 'lowest'} {self.metric}; ties -> lowest final loss"


def _none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _val(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _fmt(v: float, spec: str) -> str:
    return "nan" if v is None or not math.isfinite(v) else format(v, spec)


def _same(a: float, b: float) -> bool:
    """Two results that cannot be told apart (equal to 9 significant digits; both NaN counts as equal)."""
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def rank(rows: list[SweepRow], mode: str = "max", metric: str = "metric") -> tuple[SweepRow | None, str]:
    """The best row and why, in words: the best metric (highest for mode max, lowest for min); runs that tie on it are
    told apart by the lower final loss; runs that tie on both are not told apart, and no row wins. Failed runs and NaN
    metrics never win."""
    ok = [r for r in rows if r.error is None and not r.stopped and math.isfinite(r.metric)]
    if not ok:
        return None, f"no run that trained to the end produced a finite {metric}: no best row"
    sign = 1.0 if mode == "max" else -1.0
    top = max(sign * r.metric for r in ok)
    tied = [r for r in ok if _same(sign * r.metric, top)]
    word = "highest" if mode == "max" else "lowest"
    if len(tied) == 1:
        return tied[0], f"{word} {metric}: {tied[0].metric:.4g}"
    losses = sorted(tied, key=lambda r: r.final_loss if math.isfinite(r.final_loss) else math.inf)
    first, second = losses[0], losses[1]
    lr0s = ", ".join(r.label for r in tied)
    if not math.isfinite(first.final_loss) or _same(first.final_loss, second.final_loss):
        return None, (
            f"no best row: {lr0s} tie on {metric} ({tied[0].metric:.4g}) and on the final loss "
            f"({_fmt(first.final_loss, '.4g')}), so they cannot be told apart (train longer, or on more data)"
        )
    return first, (
        f"{lr0s} tie on {metric} ({tied[0].metric:.4g}); the lowest final loss decides: {first.final_loss:.4g}"
    )


def pick_best(rows: list[SweepRow], mode: str = "max") -> SweepRow | None:
    """The row :func:`rank` picks (None: no run succeeded, or the best ones cannot be told apart)."""
    return rank(rows, mode)[0]


def read_last_row(results_csv: Path) -> dict[str, float]:
    """The last row of an Ultralytics results.csv, as floats by column name (header spaces stripped)."""
    with open(results_csv, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    header = [h.strip() for h in rows[0]]
    out = {}
    for k, v in zip(header, rows[-1]):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = math.nan
    return out


def sweep(
    lr0s: Any = None,
    model: Any = None,
    data: str | Path | None = None,
    project: str | Path | None = None,
    name: str = "sweep",
    metric: str | None = None,
    verbose: bool = True,
    *,
    engine: str = "local",
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    address: str | None = None,
    early_stop: str | bool | None = None,
    grace_period: int | None = None,
    early_stop_metric: str | None = None,
    resume: str | Path | None = None,
    **train_args: Any,
) -> SweepResult:
    """Train once per point of the grid (everything else equal) and tabulate the results.

    Args:
        lr0s: the lr0 values (list, tuple, one number or ``"1e-4,1e-3"``).
        model: model path/name (``yolo26n.yaml``, ``yolo26n-cls.yaml``, ``best.pt``); each run starts from a fresh
            copy. A ``YOLO`` object is accepted and reloaded from its checkpoint path or YAML.
        data: dataset YAML (or classify folder). None: the bundled COCO8 for a detect model; other tasks need it.
        project: parent folder of the sweep directory, placed as Ultralytics places any run (default: its
            ``runs_dir`` setting, then the task, as ``yolo train``).
        name: sweep directory name, incremented (``sweep``, ``sweep2``, ...) when it exists.
        metric: the results.csv column (or ``fitness``) that ranks the runs; default the task's own metric
            (:func:`yolo_lr.tasks.main_metric`). Higher or lower is better by its name (``loss``/``error`` -> lower).
        verbose: print progress, the table and where the files are.
        engine: ``local`` (one training after another in this process) or ``ray`` (Ray Tune trials, in parallel as
            the resources allow; needs ``pip install 'yolo-lr[ray]'``).
        cpus_per_trial: Ray only: CPUs per trial (default 1); also the trial's torch threads.
        gpus_per_trial: Ray only: GPUs per trial (default 1 when this machine has CUDA, else 0).
        address: Ray only: an existing Ray cluster (``auto``, ``ray://host:10001``); default a local one. Run folders
            are written where each trial runs: on a cluster, put ``project=`` on storage every node shares.
        early_stop: ``asha`` (Ray only): stop trials that trail at a rung (Ray's ASHA on ``early_stop_metric``,
            judged among the points that differ only in lr0); None/``off``: every point trains to the end.
        grace_period: epochs before ASHA's first judgement (default a quarter of the epochs, at least 1).
        early_stop_metric: what ASHA judges at a rung (default the ranking metric): ``train_loss`` (the sum of the
            ``train/*`` loss columns, lower is better), ``fitness`` or another results.csv column. The runs are still
            ranked by ``metric`` at the end.
        resume: a sweep directory whose sweep was killed: continue it, with what it was given (``sweep.json``);
            finished points are not trained again. Only the Ray options above may be given with it.
        **train_args: any ``yolo train`` keys, the same for every run (``epochs``, ``imgsz``, ``optimizer``,
            ``cfg=`` a preset, ``lr_*`` policy keys, ...), except that ``lrf`` or an ``lr_*`` key taking one value may
            be given several values (a list, or ``"cosine,wsd"``): each is an axis of the grid. ``lr0`` is not
            allowed here.

    Returns:
        The sweep result (rows in grid order: lr0 ascending, then each axis as given).

    Raises:
        ValueError: bad lr0 or axis values, no model, no data for a non-detect model, a metric whose direction is
            unclear, ``lr0``/``project``/``name`` inside ``train_args``, bad ``lr_*`` keys at any point of the grid,
            ``lr_find`` (it would replace the lr0 the sweep varies), a task that contradicts the model, Ray options
            without ``engine=ray``, ``engine=ray`` without Ray installed.
    """
    ray_opts = {"cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial, "address": address}
    if resume is not None:
        given = any(v is not None for v in (lr0s, model, data, early_stop_metric))
        if given or train_args or early_stop or grace_period:
            raise ValueError(
                f"resume={resume} continues a sweep with what it was given (its sweep.json): give nothing else but "
                "cpus_per_trial, gpus_per_trial and address"
            )
        plan = load_plan(resume)
        if engine not in ("local", plan["engine"]):  # "local" is the default: not a choice
            raise ValueError(f"resume={resume} is an engine={plan['engine']} sweep: it continues on that engine")
    else:
        early = {"early_stop": early_stop, "grace_period": grace_period, "early_stop_metric": early_stop_metric}
        plan = make_plan(lr0s, model, data, project, name, metric, engine, early, train_args)
    if plan["engine"] == "ray":
        require_ray()
    elif any(v is not None for v in ray_opts.values()):
        raise ValueError(f"{', '.join(k for k, v in ray_opts.items() if v is not None)}: only with engine=ray")
    save_dir = Path(plan["save_dir"])
    if resume is None:
        save_dir.mkdir(parents=True, exist_ok=True)
        (save_dir / "sweep.json").write_text(json.dumps(plan, indent=1, default=str) + "\n")
    try:
        return _run(plan, verbose, ray_opts)
    except KeyboardInterrupt:  # Ctrl-C outside Ray Tune's own handling (start-up, a second Ctrl-C, the local engine)
        done = sum((point_dir(plan, p) / ROW_FILE).is_file() for p in plan["points"])
        raise SweepInterrupted(save_dir, done, len(plan["points"])) from None


RAY_INSTALL = "pip install 'yolo-lr[ray]'"


def require_ray() -> None:
    """Raises:
    ValueError: Ray Tune cannot be imported, with the command that installs it.
    """
    try:
        from ray import tune  # noqa: F401
    except ImportError as e:
        raise ValueError(f"engine=ray needs Ray Tune, which is not installed here ({e}): {RAY_INSTALL}") from None


def make_plan(
    lr0s: Any,
    model: Any,
    data: Any,
    project: Any,
    name: str,
    metric: str | None,
    engine: str,
    early_stopping: dict[str, Any],
    train_args: dict[str, Any],
) -> dict[str, Any]:
    """Check everything a sweep is given and decide its points and folders (JSON-safe: it is ``sweep.json``).
    ``early_stopping``: the ``early_stop``, ``grace_period`` and ``early_stop_metric`` given to :func:`sweep`.

    Raises:
        ValueError: see :func:`sweep`.
    """
    from ultralytics.utils import DEFAULT_CFG_DICT

    import yolo_lr  # noqa: F401  (registers the lr_* keys and callbacks before models are created)
    from yolo_lr.config import validate
    from yolo_lr.plateau import infer_mode
    from yolo_lr.presets import load_policy, preset_path
    from yolo_lr.tasks import ModelInfo, default_data, main_metric, resolve_task
    from yolo_lr.ultralytics_compat import is_auto_optimizer

    if lr0s is None:
        raise ValueError("no lr0 value to sweep: give lr0=1e-4,1e-3,1e-2")
    values = parse_lr0s(lr0s)
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: use one of {', '.join(ENGINES)}")
    early_stop, grace_period = early_stopping.get("early_stop"), early_stopping.get("grace_period")
    judge = early_stopping.get("early_stop_metric")
    early = None if early_stop in (None, False, "off", "none", "None") else str(early_stop)
    if early not in (None, "asha"):
        raise ValueError(f"early_stop={early_stop!r}: use asha (engine=ray) or off")
    if early and engine != "ray":
        raise ValueError("early_stop=asha needs engine=ray (Ray Tune's ASHA scheduler stops the trials)")
    if grace_period is not None and not early:
        raise ValueError("grace_period is the epochs before early stopping's first judgement: give early_stop=asha")
    if judge is not None and not early:
        raise ValueError("early_stop_metric is what early stopping judges at a rung: give early_stop=asha")
    if model is None:
        raise ValueError("sweep needs model= (e.g. yolo26n.yaml or a .pt checkpoint)")
    if "lr0" in train_args:
        raise ValueError("lr0 is what the sweep varies: pass the values as lr0s")
    if train_args.get("resume"):
        raise ValueError("a sweep cannot resume a training (resume=DIR continues a killed sweep)")
    model_path = _model_path(model)
    axes, args = split_grid(train_args)
    args.pop("exist_ok", None)  # run folders are named after their point, inside a new sweep directory
    task = args.pop("task", None)
    info = ModelInfo(model.task, True) if hasattr(model, "task") and task is None else resolve_task(model_path, task)
    if args.get("cfg") is not None and not isinstance(args["cfg"], dict):
        args["cfg"] = str(preset_path(str(args["cfg"])))  # Model.train wants a file; presets are given by name
    preset, _ = load_policy(args.get("cfg"))
    merged = {**preset, **{k: v for k, v in args.items() if k != "cfg"}}
    points = grid_points(values, axes)
    for point in points:  # every point must be a valid run before the first one trains
        try:
            validate({**DEFAULT_CFG_DICT, **merged, **point})
        except ValueError as e:
            if axes:  # say which point: the same type, key and source
                e.args = (f"{e} (at the grid point {' '.join(f'{k}={v}' for k, v in point.items())})", *e.args[1:])
            raise
    if merged.get("lr_find") or any(p.get("lr_find") for p in points):
        raise ValueError("lr_find would replace every run's lr0 with its own finding: a sweep varies lr0, drop lr_find")
    if isinstance(args.get("cfg"), dict):  # Model.train reads cfg= from a file only: a dict becomes keyword args
        args = {**args.pop("cfg"), **args}
    data = data if data is not None else merged.get("data") or default_data(info.task)
    if data is None:
        raise ValueError(
            f"sweep needs data= for {model_path}, a {info.task} model: the bundled COCO8 is detection only"
        )
    metric = str(metric or main_metric(info.task))
    try:
        mode = infer_mode(metric)
    except ValueError as e:
        raise ValueError(f"metric={metric!r}: {e}") from None
    judge = str(judge) if judge is not None and early else (metric if early else None)
    try:
        judge_mode = None if judge is None else infer_mode(judge)  # train_loss: a loss, lower is better
    except ValueError as e:
        raise ValueError(f"early_stop_metric={judge!r}: {e}") from None
    epochs = int(merged.get("epochs", DEFAULT_CFG_DICT["epochs"]))
    grace = None
    if early:
        grace = max(1, epochs // 4) if grace_period is None else grace_period
        if isinstance(grace, bool) or not isinstance(grace, int) or not 1 <= grace < epochs:
            raise ValueError(
                f"grace_period={grace_period!r}: a whole number of epochs from 1 to epochs-1 ({epochs - 1})"
            )
    notes: list[str] = []
    optimizer = merged.get("optimizer", DEFAULT_CFG_DICT.get("optimizer"))
    if is_auto_optimizer(optimizer):
        optimizer = "SGD"
        args["optimizer"] = "SGD"
        notes.append(
            "optimizer=auto ignores lr0 (it picks its own optimizer and LR), which would make every run identical: "
            f"the sweep uses SGD (momentum={merged.get('momentum', DEFAULT_CFG_DICT.get('momentum', 0.937)):g})."
        )
    from types import SimpleNamespace

    from ultralytics.cfg import get_save_dir  # where Ultralytics puts any run: project=, else runs_dir/TASK

    where = SimpleNamespace(project=str(project) if project else None, name=name, task=info.task, mode="sweep")
    save_dir = get_save_dir(SimpleNamespace(**vars(where), exist_ok=False))
    return {
        "points": points,
        "axes": list(axes),
        "model": _absolute(model_path),
        "data": _absolute(str(data)),
        "args": {k: _absolute(v) if k == "cfg" else v for k, v in args.items()},
        "task": info.task,
        "metric": metric,
        "mode": mode,
        "optimizer": str(optimizer),
        "epochs": epochs,
        "notes": notes,
        "save_dir": str(Path(save_dir).resolve()),
        "engine": engine,
        "early_stop": early,
        "grace_period": grace,
        "early_stop_metric": judge,
        "early_stop_mode": judge_mode,
    }


def _absolute(value: Any) -> Any:
    """A path that exists here, made absolute (Ray trials run in their own working directory); names as given."""
    return str(Path(value).resolve()) if isinstance(value, str) and value and Path(value).exists() else value


def load_plan(sweep_dir: str | Path) -> dict[str, Any]:
    """What a sweep directory's sweep was given (its ``sweep.json``).

    Raises:
        ValueError: no such directory, or no sweep.json in it.
    """
    path = Path(sweep_dir) / "sweep.json"
    if not path.is_file():
        raise ValueError(
            f"resume={sweep_dir}: no sweep.json there (is it the folder a sweep printed as its directory?)"
        )
    plan = json.loads(path.read_text())
    plan["save_dir"] = str(path.parent.resolve())  # the folder may have moved since
    return plan


def _run(plan: dict[str, Any], verbose: bool, ray_opts: dict[str, Any]) -> SweepResult:
    """Train every point of the plan with its engine, rank the rows and write the sweep's files."""
    say = print if verbose else (lambda *a, **k: None)
    save_dir = Path(plan["save_dir"])
    points, metric, mode = plan["points"], plan["metric"], plan["mode"]
    axes = "".join(f" x {k} in {', '.join(_val(v) for v in _axis(points, k))}" for k in plan["axes"])
    lr0s = ", ".join(f"{v:.3g}" for v in _axis(points, "lr0"))
    early = ""
    if plan["early_stop"]:
        early = f", early stop {plan['early_stop']} on {early_stop_on(plan)[0]} after {plan['grace_period']} epochs"
    say(
        f"yolo-lr sweep: {len(points)} trainings of {plan['model']} ({plan['task']}) on {plan['data']}, "
        f"optimizer={plan['optimizer']}, lr0 in {lr0s}{axes}, ranked by {metric} ({mode}), engine {plan['engine']}"
        f"{early} -> {save_dir}",
        flush=True,
    )
    notes = list(plan["notes"])
    for n in notes:
        say(f"  note: {n}", flush=True)
    t0 = time.perf_counter()
    if plan["engine"] == "ray":
        from yolo_lr.tools.sweep_ray import run_trials

        rows = run_trials(plan, say, **ray_opts)
    else:
        rows = []
        for i, point in enumerate(points):
            row, done_before = train_point(plan, point)
            rows.append(row)
            again = " (trained before: not retrained)" if done_before else ""
            say(f"  [{i + 1}/{len(points)}] {row.label}: {_status(row, metric)}{again}", flush=True)
    best, reason = rank(rows, mode, metric)
    if best is not None:
        best.best = True
    else:
        notes.append(reason)
    stopped, early_notes = sum(r.stopped for r in rows), []
    if stopped:
        early_notes = [
            f"{stopped} of {len(rows)} runs were stopped early by {plan['early_stop']} on {early_stop_on(plan)[0]} "
            f"({sum(r.epochs for r in rows)} of {len(rows) * plan['epochs']} epochs trained); only runs trained to the "
            "end are ranked.",
            *_low_lr0_kept(rows, plan["early_stop"], early_stop_on(plan)[0]),
        ]
        notes += early_notes
    res = SweepResult(
        rows=rows,
        optimizer=plan["optimizer"],
        notes=notes,
        save_dir=save_dir,
        csv=save_dir / "sweep.csv",
        md=save_dir / "sweep.md",
        png=None,
        seconds=time.perf_counter() - t0,
        train_args={**plan["args"], "model": plan["model"], "data": plan["data"]},
        task=plan["task"],
        metric=metric,
        mode=mode,
        reason=reason,
        axes=list(plan["axes"]),
        engine=plan["engine"],
    )
    _write_csv(res)
    _write_md(res)
    res.png = _plot(res, save_dir / "sweep.png")
    say(res.table())
    for n in early_notes:
        say(f"note: {n}")
    say(f"best: {best.label} ({reason})" if best is not None else reason)
    say(f"sweep: {res.csv}\n       {res.md}\n       {res.png}\n({res.seconds:.0f} s in all)", flush=True)
    return res


def _low_lr0_kept(rows: list[SweepRow], early_stop: str, judge: str | None = None) -> list[str]:
    """A note when early stopping (judging ``judge``) stopped lr0 values above every one it kept in a schedule: the
    short-horizon bias favours low lr0 values at an early rung, so the stopped ones have not been judged on how they
    end."""
    schedules: dict[str, list[SweepRow]] = {}
    for r in rows:
        if r.error is None:
            schedules.setdefault(" ".join(f"{k}={_val(v)}" for k, v in r.point.items()), []).append(r)
    cases, lr0s = [], set()
    for name, group in schedules.items():
        kept = [r.lr0 for r in group if not r.stopped]
        above = sorted(r.lr0 for r in group if r.stopped and kept and r.lr0 > max(kept))
        if above:
            where = f" with {name}" if name else ""
            kept_text, above_text = (", ".join(f"{v:g}" for v in sorted(vs)) for vs in (kept, above))
            cases.append(f"{where} kept lr0={kept_text} and stopped lr0={above_text}")
            lr0s.update(above)
    if not cases:
        return []
    return [
        f"{early_stop}{';'.join(cases)}. It judged them before their schedule decayed, where a higher lr0 often "
        "trails and still ends better (the short-horizon bias): train them to the end before trusting this table's "
        f"lr0, e.g. the same sweep with lr0={','.join(f'{v:g}' for v in sorted(lr0s))} and no early_stop."
        + (
            ""
            if judge == TRAIN_LOSS
            else f" Judging the training loss (early_stop_metric={TRAIN_LOSS}) trails a higher lr0 less at an early "
            "rung, unless the training set is small enough to overfit (docs/finding-the-lr.md)."
        )
    ]


def _axis(points: list[dict[str, Any]], key: str) -> list[Any]:
    out: list[Any] = []
    for p in points:
        if p[key] not in out:
            out.append(p[key])
    return out


def _status(row: SweepRow, metric: str) -> str:
    if row.error:
        return f"failed: {row.error} ({row.seconds:.1f} s)"
    early = f", stopped early after {row.epochs} epochs" if row.stopped else ""
    return f"loss {row.final_loss:.4f}, {metric} {row.metric:.4f}{early} ({row.seconds:.1f} s)"


def _model_path(model: Any) -> str:
    from ultralytics.engine.model import Model

    if isinstance(model, Model):
        return str(model.ckpt_path or model.overrides.get("model"))
    return str(model)


def run_name(lr0: float, point: dict[str, Any] | None = None) -> str:
    """Run folder of one point inside the sweep directory: ``lr0_0.001``, ``lr0_0.001-lr_policy_wsd``."""
    return "-".join([f"lr0_{lr0:.3g}", *(f"{k}_{_val(v)}" for k, v in (point or {}).items() if k != "lr0")])


ROW_FILE = "row.json"  # written into a run folder when its training finished: a resumed sweep keeps it


def point_dir(plan: dict[str, Any], point: dict[str, Any]) -> Path:
    """The run folder of a point of the plan's grid."""
    return Path(plan["save_dir"]) / run_name(float(point["lr0"]), point)


class SweepInterrupted(Exception):
    """The sweep stopped before every point finished (Ctrl-C, a trial lost): ``resume=save_dir`` continues it."""

    def __init__(self, save_dir: Path, finished: int, total: int):
        self.save_dir = save_dir
        super().__init__(
            f"sweep interrupted with {finished} of {total} points finished; continue it (finished points are kept) "
            f"with: yolo-lr sweep resume={save_dir}   (Python: yolo_lr.sweep(resume={str(save_dir)!r}))"
        )


def train_point(
    plan: dict[str, Any], point: dict[str, Any], on_epoch: Any = None, drop_callbacks: str | None = None
) -> tuple[SweepRow, bool]:
    """Train one fresh model at this point of the grid (or read the row a finished earlier training left), count its
    steps and images, read its last results.csv row. ``on_epoch(row)`` is called after every epoch but the last with
    the row so far. ``drop_callbacks``: a module whose callbacks the trainer must not run (Ultralytics' own Ray Tune
    reporter, in a Ray trial that reports its own way). Returns the row and whether it was trained before.

    Raises:
        LRConfigError: a setting that fails every run (a metric the task does not produce).
    """
    import shutil

    from ultralytics import YOLO

    from yolo_lr.config import LRConfigError

    lr0, rest = float(point["lr0"]), {k: v for k, v in point.items() if k != "lr0"}
    run_dir = point_dir(plan, point)
    if (run_dir / ROW_FILE).is_file():
        return SweepRow.from_json(json.loads((run_dir / ROW_FILE).read_text())), True
    if run_dir.exists():  # a training killed before it finished: start it again, from nothing
        shutil.rmtree(run_dir)
    metric = plan["metric"]
    row = SweepRow(lr0=lr0, point=rest, run_dir=run_dir)
    count: dict[str, Any] = {"epochs": 0, "steps": 0, "images": 0, "fitness": math.nan}
    t0 = time.perf_counter()

    def on_pretrain_routine_start(trainer):
        if drop_callbacks:
            for fns in trainer.callbacks.values():
                fns[:] = [f for f in fns if getattr(f, "__module__", None) != drop_callbacks]

    def on_pretrain_routine_end(trainer):  # the metric names exist now (loss names only after the first batch)
        known = [FITNESS, *(trainer.metrics or {})]
        judge = plan.get("early_stop_metric")
        for key, value, allowed in (("metric", metric, known), ("early_stop_metric", judge, [*known, TRAIN_LOSS])):
            if value is not None and value not in allowed and not value.startswith(("train/", "val/")):
                raise LRConfigError(
                    f"yolo-lr sweep: {key}={value!r} is not produced by this task. Available: "
                    f"{', '.join(allowed)}, or a train/ or val/ loss column of results.csv."
                )

    def on_train_epoch_end(trainer):
        count["epochs"] += 1
        count["images"] += len(trainer.train_loader.dataset)

    def on_fit_epoch_end(trainer):
        if trainer.epoch < trainer.epochs and trainer.fitness is not None:  # not final_eval's call (epoch+1)
            count["fitness"] = float(trainer.fitness)
        ema = getattr(trainer, "ema", None)
        count["steps"] = int(ema.updates) if ema is not None else 0
        if on_epoch is not None and trainer.epoch + 1 < trainer.epochs:
            _fill(row, count, metric, time.perf_counter() - t0)
            on_epoch(row)

    def on_train_end(trainer):
        ema = getattr(trainer, "ema", None)
        count["steps"] = int(ema.updates) if ema is not None else 0

    yolo = YOLO(plan["model"])
    for event, fn in (
        ("on_pretrain_routine_start", on_pretrain_routine_start),
        ("on_pretrain_routine_end", on_pretrain_routine_end),
        ("on_train_epoch_end", on_train_epoch_end),
        ("on_fit_epoch_end", on_fit_epoch_end),
        ("on_train_end", on_train_end),
    ):
        yolo.add_callback(event, fn)
    try:
        yolo.train(
            data=plan["data"], project=str(run_dir.parent), name=run_dir.name, exist_ok=True, **plan["args"], **point
        )
    except LRConfigError:
        raise  # a setting that fails every run: stop the sweep
    except Exception as e:  # noqa: BLE001 - one diverging or broken run must not lose the others
        row.error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    trainer = getattr(yolo, "trainer", None)
    row.run_dir = Path(trainer.save_dir) if trainer is not None else run_dir
    _fill(row, count, metric, time.perf_counter() - t0)
    if row.error is None and not (row.run_dir / "results.csv").exists():
        row.error = f"no results.csv in {row.run_dir}"
    row.run_dir.mkdir(parents=True, exist_ok=True)
    (row.run_dir / ROW_FILE).write_text(json.dumps(row.to_json(), indent=1) + "\n")
    return row, False


def early_stop_on(plan: dict[str, Any]) -> tuple[str, str]:
    """What early stopping judges at a rung and whether higher or lower is better: the plan's ``early_stop_metric``
    (the ranking metric in a plan made before it existed)."""
    return plan.get("early_stop_metric") or plan["metric"], plan.get("early_stop_mode") or plan["mode"]


def judged_value(plan: dict[str, Any], row: SweepRow) -> float:
    """A row's value of what early stopping judges, so far (NaN when there is none yet)."""
    key = early_stop_on(plan)[0]
    if key == plan["metric"]:
        return row.metric
    if key == TRAIN_LOSS:
        return row.final_loss
    if key in row.metrics:  # fitness and every metrics/* column of the last results.csv row
        return row.metrics[key]
    results = Path(row.run_dir) / "results.csv"
    return read_last_row(results).get(key, math.nan) if results.exists() else math.nan


def _fill(row: SweepRow, count: dict[str, Any], metric: str, seconds: float) -> None:
    """The row from the counters and the last results.csv row so far."""
    row.seconds = seconds
    row.epochs, row.steps, row.images = count["epochs"], count["steps"], count["images"]
    results = Path(row.run_dir) / "results.csv"
    if row.error is None and results.exists():
        last = read_last_row(results)
        row.final_loss = sum(v for k, v in last.items() if k.startswith("train/"))
        row.metrics = {k: v for k, v in last.items() if k.startswith("metrics/")}
        row.metrics[FITNESS] = count["fitness"]
        row.metric = row.metrics[FITNESS] if metric == FITNESS else last.get(metric, math.nan)


def _write_csv(res: SweepResult) -> None:
    with open(res.csv, "w", newline="") as f:
        w = csv.writer(f)
        extra = [] if res.metric == FITNESS else [FITNESS]
        w.writerow(
            ["lr0", *res.axes, "final_loss", res.metric, *extra, "time_s", "epochs", "steps", "images", "best"]
            + ["stopped_early", "run_dir", "error"]
        )
        for r in res.rows:
            w.writerow(
                [
                    f"{r.lr0:.6g}",
                    *(r.point.get(k) for k in res.axes),
                    f"{r.final_loss:.6g}",
                    f"{r.metric:.6g}",
                    *(f"{r.metrics.get(k, math.nan):.6g}" for k in extra),
                    f"{r.seconds:.3f}",
                    r.epochs,
                    r.steps,
                    r.images,
                    int(r.best),
                    int(r.stopped),
                    r.run_dir or "",
                    r.error or "",
                ]
            )


def _write_md(res: SweepResult) -> None:
    args = " ".join(f"{k}={v}" for k, v in res.train_args.items())
    what = " x ".join(["lr0", *res.axes])
    text = [f"# {what} sweep ({res.task}, {res.optimizer}, engine {res.engine})", "", f"Training arguments: `{args}`"]
    text += ["", res.table(), ""]
    if res.best is not None:
        text.append(f"Best: {res.best.label} ({res.reason or res.rule()}).")
    text += [f"Note: {n}" for n in res.notes]
    res.md.write_text("\n".join(text) + "\n")


def _plot(res: SweepResult, path: Path) -> Path | None:
    """The ranking metric (left axis) and the final train loss (right axis) against lr0, log x, one colour per
    combination of the other axes; runs stopped early hollow; best marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = [r for r in res.rows if r.error is None]
    if not ok:
        return None
    fig = Figure(figsize=(8, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    loss_ax = ax.twinx()
    groups: dict[str, list[SweepRow]] = {}
    for r in ok:
        groups.setdefault(" ".join(f"{k}={_val(r.point.get(k))}" for k in res.axes), []).append(r)
    for i, (label, rows) in enumerate(groups.items()):
        colour = f"C{i % 10}"
        x = [r.lr0 for r in rows]
        ax.plot(x, [r.metric for r in rows], "-", color=colour, label=f"{res.metric} {label}".rstrip())
        for r in rows:
            ax.plot([r.lr0], [r.metric], "o", color=colour, fillstyle="none" if r.stopped else "full")
        loss_ax.plot(x, [r.final_loss for r in rows], "^:", color=colour, alpha=0.6, label=f"final train loss {label}")
    ax.set_xscale("log")
    ax.set_xlabel("lr0 (log scale)")
    ax.set_ylabel(f"{res.metric} (last epoch, {'higher' if res.mode == 'max' else 'lower'} is better)")
    loss_ax.set_ylabel("final train loss (triangles)")
    best = res.best
    if best is not None:
        ax.axvline(best.lr0, color="tab:red", linestyle="--", linewidth=1.2)
        ax.plot([best.lr0], [best.metric], "*", color="tab:red", markersize=16, label=f"best: {best.label}")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, fontsize=8, loc="best")
    epochs = max(r.epochs for r in ok)
    stopped = " (hollow: stopped early)" if any(r.stopped for r in ok) else ""
    ax.set_title(
        f"{' x '.join(['lr0', *res.axes])} sweep: {Path(str(res.train_args.get('model'))).name}, {res.optimizer}, "
        f"{epochs} epoch{'' if epochs == 1 else 's'} per run{stopped}",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    return path
