#!/usr/bin/env python
"""Benchmark 3: the LR finder's suggestion against the best lr0 of a grid sweep, and what each costs.

Both run on synthetic domain A (``scripts/make_dataset.py --domain A --seed 0``: 192 train / 64 val images of 128
px, 3 shape classes), from scratch (``yolo26n.yaml``), with the same explicit optimizer (SGD, momentum 0.937), batch,
``nbs`` and seed:

1. the finder (:func:`yolo_lr.finder.find_lr`) with its defaults: LR from 1e-7 to 1 over 100 optimizer steps,
   smoothing 0.98, divergence stop at 4x, rule ``valley``; it runs first, so it also pays the process's warm-up;
2. the sweep (:func:`yolo_lr.lr_sweep.sweep`): 7 log-spaced lr0 from 1e-4 to 1e-1, each a full Ultralytics training of
   ``--epochs`` epochs (Ultralytics' default recipe: 3 warmup epochs, linear decay to lr0*lrf, validation every
   epoch). Best = highest final mAP50-95.

Figures: the ratio suggestion / best lr0 (target: within 3x, i.e. between 1/3 and 3), and the finder's compute as a
fraction of the sweep's (target <= 10 %, judged on wall time): wall time (the finder's including its set-up; the
sweep's as the sum of its trainings' ``model.train`` wall times), this process's CPU time (``time.process_time``: not
inflated by other processes on a shared machine), optimizer steps, and training images (validation not counted).
Also every
rule's suggestion, and the sweep's mAP50-95 interpolated (log lr0) at the suggestion; ``--train-suggestion`` trains
once more at the suggested lr0 to measure it.

Run from the repository root with the project's environment::

    .venv/bin/python benchmarks/finder_vs_sweep.py               # full run (~20 min on 2 CPU cores)
    .venv/bin/python benchmarks/finder_vs_sweep.py --write-md    # ... and record it in BENCHMARKS.md
    .venv/bin/python benchmarks/finder_vs_sweep.py --smoke       # < 1 min: tiny generated set, 2-value sweep

Outputs go to ``benchmarks/results/finder_*`` (``--smoke``: a temporary folder unless ``--out`` is given; a smoke run
never touches BENCHMARKS.md). ``--write-md`` rewrites only the lines between ``<!-- finder:start -->`` and
``<!-- finder:end -->``. No network: ``YOLO_OFFLINE=1`` and a private ``YOLO_CONFIG_DIR`` with a local font are set
before Ultralytics loads (unless the calling process already loaded it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import io
import itertools
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MD_PATH = ROOT / "BENCHMARKS.md"
MAKE_DATASET = ROOT / "scripts" / "make_dataset.py"
COCO8 = ROOT / "datasets" / "coco8" / "coco8.yaml"
MODEL = "yolo26n.yaml"
MARK_START, MARK_END = "<!-- finder:start -->", "<!-- finder:end -->"
TARGET_RATIO = 3.0  # suggestion within this factor of the sweep's best lr0
TARGET_FRACTION = 0.10  # finder compute <= this fraction of the sweep's

FULL = {
    "train": 192,
    "val": 64,
    "imgsz": 128,
    "batch": 16,
    "epochs": 20,
    "grid": 7,
    "grid_lo": 1e-4,
    "grid_hi": 1e-1,
    "iters": 100,
    "lr_start": 1e-7,
    "lr_end": 1.0,
    "smooth": 0.98,
}
SMOKE = {
    "train": 8,
    "val": 4,
    "imgsz": 64,
    "batch": 4,
    "epochs": 1,
    "grid": 2,
    "grid_lo": 1e-3,
    "grid_hi": 1e-2,
    "iters": 16,
    "lr_start": 1e-2,
    "lr_end": 10.0,
    "smooth": 0.6,
}


# ---------------------------------------------------------------------------------------------------------- set-up
def prepare_offline_environment() -> Path | None:
    """Before Ultralytics is imported: no network, a private settings dir with a local Arial.ttf.

    Returns the settings dir (a temp dir the caller removes), or None when Ultralytics is already loaded.
    """
    if "ultralytics" in sys.modules:
        return None
    cfg_dir = Path(tempfile.mkdtemp(prefix="yolo_lr_finder_cfg_"))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(cfg_dir)
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.pop("YOLO_LR_DISABLE", None)
    (cfg_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    shutil.copy(font, cfg_dir / "Ultralytics" / "Arial.ttf")
    return cfg_dir


def make_data(out: Path, cfg: dict, data: Path | None, log) -> tuple[Path, str]:
    """The dataset YAML and a description: ``--data`` as given, else domain A from the generator, else COCO8."""
    if data is not None:
        return data, f"`{data}` (given with --data)"
    if not MAKE_DATASET.exists():
        log(f"warning: {MAKE_DATASET} not found; falling back to the bundled COCO8")
        return COCO8, "the bundled COCO8 (4 train / 4 val images; the domain A generator was missing)"
    cmd = [
        sys.executable,
        str(MAKE_DATASET),
        "--domain",
        "A",
        "--out",
        str(out),
        "--seed",
        "0",
        "--train",
        str(cfg["train"]),
        "--val",
        str(cfg["val"]),
        "--imgsz",
        str(cfg["imgsz"]),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out / "data.yaml", (
        f"synthetic domain A (`scripts/make_dataset.py --domain A --seed 0`, {cfg['train']} train / {cfg['val']} val "
        f"images of {cfg['imgsz']} px)"
    )


def log_grid(lo: float, hi: float, n: int) -> list[float]:
    """n log-spaced values from lo to hi, rounded to 3 significant digits."""
    if n == 1:
        return [lo]
    return [float(f"{lo * (hi / lo) ** (i / (n - 1)):.3g}") for i in range(n)]


@contextlib.contextmanager
def quiet(enabled: bool):
    """Silence Ultralytics' logger and progress output (stdout/stderr) while training, unless --verbose."""
    if not enabled:
        yield
        return
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(40)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        LOGGER.setLevel(level)


