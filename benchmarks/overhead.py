#!/usr/bin/env python
"""Overhead of the yolo_lr plugin on a real Ultralytics training (offline coco8, yolo26n built from its YAML).

Two measurements, both in this one process (the installed ``yolo_lr`` is the one measured):

1. Per optimizer step: one instrumented plugin run (``lr_policy=cosine``, ``lr_plateau=True`` with patience 0, so
   the plateau path and its state file are exercised). The plugin's time is everything it adds: its
   ``optimizer_step`` wrapper (``LRController.apply`` included), its per-batch callbacks and, amortised over the
   optimizer steps, its per-epoch callbacks (lr.csv flush, plateau, lr_state.json). The training step time is the
   wall time from the first ``on_train_batch_start`` callback to the last ``on_train_batch_end`` callback of each
   batch: forward, backward, optimizer step (on CUDA the timers synchronize the device). Data loading is *not* in
   it, so the fraction is conservative. Goal: < 0.1 %. This run also warms the process up.
2. End to end: ``--warmup-pairs`` untimed pairs, then ``--repeats`` pairs of native and plugin runs of the same
   config, alternating which goes first, each timed around ``model.train(...)``. Native is a model whose plugin
   callbacks were removed (as the tests' ``strip_plugin`` does) and that sets no ``lr_*`` key; plugin sets
   ``lr_policy=linear lr_interval=epoch`` (Ultralytics' curve, so both sides train identically). Both carry the same cheap per-epoch phase timers (set-up, training loop, validation, rest),
   so a difference can be located. Goal: ratio of the median wall times plugin/native <= 1.01.

Run from the repository root with the project's environment::

    .venv/bin/python benchmarks/overhead.py                  # full benchmark (~3 min on 2 CPU cores), default device
    .venv/bin/python benchmarks/overhead.py --write-md       # ... and record it in BENCHMARKS.md
    .venv/bin/python benchmarks/overhead.py --quick          # smoke run, ~15 s on 2 CPU cores
    .venv/bin/python benchmarks/overhead.py --device cpu --json /tmp/overhead.json   # raw numbers too

``--write-md`` rewrites the part of BENCHMARKS.md between ``<!-- overhead:start -->`` and ``<!-- overhead:end -->``.
No network is used: the script sets ``YOLO_OFFLINE=1`` and a private ``YOLO_CONFIG_DIR`` before Ultralytics loads,
and silences Ultralytics' logs and progress bars (``--verbose`` shows them) for native and plugin runs alike.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import gc
import json
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

ROOT = Path(__file__).resolve().parents[1]
COCO8 = ROOT / "datasets" / "coco8" / "coco8.yaml"
MD_PATH = ROOT / "BENCHMARKS.md"
MODEL = "yolo26n.yaml"  # built from its YAML: nothing to download
# End-to-end plugin runs drive Ultralytics' own curve through the plugin, so both sides train identically (same
# LRs, same weights, same validation work) and the wall-time difference is the plugin's overhead alone.
PLUGIN_KEYS = {"lr_policy": "linear", "lr_interval": "epoch"}
PER_STEP_KEYS = {"lr_policy": "cosine", "lr_plateau": True, "lr_plateau_patience": 0}  # instrumented run
MARK_START, MARK_END = "<!-- overhead:start -->", "<!-- overhead:end -->"
GOAL_FRACTION_PCT = 0.1  # plugin time per optimizer step, % of the training step time (strictly below)
GOAL_RATIO = 1.01  # end-to-end wall time plugin / native (at most)

MD_INTRO = """# Benchmarks

Measurements of the `yolo_lr` plugin. Each section says how it was produced; the figures are written by the
benchmark scripts themselves, so rerun the command shown rather than editing them by hand.
"""

MD_OVERHEAD_HEAD = """## Overhead

