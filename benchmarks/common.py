"""Shared code of the training benchmarks (from_scratch.py, transfer.py).

- an offline, isolated Ultralytics environment set up before anything imports Ultralytics;
- synthetic datasets from ``scripts/make_dataset.py``, generated once per settings and cached under the work dir;
- one training per run in a fresh worker process (``train_one``), run in parallel by ``run_all``: Ultralytics trains
  on CPU with ``min(8, cores - 1)`` torch threads, so on a 2-core machine one training uses one core and two
  trainings side by side use the machine;
- ``results.csv`` reading, mean/std, machine description, and the rewrite of one marked block of BENCHMARKS.md.

Nothing here keeps run state in module globals: every function takes what it needs and returns what it made.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import datetime as _dt
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
MD_PATH = ROOT / "BENCHMARKS.md"
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_WORKDIR = ROOT / "benchmarks" / "work"  # generated datasets and runs: not meant to be committed
CONFIGS_DIR = ROOT / "configs"
MODEL = "yolo26n.yaml"  # built from its YAML: nothing is downloaded
MAP = "metrics/mAP50-95(B)"
MAP50 = "metrics/mAP50(B)"


# ---------------------------------------------------------------------------------------------------- environment
def setup_environment(verbose: bool = False) -> Path | None:
    """Prepare an offline Ultralytics environment for this process and the worker processes it starts.

    Sets ``YOLO_OFFLINE=1``, a private ``YOLO_CONFIG_DIR`` holding ``Ultralytics/Arial.ttf`` (a copy of
    matplotlib's DejaVuSans, so the font check never downloads), quiet logs unless ``verbose``, and puts the
    checkout first on ``PYTHONPATH`` so that the workers import this checkout's ``yolo_lr`` (the installed startup
    hook imports ``yolo_lr`` when an interpreter starts, before any ``sys.path`` change could act).

    Args:
        verbose: keep Ultralytics' logs and progress bars.

    Returns:
        The settings dir to remove at the end, or None when Ultralytics was already imported in this process (a
        caller that set its environment up itself, like the test suite): then only PYTHONPATH is changed.
    """
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if "ultralytics" in sys.modules:
        return None
    cfg_dir = Path(tempfile.mkdtemp(prefix="yolo_lr_bench_cfg_"))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(cfg_dir)
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.pop("YOLO_LR_DISABLE", None)
    if not verbose:
        os.environ["YOLO_VERBOSE"] = "False"
    (cfg_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    import matplotlib

    shutil.copy(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf",
                cfg_dir / "Ultralytics" / "Arial.ttf")
    return cfg_dir


def default_jobs() -> int:
    """Trainings to run side by side: cores / torch threads Ultralytics uses per CPU training (at least 1)."""
    cores = os.cpu_count() or 1
    threads = min(8, max(1, cores - 1))  # Ultralytics' NUM_THREADS, set by select_device() for CPU training
    return max(1, cores // threads)


def preset_names(exclude: Iterable[str] = ()) -> list[str]:
    """Names of the preset files in ``configs/`` (sorted), minus ``exclude``."""
    skip = set(exclude)
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml") if p.stem not in skip)


# ------------------------------------------------------------------------------------------------------- datasets
def load_make_dataset() -> Callable:
    """The ``make_dataset`` function of ``scripts/make_dataset.py`` (scripts/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("yolo_lr_make_dataset", ROOT / "scripts" / "make_dataset.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module.make_dataset


@dataclass(frozen=True)
class DatasetSpec:
    """One synthetic dataset: the arguments of ``make_dataset``."""

    domain: str
    n_train: int
    n_val: int
    imgsz: int
    seed: int = 0

    @property
    def key(self) -> str:
        """Folder name that encodes every setting."""
        return f"{self.domain}_s{self.seed}_n{self.n_train}-{self.n_val}_i{self.imgsz}"

    def describe(self) -> str:
        """Short human description for reports."""
        return (f"domain {self.domain}: {self.n_train} train / {self.n_val} val images, {self.imgsz}x{self.imgsz}, "
                f"dataset seed {self.seed}")


def ensure_dataset(spec: DatasetSpec, workdir: Path) -> Path:
    """Generate a dataset under ``workdir/datasets`` unless an identical one is there; return its data.yaml.

    ``make_dataset`` writes data.yaml last, and the generator's own source is hashed into a stamp file, so a
    half-written dataset or one from an older generator is regenerated.
    """
    out = workdir / "datasets" / spec.key
    yaml_path = out / "data.yaml"
    stamp = out / "generator.sha256"
    digest = hashlib.sha256((ROOT / "scripts" / "make_dataset.py").read_bytes()).hexdigest()
    if yaml_path.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return yaml_path
    made = load_make_dataset()(out, spec.domain, spec.n_train, spec.n_val, spec.imgsz, spec.seed)
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
        return [{k.strip(): float(v) for k, v in row.items() if k is not None and v not in (None, "")}
                for row in csv.DictReader(f)]


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
    """Run one training (in the calling process) and return its curves and facts.

    Meant to run in a fresh worker process (see ``run_all``); the environment comes from the parent.

    Returns:
        A dict with label, seed, per-epoch curves, wall time, the optimizer and lr0 the trainer really used,
        whether the plugin drove the LR (an ``lr.csv`` exists), the run directory and library versions.
    """
    import torch
    import ultralytics
    from ultralytics import YOLO

    import yolo_lr

    save_dir = Path(spec.train_args["project"]) / spec.train_args["name"]
    if save_dir.exists():
        shutil.rmtree(save_dir)  # never read a stale results.csv
    model = YOLO(spec.model)
    if spec.preset is not None:
        yolo_lr.attach(model, spec.preset, **spec.overrides)
    t0 = time.perf_counter()
    model.train(**spec.train_args)
    wall = time.perf_counter() - t0
    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    rows = read_results_csv(save_dir / "results.csv")
    weights = save_dir / "weights"
    return {
        "label": spec.label,
        "seed": spec.seed,
        **curves_from_rows(rows),
        "wall_s": wall,
        "optimizer": str(trainer.args.optimizer),
        "lr0": float(trainer.args.lr0),
        "plugin_active": (save_dir / "lr.csv").exists(),
        "save_dir": str(save_dir),
        "best_pt": str(weights / "best.pt") if (weights / "best.pt").exists() else None,
        "torch_threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "ultralytics": ultralytics.__version__,
                     "yolo_lr": yolo_lr.__version__, "yolo_lr_path": str(Path(yolo_lr.__file__).parent)},
    }


def make_pool(jobs: int) -> cf.ProcessPoolExecutor:
    """A pool of spawned workers, each used for one training only (a fresh interpreter per run)."""
    ctx = mp.get_context("spawn")
    try:
        return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, max_tasks_per_child=1)
    except TypeError:  # Python < 3.11: workers are reused
        return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