class LoadSampler:
    """Samples the 1-minute load average every ``every`` seconds in a daemon thread (contention on a shared machine)."""

    def __init__(self, every: float = 10.0):
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            if hasattr(os, "getloadavg"):
                self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        """Mean and max of the samples (NaN without samples)."""
        xs = self.samples
        return {"mean": sum(xs) / len(xs) if xs else math.nan, "max": max(xs) if xs else math.nan, "n": len(xs)}


# ------------------------------------------------------------------------------------------------------- measuring
def run(cfg: dict, data: Path, workdir: Path, verbose: bool, train_suggestion: bool, log) -> dict:
    """Finder, then sweep (then optionally one training at the suggestion). Returns every figure."""
    import yolo_lr  # noqa: F401  (registers the plugin before Ultralytics is used)
    from yolo_lr.finder import find_lr
    from yolo_lr.lr_sweep import sweep

    common = {
        "imgsz": cfg["imgsz"],
        "batch": cfg["batch"],
        "nbs": cfg["batch"],
        "optimizer": "SGD",
        "seed": 0,
        "amp": False,
        "plots": False,
        "epochs": cfg["epochs"],
    }
    log(f"finder: lr {cfg['lr_start']:g} -> {cfg['lr_end']:g} over {cfg['iters']} steps")
    cpu0 = time.process_time()
    with quiet(not verbose):
        found = find_lr(
            MODEL,
            data=str(data),
            lr_start=cfg["lr_start"],
            lr_end=cfg["lr_end"],
            iters=cfg["iters"],
            smooth=cfg["smooth"],
            project=str(workdir),
            name="find",
            verbose=False,
            **common,
        )
    finder_cpu = time.process_time() - cpu0
    log(
        f"  suggestion {found.lr if found.lr is None else f'{found.lr:.3g}'} ({found.rule}); "
        f"{found.curve.steps} steps, {found.work.images} images, {found.seconds_total:.1f} s"
    )
    grid = log_grid(cfg["grid_lo"], cfg["grid_hi"], cfg["grid"])
    log(f"sweep: lr0 in {', '.join(f'{v:g}' for v in grid)}, {cfg['epochs']} epochs each")
    t0, cpu0 = time.perf_counter(), time.process_time()
    with quiet(not verbose):
        swept = sweep(grid, model=MODEL, data=str(data), project=str(workdir), name="sweep", verbose=False, **common)
    sweep_wall, sweep_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for r in swept.rows:
        log(
            f"  lr0={r.lr0:g}: mAP50-95 {r.map:.4f}, mAP50 {r.map50:.4f}, loss {r.final_loss:.4f}, {r.seconds:.1f} s"
            + (f" ({r.error})" if r.error else "")
        )
    extra = None
    if train_suggestion and found.lr is not None:
        log(f"training once at the suggested lr0={found.lr:.3g}")
        with quiet(not verbose):
            extra = sweep(
                [found.lr], model=MODEL, data=str(data), project=str(workdir), name="suggested", verbose=False, **common
            )
    return {
        "found": found,
        "swept": swept,
        "sweep_wall": sweep_wall,
        "extra": extra,
        "grid": grid,
        "common": common,
        "finder_cpu": finder_cpu,
        "sweep_cpu": sweep_cpu,
    }