What the plugin costs a training run: its time per optimizer step as a fraction of the training step time
(goal < 0.1 %), and the end-to-end wall-time ratio plugin/native on the same coco8 run (goal <= 1.01).
Script: [`benchmarks/overhead.py`](benchmarks/overhead.py) (its docstring says exactly what is timed).
"""


@dataclass
class BenchConfig:
    """The training every run uses, and how many timed runs to make."""

    epochs: int
    imgsz: int
    batch: int
    nbs: int
    repeats: int
    warmup_pairs: int = 1
    device: str | None = None
    quick: bool = False

    def train_args(self, project: Path, name: str) -> dict:
        """Ultralytics train() arguments shared by native and plugin runs (no lr_* key)."""
        args = dict(
            data=str(COCO8),
            epochs=self.epochs,
            imgsz=self.imgsz,
            batch=self.batch,
            nbs=self.nbs,
            optimizer="SGD",
            workers=0,
            amp=False,
            plots=False,
            val=True,
            seed=0,
            deterministic=True,
            verbose=False,
            project=str(project),
            name=name,
            exist_ok=True,
        )
        if self.device is not None:
            args["device"] = self.device
        return args


# ---------------------------------------------------------------------------------------------------------- set-up
def prepare_offline_environment(verbose: bool) -> Path | None:
    """Before Ultralytics is imported: no network, a private settings dir with a local Arial.ttf, quiet logs.

    Returns the settings dir (a temp dir the caller removes), or None when Ultralytics is already loaded (called
    from a process that set its environment up itself, like the test suite): then nothing is changed.
    """
    if "ultralytics" in sys.modules:
        return None
    cfg_dir = Path(tempfile.mkdtemp(prefix="yolo_lr_bench_cfg_"))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(cfg_dir)
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.pop("YOLO_LR_DISABLE", None)
    if not verbose:
        os.environ["YOLO_VERBOSE"] = "False"  # no progress bars or INFO lines: the same for native and plugin runs
    (cfg_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    shutil.copy(font, cfg_dir / "Ultralytics" / "Arial.ttf")
    return cfg_dir


def new_model(plugin: bool):
    """A fresh yolo26n from its YAML; with plugin=False, one whose plugin callbacks were removed (native)."""
    import yolo_lr  # noqa: F401  (registers the lr_* keys and the callbacks before the model exists)
    from ultralytics import YOLO
    from yolo_lr.adapter import callbacks as plugin_callbacks

    model = YOLO(MODEL)
    if not plugin:
        for event, fn in plugin_callbacks.items():
            model.callbacks[event] = [f for f in model.callbacks[event] if f is not fn]
    return model


def check_plugin_state(model, plugin: bool) -> None:
    """Fail loudly if a 'plugin' run did not drive the LR or a 'native' run did."""
    trainer = model.trainer
    ctl = trainer.__dict__.get("yolo_lr") if trainer is not None else None
    if plugin and (ctl is None or not (Path(trainer.save_dir) / "lr.csv").exists()):
        raise RuntimeError("plugin run: the yolo_lr controller did not run (no controller or no lr.csv)")
    if not plugin and ctl is not None:
        raise RuntimeError("native run: the yolo_lr controller ran although its callbacks were removed")


def synchronizer(device: str | None):
    """A function that waits for queued GPU work (so a CUDA step time is the real one); a no-op on CPU."""
    import torch

    if torch.cuda.is_available() and (device is None or str(device).lower() not in {"cpu", "mps"}):
        return torch.cuda.synchronize
    return lambda: None


# ---------------------------------------------------------------------------------------------- per-step overhead
@dataclass
class StepProbe:
    """Timers attached to one model: the plugin's callbacks and step hook, and each batch's wall time (seconds)."""

    sync: object
    batch_s: list[float] = field(default_factory=list)  # on_train_batch_start .. on_train_batch_end, per batch
    step_inner_s: list[float] = field(default_factory=list)  # Ultralytics' own optimizer_step, per call
    step_outer_s: list[float] = field(default_factory=list)  # the plugin's wrapper around it, per call
    apply_s: list[float] = field(default_factory=list)  # LRController.apply, per call
    callback_s: dict[str, list[float]] = field(default_factory=dict)  # plugin callback event -> durations
    epoch_s: list[float] = field(default_factory=list)  # on_train_epoch_start .. on_fit_epoch_end (val, save incl.)
    device: str = ""
    torch_threads: int = 0
    _batch_t0: float = 0.0
    _epoch_t0: float | None = None

    def attach(self, model) -> None:
        """Wrap the plugin's callbacks in model.callbacks with timers and add the batch and step-hook timers."""
        from yolo_lr.adapter import callbacks as plugin_callbacks

        plugin_fns = set(plugin_callbacks.values())
        for event, fns in model.callbacks.items():
            model.callbacks[event] = [self._timed(event, f) if f in plugin_fns else f for f in fns]
        model.callbacks["on_pretrain_routine_end"].insert(0, self._wrap_native_step)  # before the plugin wraps it
        model.callbacks["on_pretrain_routine_end"].append(self._wrap_plugin_step)  # after it did
        model.callbacks["on_train_start"].append(self._note_device)
        model.callbacks["on_train_epoch_start"].insert(0, self._epoch_start)
        model.callbacks["on_train_batch_start"].insert(0, self._batch_start)
        model.callbacks["on_train_batch_end"].append(self._batch_end)
        model.callbacks["on_fit_epoch_end"].append(self._epoch_end)

    def _timed(self, event: str, fn):
        durations = self.callback_s.setdefault(event, [])

        @functools.wraps(fn)
        def timed(trainer):
            t0 = time.perf_counter()
            fn(trainer)
            durations.append(time.perf_counter() - t0)

        return timed

    @staticmethod
    def _timed_method(method, durations: list[float]):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            out = method(*args, **kwargs)
            durations.append(time.perf_counter() - t0)
            return out

        return timed

    def _wrap_native_step(self, trainer) -> None:
        trainer.optimizer_step = self._timed_method(trainer.optimizer_step, self.step_inner_s)

    def _wrap_plugin_step(self, trainer) -> None:
        if not getattr(trainer.optimizer_step, "_yolo_lr", False):
            raise RuntimeError("the plugin did not wrap trainer.optimizer_step; is it installed and active?")
        trainer.optimizer_step = self._timed_method(trainer.optimizer_step, self.step_outer_s)

    def _note_device(self, trainer) -> None:
        import torch

        self.device, self.torch_threads = str(trainer.device), torch.get_num_threads()

    def _epoch_start(self, trainer) -> None:
        self._epoch_t0 = time.perf_counter()

    def _batch_start(self, trainer) -> None:
        self.sync()
        self._batch_t0 = time.perf_counter()

    def _batch_end(self, trainer) -> None:
        self.sync()
        self.batch_s.append(time.perf_counter() - self._batch_t0)

    def _epoch_end(self, trainer) -> None:
        if self._epoch_t0 is not None:  # not final_eval's extra on_fit_epoch_end
            self.sync()
            self.epoch_s.append(time.perf_counter() - self._epoch_t0)
            self._epoch_t0 = None


