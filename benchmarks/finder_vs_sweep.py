#!/usr/bin/env python
"""Benchmark: the LR finder's suggestion against the best lr0 of a grid sweep, on seven cases, and what each costs.

Cases (``benchmarks/common.py``: synthetic datasets, one training per fresh worker process, one torch thread each): S
``yolo26n.yaml`` from scratch on the source world (SGD); N, B and A ``benchmarks/assets/source.pt`` (pretrained on S)
fine-tuned with AdamW on the near target (new classes), the far target (new palette and textures) and domain A (classes
the checkpoint knows); C the near target with SGD; D from scratch on S with AdamW; E from scratch with SGD on B's world.
Per case, the finder records one range test on a trainer built like the sweep's (CPU time after every step), and the
sweep trains once per lr0 of a log-spaced grid (best = highest last-epoch mAP50-95; while the best is at an end, one
point past it, at most ``max_extend`` times). Each of 75 candidate readings (rule x smoothing x strength) is replayed on
the recording, divergence stop included, and charged the CPU time up to its stop. Chosen on S, N and B; A, C, D and E
held out (history: BENCHMARKS.md). Targets: within 2x of the sweep's best lr0 on every case, at <= 10 % of its CPU
time. A seed other than 0 also reads the default against the optimum of the seeds' mean mAP (refined by ``--merge``).

Run from the repository root with the project's environment (``source scripts/setup_env.sh``)::

    nice -n 5 python benchmarks/finder_vs_sweep.py --write-md  # full run: ~2300 CPU s (~20 min on 2 free cores)
    python benchmarks/finder_vs_sweep.py --smoke               # ~1 min: tiny data, 2-point grids, 1 epoch
    nice -n 5 python benchmarks/finder_vs_sweep.py --seed 1 --write-md          # own files and block (finder_seed1)
    nice -n 5 python benchmarks/finder_vs_sweep.py --seed 1 --merge --write-md  # add the cases and refinement lr0 its
                                                                  # record lacks (run seeds 0, 1, 2 in that order)
    python benchmarks/finder_vs_sweep.py --from-json benchmarks/results/finder_vs_sweep.json --write-md  # re-render
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

SOURCE_PT = common.ROOT / "benchmarks" / "assets" / "source.pt"
TARGET_RATIO = 2.0  # suggestion within this factor of the sweep's best lr0
TARGET_FRACTION = 0.10  # finder compute <= this fraction of the sweep's
TUNE, HELD_OUT = ("S", "N", "B"), ("A", "C", "D", "E")
SMOOTHING = ("ema", "centred", "median")
STRENGTHS = (0.6, 0.8, 0.9, 0.95, 0.98)
RULES = ("auto", "valley", "steep", "min10", "edge10")
FRACTIONS = (0.5, 0.6, 2.0 / 3.0, 0.75)  # shapes of rule auto compared across seeds: how far down the descent
DIVISORS = (5.0, 10.0, 15.0, 20.0, 30.0)  # ... and the edge of stability's divisor without a descent
DIVERGE = 4.0  # the finder's divergence stop, replayed for every candidate

BENCH = common.Bench(
    name="finder_vs_sweep",
    block="finder",
    doc=__doc__,
    full={
        "imgsz": 128,
        "batch": 16,
        "epochs": 8,
        "warmup_epochs": 1.0,  # short runs: Ultralytics' 3 would be a third of them
        "lr_start": 1e-5,
        "lr_end": 10.0,
        "iters": 50,
        "jobs": None,
        "max_extend": 2,
        "seed": 0,
    },
    smoke=dict(imgsz=64, batch=4, epochs=1, lr_start=1e-4, lr_end=1.0, iters=8, jobs=0, max_extend=0),
    help={
        "epochs": "epochs per sweep training",
        "warmup_epochs": "warmup epochs of the sweep's trainings",
        "lr_start": "first LR of the recorded range test",
        "lr_end": "last LR of the recorded range test",
        "iters": "steps of the recorded range test",
        "jobs": "trainings at a time (default: cores / torch threads per training; 0 = all in this process)",
        "max_extend": "grid points the sweep may add past an end of its grid, per case",
        "seed": "training seed of every sweep training and of the finder's recording; another seed than 0 writes its "
        "own files (results/finder_vs_sweep_seedN.*) and BENCHMARKS.md block (finder_seedN)",
    },
    types={"jobs": int},
    minimum={"imgsz": 32, "batch": 1, "epochs": 1, "iters": 2, "jobs": 0, "max_extend": 0, "seed": 0},
)


@dataclass(frozen=True)
class Case:
    """One case of the benchmark: its data and how it is trained."""

    key: str
    title: str
    data: common.DatasetSpec
    pretrained: bool  # fine-tune the source checkpoint (True) or train yolo26n.yaml from scratch
    optimizer: str
    grid: tuple[float, ...]
    extra: dict  # train() arguments of this case besides the shared ones
    # lr0 values between grid points, trained by --merge for the reference of every seed (not part of the sweep a
    # suggestion is costed against): half grid steps around the optimum of the seeds' mean
    refine: tuple[float, ...]


LADDER = (6.32e-5, 0.0002, 0.000632, 0.002, 0.00632, 0.02, 0.0632, 0.2)  # half a decade apart: the grids' points
A_REFINE = (1e-5, 2e-5, 3.56e-5, 1.12e-4)  # the low end too: the finder suggested 1e-5 on two seeds
# key, title, domain, pretrained, optimizer, grid, --smoke grid, refinement lr0. A and C were held out when rule `auto`
# was chosen on S, N and B; D and E when its shape was chosen on every seed's S, N and B (before they were measured).
CASES = (
    ("S", "from scratch on the source world", "S", False, "SGD", LADDER[3:], (0.01, 0.1), (0.0112, 0.0356)),
    ("N", "fine-tune, near target", "N", True, "AdamW", LADDER[:5], (1e-4, 1e-3), (0.00112, 0.00356)),
    ("B", "fine-tune, far target", "B", True, "AdamW", LADDER[:5], (1e-4, 1e-3), (0.000356, 0.00112)),
    ("A", "fine-tune, classes the source saw", "A", True, "AdamW", LADDER[:5], (1e-4, 1e-3), A_REFINE),
    ("C", "fine-tune, near target, SGD", "N", True, "SGD", LADDER[2:7], (1e-3, 1e-2), (0.00112, 0.00356)),
    ("D", "from scratch, AdamW", "S", False, "AdamW", LADDER[1:6], (1e-3, 1e-2), ()),
    ("E", "from scratch on the far world", "B", False, "SGD", LADDER[3:], (0.01, 0.1), ()),
)


def cases_for(imgsz: int, smoke: bool) -> tuple[Case, ...]:
    """The seven cases: full-size data and 5-point grids, or (--smoke) 8-image sets and 2-point grids."""
    cases = []
    for key, title, domain, pretrained, optimizer, grid, smoke_grid, refine in CASES:
        data = common.DatasetSpec(domain, 8 if smoke else 128 if pretrained else 400, 4 if smoke else 200, imgsz)
        # AdamW fine-tunes get warmup_bias_lr=0, as optimizer=auto gives AdamW (no 0.1 bias spike on pretrained
        # weights); SGD keeps Ultralytics' 0.1
        extra = {"warmup_bias_lr": 0.0} if pretrained and optimizer == "AdamW" else {}
        if smoke:  # one refinement lr0 (S's) is enough to exercise --merge
            grid, refine = smoke_grid, ((0.0316,) if key == "S" else ())
        cases.append(Case(key, title, data, pretrained, optimizer, grid, extra, refine))
    return tuple(cases)


# ---------------------------------------------------------------------------------------------- worker processes
def seed_of(s) -> int:
    """The training seed of a run's settings (a namespace, or a JSON's dict; runs before --seed existed used 0)."""
    return int(s.get("seed", 0) if isinstance(s, dict) else getattr(s, "seed", 0))


def variant(s) -> str | None:
    """The name of a run with another seed than 0 (its own files and block), or None for the main measurement."""
    return f"finder_vs_sweep_seed{seed_of(s)}" if seed_of(s) else None


def train_args(s: SimpleNamespace, case: Case, data: Path, project: Path, name: str, verbose: bool) -> dict:
    """The train() arguments of one case (no lr0: the sweep and the finder set it)."""
    args = common.shared_train_args(s.imgsz, s.batch, s.epochs, seed_of(s), data, project, name, verbose)
    return {**args, "optimizer": case.optimizer, "warmup_epochs": s.warmup_epochs, **case.extra}


def finder_job(model: str, args: dict, lr_start: float, lr_end: float, iters: int) -> dict:
    """One recorded range test: raw losses, LRs, and CPU/wall time after set-up and after each step."""
    import yolo_lr  # noqa: F401
    from yolo_lr.finder import trainer_range_test
    from yolo_lr.tools.find import build_trainer, release

    cpu0, wall0 = time.process_time(), time.perf_counter()
    cpu, wall = [], []

    def on_step(i, lr, loss, smoothed):
        cpu.append(time.process_time() - cpu0)
        wall.append(time.perf_counter() - wall0)

    trainer, _ = build_trainer(model, **args)
    setup = {"setup_cpu_s": time.process_time() - cpu0, "setup_wall_s": time.perf_counter() - wall0}
    try:
        curve, work = trainer_range_test(trainer, lr_start, lr_end, iters, smooth=0.0, diverge=1e12, on_step=on_step)
        accumulate, nb = int(trainer.accumulate), len(trainer.train_loader)
    finally:
        release(trainer)
    rec = {k: getattr(curve, k) for k in ("lrs", "losses", "stop_reason", "planned")}
    steps = {"step_cpu_s": cpu, "step_wall_s": wall, "images": work.images, "batches": work.batches}
    return {**rec, **setup, **steps, "accumulate": accumulate, "batches_per_epoch": nb}


def job(item: dict) -> dict:
    """One job: a recorded range test, or a sweep training with its CPU time (its error if it fails, e.g. diverges)."""
    if item["kind"] == "find":
        return finder_job(item["model"], item["args"], *item["range"])
    cpu0 = time.process_time()
    try:
        r = common.train_one(item["spec"])
    except Exception as e:  # noqa: BLE001 - kept as the grid point's result
        return {"error": repr(e)}
    return {**r, "cpu_s": time.process_time() - cpu0}


def job_line(r: dict) -> str:
    """The progress line of a finished job."""
    if "losses" in r:
        cpu = r["step_cpu_s"][-1] if r["step_cpu_s"] else r["setup_cpu_s"]
        return f"finder: {len(r['losses'])}/{r['planned']} steps ({r['stop_reason']}), {cpu:.0f} s CPU"
    if "error" in r:
        return f"sweep training failed: {r['error']}"
    return f"{r['label']}: mAP50-95 {r['map'][-1]:.4f}, {r['cpu_s']:.0f} s CPU"


# --------------------------------------------------------------------------------------------------- the readings
def reading(curve: dict, smoothing: str, strength: float, rule: str, **shape) -> dict:
    """Replay one candidate reading on a recorded curve: its divergence stop, its suggestion, its compute
    (``shape``: the rule's ``fraction``/``divisor`` as ``yolo_lr.finder.suggest`` takes them; default the library's)."""
    from yolo_lr.finder import NoDescentError, range_test, read_curve, suggest

    losses = iter(curve["losses"])

    def step(lr):
        return next(losses, math.nan)  # past the recording = the non-finite loss that ended it

    replay = range_test(step, curve["lrs"][0], curve["lr_end"], curve["planned"], smooth=strength, diverge=DIVERGE)
    steps = replay.steps + (1 if replay.stop_reason == "non-finite" else 0)  # that step was paid for
    steps = min(steps, len(curve["losses"]) + (1 if curve["stop_reason"] == "non-finite" else 0))
    y = read_curve(replay.losses, replay.smoothed, strength, smoothing)
    try:
        lr = suggest(replay.lrs, y, rule, replay.losses, **shape).lr
    except (NoDescentError, ValueError):
        lr = None
    timed = curve["step_cpu_s"]  # cumulative CPU (set-up included) after each recorded step
    if not timed:
        cpu = curve["setup_cpu_s"]
    else:
        per_step = (timed[-1] - curve["setup_cpu_s"]) / len(timed)
        cpu = timed[min(steps, len(timed)) - 1] + max(steps - len(timed), 0) * per_step
    return {"lr": lr, "steps": steps, "cpu_s": cpu, "stop": replay.stop_reason}


def library_default() -> tuple[str, float, str]:
    """The reading ``yolo_lr.finder`` uses now: (smoothing, strength, rule)."""
    from yolo_lr import finder

    return (finder.READING, finder.SMOOTH, finder.DEFAULT_RULE)


def name_of(c: tuple[str, float, str]) -> str:
    return f"{c[2]}, {c[0]} {c[1]:g}"


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def best_row(rows: list[dict]) -> dict | None:
    """The run with the highest final mAP50-95 (ties: lowest final train loss)."""
    ok = [r for r in rows if finite(r["map"])]
    return max(ok, key=lambda r: (r["map"], -(r["loss"] if finite(r["loss"]) else math.inf))) if ok else None


def parabola_peak(rows: list[dict]) -> float | None:
    """lr0 at the vertex of the parabola through the best grid point and its neighbours (mAP50-95 vs log10 lr0)."""
    ok = sorted((r for r in rows if finite(r["map"])), key=lambda r: r["lr0"])
    i = max(range(len(ok)), key=lambda j: ok[j]["map"], default=0)
    if not 0 < i < len(ok) - 1:
        return None
    (x0, y0), (x1, y1), (x2, y2) = ((math.log10(r["lr0"]), r["map"]) for r in ok[i - 1 : i + 2])
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    return 10 ** (-b / (2 * a)) if a < 0 else None


def evaluate(results: dict) -> dict:
    """Every candidate on every case; the choice (on the tuning cases only); the figures of the chosen and default."""
    table = []
    for c in itertools.product(SMOOTHING, STRENGTHS, RULES):
        per = {}
        for key, case in results["cases"].items():
            r = reading(case["finder"], *c)
            ratio = r["lr"] / case["best"]["lr0"] if (r["lr"] is not None and case["best"]) else None
            error = abs(math.log2(ratio)) if ratio else math.inf
            fraction = r["cpu_s"] / case["sweep_cpu_s"] if case["sweep_cpu_s"] else math.nan
            per[key] = {**r, "ratio": ratio, "error": error, "fraction_cpu": fraction}
        tune = [per[k]["error"] for k in TUNE if k in per]
        cost_ok = all(per[k]["fraction_cpu"] <= TARGET_FRACTION for k in TUNE if k in per)
        table.append(dict(candidate=list(c), name=name_of(c), per_case=per, tune_cost_ok=cost_ok, **spread(tune)))
    # within the compute budget on the tuning cases first, then the smallest worst error, then the smallest mean
    ranked = sorted(table, key=lambda t: (not t["tune_cost_ok"], t["tune_worst"], t["tune_mean"]))
    default = next(t for t in table if t["candidate"] == list(results["library_default"]))
    return {"ranked": ranked, "chosen": ranked[0], "default": default}


def spread(errors: list[float]) -> dict:
    """The worst and the mean of the tuning cases' errors (|log2(suggestion / reference)|)."""
    return {"tune_worst": max(errors, default=math.inf), "tune_mean": sum(errors) / len(errors) if errors else math.inf}


