"""The benchmark harness: what the benchmark scripts share, so that each script is its spec, its measurement and its
rendering.

A script declares a ``Bench`` (name, BENCHMARKS.md block, full and ``--smoke`` settings, which become its options) and
hands ``main`` two functions: ``run(ctx)`` measures and returns the raw numbers (a JSON-able dict with ``machine``);
``render(ctx, raw)`` turns them, as the JSON keeps them, into a ``Report``. ``main`` sets the offline environment up,
samples the load average, writes the block (header: date, machine, wall time, command), the JSON and, with
``--write-md``, the block of BENCHMARKS.md; ``--from-json`` renders a recorded JSON again, measuring nothing.
Trainings and other jobs run as Ray Tune trials (``run_all``: one fresh worker each, resumable). Nothing here keeps
run state in module globals.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
MD_PATH = ROOT / "BENCHMARKS.md"
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_WORKDIR = ROOT / "benchmarks" / "work"  # generated datasets and runs: not meant to be committed
CONFIGS_DIR = ROOT / "configs"
MODEL = "yolo26n.yaml"  # built from its YAML: nothing is downloaded
MAP = "metrics/mAP50-95(B)"
MAP50 = "metrics/mAP50(B)"
ALPHA = 0.05  # the significance level of every "differs from" verdict


# ---------------------------------------------------------------------------------------------------- environment
def setup_environment(verbose: bool = False) -> Path | None:
    """An offline Ultralytics environment for this process and its workers: ``YOLO_OFFLINE=1``, a private
    ``YOLO_CONFIG_DIR`` with a local ``Arial.ttf``, quiet logs unless ``verbose``, and the checkout first on
    ``PYTHONPATH`` (workers import this checkout's ``yolo_lr``). Returns the settings dir to remove at the end, or None
    when Ultralytics was already imported (a caller that set its environment up, like the tests)."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if "ultralytics" in sys.modules:
        return None
    cfg_dir = Path(tempfile.mkdtemp(prefix="yolo_lr_bench_cfg_"))
    os.environ.update(YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(cfg_dir))
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.pop("YOLO_LR_DISABLE", None)
    if not verbose:
        os.environ["YOLO_VERBOSE"] = "False"
    (cfg_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    shutil.copy(font, cfg_dir / "Ultralytics" / "Arial.ttf")  # the font check never downloads
    return cfg_dir


def default_jobs() -> int:
    """Trainings to run side by side: cores / torch threads Ultralytics uses per CPU training (at least 1)."""
    cores = os.cpu_count() or 1
    return max(1, cores // min(8, max(1, cores - 1)))  # Ultralytics' NUM_THREADS for CPU training


def preset_names(exclude: Iterable[str] = ()) -> list[str]:
    """Names of the preset files in ``configs/`` (sorted), minus ``exclude``."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml") if p.stem not in set(exclude))


# ------------------------------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class DatasetSpec:
    """One synthetic dataset: the arguments of ``scripts/make_dataset.py``'s ``make_dataset``."""

    domain: str
    n_train: int
    n_val: int
    imgsz: int
    seed: int = 0

    @property
    def key(self) -> str:
        return f"{self.domain}_s{self.seed}_n{self.n_train}-{self.n_val}_i{self.imgsz}"

    def describe(self) -> str:
        return (
            f"domain {self.domain}: {self.n_train} train / {self.n_val} val images, {self.imgsz}x{self.imgsz}, "
            f"dataset seed {self.seed}"
        )


def ensure_dataset(spec: DatasetSpec, workdir: Path) -> Path:
    """Generate a dataset under ``workdir/datasets`` unless an identical one is there; return its data.yaml. A
    half-written dataset (data.yaml comes last) or one from another generator (its source is hashed) is made again."""
    import importlib.util

    out = workdir / "datasets" / spec.key
    stamp = out / "generator.sha256"
    source = ROOT / "scripts" / "make_dataset.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if (out / "data.yaml").exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return out / "data.yaml"
    module_spec = importlib.util.spec_from_file_location("yolo_lr_make_dataset", source)  # scripts/: not a package
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # dataclasses look their module up while the file executes
    module_spec.loader.exec_module(module)
    made = module.make_dataset(out, spec.domain, spec.n_train, spec.n_val, spec.imgsz, spec.seed)
    stamp.write_text(digest + "\n")
    return made


# ------------------------------------------------------------------------------------------------------- training
@dataclass
class RunSpec:
    """One training: what to build, which policy to attach, and Ultralytics' train() arguments."""

    label: str  # the config this run belongs to (table row)
    seed: int
    model: str  # "yolo26n.yaml" or a checkpoint path
    train_args: dict  # passed to model.train(); must contain data, epochs, project, name
    preset: str | None = None  # preset name or YAML path for yolo_lr.attach; None = plain native training
    overrides: dict = field(default_factory=dict)  # attach() overrides (e.g. lr_unfreeze_epoch)


def read_results_csv(path: Path) -> list[dict[str, float]]:
    """Rows of an Ultralytics results.csv as floats, keys stripped."""
    with open(path, newline="") as f:
        return [{k.strip(): float(v) for k, v in row.items() if k and v not in (None, "")} for row in csv.DictReader(f)]


def curves_from_rows(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """Per-epoch mAP50-95, mAP50 and total train loss (sum of the ``train/*loss`` columns)."""
    loss_keys = [k for k in rows[0] if k.startswith("train/") and k.endswith("loss")] if rows else []
    return {
        "epoch": [int(r["epoch"]) for r in rows],
        "map": [r[MAP] for r in rows],
        "map50": [r[MAP50] for r in rows],
        "train_loss": [sum(r[k] for k in loss_keys) for r in rows],
    }


def train_one(spec: RunSpec) -> dict:
    """Run one training in this process (a fresh worker: ``run_all``) and return its curves and facts: wall time, the
    optimizer and lr0 the trainer really used, whether the plugin drove the LR (an ``lr.csv``), versions."""
    import torch
    from ultralytics import YOLO

    import yolo_lr

    save_dir = Path(spec.train_args["project"]) / spec.train_args["name"]
    shutil.rmtree(save_dir, ignore_errors=True)  # never read a stale results.csv
    model = YOLO(spec.model)
    if spec.preset is not None:
        yolo_lr.attach(model, spec.preset, **spec.overrides)
    t0 = time.perf_counter()
    model.train(**spec.train_args)
    wall = time.perf_counter() - t0
    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    best = save_dir / "weights" / "best.pt"
    return {
        "label": spec.label,
        "seed": spec.seed,
        **curves_from_rows(read_results_csv(save_dir / "results.csv")),
        "wall_s": wall,
        "optimizer": str(trainer.args.optimizer),
        "lr0": float(trainer.args.lr0),
        "plugin_active": (save_dir / "lr.csv").exists(),
        "save_dir": str(save_dir),
        "best_pt": str(best) if best.exists() else None,
        "torch_threads": torch.get_num_threads(),
        "versions": library_versions(),
    }


@dataclass
class LoadMonitor:
    """Samples the 1-minute load average while a benchmark runs (``sample()`` now, ``start()`` every ``every`` s in a
    daemon thread until ``stop()``), to say whether other work competed for the CPU."""

    samples: list[float] = field(default_factory=list)
    _stop: threading.Event | None = field(default=None, repr=False)

    def sample(self) -> None:
        with contextlib.suppress(OSError):  # no load average on this platform
            self.samples.append(os.getloadavg()[0])

    def start(self, every: float = 10.0) -> None:
        if self._stop is not None:
            return
        self._stop = stop = threading.Event()
        self.sample()

        def loop() -> None:
            while not stop.wait(every):
                self.sample()

        threading.Thread(target=loop, name="load-monitor", daemon=True).start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None
            self.sample()

    def summary(self, jobs: int | None, affected: str | None = None) -> str:
        """One sentence on CPU contention: the load measured against the ``jobs`` trainings this benchmark ran at a
        time (None: the load alone); ``affected``: what contention inflates (default: wall times, not the metrics)."""
        if not self.samples:
            return "The load average could not be read."
        peak, mean = max(self.samples), statistics.fmean(self.samples)
        text = f"1-minute load average during the run: mean {mean:.1f}, max {peak:.1f} on {os.cpu_count() or 1} cores"
        if jobs is None:
            return text + "."
        text += f", against {jobs} training(s) of this benchmark at a time"
        if peak <= jobs + 0.75:
            return text + " — no sign of other work competing."
        default = "wall times are inflated (the metrics are not affected: every run is seeded and single-process)."
        return f"{text} — other work shared the machine, so {affected or default}"


def run_all(
    specs: list,
    jobs: int,
    log: Callable[[str], None],
    monitor: LoadMonitor,
    fn: Callable | None = None,
    where: Path | None = None,
    line: Callable[[dict], str] | None = None,
) -> list[dict]:
    """``fn(spec)`` (default ``train_one``; a module-level function returning a JSON-able dict) for every spec, as Ray
    Tune trials (the engine of ``yolo-lr sweep engine=ray``): a fresh worker each, ``jobs`` at a time, results in the
    order of ``specs``; ``jobs=0`` runs them one after the other in this process, without Ray. Ray keeps finished
    results in ``where`` (default ``ray/`` beside the first spec's runs), in an experiment named after a hash of the
    specs, so the same benchmark killed and started again rereads finished jobs. ``line``: a result's progress line."""
    fn, line = fn or train_one, line or result_line
    if not specs:
        return []
    if jobs == 0:
        out = []
        for i, spec in enumerate(specs, 1):
            out.append(fn(spec))
            monitor.sample()
            log(f"  [{i}/{len(specs)}] {line(out[-1])}")
        return out
    import ray
    from ray import tune

    key = settings_key([asdict(s) if hasattr(s, "__dataclass_fields__") else s for s in specs])
    where = where or Path(specs[0].train_args["project"]).resolve().parent / "ray"
    experiment = Path(where) / f"jobs-{key}"
    env = {k: v for k, v in os.environ.items() if k.startswith(("YOLO_", "OMP_", "MKL_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH")) if p)
    env["RAY_CHDIR_TO_TRIAL_DIR"] = "0"
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        trainable = tune.with_resources(tune.with_parameters(_ray_job, specs=specs, fn=fn), {"cpu": 1})
        if tune.Tuner.can_restore(str(experiment)):
            log(f"  continuing {experiment}: finished jobs are reread")
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"i": tune.grid_search(list(range(len(specs))))},
                run_config=tune.RunConfig(
                    name=experiment.name,
                    storage_path=str(experiment.parent),
                    verbose=0,
                    callbacks=[_progress(len(specs), log, monitor, line)],
                ),
            )
        grid = tuner.fit()
    finally:
        ray.shutdown()
    out = {}
    for r in grid:
        if r.error is not None or "result" not in (r.metrics or {}):
            raise RuntimeError(f"benchmark job {r.config['i']} ({specs[r.config['i']]!r:.200}) failed: {r.error}")
        out[r.config["i"]] = json.loads(r.metrics["result"])
    return [out[i] for i in range(len(specs))]


def _ray_job(config: dict, specs: list, fn: Callable) -> None:
    from ray import tune

    tune.report({"result": json.dumps(fn(specs[config["i"]]))})


def _progress(total: int, log: Callable[[str], None], monitor: LoadMonitor, line: Callable[[dict], str]):
    from ray import tune

    class Progress(tune.Callback):  # no closure over log/monitor: Ray pickles the class with the experiment
        def __init__(self, log, monitor):
            self.done, self.log, self.monitor = 0, log, monitor

        def __getstate__(self):  # Ray saves the experiment with its callbacks: the log and the monitor stay here
            return {"done": self.done, "log": print, "monitor": None}

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done += 1
            if self.monitor is not None:
                self.monitor.sample()
            self.log(f"  [{self.done}/{total}] {line(json.loads((trial.last_result or {})['result']))}")

    return Progress(log, monitor)


def result_line(r: dict) -> str:
    """One log line for a finished training."""
    return (
        f"{r['label']} seed {r['seed']}: final mAP50-95 {r['map'][-1]:.4f} (best {max(r['map']):.4f}), "
        f"{r['wall_s']:.0f} s, optimizer {r['optimizer']} lr0 {r['lr0']:g}"
    )


def shared_train_args(
    imgsz: int, batch: int, epochs: int, seed: int, data: Path, project: Path, name: str, verbose: bool
) -> dict:
    """The train() arguments every run of a benchmark shares (no ``lr_*`` key, no optimizer or lr0)."""
    return {
        "data": str(data),
        "epochs": epochs,
        "imgsz": imgsz,
        "batch": batch,
        "nbs": batch,
        "seed": seed,
        "device": "cpu",
        "workers": 0,
        "amp": False,
        "plots": False,
        "val": True,
        "verbose": verbose,
        "project": str(project),
        "name": name,
        "exist_ok": True,
    }


# ------------------------------------------------------------------------------------------------------ statistics
def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt_ms(xs: list[float], digits: int = 4) -> str:
    """``mean ± std`` (just the value for a single run)."""
    m, s = mean_std(xs)
    return f"{m:.{digits}f}" if len(xs) == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"


def mean_curve(curves: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Per-epoch mean, min and max over runs of equal length."""
    cols = list(zip(*curves))
    return [statistics.fmean(c) for c in cols], [min(c) for c in cols], [max(c) for c in cols]


def epochs_to_reach(curve: list[float], target: float) -> int | None:
    """First 1-based epoch whose value is >= target, or None if never."""
    return next((i for i, v in enumerate(curve, 1) if v >= target), None)


def percentile(xs: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between order statistics."""
    import numpy as np

    return float(np.percentile(xs, q))


def describe(xs: list[float]) -> dict[str, float]:
    """Count, mean, median, 90th percentile, min, max and sum of a sample."""
    return {
        "n": len(xs),
        "mean": statistics.fmean(xs),
        "median": statistics.median(xs),
        "p90": percentile(xs, 90),
        "min": min(xs),
        "max": max(xs),
        "sum": math.fsum(xs),
    }


def welch(xs: list[float], ref: list[float]) -> dict:
    """``xs`` against ``ref`` over seeds: the difference of the means and the two-sided p of Welch's t-test (scipy).
    p is None with fewer than two values a side, 1.0 (0.0) when both sides are constant and equal (different);
    ``differs``: p < ``ALPHA``."""
    from scipy import stats

    diff = statistics.fmean(xs) - statistics.fmean(ref)
    if min(len(xs), len(ref)) < 2:
        p = None
    elif statistics.pstdev(xs) == 0 and statistics.pstdev(ref) == 0:
        p = 1.0 if diff == 0 else 0.0
    else:
        p = float(stats.ttest_ind(xs, ref, equal_var=False).pvalue)
    return {"diff": diff, "p": p, "differs": p is not None and p < ALPHA}


def fmt_p(w: dict) -> str:
    """A Welch comparison as a table cell: p, in bold where it differs."""
    if w["p"] is None:
        return "n/a (1 seed)"
    return f"**p={w['p']:.2g}**" if w["differs"] else f"p={w['p']:.2g}"


# ------------------------------------------------------------------------------------------------------ reporting
def library_versions() -> dict:
    """torch, ultralytics and yolo_lr as imported by this process (and where yolo_lr came from)."""
    import torch
    import ultralytics

    import yolo_lr

    return {
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "yolo_lr": yolo_lr.__version__,
        "yolo_lr_path": str(Path(yolo_lr.__file__).parent),
    }


def machine_info(results: list[dict] | None = None, device: str = "cpu", torch_threads: int | None = None) -> dict:
    """CPU model, cores, Python, library versions, device and torch threads: from the first of ``results``
    (``train_one``'s: what the workers ran), else as imported here with ``torch_threads``."""
    if results is not None:
        first = results[0] if results else {"versions": {}, "torch_threads": None}
        versions, threads = first["versions"], first["torch_threads"]
    else:
        versions, threads = library_versions(), torch_threads
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        names = [x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "torch_threads": threads,
        "device": device,
        **versions,
    }
    if device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def machine_sentence(m: dict) -> str:
    """The machine part of a report's header (what a record lacks is left out)."""
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    threads = "" if m.get("torch_threads") is None else f"torch threads per training: {m['torch_threads']}"
    cpu = ", ".join(x for x in (f"{m['cores']} cores" if m.get("cores") else "", threads) if x)
    python = f"Python {m['python']}, " if m.get("python") else ""
    return (
        f"{m['cpu']}{f' ({cpu})' if cpu else ''}{gpu}, device `{m.get('device', 'cpu')}`; {python}torch "
        f"{m.get('torch')}, ultralytics {m.get('ultralytics')}, yolo_lr {m.get('yolo_lr')}"
    )


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def replace_block(md_path: Path, key: str, body: str) -> None:
    """Replace the text between ``<!-- key:start -->`` and ``<!-- key:end -->`` of a Markdown file (ValueError when
    the markers are missing or out of order: nothing else in the file is ever edited)."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    text = md_path.read_text()
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"{md_path} must contain exactly one {start} ... {end} pair")
    head, rest = text.split(start, 1)
    md_path.write_text(f"{head}{start}\n{body.strip()}\n{end}{rest.split(end, 1)[1]}")


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(as_written(data), indent=1) + "\n")


def as_written(data: dict) -> dict:
    """``data`` as its JSON file keeps it (NaN as null; floats to 6 decimals, or 6 significant digits below 1 so that
    learning rates keep their precision): a report rendered from it is the report rendered again from the file."""

    def clean(x):
        if isinstance(x, float):
            return None if math.isnan(x) else float(f"{x:.6g}") if abs(x) < 1 else round(x, 6)
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return str(x) if isinstance(x, Path) else x

    return json.loads(json.dumps(clean(data)))


def settings_key(settings: dict) -> str:
    """A short stable hash of a settings dict (for experiment folders)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def md_link(path: Path) -> str:
    """A path as BENCHMARKS.md links it: relative to the repository root when inside it."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


# ----------------------------------------------------------------------------------------------------------- plots
@contextlib.contextmanager
def figure(path: Path, ncols: int = 1, figsize=(11, 4.2), width_ratios: list[float] | None = None, title: str = ""):
    """A row of ``ncols`` matplotlib axes (Agg), saved to ``path`` as PNG when the block ends without error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kw = {"gridspec_kw": {"width_ratios": width_ratios}} if width_ratios else {}
    fig, axes = plt.subplots(1, ncols, figsize=figsize, **kw)
    try:
        yield axes
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)
    finally:
        plt.close(fig)


def seed_bars(ax, names: list[str], series: list[tuple[str, list[list[float]]]], ylabel: str) -> None:
    """Side-by-side bars of mean ± std over seeds per name, the seeds as dots; ``series``: (legend label, per-name
    values over seeds), the first drawn darkest."""
    width = 0.8 / max(len(series), 1)
    xs = range(len(names))
    for j, (label, values) in enumerate(series):
        off = (j - (len(series) - 1) / 2) * width
        stats = [mean_std(v) for v in values]
        ax.bar(
            [x + off for x in xs],
            [m for m, _ in stats],
            width,
            yerr=[s for _, s in stats],
            capsize=3,
            alpha=0.9 if j == 0 else 0.45,
            color="tab:blue",
            label=label,
        )
        for x, v in zip(xs, values):
            ax.plot([x + off] * len(v), v, "k.", ms=3)
    ax.set_xticks(list(xs), names, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=8)


def curve_band(ax, curves: list[list[float]], label: str, emphasis: bool = False, **style) -> None:
    """The mean per-epoch curve over seeds with a min-max band (1-based epochs on x)."""
    mean, lo, hi = mean_curve(curves)
    ep = range(1, len(mean) + 1)
    (line,) = ax.plot(ep, mean, label=label, lw=2 if emphasis else 1.2, ls="-" if emphasis else "--", **style)
    ax.fill_between(ep, lo, hi, color=line.get_color(), alpha=0.1)
    ax.xaxis.get_major_locator().set_params(integer=True)


# --------------------------------------------------------------------------------------------------------- harness
@dataclass
class Bench:
    """What one benchmark script declares; ``main`` does the rest.

    Every key of ``full`` becomes an option (``--key-with-dashes``, or ``flags[key]``) typed like its default: a list
    default takes several values, a bool one becomes ``--key/--no-key``, a None default needs ``types[key]`` (a type,
    or ``[type]`` for a list). ``smoke`` replaces defaults under ``--smoke``; options given explicitly win over both.
    """

    name: str  # results/<name>.md, .json and .png; the temp dir prefix of --smoke
    block: str  # the BENCHMARKS.md block: <!-- block:start --> ... <!-- block:end -->
    doc: str  # the script's docstring: its first paragraph is --help's description, the rest its epilog
    full: dict  # default settings
    smoke: dict  # --smoke settings (a subset of full's keys)
    help: dict = field(default_factory=dict)  # key -> option help
    flags: dict = field(default_factory=dict)  # key -> option name, when not --key-with-dashes
    types: dict = field(default_factory=dict)  # key -> type for None defaults
    minimum: dict = field(default_factory=dict)  # key -> smallest allowed value (each element of a list)
    choices: dict = field(default_factory=dict)  # key -> allowed values (each element of a list)

    def flag(self, key: str) -> str:
        """The option that sets ``key``."""
        return self.flags.get(key, "--" + key.replace("_", "-"))


@dataclass
class Context:
    """What a benchmark's ``run`` gets: its resolved settings and where to put things."""

    bench: Bench
    settings: SimpleNamespace  # Bench.full, then --smoke's values, then explicit options
    args: argparse.Namespace  # every parsed option (the script's own extra options too)
    workdir: Path  # datasets and runs (benchmarks/work, or a temp dir with --smoke)
    results_dir: Path  # the Markdown block, JSON and plots (--results-dir; benchmarks/results; WORKDIR/results)
    command: str  # the command as typed, for the report
    monitor: LoadMonitor
    started: float = field(default_factory=time.perf_counter)

    @property
    def smoke(self) -> bool:
        return bool(self.args.smoke)

    @property
    def verbose(self) -> bool:
        return bool(self.args.verbose)

    def log(self, *parts) -> None:
        """Progress line on stdout, flushed."""
        print(*parts, flush=True)

    def output(self, suffix: str, stem: str | None = None) -> Path:
        """``results_dir/<stem or bench name><suffix>``."""
        return self.results_dir / f"{stem or self.bench.name}{suffix}"

    def elapsed(self) -> float:
        """Seconds since the benchmark started."""
        return time.perf_counter() - self.started


@dataclass
class Report:
    """What a benchmark's ``render`` returns; ``main`` puts the header (date, machine, wall time, command) above it."""

    body: str  # Markdown after the header: set-up, tables, plot links, observations
    console: str = ""  # printed at the end (a table, the verdicts)
    problems: list[str] = field(default_factory=list)  # make the command exit 1 and are listed in the block
    wall_note: str = ""  # said right after "The whole benchmark took N s", e.g. " (24 trainings, 2 at a time)"
    load_note: str | None = None  # sentence on CPU contention (default: LoadMonitor.summary for one job at a time)
    # A variant of the benchmark (e.g. a study beside the main measurement) writes its own files and block:
    name: str | None = None  # results/<name>.md and .json (default: the Bench's name)
    block: str | None = None  # the BENCHMARKS.md block for --write-md (default: the Bench's block)


def command_line(script: Path, argv: list[str] | None) -> str:
    """The command as typed, with the script path relative to the repository root."""
    return shlex.join(["python", md_link(script), *(sys.argv[1:] if argv is None else argv)])


def build_parser(bench: Bench) -> argparse.ArgumentParser:
    """Options from the spec's settings, plus --smoke, --workdir, --results-dir, --write-md, --md, --verbose and
    --from-json."""
    description, _, epilog = bench.doc.strip().partition("\n\n")
    p = argparse.ArgumentParser(
        description=description, epilog=epilog or None, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for key, default in bench.full.items():
        kind = bench.types.get(key, type(default) if default is not None else str)
        text = bench.help.get(key, key.replace("_", " "))
        shown = [f"default {_shown(default)}"] if default is not None else []  # None: decided at run time
        shown += [f"--smoke: {_shown(bench.smoke[key])}"] if key in bench.smoke else []
        text += f" ({'; '.join(shown)})" if shown else ""
        flag = bench.flag(key)
        kw = {"dest": key, "default": None, "help": text}
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
            continue
        kw.update(choices=bench.choices.get(key), metavar=flag.lstrip("-").replace("-", "_").upper())
        if kind is list or isinstance(kind, list):
            elem = kind[0] if isinstance(kind, list) else (type(default[0]) if default else str)
            p.add_argument(flag, nargs="+", type=elem, **kw)
        else:
            p.add_argument(flag, type=kind, **kw)
    p.add_argument("--smoke", action="store_true", help="tiny run in a temp dir; never writes BENCHMARKS.md")
    p.add_argument("--workdir", type=Path, help="datasets and runs (default benchmarks/work; a temp dir with --smoke)")
    p.add_argument(
        "--results-dir",
        type=Path,
        help="the block, JSON and plots (default benchmarks/results; WORKDIR/results with --smoke)",
    )
    p.add_argument("--write-md", action="store_true", help=f"rewrite the {bench.block} block of BENCHMARKS.md")
    p.add_argument("--md", type=Path, default=MD_PATH, help="Markdown file for --write-md (default BENCHMARKS.md)")
    p.add_argument("--verbose", action="store_true", help="show Ultralytics' logs and progress bars")
    text = "re-render the block and the plots from a results JSON this script wrote, measuring nothing"
    p.add_argument("--from-json", type=Path, metavar="JSON", help=text)
    return p


def _shown(v) -> str:
    return " ".join(map(str, v)) if isinstance(v, list) else str(v)


def resolve_settings(bench: Bench, args: argparse.Namespace, parser: argparse.ArgumentParser) -> SimpleNamespace:
    """``full``, then ``smoke`` under --smoke, then the options given; bounds checked (parser.error otherwise)."""
    values = {**bench.full, **(bench.smoke if args.smoke else {})}
    values.update({k: getattr(args, k) for k in bench.full if getattr(args, k, None) is not None})
    for key, lo in bench.minimum.items():
        v = values.get(key)
        if v is not None and any(x < lo for x in (v if isinstance(v, list) else [v])):
            parser.error(f"{bench.flag(key)} must be >= {lo}")
    return SimpleNamespace(**values)


def main(
    bench: Bench,
    run: Callable[[Context], dict],
    argv: list[str] | None = None,
    script: Path | None = None,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
    render: Callable[[Context, dict], Report] | None = None,
) -> int:
    """Parse the options, set the environment up, measure (``run``: the raw numbers, with ``machine`` and optionally
    ``wall_note`` for the header, and ``load_jobs``/``load_affected``, ``LoadMonitor.summary``'s arguments for the load
    note written once the measurement ended) or read ``--from-json``, render (``render`` gets the raw numbers as the
    JSON keeps them, so the block is what ``--from-json`` renders again), and write the block, the JSON and (with
    ``--write-md``) the block of BENCHMARKS.md. Returns 0, or 1 when the report lists problems (2: bad options)."""
    parser = build_parser(bench)
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args(argv)
    if args.smoke and args.write_md:
        parser.error("--smoke never writes BENCHMARKS.md; drop --write-md")
    raw = json.loads(args.from_json.read_text()) if args.from_json else None
    settings = SimpleNamespace(**raw["settings"]) if raw else resolve_settings(bench, args, parser)
    command = command_line(Path(script or sys.argv[0]), argv)
    workdir = args.workdir or (
        Path(tempfile.mkdtemp(prefix=f"yolo_lr_{bench.name}_")) if args.smoke else DEFAULT_WORKDIR
    )
    workdir = workdir.resolve()
    results_dir = (args.results_dir or (workdir / "results" if args.smoke else RESULTS_DIR)).resolve()
    ctx = Context(bench, settings, args, workdir, results_dir, command, LoadMonitor())
    if raw is None:
        cfg_dir = setup_environment(args.verbose)
        ctx.monitor.start()
        try:
            out = run(ctx)
        finally:
            ctx.monitor.stop()
            if cfg_dir is not None:
                shutil.rmtree(cfg_dir, ignore_errors=True)
        if "load_jobs" in out:  # the load note, over the whole measurement
            out["load_note"] = ctx.monitor.summary(out.pop("load_jobs"), out.pop("load_affected", None))
        raw = as_written(
            {
                "date": utc_now(),
                "command": command,
                "wall_s": ctx.elapsed(),
                "settings": vars(settings),
                "load_average": ctx.monitor.samples,
                **out,
            }
        )
    report = render(ctx, raw)
    load = raw.get("load_note", report.load_note)
    if load is None:
        load = LoadMonitor(list(raw.get("load_average", []))).summary(1)
    lines = [
        f"Measured {raw['date']} on {machine_sentence(raw['machine'])}. The whole benchmark took {raw['wall_s']:.0f} s"
        f"{raw.get('wall_note', report.wall_note)}. {load}".rstrip(),
        "",
        "```bash",
        raw["command"],
        "```",
        "",
        report.body.strip(),
    ]
    if ctx.smoke:
        lines += ["", "This was a `--smoke` run: too small to judge anything."]
    if report.problems:
        lines += ["", "**Problems detected:** " + "; ".join(report.problems)]
    block = "\n".join(lines)
    results_dir.mkdir(parents=True, exist_ok=True)
    md_out, json_out = ctx.output(".md", report.name), ctx.output(".json", report.name)
    md_out.write_text(block + "\n")
    if not args.from_json:
        write_json(json_out, raw)
    ctx.log("")
    if report.console:
        ctx.log(report.console)
    for problem in report.problems:
        ctx.log(f"PROBLEM: {problem}")
    made = f"block {md_out}" + (f" from {args.from_json}" if args.from_json else f", raw numbers {json_out}")
    ctx.log(f"{report.name or bench.name}: {made}; took {ctx.elapsed():.0f} s")
    if args.write_md:
        key = report.block or bench.block
        replace_block(args.md, key, block)
        ctx.log(f"updated {args.md} between <!-- {key}:start --> and <!-- {key}:end -->")
    return 1 if report.problems else 0