def interp_map(rows, lr: float) -> float:
    """The sweep's mAP50-95 at ``lr``, linearly interpolated in log10(lr0) (NaN outside the grid)."""
    pts = sorted((math.log10(r.lr0), r.map) for r in rows if r.error is None and math.isfinite(r.map))
    x = math.log10(lr)
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y0
    return math.nan


def nearest_map(rows, lr: float) -> tuple[float, float]:
    """(lr0, mAP50-95) of the grid point nearest to ``lr`` in log scale."""
    ok = [r for r in rows if r.error is None and math.isfinite(r.map)]
    r = min(ok, key=lambda r: abs(math.log10(r.lr0) - math.log10(lr)))
    return r.lr0, r.map


def parabola_peak(rows) -> float | None:
    """lr0 at the vertex of the parabola through the best grid point and its two neighbours (mAP50-95 vs log10 lr0).

    A grid-resolution-free estimate of the sweep's optimum; None when the best point is at an end of the grid or the
    three points do not bend down.
    """
    ok = sorted((r for r in rows if r.error is None and math.isfinite(r.map)), key=lambda r: r.lr0)
    if len(ok) < 3:
        return None
    i = max(range(len(ok)), key=lambda j: ok[j].map)
    if i in (0, len(ok) - 1):
        return None
    (x0, y0), (x1, y1), (x2, y2) = ((math.log10(r.lr0), r.map) for r in ok[i - 1 : i + 2])
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a >= 0:
        return None
    return 10 ** (-b / (2 * a))