# ------------------------------------------------------------------------------------------------------- running
def run_entry(lr0: float, r: dict) -> dict:
    """One sweep training's record from its job's result (a failed training, e.g. diverged, is a NaN result)."""
    if "error" in r:
        nan = math.nan
        return {
            "lr0": lr0,
            "map": nan,
            "map50": nan,
            "loss": nan,
            "curve": [],
            "cpu_s": 0.0,
            "wall_s": 0.0,
            "epochs": 0,
            "error": r["error"],
        }
    loss = r["train_loss"][-1] if r["train_loss"] else math.nan
    return {
        "lr0": lr0,
        "map": r["map"][-1],
        "map50": r["map50"][-1],
        "loss": loss,
        "curve": r["map"],
        "cpu_s": r["cpu_s"],
        "wall_s": r["wall_s"],
        "epochs": len(r["map"]),
    }


def project_dir(s: SimpleNamespace, workdir: Path, kind: str = "runs") -> Path:
    """The folder of this seed's trainings (``kind``: the full measurement's, or --merge's); each training replaces
    its own run folder, and the engine's record (``ray/`` beside it) lets a killed measurement continue."""
    return workdir / "finder_vs_sweep" / (kind if not seed_of(s) else f"{kind}_seed{seed_of(s)}")


def model_of(ctx: common.Context, case: Case) -> str:
    """What a case trains: the source checkpoint, or the model YAML from scratch."""
    return str(ctx.args.checkpoint) if case.pretrained else common.MODEL