PER_BATCH_EVENTS = ("on_train_batch_start", "on_train_batch_end")
PER_EPOCH_EVENTS = ("on_train_epoch_start", "on_train_epoch_end", "on_model_save", "on_fit_epoch_end")
ONE_OFF_EVENTS = ("on_pretrain_routine_start", "on_pretrain_routine_end", "on_train_end")


def timed_apply(durations: list[float]):
    """A replacement for LRController.apply that records each call's duration (patched in this process only)."""
    from yolo_lr.adapter import LRController

    original = LRController.apply

    @functools.wraps(original)
    def apply(self, trainer):
        t0 = time.perf_counter()
        original(self, trainer)
        durations.append(time.perf_counter() - t0)

    return original, apply


def measure_per_step(cfg: BenchConfig, workdir: Path) -> dict:
    """One instrumented plugin run (cosine + plateau): the plugin's time per optimizer step vs the step time."""
    from yolo_lr.adapter import LRController

    probe = StepProbe(sync=synchronizer(cfg.device))
    model = new_model(plugin=True)
    probe.attach(model)
    original, patched = timed_apply(probe.apply_s)
    LRController.apply = patched
    t0 = time.perf_counter()
    try:
        model.train(**cfg.train_args(workdir / "per_step", "plugin"), **PER_STEP_KEYS)
    finally:
        LRController.apply = original
    wall = time.perf_counter() - t0
    check_plugin_state(model, plugin=True)
    warm_us = warm_apply_us(model.trainer)
    shutil.rmtree(workdir / "per_step", ignore_errors=True)
    return {**summarize_probe(probe, wall), "apply_us_warm": warm_us}