@dataclass
class LoadMonitor:
    """Samples the 1-minute load average while a benchmark runs, to say whether other work competed for the CPU."""

    samples: list[float] = field(default_factory=list)

    def sample(self) -> None:
        """Record the current 1-minute load average (no-op where unavailable)."""
        try:
            self.samples.append(os.getloadavg()[0])
        except OSError:
            pass

    def summary(self, jobs: int) -> str:
        """One sentence on CPU contention (measured load vs this benchmark's own parallel trainings)."""
        if not self.samples:
            return "The load average could not be read."
        cores = os.cpu_count() or 1
        peak, mean = max(self.samples), statistics.fmean(self.samples)
        text = (f"1-minute load average during the run: mean {mean:.1f}, max {peak:.1f} on {cores} cores, against "
                f"{jobs} training(s) of this benchmark at a time")
        if peak > jobs + 0.75:
            text += (" — other work shared the machine, so wall times are inflated (the metrics are not affected: "
                     "every run is seeded and single-process).")
        else:
            text += " — no sign of other work competing."
        return text


def run_all(specs: list[RunSpec], jobs: int, log: Callable[[str], None], monitor: LoadMonitor) -> list[dict]:
    """Run every spec in worker processes, ``jobs`` at a time; results in the order of ``specs``."""
    with make_pool(jobs) as pool:
        futures = {pool.submit(train_one, s): i for i, s in enumerate(specs)}
        return collect(futures, len(specs), log, monitor)