def sweep_spec(
    s: SimpleNamespace, case: Case, model: str, datasets: dict, project: Path, lr0: float, verbose: bool
) -> common.RunSpec:
    args = train_args(s, case, datasets[case.key], project, f"{case.key}_lr{lr0:.3g}", verbose)
    return common.RunSpec(f"{case.key} lr0={lr0:.3g}", seed_of(s), model, {**args, "lr0": lr0})


def sweep_item(ctx: common.Context, case: Case, datasets: dict, project: Path, lr0: float) -> dict:
    spec = sweep_spec(ctx.settings, case, model_of(ctx, case), datasets, project, lr0, ctx.verbose)
    return {"case": case.key, "kind": "sweep", "lr0": lr0, "spec": spec}


def run_jobs(ctx: common.Context, items: list[dict], project: Path) -> list[dict]:
    """The jobs' results, by the engine (``ray/`` beside ``project`` keeps them for a restart)."""
    where = project.parent / "ray"
    return common.run_all(items, ctx.settings.jobs, ctx.log, ctx.monitor, fn=job, where=where, line=job_line)


def extension(runs: list[dict]) -> float | None:
    """The next lr0 beyond the grid's end when the best run sits at that end (same log spacing), else None."""
    ok = sorted((r for r in runs if finite(r["map"])), key=lambda r: r["lr0"])
    best = best_row(ok)
    if len(ok) < 2 or best["map"] <= 0 or not (best is ok[0] or best is ok[-1]):
        return None
    end, inner = (ok[-1], ok[-2]) if best is ok[-1] else (ok[0], ok[1])
    return float(f"{end['lr0'] * end['lr0'] / inner['lr0']:.3g}")