def warm_apply_us(trainer, calls: int = 2000) -> float:
    """Mean µs of LRController.apply called back to back on the finished run's trainer (hot caches).

    For comparison only: inside training each call follows a backward pass and measures far slower (most likely
    cold CPU caches); the in-training figure is the one that counts.
    """
    ctl = trainer.__dict__["yolo_lr"]
    rows, last = list(ctl.rows), ctl.last_lrs
    t0 = time.perf_counter()
    for _ in range(calls):
        ctl.apply(trainer)
    mean = (time.perf_counter() - t0) / calls
    ctl.rows, ctl.last_lrs = rows, last
    return 1e6 * mean


def summarize_probe(probe: StepProbe, wall_s: float) -> dict:
    """Turn the probe's raw timings into the per-step figures (µs, ms, %) plus the raw lists."""
    steps = len(probe.step_inner_s)
    if steps == 0 or len(probe.step_outer_s) != steps or len(probe.apply_s) != steps:
        raise RuntimeError(
            f"inconsistent step counts: native {steps}, wrapped {len(probe.step_outer_s)}, apply {len(probe.apply_s)}"
        )
    # wrapper + apply per step (plus well under 1 µs of the inner timer's own bookkeeping)
    hook = [o - i for o, i in zip(probe.step_outer_s, probe.step_inner_s)]
    cb = {e: probe.callback_s.get(e, []) for e in (*PER_BATCH_EVENTS, *PER_EPOCH_EVENTS, *ONE_OFF_EVENTS)}
    per_batch_total = sum(sum(cb[e]) for e in PER_BATCH_EVENTS)
    per_epoch_total = sum(sum(cb[e]) for e in PER_EPOCH_EVENTS)
    one_off_total = sum(sum(cb[e]) for e in ONE_OFF_EVENTS)
    epochs = max(len(probe.epoch_s), 1)
    train_step_s = sum(probe.batch_s) / steps  # batch wall time per optimizer step (= per batch when accumulate=1)
    step_plugin_s = (sum(hook) + per_batch_total) / steps
    amortised_s = step_plugin_s + per_epoch_total / steps
    plugin_total_s = sum(hook) + per_batch_total + per_epoch_total + one_off_total
    return {
        "device": probe.device,
        "optimizer_steps": steps,
        "batches": len(probe.batch_s),
        "epochs": len(probe.epoch_s),
        "torch_threads": probe.torch_threads,
        "run_wall_s": wall_s,
        "train_step_ms_mean": 1e3 * train_step_s,
        "train_step_ms_median": 1e3 * statistics.median(probe.batch_s),
        "apply_us_mean": 1e6 * statistics.fmean(probe.apply_s),
        "apply_us_median": 1e6 * statistics.median(probe.apply_s),
        "apply_us_max": 1e6 * max(probe.apply_s),
        "step_hook_us_mean": 1e6 * statistics.fmean(hook),
        "batch_callbacks_us_per_step": 1e6 * per_batch_total / steps,
        "plugin_us_per_step": 1e6 * step_plugin_s,
        "plugin_us_per_step_amortised": 1e6 * amortised_s,
        "fraction_pct": 100 * step_plugin_s / train_step_s,
        "fraction_pct_amortised": 100 * amortised_s / train_step_s,
        "per_epoch_ms": 1e3 * per_epoch_total / epochs,
        "per_epoch_ms_by_event": {e: 1e3 * sum(cb[e]) / epochs for e in PER_EPOCH_EVENTS},
        "epoch_ms_mean": 1e3 * statistics.fmean(probe.epoch_s),
        "per_epoch_pct_of_epoch": 100 * per_epoch_total / sum(probe.epoch_s),
        "one_off_ms": 1e3 * one_off_total,
        "one_off_ms_by_event": {e: 1e3 * sum(cb[e]) for e in ONE_OFF_EVENTS},
        "plugin_total_ms": 1e3 * plugin_total_s,
        "plugin_total_pct_of_run": 100 * plugin_total_s / wall_s,
        "raw_s": {
            "batch": probe.batch_s,
            "epoch": probe.epoch_s,
            "optimizer_step_native": probe.step_inner_s,
            "optimizer_step_wrapped": probe.step_outer_s,
            "apply": probe.apply_s,
            "callbacks": cb,
        },
    }


