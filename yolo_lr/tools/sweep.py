"""lr0 sweep: one short Ultralytics training per ``lr0``, a table of what each reached, and the best one.

Every value trains a fresh model from the same ``model=`` (same weights or same seeded initialisation) in its own
run folder of a sweep directory, with every other key identical. Per run: the final train loss (the sum of the
``train/*`` columns of the last results.csv row), the ranking metric of that row and the trainer's fitness of the last
epoch, the wall time of the training (``model.train`` as a whole: set-up, epochs, validation, final evaluation), and
the optimizer steps and images it trained on. The ranking metric is the task's own (Ultralytics' ``TASK2METRIC``:
detect and obb ``metrics/mAP50-95(B)``, segment ``metrics/mAP50-95(M)``, pose ``metrics/mAP50-95(P)``, classify
``metrics/accuracy_top1``, ...) unless ``metric=`` names another results.csv column or ``fitness``; whether higher or
lower is better follows from its name, as for the plateau metric. Best = the best metric, ties broken by the lower
final loss. The sweep directory gets ``sweep.csv``, ``sweep.md`` and ``sweep.png`` (metric against lr0, log x, best
marked).

``optimizer=auto`` (Ultralytics' default) ignores ``lr0``, which would make every run of the sweep identical: the
sweep then uses SGD and says so. An explicit optimizer is used as given.

Examples:
    >>> from yolo_lr.tools.sweep import sweep
    >>> res = sweep([1e-4, 1e-3, 1e-2], model="yolo26n.yaml", data="coco8.yaml", epochs=10, imgsz=320)
    >>> res.best.lr0
    >>> import yolo_lr
    >>> yolo_lr.sweep([1e-3, 1e-2], model="yolo26n.yaml", epochs=3)  # the same function, from the package

    ``yolo-lr sweep lr0=1e-4,1e-3,1e-2 model=yolo26n.yaml epochs=10``
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAP50, MAP = "metrics/mAP50(B)", "metrics/mAP50-95(B)"
FITNESS = "fitness"


def parse_lr0s(value: Any) -> list[float]:
    """The lr0 values of a sweep, sorted: a list/tuple (``lr0=1e-4,1e-3`` reaches us as a tuple), one number, or a
    comma-separated string.

    Raises:
        ValueError: empty, not a positive finite number, or a value given twice.
    """
    if isinstance(value, str):
        items: list[Any] = [v for v in value.replace(" ", "").strip("[]()").split(",") if v]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out = []
    for v in items:
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


@dataclass
class SweepRow:
    """One training of the sweep."""

    lr0: float
    final_loss: float = math.nan  # sum of the train/* columns, last results.csv row
    metric: float = math.nan  # the ranking metric (last results.csv row, or the last epoch's fitness)
    metrics: dict[str, float] = field(default_factory=dict)  # every metrics/* column of that row, and fitness
    seconds: float = math.nan  # wall time of model.train()
    epochs: int = 0  # epochs trained
    steps: int = 0  # optimizer steps
    images: int = 0  # training images processed (validation not counted)
    run_dir: Path | None = None
    error: str | None = None  # the exception of a run that failed
    best: bool = False

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
        head = ["lr0", "final train loss", self.metric, *extra, "time (s)", "epochs", "steps", "images", ""]
        lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * (len(head) - 1) + "---|"]
        for r in self.rows:
            if r.error:
                blanks = " |" * len(extra)
                lines.append(f"| {r.lr0:.3g} | failed: {r.error} | |{blanks} {_fmt(r.seconds, '.1f')} | | | | |")
                continue
            cells = [f"{r.lr0:.3g}", _fmt(r.final_loss, ".4f"), _fmt(r.metric, ".4f")]
            cells += [_fmt(r.metrics.get(k, math.nan), ".4f") for k in extra]
            cells += [_fmt(r.seconds, ".1f"), str(r.epochs), str(r.steps), str(r.images)]
            if r.best:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + f" | {'<- best' if r.best else ''} |")
        return "\n".join(lines)

    def rule(self) -> str:
        """How the best row was chosen, in words."""
        return f"{'highest' if self.mode == 'max' else 'lowest'} {self.metric}; ties -> lowest final loss"


def _fmt(v: float, spec: str) -> str:
    return "nan" if v is None or not math.isfinite(v) else format(v, spec)


def _same(a: float, b: float) -> bool:
    """Two results that cannot be told apart (equal to 9 significant digits; both NaN counts as equal)."""
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def rank(rows: list[SweepRow], mode: str = "max", metric: str = "metric") -> tuple[SweepRow | None, str]:
    """The best row and why, in words: the best metric (highest for mode max, lowest for min); runs that tie on it are
    told apart by the lower final loss; runs that tie on both are not told apart, and no row wins. Failed runs and NaN
    metrics never win."""
    ok = [r for r in rows if r.error is None and math.isfinite(r.metric)]
    if not ok:
        return None, f"no run produced a finite {metric}: no best row"
    sign = 1.0 if mode == "max" else -1.0
    top = max(sign * r.metric for r in ok)
    tied = [r for r in ok if _same(sign * r.metric, top)]
    word = "highest" if mode == "max" else "lowest"
    if len(tied) == 1:
        return tied[0], f"{word} {metric}: {tied[0].metric:.4g}"
    losses = sorted(tied, key=lambda r: r.final_loss if math.isfinite(r.final_loss) else math.inf)
    first, second = losses[0], losses[1]
    lr0s = ", ".join(f"{r.lr0:.3g}" for r in tied)
    if not math.isfinite(first.final_loss) or _same(first.final_loss, second.final_loss):
        return None, (
            f"no best row: lr0={lr0s} tie on {metric} ({tied[0].metric:.4g}) and on the final loss "
            f"({_fmt(first.final_loss, '.4g')}), so they cannot be told apart (train longer, or on more data)"
        )
    return first, (
        f"lr0={lr0s} tie on {metric} ({tied[0].metric:.4g}); the lowest final loss decides: {first.final_loss:.4g}"
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
    lr0s: Any,
    model: Any = None,
    data: str | Path | None = None,
    project: str | Path | None = None,
    name: str = "sweep",
    metric: str | None = None,
    verbose: bool = True,
    **train_args: Any,
) -> SweepResult:
    """Train once per lr0 (everything else equal) and tabulate the results.

    Args:
        lr0s: the values (list, tuple, one number or ``"1e-4,1e-3"``).
        model: model path/name (``yolo26n.yaml``, ``yolo26n-cls.yaml``, ``best.pt``); each run starts from a fresh
            copy. A ``YOLO`` object is accepted and reloaded from its checkpoint path or YAML.
        data: dataset YAML (or classify folder). None: the bundled COCO8 for a detect model; other tasks need it.
        project: parent folder of the sweep directory, placed as Ultralytics places any run (default: its
            ``runs_dir`` setting, then the task, as ``yolo train``).
        name: sweep directory name, incremented (``sweep``, ``sweep2``, ...) when it exists.
        metric: the results.csv column (or ``fitness``) that ranks the runs; default the task's own metric
            (:func:`yolo_lr.tasks.main_metric`). Higher or lower is better by its name (``loss``/``error`` -> lower).
        verbose: print progress, the table and where the files are.
        **train_args: any ``yolo train`` keys, the same for every run (``epochs``, ``imgsz``, ``optimizer``,
            ``cfg=`` a preset, ``lr_*`` policy keys, ...). ``lr0`` is not allowed here.

    Returns:
        The sweep result (rows sorted by lr0).

    Raises:
        ValueError: bad lr0 values, no model, no data for a non-detect model, a metric whose direction is unclear,
            ``lr0``/``project``/``name`` inside ``train_args``, bad ``lr_*`` keys, ``lr_find`` (it would replace the
            lr0 the sweep varies), a task that contradicts the model.
    """
    from ultralytics.utils import DEFAULT_CFG_DICT

    import yolo_lr  # noqa: F401  (registers the lr_* keys and callbacks before models are created)
    from yolo_lr.config import validate
    from yolo_lr.plateau import infer_mode
    from yolo_lr.presets import load_policy, preset_path
    from yolo_lr.tasks import ModelInfo, default_data, main_metric, resolve_task
    from yolo_lr.ultralytics_compat import is_auto_optimizer

    values = parse_lr0s(lr0s)
    if model is None:
        raise ValueError("sweep needs model= (e.g. yolo26n.yaml or a .pt checkpoint)")
    if "lr0" in train_args:
        raise ValueError("lr0 is what the sweep varies: pass the values as lr0s")
    if train_args.get("resume"):
        raise ValueError("a sweep cannot resume a training")
    model_path = _model_path(model)
    args = dict(train_args)
    args.pop("exist_ok", None)  # run folders are named after their lr0, inside a new sweep directory
    task = args.pop("task", None)
    info = ModelInfo(model.task, True) if hasattr(model, "task") and task is None else resolve_task(model_path, task)
    if args.get("cfg") is not None and not isinstance(args["cfg"], dict):
        args["cfg"] = str(preset_path(str(args["cfg"])))  # Model.train wants a file; presets are given by name
    preset, _ = load_policy(args.get("cfg"))
    merged = {**preset, **{k: v for k, v in args.items() if k != "cfg"}}
    validate({**DEFAULT_CFG_DICT, **merged})
    if merged.get("lr_find"):
        raise ValueError("lr_find would replace every run's lr0 with its own finding: a sweep varies lr0, drop lr_find")
    if isinstance(args.get("cfg"), dict):  # Model.train reads cfg= from a file only: a dict becomes keyword args
        args = {**args.pop("cfg"), **args}
    data = data if data is not None else merged.get("data") or default_data(info.task)
    if data is None:
        raise ValueError(
            f"sweep needs data= for {model_path}, a {info.task} model: the bundled COCO8 is detection only"
        )
    data = str(data)
    metric = str(metric or main_metric(info.task))
    try:
        mode = infer_mode(metric)
    except ValueError as e:
        raise ValueError(f"metric={metric!r}: {e}") from None
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
    save_dir.mkdir(parents=True, exist_ok=True)

    say = print if verbose else (lambda *a, **k: None)
    say(
        f"yolo-lr sweep: {len(values)} trainings of {model_path} ({info.task}) on {data}, optimizer={optimizer}, "
        f"lr0 in {', '.join(f'{v:.3g}' for v in values)}, ranked by {metric} ({mode}) -> {save_dir}",
        flush=True,
    )
    for n in notes:
        say(f"  note: {n}", flush=True)
    t0 = time.perf_counter()
    rows = []
    for i, lr0 in enumerate(values):
        row = _train_one(model_path, lr0, data, save_dir, args, metric)
        rows.append(row)
        status = f"failed: {row.error}" if row.error else f"loss {row.final_loss:.4f}, {metric} {row.metric:.4f}"
        say(f"  [{i + 1}/{len(values)}] lr0={lr0:.3g}: {status} ({row.seconds:.1f} s)", flush=True)
    best, reason = rank(rows, mode, metric)
    if best is not None:
        best.best = True
    else:
        notes.append(reason)
    res = SweepResult(
        rows=rows,
        optimizer=str(optimizer),
        notes=notes,
        save_dir=save_dir,
        csv=save_dir / "sweep.csv",
        md=save_dir / "sweep.md",
        png=None,
        seconds=time.perf_counter() - t0,
        train_args={**args, "model": model_path, "data": data},
        task=info.task,
        metric=metric,
        mode=mode,
        reason=reason,
    )
    _write_csv(res)
    _write_md(res)
    res.png = _plot(res, save_dir / "sweep.png")
    say(res.table())
    if best is not None:
        say(f"best: lr0={best.lr0:.3g} ({reason})")
    else:
        say(reason)
    say(f"sweep: {res.csv}\n       {res.md}\n       {res.png}\n({res.seconds:.0f} s in all)", flush=True)
    return res


def _model_path(model: Any) -> str:
    from ultralytics.engine.model import Model

    if isinstance(model, Model):
        return str(model.ckpt_path or model.overrides.get("model"))
    return str(model)


def run_name(lr0: float) -> str:
    """Run folder of one lr0 inside the sweep directory."""
    return f"lr0_{lr0:.3g}"


def _train_one(model_path: str, lr0: float, data: str, save_dir: Path, args: dict[str, Any], metric: str) -> SweepRow:
    """Train one fresh model at this lr0; count its steps and images; read its last results.csv row."""
    from ultralytics import YOLO

    from yolo_lr.config import LRConfigError

    row = SweepRow(lr0=lr0)
    count: dict[str, Any] = {"epochs": 0, "steps": 0, "images": 0, "fitness": math.nan}

    def on_pretrain_routine_end(trainer):  # the metric names exist now (loss names only after the first batch)
        known = [FITNESS, *(trainer.metrics or {})]
        if metric not in known and not metric.startswith(("train/", "val/")):
            raise LRConfigError(
                f"yolo-lr sweep: metric={metric!r} is not produced by this task. Available: "
                f"{', '.join(known)}, or a train/ or val/ loss column of results.csv."
            )

    def on_train_epoch_end(trainer):
        count["epochs"] += 1
        count["images"] += len(trainer.train_loader.dataset)

    def on_fit_epoch_end(trainer):
        if trainer.epoch < trainer.epochs and trainer.fitness is not None:  # not final_eval's call (epoch+1)
            count["fitness"] = float(trainer.fitness)

    def on_train_end(trainer):
        ema = getattr(trainer, "ema", None)
        count["steps"] = int(ema.updates) if ema is not None else 0

    yolo = YOLO(model_path)
    yolo.add_callback("on_pretrain_routine_end", on_pretrain_routine_end)
    yolo.add_callback("on_train_epoch_end", on_train_epoch_end)
    yolo.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    yolo.add_callback("on_train_end", on_train_end)
    t0 = time.perf_counter()
    try:
        yolo.train(data=data, lr0=lr0, project=str(save_dir), name=run_name(lr0), exist_ok=True, **args)
    except LRConfigError:
        raise  # a setting that fails every run: stop the sweep
    except Exception as e:  # noqa: BLE001 - one diverging or broken run must not lose the others
        row.error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    row.seconds = time.perf_counter() - t0
    row.epochs, row.steps, row.images = count["epochs"], count["steps"], count["images"]
    trainer = getattr(yolo, "trainer", None)
    row.run_dir = Path(trainer.save_dir) if trainer is not None else save_dir / run_name(lr0)
    results = row.run_dir / "results.csv"
    if row.error is None and results.exists():
        last = read_last_row(results)
        row.final_loss = sum(v for k, v in last.items() if k.startswith("train/"))
        row.metrics = {k: v for k, v in last.items() if k.startswith("metrics/")}
        row.metrics[FITNESS] = count["fitness"]
        row.metric = row.metrics[FITNESS] if metric == FITNESS else last.get(metric, math.nan)
    elif row.error is None:
        row.error = f"no results.csv in {row.run_dir}"
    return row


def _write_csv(res: SweepResult) -> None:
    with open(res.csv, "w", newline="") as f:
        w = csv.writer(f)
        extra = [] if res.metric == FITNESS else [FITNESS]
        w.writerow(
            ["lr0", "final_loss", res.metric, *extra, "time_s", "epochs", "steps", "images", "best", "run_dir", "error"]
        )
        for r in res.rows:
            w.writerow(
                [
                    f"{r.lr0:.6g}",
                    f"{r.final_loss:.6g}",
                    f"{r.metric:.6g}",
                    *(f"{r.metrics.get(k, math.nan):.6g}" for k in extra),
                    f"{r.seconds:.3f}",
                    r.epochs,
                    r.steps,
                    r.images,
                    int(r.best),
                    r.run_dir or "",
                    r.error or "",
                ]
            )


def _write_md(res: SweepResult) -> None:
    args = " ".join(f"{k}={v}" for k, v in res.train_args.items())
    text = [f"# lr0 sweep ({res.task}, {res.optimizer})", "", f"Training arguments: `{args}`", "", res.table(), ""]
    if res.best is not None:
        text.append(f"Best: lr0={res.best.lr0:.3g} ({res.reason or res.rule()}).")
    text += [f"Note: {n}" for n in res.notes]
    res.md.write_text("\n".join(text) + "\n")


def _plot(res: SweepResult, path: Path) -> Path | None:
    """The ranking metric (left axis) and the final train loss (right axis) against lr0, log x; best marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = [r for r in res.rows if r.error is None]
    if not ok:
        return None
    fig = Figure(figsize=(8, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = [r.lr0 for r in ok]
    ax.plot(x, [r.metric for r in ok], "o-", color="tab:blue", label=res.metric)
    ax.set_xscale("log")
    ax.set_xlabel("lr0 (log scale)")
    ax.set_ylabel(f"{res.metric} (last epoch, {'higher' if res.mode == 'max' else 'lower'} is better)")
    loss_ax = ax.twinx()
    loss_ax.plot(x, [r.final_loss for r in ok], "^:", color="tab:orange", label="final train loss")
    loss_ax.set_ylabel("final train loss")
    best = res.best
    if best is not None:
        ax.axvline(best.lr0, color="tab:red", linestyle="--", linewidth=1.2)
        ax.plot([best.lr0], [best.metric], "*", color="tab:red", markersize=16, label=f"best lr0={best.lr0:.3g}")
    lines = ax.get_legend_handles_labels()
    more = loss_ax.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")
    epochs = max(r.epochs for r in ok)
    ax.set_title(
        f"lr0 sweep: {Path(str(res.train_args.get('model'))).name}, {res.optimizer}, {epochs} "
        f"epoch{'' if epochs == 1 else 's'} per run",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    return path