def measure(ctx: common.Context, cases: tuple[Case, ...], project: Path) -> dict:
    """Finder recordings and sweeps of ``cases`` in ``project``; while a case's best lr0 sits at an end of its grid,
    one more point on that side (at most ``max_extend`` rounds). Returns per case its runs, recording and compute."""
    s = ctx.settings
    datasets = {c.key: common.ensure_dataset(c.data, ctx.workdir) for c in cases}
    out: dict = {"cases": {}, "checkpoint": common.md_link(ctx.args.checkpoint)}
    items, lr_range = [], (s.lr_start, s.lr_end, s.iters)
    for c in cases:
        args = train_args(s, c, datasets[c.key], project, f"{c.key}_find", ctx.verbose)
        items.append({"case": c.key, "kind": "find", "model": model_of(ctx, c), "args": args, "range": lr_range})
        items += [sweep_item(ctx, c, datasets, project, lr0) for lr0 in c.grid]
        model = common.md_link(ctx.args.checkpoint) if c.pretrained else common.MODEL
        entry = {"title": c.title, "model": model, "optimizer": c.optimizer, "data": c.data.describe()}
        out["cases"][c.key] = {**entry, "pretrained": c.pretrained, "extra": c.extra, "runs": [], "finder": None}
    for extended in range(s.max_extend + 1):
        for item, r in zip(items, run_jobs(ctx, items, project)):
            entry = out["cases"][item["case"]]
            if item["kind"] == "find":
                entry["finder"] = {**r, "lr_end": s.lr_end}
                continue
            if "versions" in r:
                out.setdefault("machine_src", {"versions": r["versions"], "torch_threads": r["torch_threads"]})
            entry["runs"].append(run_entry(item["lr0"], r))
        items = []
        for c in cases if extended < s.max_extend else ():
            if (lr0 := extension(out["cases"][c.key]["runs"])) is not None:
                ctx.log(f"  {c.key}: best lr0 at the end of the grid, adding lr0={lr0:.3g}")
                items.append(sweep_item(ctx, c, datasets, project, lr0))
        if not items:
            break
    for entry in out["cases"].values():
        runs = sorted(entry["runs"], key=lambda r: r["lr0"])
        entry.update(runs=runs, best=best_row(runs), peak=parabola_peak(runs))
        entry["sweep_cpu_s"] = sum(r["cpu_s"] for r in runs)
        entry["sweep_wall_s"] = sum(r["wall_s"] for r in runs)
        entry["sweep_steps"] = sum(r["epochs"] for r in runs) * entry["finder"]["batches_per_epoch"]
    return out


def run(ctx: common.Context) -> dict:
    """Measure every case, or (--merge) add to this seed's record what it lacks: the raw numbers ``report`` reads."""
    s = ctx.settings
    if s.jobs is None:
        s.jobs = common.default_jobs()
    ctx.args.checkpoint = Path(ctx.args.checkpoint).resolve()
    if not ctx.args.checkpoint.exists():
        raise SystemExit(f"{ctx.args.checkpoint} is missing: run benchmarks/pretrain.py first")
    cases = cases_for(s.imgsz, ctx.smoke)
    if ctx.args.merge:
        return merge(ctx, cases)
    ctx.log(f"finder vs sweep: {len(cases)} cases, {s.jobs} processes at a time, workdir {ctx.workdir}")
    raw = measure(ctx, cases, project_dir(s, ctx.workdir))
    machine = common.machine_info([raw.pop("machine_src")])
    return {
        **raw,
        "machine": machine,
        "library_default": list(library_default()),
        "load": ctx.monitor.summary(max(s.jobs, 1)),
    }