# ----------------------------------------------------------------------------------------------------- end to end
@dataclass
class PhaseClock:
    """Cheap per-epoch timers attached to both native and plugin runs, to show where a wall-time difference lies.

    train: on_train_epoch_start .. on_train_epoch_end (all batches, data loading included); val: on_val_start ..
    on_val_end (every validation, the final one included); setup: train() call .. on_train_start.
    """

    sync: object
    t_call: float = 0.0
    setup_s: float = 0.0
    train_s: float = 0.0
    val_s: float = 0.0
    _t0: float = 0.0

    def attach(self, model) -> None:
        """Add the timers to model.callbacks, outside any other callback of the same event."""
        model.callbacks["on_train_start"].append(self._train_start)
        model.callbacks["on_train_epoch_start"].insert(0, self._start)
        model.callbacks["on_train_epoch_end"].append(self._train_end)
        model.callbacks["on_val_start"].insert(0, self._start)
        model.callbacks["on_val_end"].append(self._val_end)

    def _now(self) -> float:
        self.sync()
        return time.perf_counter()

    def _train_start(self, trainer) -> None:
        self.setup_s = self._now() - self.t_call

    def _start(self, _) -> None:
        self._t0 = self._now()

    def _train_end(self, trainer) -> None:
        self.train_s += self._now() - self._t0

    def _val_end(self, validator) -> None:
        self.val_s += self._now() - self._t0

    def phases(self, wall_s: float) -> dict:
        """Seconds per phase; 'other' is the rest of the wall time (checkpoints, final_eval set-up, teardown)."""
        return {
            "setup_s": self.setup_s,
            "train_s": self.train_s,
            "val_s": self.val_s,
            "other_s": wall_s - self.setup_s - self.train_s - self.val_s,
        }


def timed_run(cfg: BenchConfig, workdir: Path, plugin: bool, name: str) -> dict:
    """Build a fresh model, time model.train() (wall clock), check which side ran, delete the run dir."""
    model = new_model(plugin)
    sync = synchronizer(cfg.device)
    clock = PhaseClock(sync=sync)
    clock.attach(model)
    project = workdir / "e2e"
    kwargs = {**cfg.train_args(project, name), **(PLUGIN_KEYS if plugin else {})}
    gc.collect()
    sync()
    t0 = clock.t_call = time.perf_counter()
    model.train(**kwargs)
    sync()
    wall = time.perf_counter() - t0
    check_plugin_state(model, plugin)
    del model
    shutil.rmtree(project / name, ignore_errors=True)
    return {"wall_s": wall, **clock.phases(wall)}


def measure_end_to_end(cfg: BenchConfig, workdir: Path, log) -> dict:
    """Untimed warm-up pair(s), then alternating native/plugin pairs (native first in even pairs): times, ratios."""
    for i in range(cfg.warmup_pairs):
        for plugin in (False, True):
            side = "plugin" if plugin else "native"
            r = timed_run(cfg, workdir, plugin, f"warmup_{side}_{i}")
            log(f"  warm-up {i + 1}/{cfg.warmup_pairs} {side:6s} {r['wall_s']:7.2f} s (not counted)")
    runs = []
    for i in range(cfg.repeats):
        order = (False, True) if i % 2 == 0 else (True, False)
        for plugin in order:
            side = "plugin" if plugin else "native"
            r = timed_run(cfg, workdir, plugin, f"{side}_{i}")
            runs.append({"pair": i, "side": side, "first": plugin == order[0], **r})
            log(
                f"  pair {i + 1}/{cfg.repeats} {side:6s} {r['wall_s']:7.2f} s  (setup {r['setup_s']:.2f}, "
                f"train {r['train_s']:.2f}, val {r['val_s']:.2f}, other {r['other_s']:.2f})"
            )
    side_runs = {side: [r for r in runs if r["side"] == side] for side in ("native", "plugin")}
    native = [r["wall_s"] for r in side_runs["native"]]
    plugin = [r["wall_s"] for r in side_runs["plugin"]]
    pair_ratios = [p / n for p, n in zip(plugin, native)]  # both lists are in pair order
    return {
        "native": wall_stats(side_runs["native"]),
        "plugin": wall_stats(side_runs["plugin"]),
        "ratio_of_medians": statistics.median(plugin) / statistics.median(native),
        "ratio_of_mins": min(plugin) / min(native),
        "pair_ratios": pair_ratios,
        "pair_ratio_median": statistics.median(pair_ratios),
        "runs": runs,
    }