def figures(res: dict) -> dict:
    """Ratio, compute fractions and verdicts, from the measured results only."""
    found, swept = res["found"], res["swept"]
    best = swept.best
    sweep_seconds = sum(r.seconds for r in swept.rows)
    out = {
        "suggestion": found.lr,
        "rule": found.rule,
        "suggestions": found.suggestions,
        "best_lr0": best.lr0 if best else None,
        "best_map": best.map if best else None,
        "finder_seconds": found.seconds_total,
        "finder_test_seconds": found.work.seconds,
        "finder_steps": found.work.steps,
        "finder_images": found.work.images,
        "finder_stop": found.curve.stop_reason,
        "finder_stop_lr": found.curve.stop_lr,
        "sweep_seconds": sweep_seconds,
        "sweep_wall_seconds": res["sweep_wall"],
        "finder_cpu_seconds": res["finder_cpu"],
        "sweep_cpu_seconds": res["sweep_cpu"],
        "sweep_steps": swept.steps,
        "sweep_images": swept.images,
    }
    out["fraction_wall"] = out["finder_seconds"] / sweep_seconds if sweep_seconds else math.nan
    out["fraction_cpu"] = res["finder_cpu"] / res["sweep_cpu"] if res["sweep_cpu"] else math.nan
    out["fraction_steps"] = out["finder_steps"] / swept.steps if swept.steps else math.nan
    out["fraction_images"] = out["finder_images"] / swept.images if swept.images else math.nan
    if found.lr is not None and best is not None:
        out["ratio"] = found.lr / best.lr0
        out["ratio_verdict"] = "met" if 1 / TARGET_RATIO <= out["ratio"] <= TARGET_RATIO else "missed"
        out["map_at_suggestion_interp"] = interp_map(swept.rows, found.lr)
        out["nearest_grid"] = nearest_map(swept.rows, found.lr)
        peak = parabola_peak(swept.rows)
        out["parabola_peak"] = peak
        out["ratio_to_peak"] = found.lr / peak if peak else None
        out["rule_ratios"] = {r: (v / best.lr0 if v else None) for r, v in found.suggestions.items()}
    else:
        out["ratio"], out["ratio_verdict"], out["map_at_suggestion_interp"], out["rule_ratios"] = (
            None,
            "missed (no suggestion or no best)",
            math.nan,
            {},
        )
    out["fraction_verdict"] = "met" if out["fraction_wall"] <= TARGET_FRACTION else "missed"
    extra = res["extra"]
    if extra is not None and extra.rows and extra.rows[0].error is None:
        out["map_at_suggestion_trained"] = extra.rows[0].map
        out["suggestion_train_seconds"] = extra.rows[0].seconds
    return out


# --------------------------------------------------------------------------------------------------------- report
def machine_info() -> dict:
    """CPU model, cores, load, library versions."""
    import torch
    import ultralytics

    import yolo_lr

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "yolo_lr": yolo_lr.__version__,
        "device": "cuda:0" if torch.cuda.is_available() else "cpu",
    }