def merge(ctx: common.Context, cases: tuple[Case, ...]) -> dict:
    """--merge: add to this seed's record (same settings) the cases it lacks, measured in full, and every refinement
    lr0 it has not run; the header keeps the first run's date, lists both commands and adds up their wall times."""
    s = ctx.settings
    path, project = ctx.output(".json", variant(s)), project_dir(s, ctx.workdir, "merge")
    if not path.exists():
        raise SystemExit(f"--merge adds to {path}, which is missing: run the same command without --merge first")
    results = load_results(path)
    old = {k: results["settings"].get(k, 0 if k == "seed" else None) for k in vars(s)}  # seed: 0 before --seed
    diff = ", ".join(f"{k}={old[k]!r} there, {v!r} here" for k, v in vars(s).items() if k != "jobs" and old[k] != v)
    if diff:
        raise SystemExit(f"--merge needs the settings {path} was measured with: {diff}")
    new = tuple(c for c in cases if c.key not in results["cases"])
    ctx.log(f"finder vs sweep, --merge into {path}: new cases {', '.join(c.key for c in new) or 'none'}")
    if new:
        results["cases"].update(measure(ctx, new, project)["cases"])
    todo = []
    for c in cases:
        entry = results["cases"][c.key]
        ran = {r["lr0"] for r in entry["runs"] + entry.get("refine", [])}
        todo += [(c, lr0) for lr0 in c.refine if lr0 not in ran]
    if not new and not todo:
        raise SystemExit(f"--merge: {path} already holds every case and refinement lr0; nothing to add")
    datasets = {c.key: common.ensure_dataset(c.data, ctx.workdir) for c, _ in todo}
    items = [sweep_item(ctx, c, datasets, project, lr0) for c, lr0 in todo]
    for item, r in zip(items, run_jobs(ctx, items, project)):
        results["cases"][item["case"]].setdefault("refine", []).append(run_entry(item["lr0"], r))
    for entry in results["cases"].values():
        entry.get("refine", []).sort(key=lambda r: r["lr0"])
    results.update(
        date=f"{results['date']} (cases and refinement lr0 added {common.utc_now()})",
        command=f"{results['command']}\n{ctx.command}",
        wall_s=results["wall_s"] + ctx.elapsed(),
        load=f"{results['load']} Added by --merge: {ctx.monitor.summary(max(s.jobs, 1))}",
        load_average=[*results.get("load_average", []), *ctx.monitor.samples],
    )
    return results


# ------------------------------------------------------------------------------------------------------- report
def _f(v, spec: str = ".3g") -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _and(keys: tuple[str, ...]) -> str:
    return " and ".join(keys) if len(keys) < 3 else f"{', '.join(keys[:-1])} and {keys[-1]}"


def _within(ratio: float | None) -> bool:
    return ratio is not None and 1 / TARGET_RATIO <= ratio <= TARGET_RATIO


def _best(best: dict | None) -> str:
    return f"{_f(best['lr0'])} ({best['map']:.4f})" if best else "n/a"


def table(columns: list[tuple], items) -> str:
    """A Markdown table: one column per (header, cell function of an item)."""
    return common.md_table([h for h, _ in columns], [[cell(x) for _, cell in columns] for x in items])


def run_cells(r: dict, note: str) -> list[str]:
    scores = [_f(r["map"], ".4f"), _f(r["map50"], ".4f"), _f(r["loss"], ".3f")]
    return [f"{r['lr0']:.3g}", *scores, f"{r['cpu_s']:.0f}", note]


def verdicts(ev: dict) -> dict:
    chosen = ev["chosen"]["per_case"]
    ratio_ok = {k: _within(v["ratio"]) for k, v in chosen.items()}
    cost_ok = {k: v["fraction_cpu"] <= TARGET_FRACTION for k, v in chosen.items()}
    return {"ratio": ratio_ok, "cost": cost_ok, "all": all(ratio_ok.values()) and all(cost_ok.values())}