def collect(futures: dict, total: int, log: Callable[[str], None], monitor: LoadMonitor) -> list[dict]:
    """Wait for futures (future -> index), logging each finished run; results ordered by index."""
    out: list[dict | None] = [None] * total
    done = 0
    for fut in cf.as_completed(futures):
        r = fut.result()
        out[futures[fut]] = r
        done += 1
        monitor.sample()
        log(f"  [{done}/{total}] {result_line(r)}")
    return out


def result_line(r: dict) -> str:
    """One log line for a finished training."""
    return (f"{r['label']} seed {r['seed']}: final mAP50-95 {r['map'][-1]:.4f} (best {max(r['map']):.4f}), "
            f"{r['wall_s']:.0f} s, optimizer {r['optimizer']} lr0 {r['lr0']:g}")


def shared_train_args(imgsz: int, batch: int, epochs: int, seed: int, data: Path, project: Path, name: str,
                      verbose: bool) -> dict:
    """The train() arguments every run of a benchmark shares (no ``lr_*`` key, no optimizer or lr0)."""
    return dict(
        data=str(data), epochs=epochs, imgsz=imgsz, batch=batch, nbs=batch, seed=seed, device="cpu", workers=0,
        amp=False, plots=False, val=True, verbose=verbose, project=str(project), name=name, exist_ok=True,
    )


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
    for i, v in enumerate(curve, 1):
        if v >= target:
            return i
    return None


# ------------------------------------------------------------------------------------------------------ reporting
def machine_info(results: list[dict]) -> dict:
    """CPU model, cores, Python, and the library versions and torch threads the workers reported."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    first = results[0] if results else {"versions": {}, "torch_threads": None}
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "os": platform.platform(),
            "torch_threads": first["torch_threads"], **first["versions"]}


def machine_sentence(m: dict) -> str:
    """The machine line of a report."""
    return (f"{m['cpu']} ({m['cores']} cores, torch threads per training: {m['torch_threads']}), device `cpu`; "
            f"Python {m['python']}, torch {m.get('torch')}, ultralytics {m.get('ultralytics')}, "
            f"yolo_lr {m.get('yolo_lr')}")


def utc_now() -> str:
    """Current UTC time for reports."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def command_line(script: Path, argv: list[str] | None) -> str:
    """The command as typed, with the script path relative to the repository root."""
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join(["python", str(shown), *(sys.argv[1:] if argv is None else argv)])


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_block(md_path: Path, key: str, body: str) -> None:
    """Replace the text between ``<!-- key:start -->`` and ``<!-- key:end -->`` of an existing Markdown file.

    Raises:
        ValueError: if the markers are missing or out of order (nothing else in the file is ever edited).
    """
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    text = md_path.read_text()
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"{md_path} must contain exactly one {start} ... {end} pair")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    md_path.write_text(f"{head}{start}\n{body.strip()}\n{end}{tail}")


def write_json(path: Path, data: dict) -> None:
    """Write raw numbers as JSON (NaN-free floats rounded for a small, diffable file)."""

    def clean(x):
        if isinstance(x, float):
            return None if math.isnan(x) else round(x, 6)
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(data), indent=1) + "\n")


def settings_key(settings: dict) -> str:
    """A short stable hash of a settings dict (for cache folders)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def spec_dict(spec: RunSpec) -> dict:
    """A RunSpec as a plain dict (for JSON)."""
    return asdict(spec)