def _f(v, spec: str = ".3g") -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def figures_table(f: dict) -> str:
    """The headline figures as a Markdown table."""
    rows = [
        ("Finder suggestion (rule `" + f["rule"] + "`)", f"lr0 = {_f(f['suggestion'])}", "", ""),
        (
            "Sweep best lr0 (highest final mAP50-95)",
            f"lr0 = {_f(f['best_lr0'])} (mAP50-95 {_f(f['best_map'], '.4f')})",
            "",
            "",
        ),
        (
            "**Ratio suggestion / best**",
            f"**{_f(f['ratio'])}**",
            f"within {TARGET_RATIO:g}x (1/3 .. 3)",
            f["ratio_verdict"],
        ),
        (
            "Other rules: suggestion (ratio to best)",
            ", ".join(f"{r} {_f(v)} ({_f(f['rule_ratios'].get(r))}x)" for r, v in f["suggestions"].items()),
            "",
            "",
        ),
        (
            "Sweep mAP50-95 at the suggestion (log-interpolated; nearest grid point)",
            f"{_f(f['map_at_suggestion_interp'], '.4f')}; lr0 {_f(f['nearest_grid'][0])}: "
            f"{_f(f['nearest_grid'][1], '.4f')}"
            if f.get("nearest_grid")
            else "n/a",
            "",
            "",
        ),
        (
            "Sweep optimum between grid points (parabola through the best point and its neighbours, log lr0)",
            f"lr0 = {_f(f.get('parabola_peak'))}; suggestion / it = {_f(f.get('ratio_to_peak'))}",
            "",
            "",
        ),
    ]
    if "map_at_suggestion_trained" in f:
        rows.append(("mAP50-95 of a training at the suggestion", _f(f["map_at_suggestion_trained"], ".4f"), "", ""))
    rows += [
        (
            "**Finder wall time / sweep wall time**",
            f"**{100 * f['fraction_wall']:.1f} %** ({f['finder_seconds']:.0f} s / {f['sweep_seconds']:.0f} s)",
            f"<= {100 * TARGET_FRACTION:g} %",
            f["fraction_verdict"],
        ),
        (
            "- finder: range test only / with set-up",
            f"{f['finder_test_seconds']:.1f} s / {f['finder_seconds']:.1f} s",
            "",
            "",
        ),
        (
            "Finder CPU time / sweep CPU time (this process only: not inflated by other load)",
            f"{100 * f['fraction_cpu']:.1f} % ({f['finder_cpu_seconds']:.0f} s / {f['sweep_cpu_seconds']:.0f} s)",
            "",
            "",
        ),
        (
            "Optimizer steps finder / sweep",
            f"{f['finder_steps']} / {f['sweep_steps']} = {100 * f['fraction_steps']:.1f} %",
            "",
            "",
        ),
        (
            "Training images finder / sweep (validation not counted)",
            f"{f['finder_images']} / {f['sweep_images']} = {100 * f['fraction_images']:.1f} %",
            "",
            "",
        ),
        (
            "Finder stop",
            f"{f['finder_stop']}" + (f" at lr {_f(f['finder_stop_lr'])}" if f["finder_stop_lr"] else ""),
            "",
            "",
        ),
    ]
    lines = ["| Figure | Measured | Target | Verdict |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render_section(results: dict, sweep_table: str, png_rel: str) -> str:
    """The Markdown written between the finder markers (and to benchmarks/results/finder_vs_sweep.md)."""
    m, c, f = results["machine"], results["config"], results["figures"]
    load = results["load"]
    cores = m["cpu_cores"] or 1
    contention = ""
    if load["mean"] > 1.25 * cores:
        contention = (
            f" The machine was shared: the load average was {load['mean']:.1f} on average (max {load['max']:.1f}) on "
            f"{cores} cores, where this benchmark alone keeps it near {cores}; wall times are inflated, unevenly if "
            "the other load came and went, so the CPU-time fraction below is the fairer compute figure."
        )
    lines = [
        (
            f"Measured {results['date']} on {m['cpu']} ({m['cpu_cores']} cores), device `{m['device']}`; Python "
            f"{m['python']}, torch {m['torch']}, ultralytics {m['ultralytics']}, yolo_lr {m['yolo_lr']}. The whole "
            f"benchmark took {results['benchmark_wall_s']:.0f} s (1-minute load average {load['mean']:.1f} on average, "
            f"max {load['max']:.1f}).{contention}"
        ),
        "",
        "```bash",
        results["command"],
        "```",
        "",
        (
            f"Config: `{MODEL}` from scratch on {results['data']}; imgsz={c['imgsz']}, batch={c['batch']}, "
            f"nbs={c['batch']} (one optimizer step per batch), optimizer=SGD (momentum 0.937), amp=False, seed=0. "
            f"Finder: lr {c['lr_start']:g} -> {c['lr_end']:g}, {c['iters']} steps, smooth {c['smooth']:g}, "
            "diverge 4x, rule "
            f"`{f['rule']}`. Sweep: {len(results['grid'])} trainings, lr0 = "
            f"{' / '.join(f'{v:g}' for v in results['grid'])}"
            f", {c['epochs']} epoch(s) each (Ultralytics' recipe: 3 warmup epochs, linear decay to lr0*lrf, "
            "validation every epoch); best = "
            "highest last-epoch mAP50-95. Compute: the finder's wall time includes its set-up (trainer, dataloaders) "
            "and the process warm-up (it runs first); the sweep's is the sum of its trainings' wall times."
        ),
        "",
        figures_table(f),
        "",
        (
            f"Targets: suggestion within {TARGET_RATIO:g}x of the sweep's best lr0: **{f['ratio_verdict']}**; "
            f"finder compute <= {100 * TARGET_FRACTION:g} % of the sweep's (wall time): **{f['fraction_verdict']}**."
        ),
        "",
        "Sweep:",
        "",
        sweep_table,
        "",
        f"![finder vs sweep]({png_rel})",
    ]
    if c.get("smoke"):
        lines.append("\nThis was a --smoke run: far too short to judge the targets.")
    return "\n".join(lines)


def plot(res: dict, f: dict, path: Path) -> Path:
    """Left: the finder's curve, suggestion and sweep best marked. Right: sweep mAP vs lr0, suggestion marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    found, swept = res["found"], res["swept"]
    fig = Figure(figsize=(12, 4.6), dpi=110)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    c = found.curve
    ax1.plot(c.lrs, c.losses, color="0.75", linewidth=0.8, label="loss")
    ax1.plot(c.lrs, c.smoothed, color="tab:blue", linewidth=1.6, label="smoothed")
    ax1.set_xscale("log")
    if c.steps:
        top = max(max(c.losses[: c.best_index + 1]), c.smoothed[0]) * 1.15
        if max(c.losses) > top:
            ax1.set_ylim(top=top)
    ax2.set_xscale("log")
    ok = [r for r in swept.rows if r.error is None]
    ax2.plot([r.lr0 for r in ok], [r.map for r in ok], "o-", color="tab:blue", label="mAP50-95")
    ax2.plot([r.lr0 for r in ok], [r.map50 for r in ok], "s--", color="tab:cyan", label="mAP50")
    best = swept.best
    for ax in (ax1, ax2):
        if best is not None:
            ax.axvspan(
                best.lr0 / TARGET_RATIO,
                best.lr0 * TARGET_RATIO,
                color="tab:green",
                alpha=0.12,
                label=f"within {TARGET_RATIO:g}x of the sweep's best",
            )
            ax.axvline(best.lr0, color="tab:green", linewidth=1.2, label=f"sweep best lr0={best.lr0:.3g}")
        if found.lr is not None:
            ax.axvline(
                found.lr,
                color="tab:red",
                linestyle="--",
                linewidth=1.4,
                label=f"finder ({found.rule}) lr0={found.lr:.3g}",
            )
        ax.grid(True, which="both", alpha=0.25)
        ax.set_xlabel("learning rate (log scale)")
        ax.legend(fontsize=7)
    ax1.set_ylabel("train loss")
    ax1.set_title(f"LR finder: {c.steps} steps, {found.work.images} images, {found.seconds_total:.0f} s", fontsize=10)
    ax2.set_ylabel("final validation mAP")
    ax2.set_title(
        f"lr0 sweep: {len(swept.rows)} runs x {ok[0].epochs if ok else '?'} epoch(s), "
        f"{swept.images} images, {f['sweep_seconds']:.0f} s",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    return path


def write_markdown(path: Path, section: str) -> None:
    """Replace the lines between the finder markers, leaving every other line of the file as it was.

    A line-based state machine: ``before`` (copy) -> start marker -> ``inside`` (drop old lines) -> end marker ->
    ``after`` (copy). A missing, repeated or misordered marker is an error and the file is not written.
    """
    lines = path.read_text().splitlines(keepends=True)
    out, state = [], "before"
    for line in lines:
        mark = line.strip()
        if mark == MARK_START:
            if state != "before":
                raise ValueError(f"{path}: {MARK_START} appears twice or after {MARK_END}")
            out += [line, section.rstrip("\n") + "\n"]
            state = "inside"
        elif mark == MARK_END:
            if state != "inside":
                raise ValueError(f"{path}: {MARK_END} without a preceding {MARK_START}")
            out.append(line)
            state = "after"
        elif state != "inside":
            out.append(line)
    if state != "after":
        raise ValueError(f"{path}: markers {MARK_START} ... {MARK_END} not found in order")
    path.write_text("".join(out))


# ---------------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument(
        "--smoke", action="store_true", help="tiny run (< 1 min): 8-image set, 1 epoch, 2 lr0, 16 finder steps"
    )
    p.add_argument("--epochs", type=int, help="epochs per sweep training (default 20)")
    p.add_argument("--grid", type=int, help="number of log-spaced lr0 values from 1e-4 to 1e-1 (default 7)")
    p.add_argument("--iters", type=int, help="finder steps (default 100)")
    p.add_argument("--data", type=Path, help="use this data YAML instead of generating domain A")
    p.add_argument("--train-suggestion", action="store_true", help="also train once at the suggested lr0")
    p.add_argument(
        "--out",
        type=Path,
        help="where the finder_* result files go (default benchmarks/results; --smoke: a temporary folder)",
    )
    p.add_argument("--keep-runs", type=Path, help="keep the run folders here (default: a temp dir, removed)")
    p.add_argument("--write-md", action="store_true", help="rewrite the finder block of BENCHMARKS.md")
    p.add_argument("--md", type=Path, default=MD_PATH, help=f"Markdown file for --write-md (default {MD_PATH.name})")
    p.add_argument("--verbose", action="store_true", help="show Ultralytics' logs and progress bars")
    args = p.parse_args(argv)
    if args.smoke and args.write_md:
        p.error("--smoke never writes BENCHMARKS.md: drop --write-md")
    for name in ("epochs", "grid", "iters"):
        if getattr(args, name) is not None and getattr(args, name) < (2 if name == "iters" else 1):
            p.error(f"--{name} is too small")
    return args


def command_line(argv: list[str] | None) -> str:
    script = Path(__file__).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join(["python", str(shown), *(sys.argv[1:] if argv is None else argv)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = dict(SMOKE if args.smoke else FULL, smoke=args.smoke)
    for name in ("epochs", "grid", "iters"):
        if getattr(args, name) is not None:
            cfg[name] = getattr(args, name)
    log = functools.partial(print, flush=True)
    started = time.perf_counter()
    cfg_dir = prepare_offline_environment()
    temp = Path(tempfile.mkdtemp(prefix="yolo_lr_finder_bench_"))
    workdir = args.keep_runs.resolve() if args.keep_runs else temp / "runs"
    out = args.out or (temp / "results" if args.smoke else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    try:
        data, data_desc = make_data(temp / "A", cfg, args.data, log)
        log(f"finder vs sweep on {data}: {json.dumps({k: v for k, v in cfg.items()})}")
        load = LoadSampler()
        load.start()
        try:
            res = run(cfg, data, workdir, args.verbose, args.train_suggestion, log)
        finally:
            load.stop()
        f = figures(res)
        results = {
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command_line(argv),
            "config": cfg,
            "data": data_desc,
            "grid": res["grid"],
            "machine": machine_info(),
            "figures": f,
            "sweep": [
                {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(r).items()} for r in res["swept"].rows
            ],
            "finder_curve": {
                "lr": res["found"].curve.lrs,
                "loss": res["found"].curve.losses,
                "smoothed": res["found"].curve.smoothed,
            },
            "load": load.summary(),
        }
        png = plot(res, f, out / "finder_vs_sweep.png")
        if res["found"].png:
            shutil.copy(res["found"].png, out / "finder_lr_find.png")
        shutil.copy(res["swept"].csv, out / "finder_sweep.csv")
        shutil.copy(res["found"].csv, out / "finder_lr_find.csv")
        results["benchmark_wall_s"] = time.perf_counter() - started
        png_rel = os.path.relpath(png, args.md.resolve().parent) if not args.smoke else str(png)
        section = render_section(results, res["swept"].table(), png_rel)
        (out / "finder_vs_sweep.md").write_text(
            "# LR finder vs lr0 sweep\n\n" + section.replace(f"]({png_rel})", f"]({png.name})") + "\n"
        )
        (out / "finder_vs_sweep.json").write_text(json.dumps(results, indent=1, default=str))
    finally:
        shutil.rmtree(temp / "runs", ignore_errors=True)
        shutil.rmtree(temp / "A", ignore_errors=True)
        if not args.smoke or args.out:
            shutil.rmtree(temp, ignore_errors=True)
        if cfg_dir is not None:
            shutil.rmtree(cfg_dir, ignore_errors=True)
    log("")
    log(figures_table(f))
    log("")
    log(res["swept"].table())
    log(
        f"\ntargets: ratio {f['ratio_verdict']}, compute {f['fraction_verdict']}; benchmark took "
        f"{results['benchmark_wall_s']:.0f} s; results in {out}"
    )
    if args.write_md:
        write_markdown(args.md, section)
        log(f"updated {args.md} between {MARK_START} and {MARK_END}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