def render(results: dict, ev: dict, png_rel: str) -> str:
    """The body of the BENCHMARKS.md block (the harness adds the header: date, machine, wall time, command)."""
    s, cases = results["settings"], results["cases"]
    ch, df, v = ev["chosen"], ev["default"], verdicts(ev)
    held = tuple(k for k in cases if k not in TUNE)
    per, dper = ch["per_case"], df["per_case"]
    lr_range = f"lr {s['lr_start']:g} -> {s['lr_end']:g} over {s['iters']} steps"
    now = f": `{name_of(library_default())}`"
    if library_default() == tuple(ch["candidate"]):
        now = f" (`yolo_lr/finder.py`, also what `lr_find` uses){now}, {lr_range}"
    lines = [
        *[f"Note: {n}\n" for n in results.get("notes", [])],
        f"Setup: imgsz={s['imgsz']}, batch={s['batch']}, nbs={s['batch']} (one optimizer step per batch), "
        f"{s['epochs']} epochs per sweep training (Ultralytics' recipe with warmup_epochs={s['warmup_epochs']:g}: "
        "linear warmup, linear decay to lr0*lrf, mosaic closed for the last 10 epochs, validation every epoch), "
        f"workers=0, amp=False, seed {s['seed']}; best = highest last-epoch mAP50-95. The finder records one range "
        f"test per case, {lr_range}, on a trainer built like the sweep's; each candidate reading is replayed on it "
        f"(its own divergence stop at {DIVERGE:g}x the best smoothed loss) and charged the CPU time the recording "
        "measured up to that stop, set-up included. Compute = CPU time of the worker processes (one torch thread "
        "each), so other load on the machine does not inflate it.",
        "",
        f"**Chosen on {_and(TUNE)} only: `{ch['name']}`; {_and(held)} held out.** "
        f"Library default when this was measured: `{df['name']}`; now{now}.",
        "",
        table(
            [
                ("case", lambda k: f"{k}: {cases[k]['title']} ({cases[k]['optimizer']})"),
                ("role", lambda k: "held out" if k in HELD_OUT else "tuning"),
                ("sweep best lr0 (mAP50-95)", lambda k: _best(cases[k]["best"])),
                ("parabola optimum", lambda k: _f(cases[k]["peak"])),
                (f"chosen `{ch['name']}`", lambda k: _f(per[k]["lr"])),
                ("ratio", lambda k: f"**{_f(per[k]['ratio'])}**"),
                (f"within {TARGET_RATIO:g}x", lambda k: "met" if v["ratio"][k] else "missed"),
                (
                    "finder CPU / sweep CPU",
                    lambda k: (
                        f"{100 * per[k]['fraction_cpu']:.1f} % ({per[k]['cpu_s']:.0f} s / "
                        f"{cases[k]['sweep_cpu_s']:.0f} s; {per[k]['steps']} / {cases[k]['sweep_steps']} steps)"
                    ),
                ),
                (f"<= {100 * TARGET_FRACTION:g} %", lambda k: "met" if v["cost"][k] else "missed"),
                (
                    f"default when measured `{df['name']}`, as the library reads it now",
                    lambda k: f"{_f(dper[k]['lr'])} ({_f(dper[k]['ratio'])}x)" if dper[k]["lr"] else "none",
                ),
            ],
            cases,
        ),
        "",
        f"Targets (every case within {TARGET_RATIO:g}x of the sweep's best at <= {100 * TARGET_FRACTION:g} % of its "
        f"compute): **{'met' if v['all'] else 'missed'}**.",
        "",
        "Candidate readings, best first: within the compute budget on the tuning cases, then by the worst "
        "|log2(suggestion / best)| over them, then the mean (ratios on every case; the held-out cases are shown, never "
        "used to rank):",
        "",
        table(
            [("reading", lambda t: f"`{t['name']}`")]
            + [(f"{k} ratio", lambda t, k=k: _f(t["per_case"][k]["ratio"])) for k in cases]
            + [("worst tuning error (x)", lambda t: _f(2 ** t["tune_worst"]))],
            ev["ranked"][:10],
        ),
        "",
    ]
    for k, c in cases.items():
        f, best = c["finder"], (c["best"] or {}).get("lr0")
        rows = [run_cells(r, "<- best" if r["lr0"] == best else r.get("error", "")) for r in c["runs"]]
        rows += [run_cells(r, "refinement (`--merge`; not in the sweep's best or CPU)") for r in c.get("refine", [])]
        lines += [
            f"{k}: `{Path(c['model']).name}` on {c['data']}; {c['optimizer']}"
            + "".join(f", {a}={b}" for a, b in c["extra"].items())
            + f". Finder recording: {len(f['losses'])}/{f['planned']} steps ({f['stop_reason']}), set-up "
            f"{f['setup_cpu_s']:.0f} s CPU.",
            "",
            common.md_table(["lr0", "mAP50-95", "mAP50", "final train loss", "CPU s", ""], rows),
            "",
        ]
    return "\n".join([*lines, f"![finder vs sweep]({png_rel})"])


