#!/usr/bin/env python
"""What the yolo_lr plugin costs per optimizer step, against a goal of <= 20 µs (0.1 % of a ~20 ms yolo26n GPU step).

The run: ``yolo26n.yaml`` on the synthetic source world S (``scripts/make_dataset.py --domain S``), 2000 train images
at imgsz 32, batch 8 = nbs (one optimizer step per batch, 250 per epoch), 2 epochs, all in this one process.

1. Per step: one instrumented training per ``--configs`` entry (``CONFIGS``), the plugin timed from outside and
   recognised by where its code lives (the ``yolo_lr`` package; a ``functools.wraps`` wrapper still counts): its
   callbacks (rescanned at train and epoch start), its ``trainer.optimizer_step`` replacement minus Ultralytics' own
   ``BaseTrainer.optimizer_step`` (patched to be timed), its torch optimizer step hooks. Plugin time per step =
   (step hook + per-batch + per-epoch callbacks) / steps; one-off callbacks are reported per run. Each timed call
   also pays the timer's bookkeeping (measured, shown): the figures are upper bounds. The training step it is
   compared with: on_train_batch_start .. on_train_batch_end, CUDA synchronised.
2. End to end (``--pairs``): native (plugin callbacks removed, no ``lr_*`` key) vs plugin (``yolo_lr.attach(model,
   "native")``: the same LRs) in alternating order; wall and CPU time of ``model.train``.

Relies on Ultralytics' ``BaseTrainer.optimizer_step`` and callback dict, torch's private step-hook dicts (read only),
``yolo_lr.attach`` and the plugin's ``lr.csv``. Stops with an error when the plugin patches
``BaseTrainer.optimizer_step`` or the optimizer's ``step`` (its work could not be told apart from Ultralytics').

    python benchmarks/overhead.py                 # ~6 min of CPU (took 18 min at load 11 on 2 cores)
    python benchmarks/overhead.py --write-md      # ... and rewrite the overhead block of BENCHMARKS.md
    python benchmarks/overhead.py --smoke         # ~30 s: 24 images, 6 steps per epoch
    python benchmarks/overhead.py --device 0      # on a GPU
    python benchmarks/overhead.py --from-json benchmarks/results/overhead.json   # re-render, measuring nothing
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

GOAL_US = 20.0  # plugin µs per optimizer step: 0.1 % of a ~20 ms yolo26n step on a GPU
GPU_STEP_MS = 20.0
MIN_STEPS_PER_EPOCH = 200  # the goal is stated for runs with at least this many steps per epoch
CONFIGS = {  # name: (yolo_lr.attach policy, attach overrides, what the report says of it)
    "cosine_plateau": (
        {"lr_policy": "cosine", "lr_interval": "step", "lr_plateau": True, "lr_plateau_patience": 0},
        {},
        "`lr_policy=cosine lr_interval=step lr_plateau=True lr_plateau_patience=0` (a plateau decision and state "
        "write every epoch)",
    ),
    "finetune": (
        "finetune",
        {"lr_unfreeze_epoch": 1},
        "the `finetune` preset with `lr_unfreeze_epoch=1` (backbone in its own param groups, frozen for the first "
        "epoch, then ramped back)",
    ),
}
PAIR_POLICY = "native"  # end-to-end plugin side: Ultralytics' own curve through the plugin
ONE_OFF_EVENTS = {"on_pretrain_routine_start", "on_pretrain_routine_end", "on_train_start", "on_train_end", "teardown"}
PER_BATCH_EVENTS = {"on_train_batch_start", "on_train_batch_end"}  # every other event counts as per epoch
LOAD_EFFECT = (  # what other work on the machine inflates
    "step times and the end-to-end figures are inflated; the plugin's own time per step less so, but cold caches still "
    "add."
)

BENCH = common.Bench(
    name="overhead",
    block="overhead",
    doc=__doc__,
    full=dict(
        n_train=2000, n_val=32, imgsz=32, batch=8, epochs=2, configs=[*CONFIGS], pairs=3, pair_epochs=1, device=None
    ),
    smoke=dict(n_train=24, n_val=4, batch=4, pairs=1),
    help={
        "n_train": "source-world train images (steps per epoch = images / batch)",
        "n_val": "source-world val images",
        "imgsz": "image size, also the dataset's",
        "batch": "batch size; nbs follows it, so every batch is one optimizer step",
        "epochs": "epochs per instrumented run",
        "configs": f"instrumented configs, of: {' '.join(CONFIGS)}",
        "pairs": "native/plugin pairs for the end-to-end ratio (0: skip)",
        "pair_epochs": "epochs per end-to-end run",
        "device": "Ultralytics device, e.g. cpu or 0 (default: Ultralytics' choice, a GPU when there is one)",
    },
    flags={"n_train": "--train-images", "n_val": "--val-images"},
    minimum={"n_train": 1, "n_val": 1, "imgsz": 32, "batch": 1, "epochs": 1, "pairs": 0, "pair_epochs": 1},
    choices={"configs": list(CONFIGS)},
)


# ---------------------------------------------------------------------------------------------- instrumentation
def plugin_root() -> Path:
    """The folder of the ``yolo_lr`` package this process imported."""
    import yolo_lr

    return Path(yolo_lr.__file__).resolve().parent


def owned_by(fn, root: Path) -> bool:
    """Whether a callable's code lives under ``root`` (``functools.wraps`` copies ``__module__``, not the code)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)  # bound method -> function
    code = getattr(fn, "__code__", None)
    if code is None and callable(fn):  # a callable object
        code = getattr(type(fn).__call__, "__code__", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(root)


def timed(fn, sink: list[float]):
    """``fn`` inside a timer that appends each call's seconds to ``sink``.

    The timer takes fn's name and attributes (``functools.update_wrapper``), so a flag the plugin sets on its own
    wrapper stays visible; ``is_timer`` knows timers by their code object, which a wrapper around one lacks.
    """

    def timer(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - t0)

    return functools.update_wrapper(timer, fn)


TIMER_CODE = timed(lambda: None, []).__code__


def is_timer(fn) -> bool:
    """Whether ``fn`` (a function or bound method) is a timer made by ``timed``."""
    return getattr(getattr(fn, "__func__", fn), "__code__", None) is TIMER_CODE


def timer_cost_us(calls: int = 20000) -> float:
    """µs one ``timed`` call adds to the call it wraps (a no-op wrapped vs bare, best of 5)."""

    def noop():
        return None

    def loop(fn) -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        return time.perf_counter() - t0

    sink: list[float] = []
    wrapped, best = timed(noop, sink), float("inf")
    for _ in range(5):  # bare first, then wrapped, with an empty sink each time
        bare = loop(noop)
        best = min(best, loop(wrapped) - bare)
        sink.clear()
    return 1e6 * best / calls


def optimizer_hook_dicts(optimizer) -> list[dict]:
    """torch's step pre/post hook dicts (per optimizer and global); private torch names, read to find plugin hooks."""
    import torch.optim.optimizer as topt

    dicts = [getattr(optimizer, f"_optimizer_step_{k}_hooks", None) for k in ("pre", "post")]
    dicts += [getattr(topt, f"_global_optimizer_{k}_hooks", None) for k in ("pre", "post")]
    return [d for d in dicts if isinstance(d, dict)]


class Probe:
    """Timers around the plugin's callables in one training, and the training's own batch times and epoch count."""

    def __init__(self, root: Path):
        self.owned = functools.partial(owned_by, root=root)
        self.sync = lambda: None  # CUDA synchronisation, chosen at train start from the trainer's device
        self.native_s: list[float] = []  # Ultralytics' BaseTrainer.optimizer_step, per call
        self.outer_s: list[float] = []  # trainer.optimizer_step as the loop calls it, when the plugin replaced it
        self.opt_hook_s: list[float] = []  # plugin-owned torch optimizer step hooks, per call
        self.callback_s: dict[str, list[float]] = defaultdict(list)  # event -> plugin callback seconds, per call
        self.batch_s: list[float] = []  # on_train_batch_start .. on_train_batch_end
        self.timed: set[str] = set()  # what was found and timed, for the report
        self.epochs = self.param_groups = self.torch_threads = 0
        self.device = ""
        self._t_batch = 0.0

    @contextlib.contextmanager
    def attached(self, model):
        """Time the plugin in ``model``'s next ``train()``: patches BaseTrainer.optimizer_step until the block ends."""
        from ultralytics.engine.trainer import BaseTrainer

        native = BaseTrainer.__dict__.get("optimizer_step")
        if native is None or self.owned(native) or is_timer(native):
            raise RuntimeError(
                "BaseTrainer.optimizer_step is missing or already replaced (by yolo_lr?): overhead.py "
                "could not tell the plugin's step work from Ultralytics'; update its instrumentation"
            )
        BaseTrainer.optimizer_step = timed(native, self.native_s)
        cbs = model.callbacks
        cbs["on_train_start"].append(self._train_start)
        cbs["on_train_epoch_start"].append(self._epoch_start)  # after the plugin's own epoch start
        cbs["on_train_batch_start"].insert(0, self._batch_start)
        cbs["on_train_batch_end"].append(self._batch_end)
        self._wrap_callbacks(cbs)
        try:
            yield self
        finally:
            BaseTrainer.optimizer_step = native

    def _wrap_callbacks(self, callbacks: dict) -> None:
        for event, fns in callbacks.items():
            for i, fn in enumerate(fns):
                if not is_timer(fn) and self.owned(fn):
                    fns[i] = timed(fn, self.callback_s[event])
                    self.timed.add(f"callback {event}")

    def _scan(self, trainer) -> None:
        """Find and time plugin code in the step path: callbacks, the optimizer_step replacement, optimizer hooks."""
        self._wrap_callbacks(trainer.callbacks)
        step = trainer.__dict__.get("optimizer_step")
        if step is not None and not is_timer(step) and self.owned(step):
            trainer.optimizer_step = timed(step, self.outer_s)
            self.timed.add("trainer.optimizer_step replacement")
        opt = trainer.optimizer
        self.param_groups = len(opt.param_groups)
        replaced = [f"{cls.__name__}.step" for cls in type(opt).__mro__ if self.owned(vars(cls).get("step"))]
        if self.owned(vars(opt).get("step")):
            replaced.append("optimizer.step (instance)")
        if replaced:
            raise RuntimeError(f"yolo_lr replaced {', '.join(replaced)}: overhead.py cannot time that yet")
        for hooks in optimizer_hook_dicts(opt):
            for key, fn in list(hooks.items()):
                if not is_timer(fn) and self.owned(fn):
                    hooks[key] = timed(fn, self.opt_hook_s)
                    self.timed.add("torch optimizer step hook")

    def _train_start(self, trainer) -> None:
        import torch

        self.device, self.torch_threads = str(trainer.device), torch.get_num_threads()
        if self.device.startswith("cuda") and torch.cuda.is_available():
            self.sync = torch.cuda.synchronize  # so that a batch time is the GPU's work, not just its queueing
        self._scan(trainer)

    def _epoch_start(self, trainer) -> None:
        self.epochs += 1
        self._scan(trainer)

    def _batch_start(self, trainer) -> None:
        self.sync()
        self._t_batch = time.perf_counter()

    def _batch_end(self, trainer) -> None:
        self.sync()
        self.batch_s.append(time.perf_counter() - self._t_batch)


def summarise_probe(run: dict) -> dict:
    """Per-step figures (µs) from one instrumented run's raw timings."""
    p: Probe = run["probe"]
    steps = len(p.native_s)
    if steps == 0:
        raise RuntimeError(f"{run['config']}: Ultralytics' optimizer_step was never timed")
    if p.outer_s and len(p.outer_s) != steps:
        raise RuntimeError(
            f"{run['config']}: {len(p.outer_s)} calls of the plugin's optimizer_step replacement vs "
            f"{steps} optimizer steps"
        )
    hook = [o - n for o, n in zip(p.outer_s, p.native_s)] if p.outer_s else [0.0] * steps
    if len(p.opt_hook_s) == steps:  # one plugin optimizer hook per step: part of the per-step hook
        hook = [h + o for h, o in zip(hook, p.opt_hook_s)]
    elif p.opt_hook_s:
        hook = [h + sum(p.opt_hook_s) / steps for h in hook]
    by_event = {e: sum(v) for e, v in p.callback_s.items()}
    one_off = {e: t for e, t in by_event.items() if e in ONE_OFF_EVENTS}
    per_batch = {e: t for e, t in by_event.items() if e in PER_BATCH_EVENTS}
    per_epoch = {e: t for e, t in by_event.items() if e not in ONE_OFF_EVENTS and e not in PER_BATCH_EVENTS}
    batch_lists = [p.callback_s[e] for e in per_batch]
    series = None  # plugin µs per step (hook + per-batch callbacks), when batches and steps line up
    if len(p.batch_s) == steps and all(len(v) == steps for v in batch_lists):
        per_batch_step = [sum(x) for x in zip(*batch_lists)] if batch_lists else [0.0] * steps
        series = [1e6 * (h + b) for h, b in zip(hook, per_batch_step)]
    epochs = max(p.epochs, 1)
    total = sum(hook) + sum(per_batch.values()) + sum(per_epoch.values())
    plugin_us = 1e6 * total / steps
    # the same with each per-call part at its median: a step the OS did not pre-empt in the middle of plugin code
    typical_s = statistics.median(hook) + sum(statistics.median(v) * len(v) / steps for v in batch_lists if v)
    typical_us = 1e6 * (typical_s + sum(per_epoch.values()) / steps)
    step_ms = common.describe([1e3 * b for b in p.batch_s]) if p.batch_s else None
    return {
        "config": run["config"],
        "steps": steps,
        "epochs": p.epochs,
        "steps_per_epoch": steps / epochs,
        "param_groups": p.param_groups,
        "device": p.device,
        "torch_threads": p.torch_threads,
        "timed": sorted(p.timed),
        "plugin_us_per_step": plugin_us,
        "typical_us_per_step": typical_us,
        "hook_us": common.describe([1e6 * h for h in hook]),
        "native_step_us": common.describe([1e6 * n for n in p.native_s]),
        "per_batch_us_per_step": 1e6 * sum(per_batch.values()) / steps,
        "per_epoch_us_per_step": 1e6 * sum(per_epoch.values()) / steps,
        "per_epoch_ms_per_epoch": 1e3 * sum(per_epoch.values()) / epochs,
        "per_epoch_ms_by_event": {e: 1e3 * t / epochs for e, t in per_epoch.items()},
        "one_off_ms": 1e3 * sum(one_off.values()),
        "one_off_ms_by_event": {e: 1e3 * t for e, t in one_off.items()},
        "step_ms": step_ms,
        "pct_of_step": 100 * plugin_us / (1e3 * step_ms["median"]) if step_ms else None,
        "pct_of_gpu_step": 100 * plugin_us / (1e3 * GPU_STEP_MS),
        "plugin_total_ms": 1e3 * (total + sum(one_off.values())),
        "run_wall_s": run["wall_s"],
        "series_us": series,
    }


# ------------------------------------------------------------------------------------------------------ trainings
def train(ctx: common.Context, model, data: Path, folder: str, name: str, epochs: int, plugin: bool) -> tuple:
    """(wall s, CPU s of this process) of ``model.train`` with the shared arguments, nbs = batch, on ``--device``;
    checks that the plugin drove the LR (wrote lr.csv) on the plugin side only."""
    s = ctx.settings
    project = ctx.workdir / "overhead" / folder
    args = common.shared_train_args(s.imgsz, s.batch, epochs, 0, data, project, name, ctx.verbose)
    args["device"] = s.device
    if s.device is None:
        del args["device"]  # Ultralytics' choice: a GPU when there is one
    w0, c0 = time.perf_counter(), time.process_time()
    model.train(**args)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    lr_csv = Path(model.trainer.save_dir) / "lr.csv"
    if lr_csv.exists() != plugin:  # the plugin side must drive the LR, the native side must not
        raise RuntimeError(f"{name}: {lr_csv} {'missing' if plugin else 'written'}")
    return wall, cpu


def end_to_end(ctx: common.Context, data: Path) -> dict | None:
    """``pairs`` native/plugin pairs in alternating order: wall and CPU times, medians, ratios and spread."""
    from ultralytics import YOLO

    import yolo_lr

    s, runs = ctx.settings, []
    if s.pairs == 0:
        return None
    for i in range(s.pairs):
        for plugin in (False, True) if i % 2 == 0 else (True, False):
            side, model = ("plugin" if plugin else "native"), YOLO(common.MODEL)
            if plugin:
                yolo_lr.attach(model, PAIR_POLICY)
            else:
                for fns in model.callbacks.values():
                    fns[:] = [f for f in fns if not owned_by(f, plugin_root())]
            wall, cpu = train(ctx, model, data, "pairs", f"{side}_{i}", s.pair_epochs, plugin)
            runs.append({"pair": i, "side": side, "wall_s": wall, "cpu_s": cpu})
            ctx.log(f"  pair {i + 1}/{s.pairs} {side:6s} wall {wall:6.1f} s, CPU {cpu:6.1f} s")
    out = {"runs": runs}
    for key in ("wall_s", "cpu_s"):
        n, p = ([r[key] for r in runs if r["side"] == side] for side in ("native", "plugin"))
        out[key] = {
            "native": common.describe(n),
            "plugin": common.describe(p),
            "ratio_of_medians": statistics.median(p) / statistics.median(n),
            "pair_ratios": [b / a for a, b in zip(n, p)],
            "spread_pct": max(100 * (max(x) - min(x)) / statistics.median(x) for x in (n, p)),
        }
    return out


def run(ctx: common.Context) -> dict:
    """The instrumented trainings, then the end-to-end pairs: the raw numbers ``render`` reports."""
    from ultralytics import YOLO

    import yolo_lr

    s, rows = ctx.settings, []
    ds = common.DatasetSpec("S", s.n_train, s.n_val, s.imgsz, seed=0)
    data = common.ensure_dataset(ds, ctx.workdir)
    ctx.log(f"overhead: data {data}; instrumented configs {s.configs}, then {s.pairs} native/plugin pair(s)")
    for config in s.configs:
        policy, overrides, _ = CONFIGS[config]
        if config == "finetune" and s.epochs < 2:
            overrides = {**overrides, "lr_unfreeze_epoch": 0}
        probe = Probe(plugin_root())
        model = yolo_lr.attach(YOLO(common.MODEL), policy, **overrides)
        with probe.attached(model):
            wall, _ = train(ctx, model, data, "runs", config, s.epochs, plugin=True)
        rows.append(r := summarise_probe({"config": config, "probe": probe, "wall_s": wall}))
        ctx.log(f"  {config}: {r['plugin_us_per_step']:.1f} µs per step over {r['steps']} steps; {wall:.0f} s")
    e2e = end_to_end(ctx, data)
    return {
        "machine": common.machine_info(device=rows[0]["device"], torch_threads=rows[0]["torch_threads"]),
        "dataset": vars(ds),
        "goal_us": GOAL_US,
        "verdict": verdict(rows)[0],
        "timer_cost_us": timer_cost_us(),
        "per_step": rows,
        "end_to_end": e2e,
        "load_jobs": 1,
        "load_affected": LOAD_EFFECT,
    }


# ---------------------------------------------------------------------------------------------------------- report
PER_STEP_ROWS = [  # figure | its cell, formatted with each config's row | goal
    "**Plugin time per optimizer step** (step hook + per-batch + per-epoch callbacks) "
    "| **{plugin_us_per_step:.1f} µs** | <= {goal_us:g} µs",
    "- step hook (plugin's `optimizer_step` replacement minus Ultralytics' own), mean / median / p90 / max "
    "| {hook_us[mean]:.1f} / {hook_us[median]:.1f} / {hook_us[p90]:.1f} / {hook_us[max]:.0f} µs |",
    "- per-batch callbacks, per step | {per_batch_us_per_step:.1f} µs |",
    "- per-epoch callbacks amortised per step (per epoch) "
    "| {per_epoch_us_per_step:.1f} µs ({per_epoch_ms_per_epoch:.2f} ms) |",
    "Same with the step hook and per-batch callbacks at their medians (robust to pre-emption) "
    "| {typical_us_per_step:.1f} µs |",
    "Plugin time as % of a {gpu_step_ms:g} ms GPU step | {pct_of_gpu_step:.3f} % | <= 0.1 %",
    "Plugin time as % of this run's training step (median) | {pct_of_step:.4f} % of {step_ms[median]:.1f} ms |",
    "For scale: Ultralytics' own `optimizer_step`, median | {native_step_ms:.2f} ms |",
    "Optimizer steps timed (per epoch x epochs); param groups "
    "| {steps} ({steps_per_epoch:.0f} x {epochs}); {param_groups} |",
    "One-off plugin callbacks per run (set-up, end of training), not per step | {one_off_ms:.1f} ms |",
    "Instrumented run wall time | {run_wall_s:.1f} s |",
]


def per_step_table(rows: list[dict]) -> str:
    """Figures (rows) per instrumented config (columns)."""
    body = []
    for line in PER_STEP_ROWS:
        label, cell, goal = (part.strip() for part in line.split("|"))
        cells = [cell.format(**r, native_step_ms=r["native_step_us"]["median"] / 1e3) for r in rows]
        body.append([label.format(gpu_step_ms=GPU_STEP_MS), *cells, goal.format(goal_us=GOAL_US)])
    return common.md_table(["Figure", *(f"`{r['config']}`" for r in rows), "Goal"], body)


def verdict(rows: list[dict]) -> tuple[str, str]:
    """('met' | 'missed', sentence) for the goal, from the measured per-step figures."""
    worst = max(rows, key=lambda r: r["plugin_us_per_step"])
    state = "met" if worst["plugin_us_per_step"] <= GOAL_US else "missed"
    typical = max(r["typical_us_per_step"] for r in rows)
    text = (
        f"Goal: plugin time <= {GOAL_US:g} µs per optimizer step in every config: **{state}** (worst: "
        f"`{worst['config']}`, {worst['plugin_us_per_step']:.1f} µs; with the per-step parts at their medians, the "
        f"worst is {typical:.1f} µs: {'met' if typical <= GOAL_US else 'missed'} on that reading too)."
    )
    short = [r["config"] for r in rows if r["steps_per_epoch"] < MIN_STEPS_PER_EPOCH]
    if short:
        text += (
            f" Note: {', '.join(short)} had fewer than {MIN_STEPS_PER_EPOCH} steps per epoch, the size the goal is "
            "stated for."
        )
    return state, text


def e2e_table(e: dict) -> str:
    """Native vs plugin wall and CPU time."""

    def cells(key: str) -> list[str]:
        spans = [f"{x['median']:.2f} ({x['min']:.2f}-{x['max']:.2f}) s" for x in (e[key]["native"], e[key]["plugin"])]
        ratios = ", ".join(f"{x:.3f}" for x in e[key]["pair_ratios"])
        return [*spans, f"**{e[key]['ratio_of_medians']:.4f}**", ratios]

    header = ["Per run", "native, median (min-max)", "plugin, median (min-max)", "plugin/native, medians", "per pair"]
    return common.md_table(header, [["wall time", *cells("wall_s")], ["CPU time (this process)", *cells("cpu_s")]])


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Per-step plugin time over the run (log scale) and the per-step breakdown per config, against the goal."""
    with common.figure(path, ncols=2, width_ratios=[1.6, 1], title=title) as (ax, ax2):
        for r in rows:
            if r["series_us"]:
                ax.plot(range(1, len(r["series_us"]) + 1), r["series_us"], ".", ms=2, alpha=0.6, label=r["config"])
        ax.axhline(GOAL_US, color="k", ls="--", lw=1, label=f"goal {GOAL_US:g} µs")
        ax.set(yscale="log", xlabel="optimizer step", ylabel="µs", title="step hook + per-batch callbacks, each step")
        ax.legend(fontsize=7)
        names, bottom = [r["config"] for r in rows], [0.0] * len(rows)
        for label, key in (
            ("step hook", None),
            ("per-batch callbacks", "per_batch_us_per_step"),
            ("per-epoch, amortised", "per_epoch_us_per_step"),
        ):
            values = [r[key] if key else r["hook_us"]["mean"] for r in rows]
            ax2.bar(names, values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax2.axhline(GOAL_US, color="k", ls="--", lw=1)
        ax2.set(ylabel="µs per optimizer step (mean)", title="plugin time per step")
        ax2.legend(fontsize=7)


def render(ctx: common.Context, raw: dict) -> common.Report:
    """Set-up, per-step table, verdict, plot and end-to-end table of a measurement (or of its JSON: ``--from-json``)."""
    s, rows, e2e = ctx.settings, raw["per_step"], raw["end_to_end"]
    found = sorted({t for r in rows for t in r["timed"]})
    events = [t.removeprefix("callback ") for t in found if t.startswith("callback ")]
    others = [t for t in found if not t.startswith("callback ")]
    timed = ([f"its callbacks for {', '.join(events)}"] if events else []) + others
    setup = (
        f"Setup: `{common.MODEL}` from random weights on the synthetic source world, "
        f"{common.DatasetSpec(**raw['dataset']).describe()} (`scripts/make_dataset.py --domain S`); epochs={s.epochs}, "
        f"imgsz={s.imgsz}, batch={s.batch}, nbs={s.batch} (one optimizer step per batch), workers=0, amp=False, one "
        "training at a time in one process. Instrumented configs: "
        + "; ".join(f"`{r['config']}`: {CONFIGS[r['config']][2]}" for r in rows)
        + f". Plugin code found and timed: {'; '.join(timed) or 'none'}. Each timed call adds about "
        f"{raw['timer_cost_us']:.2f} µs of timer bookkeeping, included in the figures. One-off callbacks (set-up, end "
        "of training) are per run and left out of the per-step figure."
    )
    png = ctx.output(".png")
    title = (
        f"yolo_lr plugin time per optimizer step: yolo26n, imgsz {s.imgsz}, batch {s.batch}, device {rows[0]['device']}"
    )
    plot(rows, png, title)
    verdict_text = verdict(rows)[1]
    parts = [setup, "", per_step_table(rows), "", verdict_text, "", f"![plugin time per step]({common.md_link(png)})"]
    console = [per_step_table(rows), "", verdict_text]
    if e2e is not None:
        diff, spread = 100 * (e2e["wall_s"]["ratio_of_medians"] - 1), e2e["wall_s"]["spread_pct"]
        direct = max(1e-3 * r["plugin_total_ms"] / r["run_wall_s"] * 100 for r in rows)
        parts += [
            "",
            f"End to end: {s.pairs} native/plugin pair(s) of {s.pair_epochs} epoch(s), alternating order; native = "
            f'plugin callbacks removed and no `lr_*` key, plugin = `yolo_lr.attach(model, "{PAIR_POLICY}")` (the '
            "same LRs through the plugin).",
            "",
            e2e_table(e2e),
            "",
            f"Run-to-run spread of the wall time: up to {spread:.1f} % of the median; the end-to-end difference "
            f"({diff:+.2f} %) is {'within' if abs(diff) <= spread else 'outside'} that noise. Timed directly, all "
            f"plugin callbacks and the step hook took at most {direct:.3f} % of an instrumented run's wall time.",
        ]
        console += ["", e2e_table(e2e)]
    quiet = [r for r in rows if not r["timed"] or (r["hook_us"]["max"] == 0 and r["per_batch_us_per_step"] == 0)]
    return common.Report(
        body="\n".join(parts),
        console="\n".join(console),
        problems=[f"{r['config']}: no per-step plugin work was found to time" for r in quiet],
    )


if __name__ == "__main__":
    sys.exit(common.main(BENCH, run, script=Path(__file__), render=render))