def wall_stats(runs: list[dict]) -> dict:
    """Median, min, max and spread of the wall times of one side's runs, and the median of each phase."""
    xs = [r["wall_s"] for r in runs]
    med = statistics.median(xs)
    out = {"median_s": med, "min_s": min(xs), "max_s": max(xs), "spread_pct": 100 * (max(xs) - min(xs)) / med}
    for k in ("setup_s", "train_s", "val_s", "other_s"):
        out[f"{k}_median"] = statistics.median(r[k] for r in runs)
    return out


# --------------------------------------------------------------------------------------------------------- report
def machine_info(per_step: dict) -> dict:
    """CPU model, cores, GPU (if used), library versions, and the device and torch threads training used."""
    import torch
    import ultralytics

    import yolo_lr

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = per_step["device"]
    info = {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": per_step["torch_threads"],  # as set by Ultralytics during training
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "yolo_lr": yolo_lr.__version__,
        "yolo_lr_path": str(Path(yolo_lr.__file__).parent),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def verdicts(results: dict) -> dict:
    """'met' / 'missed' for each goal, from the measured figures only."""
    frac = results["per_step"]["fraction_pct_amortised"]
    ratio = results["end_to_end"]["ratio_of_medians"]
    return {
        "fraction": "met" if frac < GOAL_FRACTION_PCT else "missed",
        "ratio": "met" if ratio <= GOAL_RATIO else "missed",
    }


def figures_table(results: dict) -> str:
    """The figures as a Markdown table (printed as is, and written to BENCHMARKS.md)."""
    s, e, v = results["per_step"], results["end_to_end"], results["verdicts"]
    n, p = e["native"], e["plugin"]

    def both(key: str) -> str:
        return f"{n[key]:.2f} / {p[key]:.2f} s"

    rows = [
        ("Plugin time per optimizer step, per-epoch work amortised", f"{s['plugin_us_per_step_amortised']:.1f} µs"),
        ("- step hook (`optimizer_step` wrapper incl. `LRController.apply`)", f"{s['step_hook_us_mean']:.1f} µs"),
        ("- `LRController.apply` in training, mean / median / max",
         f"{s['apply_us_mean']:.1f} / {s['apply_us_median']:.1f} / {s['apply_us_max']:.1f} µs"),
        ("- `LRController.apply` back to back after the run (hot caches, for comparison)",
         f"{s['apply_us_warm']:.1f} µs"),
        ("- per-batch callbacks", f"{s['batch_callbacks_us_per_step']:.1f} µs"),
        ("- per-epoch callbacks / optimizer steps per epoch",
         f"{s['plugin_us_per_step_amortised'] - s['plugin_us_per_step']:.1f} µs"),
        ("Training step time (batch start to batch end), mean / median",
         f"{s['train_step_ms_mean']:.1f} / {s['train_step_ms_median']:.1f} ms"),
        ("**Plugin time / training step time**", f"**{s['fraction_pct_amortised']:.4f} %**",
         f"< {GOAL_FRACTION_PCT:g} %", v["fraction"]),
        ("Same without the per-epoch work", f"{s['fraction_pct']:.4f} %"),
        ("Per-epoch plugin work (lr.csv flush, plateau, lr_state.json)",
         f"{s['per_epoch_ms']:.2f} ms/epoch = {s['per_epoch_pct_of_epoch']:.3f} % of an epoch "
         f"({s['epoch_ms_mean']:.0f} ms incl. validation)"),
        ("One-off plugin work (config checks, set-up, end)", f"{s['one_off_ms']:.2f} ms/run"),
        ("All plugin callbacks + step hook, instrumented run",
         f"{s['plugin_total_ms']:.1f} ms of {s['run_wall_s']:.2f} s = {s['plugin_total_pct_of_run']:.3f} %"),
        ("Run wall time native, median / min / max", f"{n['median_s']:.2f} / {n['min_s']:.2f} / {n['max_s']:.2f} s"),
        ("Run wall time plugin, median / min / max", f"{p['median_s']:.2f} / {p['min_s']:.2f} / {p['max_s']:.2f} s"),
        ("**Wall-time ratio plugin/native, medians**", f"**{e['ratio_of_medians']:.4f}**", f"<= {GOAL_RATIO:g}",
         v["ratio"]),
        ("Wall-time ratio plugin/native, minimums", f"{e['ratio_of_mins']:.4f}"),
        ("Per-pair ratios: median; each pair",
         f"{e['pair_ratio_median']:.4f}; " + ", ".join(f"{r:.3f}" for r in e["pair_ratios"])),
        ("Run-to-run spread (max-min)/median, native / plugin",
         f"{n['spread_pct']:.1f} % / {p['spread_pct']:.1f} %"),
        ("Median phases native / plugin: set-up", both("setup_s_median")),
        ("- training loop (all epochs, data loading incl.)", both("train_s_median")),
        ("- validation (every epoch + final)", both("val_s_median")),
        ("- rest (checkpoints, final eval set-up, teardown)", both("other_s_median")),
    ]
    lines = ["| Figure | Measured | Goal | Verdict |", "|---|---|---|---|"]
    lines += ["| " + " | ".join((*row, "", "")[:4]) + " |" for row in rows]
    return "\n".join(lines)


def noise_sentence(results: dict) -> str:
    """One honest sentence comparing the run-to-run noise with the plugin's directly measured cost."""
    e, s = results["end_to_end"], results["per_step"]
    spread = max(e["native"]["spread_pct"], e["plugin"]["spread_pct"])
    direct = s["plugin_total_pct_of_run"]
    measured = 100 * (e["ratio_of_medians"] - 1)
    if results["config"]["repeats"] < 3:
        text = (
            f"With {results['config']['repeats']} pair(s) there is no usable noise estimate; the end-to-end ratio "
            f"({measured:+.2f} %) compares single runs, against {direct:.3f} % of a run timed directly in the plugin."
        )
    else:
        text = (
            f"Run-to-run spread was up to {spread:.1f} % of the median wall time, against {direct:.3f} % of a run "
            f"timed directly in the plugin's callbacks and step hook, so the end-to-end difference ({measured:+.2f} %)"
            + (" is within the noise." if spread >= abs(measured) else " exceeds the spread and is not noise alone.")
        )
    if results["config"]["quick"]:
        text += " This was a --quick smoke run: too short to judge the goals."
    return text


def render_section(results: dict) -> str:
    """The Markdown written between the overhead markers."""
    m, c = results["machine"], results["config"]
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    lines = [
        f"Measured {results['date']} on {m['cpu']} ({m['cpu_cores']} cores, torch threads during training: "
        f"{m['torch_threads']}){gpu}, device `{m['device']}`; Python {m['python']}, torch {m['torch']}, "
        f"ultralytics {m['ultralytics']}, yolo_lr {m['yolo_lr']}. The whole benchmark took "
        f"{results['benchmark_wall_s']:.0f} s.",
        "",
        "```bash",
        results["command"],
        "```",
        "",
        f"Config: `{MODEL}` on `datasets/coco8` (4 train / 4 val images), epochs={c['epochs']}, imgsz={c['imgsz']}, "
        f"batch={c['batch']}, nbs={c['nbs']}, optimizer=SGD, amp=False, workers=0, val=True, plots=False, seed=0; "
        f"{results['per_step']['optimizer_steps']} optimizer steps per run. Per-step figures come from one "
        f"instrumented run with `{' '.join(f'{k}={v}' for k, v in PER_STEP_KEYS.items())}`; the end-to-end figures "
        f"from {c['repeats']} native/plugin pair(s) in alternating order after {c['warmup_pairs']} untimed pair(s), "
        f"plugin `{' '.join(f'{k}={v}' for k, v in PLUGIN_KEYS.items())}` vs a native model whose plugin callbacks "
        "were removed.",
        "",
        figures_table(results),
        "",
        f"Goals: plugin time per step < {GOAL_FRACTION_PCT:g} % of the step: **{results['verdicts']['fraction']}**; "
        f"wall-time ratio (medians) <= {GOAL_RATIO:g}: **{results['verdicts']['ratio']}**.",
        "",
        noise_sentence(results),
    ]
    return "\n".join(lines)


def write_markdown(path: Path, section: str) -> None:
    """Replace the text between the overhead markers (creating the file or the section when missing)."""
    block = f"{MARK_START}\n{section}\n{MARK_END}"
    text = path.read_text() if path.exists() else MD_INTRO
    if MARK_START in text and MARK_END in text and text.index(MARK_START) < text.index(MARK_END):
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + MD_OVERHEAD_HEAD + "\n" + block + "\n"
    path.write_text(text)


# ---------------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring for the typical commands)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 pair, epochs=2, imgsz=64 (< 1 min on 2 cores)")
    p.add_argument("--repeats", type=int, help="native/plugin pairs to time (default 5; 1 with --quick)")
    p.add_argument("--warmup-pairs", type=int, default=1, help="untimed native/plugin pairs first (default 1)")
    p.add_argument("--epochs", type=int, help="epochs per run (default 8; 2 with --quick)")
    p.add_argument("--imgsz", type=int, help="image size (default 320; 64 with --quick)")
    p.add_argument("--batch", type=int, help="batch size (default 1: 4 optimizer steps per coco8 epoch)")
    p.add_argument("--nbs", type=int, help="nominal batch size (default = batch, so every batch is a step)")
    p.add_argument("--device", default=None, help="Ultralytics device (default: Ultralytics' choice, cuda:0 or cpu)")
    p.add_argument("--json", type=Path, help="also write every raw number to this JSON file")
    p.add_argument("--write-md", action="store_true", help="rewrite the overhead section of the Markdown file")
    p.add_argument("--md", type=Path, default=MD_PATH, help=f"Markdown file for --write-md (default {MD_PATH.name})")
    p.add_argument("--verbose", action="store_true", help="show Ultralytics' own logs and progress bars")
    args = p.parse_args(argv)
    for name in ("repeats", "epochs", "imgsz", "batch", "nbs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if args.warmup_pairs < 0:
        p.error("--warmup-pairs must be >= 0")
    return args


# Full: ~11-12 s per run on 2 Xeon cores (4 optimizer steps per epoch, 32 per run), ~3 min in all. Quick: ~15 s in all.
FULL = dict(epochs=8, imgsz=320, batch=1, repeats=5)
QUICK = dict(epochs=2, imgsz=64, batch=1, repeats=1)


def build_config(args: argparse.Namespace) -> BenchConfig:
    """Defaults (full or --quick) overridden by explicit options."""
    base = QUICK if args.quick else FULL
    pick = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in base.items()}
    nbs = args.nbs if args.nbs is not None else pick["batch"]
    return BenchConfig(nbs=nbs, warmup_pairs=args.warmup_pairs, device=args.device, quick=args.quick, **pick)


def command_line(argv: list[str] | None) -> str:
    """The command as typed, with the script path relative to the repository root when it is inside it."""
    script = Path(__file__).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join(["python", str(shown), *(sys.argv[1:] if argv is None else argv)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    command = command_line(argv)
    log = functools.partial(print, flush=True)
    cfg_dir = prepare_offline_environment(args.verbose)
    workdir = Path(tempfile.mkdtemp(prefix="yolo_lr_bench_runs_"))
    started = time.perf_counter()
    try:
        log(f"yolo_lr overhead benchmark: {asdict(cfg)}")
        log("per-step: 1 instrumented plugin run (also warms the process up)")
        per_step = measure_per_step(cfg, workdir)
        log(f"  {per_step['optimizer_steps']} steps, {per_step['run_wall_s']:.2f} s")
        log(f"end-to-end: {cfg.repeats} native/plugin pair(s)")
        e2e = measure_end_to_end(cfg, workdir, log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if cfg_dir is not None:
            shutil.rmtree(cfg_dir, ignore_errors=True)
    results = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "config": asdict(cfg),
        "machine": machine_info(per_step),
        "benchmark_wall_s": time.perf_counter() - started,
        "per_step": per_step,
        "end_to_end": e2e,
    }
    results["verdicts"] = verdicts(results)
    log("")
    log(figures_table(results))
    log("")
    log(noise_sentence(results))
    log(f"goals: fraction {results['verdicts']['fraction']}, ratio {results['verdicts']['ratio']}; "
        f"benchmark took {results['benchmark_wall_s']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
        log(f"raw numbers: {args.json}")
    if args.write_md:
        write_markdown(args.md, render_section(results))
        log(f"updated {args.md} between {MARK_START} and {MARK_END}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