def plot(results: dict, ev: dict, path: Path) -> None:
    """Per case: the recorded loss (raw and the chosen smoothing) vs LR, and the sweep's mAP vs lr0, marks on both."""
    from matplotlib.figure import Figure

    from yolo_lr.finder import ema, read_curve

    cases = results["cases"]
    smoothing, strength, _ = ev["chosen"]["candidate"]
    fig = Figure(figsize=(4.2 * len(cases), 7.5), dpi=80)
    for j, (k, c) in enumerate(cases.items()):
        top, bottom = fig.add_subplot(2, len(cases), j + 1), fig.add_subplot(2, len(cases), len(cases) + j + 1)
        f, pick = c["finder"], ev["chosen"]["per_case"][k]
        n = min(pick["steps"], len(f["losses"])) or len(f["losses"])
        lrs, losses = f["lrs"][:n], f["losses"][:n]
        if losses:
            y = read_curve(losses, ema(losses, strength), strength, smoothing)
            top.plot(lrs, losses, color="0.75", linewidth=0.8, label="loss")
            top.plot(lrs, y, color="tab:blue", linewidth=1.6, label=f"{smoothing} {strength:g}")
            imin = min(range(len(y)), key=y.__getitem__)
            low = min(losses)
            top.set_ylim(low * 0.95 if low > 0 else low - 0.05, max(max(losses[: imin + 1]), y[0]) * 1.15)
        top.set_title(f"{k}: {c['title']} ({'held out' if k in HELD_OUT else 'tuning'})", fontsize=9)
        top.set_ylabel("train loss")
        ok = [r for r in c["runs"] if finite(r["map"])]
        bottom.plot([r["lr0"] for r in ok], [r["map"] for r in ok], "o-", color="tab:blue", label="mAP50-95")
        bottom.set_ylabel("final mAP50-95")
        bottom.set_xlabel("lr0 (log scale)")
        for ax in (top, bottom):
            ax.set_xscale("log")
            if c["best"]:
                b = c["best"]["lr0"]
                ax.axvspan(b / TARGET_RATIO, b * TARGET_RATIO, color="tab:green", alpha=0.12)
                ax.axvline(b, color="tab:green", linewidth=1.2, label=f"sweep best {b:.3g}")
            if pick["lr"] is not None:
                ax.axvline(pick["lr"], color="tab:red", linestyle="--", linewidth=1.4, label=f"finder {pick['lr']:.3g}")
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=7)
        (lo0, hi0), (lo1, hi1) = top.get_xlim(), bottom.get_xlim()
        for ax in (top, bottom):  # one LR axis for the curve and the sweep
            ax.set_xlim(min(lo0, lo1), max(hi0, hi1))
    title = (
        f"LR finder (`{ev['chosen']['name']}`) vs lr0 sweep; green band = within {TARGET_RATIO:g}x of the sweep's best"
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


# -------------------------------------------------------------------------------------------------- across seeds
def load_results(path: Path) -> dict:
    """A results JSON this script wrote."""
    return json.loads(Path(path).read_text())


def mean_reference(runs: list[dict], key: str) -> dict | None:
    """The seeds' mean mAP50-95 per lr0 (sweep and refinement runs; the lr0 values every seed ran) for one case, its
    best lr0 and its optimum: the parabola vertex through the best lr0 and its neighbours, else the best lr0."""
    per_seed = [
        {x["lr0"]: x["map"] for x in [*r["cases"][key]["runs"], *r["cases"][key].get("refine", [])] if finite(x["map"])}
        for r in runs
    ]
    lrs = sorted(set.intersection(*(set(m) for m in per_seed)))
    mean = [{"lr0": lr, "map": sum(m[lr] for m in per_seed) / len(per_seed), "loss": 0.0} for lr in lrs]
    best, peak = best_row(mean), parabola_peak(mean)
    return None if best is None else {"curve": mean, "best": best, "peak": peak, "ref": peak or best["lr0"]}


def share_at(ref: dict, lr: float | None) -> float | None:
    """The mean curve's mAP at ``lr`` (linear in log10 lr between its points) over its best: what the suggestion
    would have reached; None outside the lr0 values it holds."""
    pts = [(math.log10(r["lr0"]), r["map"]) for r in ref["curve"]]
    if lr is None or not pts or ref["best"]["map"] <= 0:
        return None
    x = math.log10(lr)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 - 1e-9 <= x <= x1 + 1e-9:
            y = y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y0
            return y / ref["best"]["map"]
    return pts[0][1] / ref["best"]["map"] if abs(x - pts[0][0]) < 1e-9 else None


def shape_name(shape: dict) -> str:
    sm, st, f, d = shape["smoothing"], shape["strength"], shape["fraction"], shape["divisor"]
    return f"auto, {sm} {st:g}, fraction {f:.2g}, divisor {d:g}"


def library_shape() -> dict:
    """The library's ``auto`` as one of the shapes ``cross_seed_choice`` compares."""
    from yolo_lr import finder

    return {
        "smoothing": finder.READING,
        "strength": finder.SMOOTH,
        "fraction": finder.VALLEY_FRACTION,
        "divisor": finder.AUTO_DIVISOR,
    }


def cross_seed_choice(runs: list[dict]) -> dict:
    """Every shape of rule ``auto`` (its reading x how far down the descent x the edge's divisor without one) on every
    seed's recordings against the optima of the seeds' mean (``mean_reference``), ranked on the tuning cases only:
    smallest worst |log2(suggestion / optimum)| over every seed's recording, then smallest mean."""
    refs = {key: mean_reference(runs, key) for key in runs[0]["cases"] if all(key in r["cases"] for r in runs)}
    refs = {k: v for k, v in refs.items() if v is not None}
    within, table = math.log2(TARGET_RATIO) + 1e-9, []
    for sm, st, f, d in itertools.product(SMOOTHING, STRENGTHS, FRACTIONS, DIVISORS):
        per = {
            k: [reading(r["cases"][k]["finder"], sm, st, "auto", fraction=f, divisor=d)["lr"] for r in runs]
            for k in refs
        }
        err = {k: [abs(math.log2(lr / refs[k]["ref"])) if lr else math.inf for lr in v] for k, v in per.items()}
        tune = [e for k in TUNE if k in err for e in err[k]]
        held = [e for k in err if k not in TUNE for e in err[k]]
        shape = {"smoothing": sm, "strength": st, "fraction": f, "divisor": d}
        hits = {"tune_hits": sum(e <= within for e in tune), "held_hits": sum(e <= within for e in held)}
        table.append({"shape": shape, "per": per, **spread(tune), **hits, "n_tune": len(tune), "n_held": len(held)})
    ranked = sorted(table, key=lambda t: (t["tune_worst"], t["tune_mean"]))
    return {"refs": refs, "ranked": ranked, "chosen": ranked[0]}


def across_seeds(runs: list[dict]) -> str:
    """The library default on every seed's recording (``runs``: seed 0 first) against the optimum of the seeds' mean
    mAP, then the shapes of rule ``auto`` (``cross_seed_choice``)."""
    choice = cross_seed_choice(runs)
    refs, ranked, current = choice["refs"], choice["ranked"], library_shape()
    rows, hits, sweep_hits, costs = [], [], [], []
    for key, ref in refs.items():
        replays = [reading(r["cases"][key]["finder"], *library_default()) for r in runs]
        found = [x["lr"] for x in replays]
        costs += [r["cases"][key]["sweep_cpu_s"] / x["cpu_s"] for r, x in zip(runs, replays) if x["cpu_s"] > 0]
        ratios = [lr / ref["ref"] if lr else None for lr in found]
        own = [best_row(r["cases"][key]["runs"]) for r in runs]  # each seed's own sweep: what a sweep would pick
        own_q = [b["lr0"] / ref["ref"] if b else None for b in own]
        hits += [_within(q) for q in ratios]
        sweep_hits += [_within(q) for q in own_q]
        shares = [share_at(ref, lr) for lr in found]
        rows.append(
            [
                f"{key}: {runs[0]['cases'][key]['title']}" + (" (held out)" if key not in TUNE else ""),
                _best(ref["best"]),
                _f(ref["peak"]),
                " / ".join(f"{_f(lr)} ({_f(q)}x)" if lr else "none" for lr, q in zip(found, ratios)),
                " / ".join(f"{100 * v:.0f} %" if v is not None else "outside" for v in shares),
                " / ".join(f"{_f(b['lr0'])} ({_f(q)}x)" if b else "none" for b, q in zip(own, own_q)),
            ]
        )
    seeds = ", ".join(str(seed_of(r["settings"])) for r in runs)
    used = ", ".join(f"{k} {len(v['curve'])}" for k, v in refs.items())
    tuned, held = tuple(k for k in TUNE if k in refs), tuple(k for k in refs if k not in TUNE)
    chosen = choice["chosen"]["shape"]
    header = ["case", "best lr0 of the mean (mAP50-95)", "parabola optimum", f"suggestion (ratio), seeds {seeds}"]
    header += ["share of the best mean mAP", "each seed's sweep best (ratio)"]
    shown = ranked[:5] + [t for t in ranked[5:] if t["shape"] == current]
    return "\n".join(
        [
            f"Against the seeds' mean (seeds {seeds}: mean final mAP50-95 per lr0 over the lr0 values every seed ran, "
            f"refinement runs of `--merge` included: {used} lr0 values), the library default `{shape_name(current)}` "
            "on each seed's recording, as a multiple of the mean curve's optimum (its parabola vertex; the best lr0 "
            f"where it has none): within {TARGET_RATIO:g}x in {sum(hits)} of {len(hits)}. The share column is the "
            "mean curve's mAP at the suggestion (linear in log lr0 between its points) as a share of its best: what "
            "following the suggestion would have cost. The last column is what each seed's own 5-point sweep "
            f"({min(costs):.0f}-{max(costs):.0f}x the finder's CPU time) picked, against the same optimum: within "
            f"{TARGET_RATIO:g}x in {sum(sweep_hits)} of {len(sweep_hits)}.",
            "",
            common.md_table(header, rows),
            "",
            f"Rule `auto` in {len(ranked)} variants ({len(SMOOTHING)} smoothings x {len(STRENGTHS)} strengths x "
            f"{len(FRACTIONS)} fractions x {len(DIVISORS)} divisors), on every seed's recordings against the same mean "
            "optima: `fraction` is how far down the deepest descent the suggestion sits (valley branch), `divisor` "
            f"what the edge of stability is divided by when there is no real descent. Chosen on {_and(tuned)} (every "
            f"seed: smallest worst error, then smallest mean), {_and(held) or 'no case'} held out: "
            f"**`{shape_name(chosen)}`**"
            + (" (the library's default)." if chosen == current else f"; the library has `{shape_name(current)}`.")
            + " Best five, and the library's:",
            "",
            table(
                [
                    (
                        "variant",
                        lambda t: f"`{shape_name(t['shape'])}`" + (" (library now)" if t["shape"] == current else ""),
                    ),
                    (f"worst on {'/'.join(tuned)}", lambda t: f"{2 ** t['tune_worst']:.2f}x"),
                    ("tuning within 2x", lambda t: f"{t['tune_hits']} of {t['n_tune']}"),
                    ("held out within 2x", lambda t: f"{t['held_hits']} of {t['n_held']}"),
                    (f"ratio to the mean optimum, seeds {seeds}", lambda t: ratios_cell(t["per"], refs)),
                ],
                shown,
            ),
            "",
        ]
    )


def ratios_cell(per: dict, refs: dict) -> str:
    return "; ".join(f"{k} " + " / ".join(_f(lr / refs[k]["ref"]) if lr else "none" for lr in per[k]) for k in refs)


# ---------------------------------------------------------------------------------------------------------- main
def make_report(results: dict, png: Path, earlier: list[dict] | None = None) -> common.Report:
    """The block's body, plot and console summary of a results dict; another seed than 0 is also compared against
    the seeds' mean, with the ``earlier`` seeds' results."""
    ev = evaluate(results)
    plot(results, ev, png)
    s, v, name = results["settings"], verdicts(ev), variant(results["settings"])
    per = ev["chosen"]["per_case"]
    console = ", ".join(f"{k} {_f(per[k]['ratio'])}x ({'met' if v['ratio'][k] else 'missed'})" for k in per)
    body = render(results, ev, common.md_link(png))
    return common.Report(
        name=name,
        block=f"finder_seed{seed_of(s)}" if name else None,
        body=across_seeds([*earlier, results]) + "\n" + body if earlier and name else body,
        wall_note=f" wall ({s['jobs']} worker processes at a time)"
        if s["jobs"]
        else " wall (every job in one process)",
        load_note=results["load"],
        console=f"chosen reading `{ev['chosen']['name']}`: suggestion / sweep's best {console}",
    )


def report(ctx: common.Context, results: dict) -> common.Report:
    """The block and plot of a seed's results, with the JSONs of the seeds before it found beside them."""
    folder = Path(ctx.args.from_json).resolve().parent if ctx.args.from_json else ctx.results_dir
    seed = seed_of(results["settings"])
    names = [f"{BENCH.name}.json", *(f"{BENCH.name}_seed{k}.json" for k in range(1, seed))] if seed else []
    earlier = [load_results(folder / n) for n in names if (folder / n).exists()]
    return make_report(results, ctx.output(".png", variant(results["settings"])), earlier)


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=SOURCE_PT,
        help="pretrained weights for N and B (default benchmarks/assets/source.pt)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="add to this seed's recorded results (same settings) the "
        "cases they lack and every case's refinement lr0 (half grid steps for the reference of the "
        "seeds' mean), then rewrite its files and block",
    )


def main(argv: list[str] | None = None) -> int:
    return common.main(BENCH, run, argv, script=Path(__file__), add_options=add_options, render=report)


if __name__ == "__main__":
    sys.exit(main())
