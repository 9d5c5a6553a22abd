#!/usr/bin/env python
"""Sweep engines: the same grid run one training after another and as Ray Tune trials, and ASHA against the full grid.

Every training fine-tunes ``benchmarks/assets/source.pt`` on the near target N with AdamW, through ``yolo-lr sweep`` /
``yolo_lr.sweep`` as a user runs them. Measured: the **wall time** of the whole ``yolo-lr sweep`` command on a 4-point
grid, ``engine=local`` (one torch thread) against ``engine=ray cpus_per_trial=1`` (two trials at a time on two cores),
alternating ``--pairs`` times; and **ASHA against the full grid** (9 points, both on Ray): the share of the full grid's
epochs that ``early_stop=asha`` spends (default and ``--more-grace`` grace periods), and whether it picks the full
grid's best point or one within a grid step of it, on each of the ``--seeds`` training seeds and against the point with
the best mean over them, also for ASHA judging another ``early_stop_metric`` at its rungs (``--judges``: the train
loss); and, worked out from every full-grid run's mAP50-95 and train loss after each epoch, what judging all lr0 values
of a policy together at each epoch, on either, would spend and pick. A grid whose folder holds the same sweep from an
earlier run (killed or not) is continued, not trained again.

    python benchmarks/sweep_engines.py               # full run
    python benchmarks/sweep_engines.py --write-md    # ... and rewrite its block of BENCHMARKS.md
    python benchmarks/sweep_engines.py --smoke       # a minute: 8 images, 1-2 epochs, one pair
    python benchmarks/sweep_engines.py --parts speed --speed-epochs 12 --block engines_long --write-md  # longer
                                                     # trainings, the wall-time part alone, in its own block
    python benchmarks/sweep_engines.py --parts asha --n-train 256 --more-grace 3 --block engines_256 --write-md
                                                     # the ASHA part alone on 4x the training images, default grace
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

TRAIN_LOSS = "train_loss"  # the sweep's early_stop_metric for the summed train/* losses
CHECKPOINT = common.ROOT / "benchmarks" / "assets" / "source.pt"
TRAIN = dict(optimizer="AdamW", momentum=0.9, warmup_epochs=1, workers=0, seed=0, amp=False, plots=False, device="cpu")
SETTINGS = {  # key: (full run, --smoke)
    "imgsz": (128, 64),
    "batch": (16, 4),
    "n_train": (64, 8),
    "n_val": (100, 8),
    "speed_epochs": (6, 1),
    "speed_lr0": ([0.001, 0.003], [0.001]),
    "speed_policies": (["cosine", "wsd"], ["cosine", "wsd"]),
    "pairs": (3, 1),
    "grid_epochs": (12, 2),
    "grid_lr0": ([0.0003, 0.001, 0.003], [0.001, 0.003]),
    "grid_policies": (["cosine", "wsd", "linear"], ["cosine"]),
    "more_grace": ([6], []),
    "judges": (["train_loss"], ["train_loss"]),  # early_stop_metric of more ASHA grids, at the default grace
    "seeds": ([0, 1, 2], [0]),  # training seeds of the ASHA part (the wall-time part trains with seed 0)
    "parts": (["speed", "asha"], None),  # None: --smoke keeps the full run's
}
BENCH = common.Bench(
    name="sweep_engines",
    block="engines",
    doc=__doc__,
    full={k: full for k, (full, _) in SETTINGS.items()},
    smoke={k: smoke for k, (_, smoke) in SETTINGS.items() if smoke is not None},
    help={
        "pairs": "alternating local/ray pairs of the wall-time grid",
        "parts": "which measurements to run",
        "more_grace": "ASHA grace periods (epochs) measured besides the default",
        "judges": "what more ASHA grids judge at a rung (early_stop_metric), at the default grace period",
        "seeds": "training seeds of the ASHA part: the full grid and every ASHA grid once per seed",
    },
    choices={"parts": ["speed", "asha"]},
    minimum={"pairs": 1},
)


def train_args(s, data: Path, epochs: int) -> dict:
    """The training keys every point shares (the model and data included)."""
    return dict(model=str(CHECKPOINT), data=str(data), epochs=epochs, imgsz=s.imgsz, batch=s.batch, nbs=s.batch) | TRAIN


def speed_grid(s) -> list[str]:
    return [f"lr0={','.join(map(str, s.speed_lr0))}", f"lr_policy={','.join(s.speed_policies)}"]


def speed(ctx: common.Context, data: Path) -> dict:
    """Both commands' wall times, pair by pair, and their ratios."""
    s = ctx.settings
    base = [*speed_grid(s), *(f"{k}={v}" for k, v in train_args(s, data, s.speed_epochs).items())]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    arms = {
        "local": ([*base, "engine=local"], {**env, "OMP_NUM_THREADS": "1"}),
        "ray": ([*base, "engine=ray", "cpus_per_trial=1"], env),
    }
    runs = ctx.workdir / "sweep_engines" / "speed"
    runs.mkdir(parents=True, exist_ok=True)
    log = runs / "sweeps.log"
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    for i in range(s.pairs):
        for arm, (words, arm_env) in arms.items():
            words = [*words, f"project={runs}", f"name={arm}{i}"]
            t0 = time.perf_counter()
            with open(log, "a") as f:
                cmd = [str(Path(sys.executable).parent / "yolo-lr"), "sweep", *words]
                p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=arm_env, check=False)
            if p.returncode not in (0, 1):  # 1: no best row, still a finished sweep
                raise SystemExit(f"sweep_engines: `yolo-lr sweep {' '.join(words)}` failed ({p.returncode}); see {log}")
            walls[arm].append(time.perf_counter() - t0)
            ctx.log(f"sweep_engines: pair {i + 1}/{s.pairs}, {arm}: {walls[arm][-1]:.1f} s")
    return {"walls": walls, "ratios": [a / b for a, b in zip(walls["local"], walls["ray"])]}


def speed_text(s, data: dict) -> list[str]:
    """The wall-time table of ``speed``'s numbers."""

    def stats(xs: list[float], fmt: str = "{:.1f} s") -> list[str]:
        return [fmt.format(statistics.median(xs)), fmt.format(min(xs)), fmt.format(max(xs))]

    rows = [
        ["`engine=local`, 1 torch thread", *stats(data["walls"]["local"])],
        ["`engine=ray cpus_per_trial=1` (2 trials at a time)", *stats(data["walls"]["ray"])],
        ["ratio local / ray, pair by pair", *stats(data["ratios"], "{:.2f}x")],
    ]
    return [
        f"**Wall time**, the whole command, {len(s.speed_lr0) * len(s.speed_policies)} points "
        f"({' x '.join(speed_grid(s))}), {s.speed_epochs} epochs each, {s.pairs} alternating pairs:",
        "",
        common.md_table(["command", "median", "min", "max"], rows),
    ]


def asha(ctx: common.Context, data: Path) -> dict:
    """The full grid and the ASHA grids on the Ray engine, once per training seed: each one's rows, epochs, wall time
    and pick."""
    return {"seeds": [asha_seed(ctx, data, seed) for seed in ctx.settings.seeds]}


def asha_seed(ctx: common.Context, data: Path, seed: int) -> dict:
    """The full grid and the ASHA grids of one training seed."""
    from yolo_lr.tools.sweep import load_plan, sweep

    s = ctx.settings
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    kw = {"lr_policy": list(s.grid_policies), "project": str(ctx.workdir / "sweep_engines" / "grid"), "engine": "ray"}
    kw |= {"verbose": ctx.verbose, **train_args(s, data, s.grid_epochs), "seed": seed}
    results, out = {}, {"seed": seed}

    def grid(arm: str, **extra) -> None:
        name, t0 = arm if seed == 0 else f"{arm}_seed{seed}", time.perf_counter()
        earlier = same_sweep(Path(kw["project"]) / name, s.grid_lr0, {**kw, **extra})
        res = results[arm] = sweep(resume=earlier) if earlier else sweep(s.grid_lr0, name=name, **kw, **extra)
        wall = Path(res.save_dir) / "wall_s"  # a sweep finished by an earlier run keeps that run's wall time
        seconds = float(wall.read_text()) if wall.exists() else time.perf_counter() - t0
        wall.write_text(f"{seconds}\n")
        best = res.best.label if res.best else None
        plan = load_plan(res.save_dir)
        grace, judge = plan["grace_period"], plan.get("early_stop_metric")
        out[arm] = {"epochs": res.epochs, "seconds": seconds, "grace": grace, "best": best}
        out[arm] |= {"judge": judge} if judge not in (None, plan["metric"]) else {}
        ctx.log(f"sweep_engines: seed {seed}, {arm} grid: {res.epochs} epochs, best {best}")

    grid("full")
    out["full"]["curves"] = {r.label: curve(r) for r in results["full"].rows}  # for the judging-epoch tables
    out["full"]["loss_curves"] = {r.label: curve(r, TRAIN_LOSS) for r in results["full"].rows}
    grid("asha", early_stop="asha")  # the sweep's default grace period, as its plan records it
    for m in s.judges:
        grid(f"asha_{m}", early_stop="asha", early_stop_metric=m)
    for g in s.more_grace:
        if g != out["asha"]["grace"]:
            grid(f"asha_grace_{g}", early_stop="asha", grace_period=g)
    for arm, res in results.items():
        out[arm] |= {"verdict": verdict(s, results["full"].best, res.best), "rows": [r.to_json() for r in res.rows]}
    return {**out, "share": results["asha"].epochs / results["full"].epochs}


def same_sweep(folder: Path, lr0s: list[float], kw: dict) -> Path | None:
    """``folder`` (or ``folder-2``, ``-3`` ... as the sweep names a folder that exists) when it holds a sweep of this
    grid (an earlier run of this benchmark, killed or not): the sweep then continues it, rereading the points that
    finished (a point killed mid-training starts again)."""
    return next((f for f in [folder, *folder.parent.glob(f"{folder.name}-*")] if _same(f, lr0s, kw)), None)


def _same(folder: Path, lr0s: list[float], kw: dict) -> bool:
    from yolo_lr.tools.sweep import load_plan

    if not (folder / "sweep.json").is_file():
        return False
    plan, skip = load_plan(folder), ("model", "data", "project", "verbose", "engine")
    args = {k: v for k, v in kw.items() if k not in skip}
    policies = args.pop("lr_policy")
    grid = [{"lr0": lr0, "lr_policy": p} for lr0 in lr0s for p in policies]
    mine = {"early_stop": args.pop("early_stop", None), "grace": args.pop("grace_period", None)}
    mine |= {"judge": args.pop("early_stop_metric", None), "args": args}
    judge = plan.get("early_stop_metric")  # the ranking metric, or None, unless another was given
    theirs = {"early_stop": plan["early_stop"], "grace": plan["grace_period"]}
    theirs |= {"judge": None if judge in (None, plan["metric"]) else judge, "args": plan["args"]}
    if mine["early_stop"] and mine["grace"] is None:
        theirs["grace"] = None  # the default grace period, as the sweep decided it
    same = sorted(map(str, plan["points"])) == sorted(map(str, grid)) and mine == theirs
    return same and Path(plan["data"]) == Path(kw["data"]).resolve()


def curve(row, key: str = common.MAP) -> list[float]:
    """A run's ``key`` after each epoch (its results.csv; ``train_loss``: the sum of the ``train/*`` losses): what a
    rung at that epoch would judge."""
    rows = common.read_results_csv(Path(row.run_dir) / "results.csv")
    return [sum(v for k, v in r.items() if k.startswith("train/")) if key == TRAIN_LOSS else r[key] for r in rows]


def halving(judge: dict[str, list[float]], final: dict, rows: list, first: int, epochs: int) -> tuple[int, str]:
    """Synchronous successive halving on one seed's full-grid curves, one per policy as the sweep's ASHA: at epoch
    ``first``, then 3x, 9x ... (before the last epoch), the best third (at least one, highest ``judge`` value) of a
    policy's runs still going go on; the survivors train to the end and the best ``final`` value is the pick. A run
    stopped at a rung is the same training as the full-length run up to there (same seed, same schedule so far).
    Returns the epochs and the pick."""
    groups: dict[str, list[str]] = {}
    for r in rows:
        groups.setdefault(str(r.point), []).append(r.label)

    def at(curves: dict, label: str, epoch: int) -> float:
        v = curves[label][epoch - 1]
        return -math.inf if math.isnan(v) else v

    spent, survivors = 0, []
    for alive in groups.values():
        rung = first
        while rung < epochs and len(alive) > 1:
            alive = sorted(alive, key=lambda k: -at(judge, k, rung))
            keep = math.ceil(len(alive) / 3)
            spent += rung * (len(alive) - keep)
            alive, rung = alive[:keep], rung * 3
        spent += epochs * len(alive)
        survivors += alive
    return spent, max(survivors, key=lambda k: at(final, k, epochs))


def judged_text(s, per_seed: list[dict], top: str) -> list[str]:
    """What rung-based early stopping can pick, judging from epoch 1 to the last but one (``halving`` on each seed's
    full-grid curves) on mAP50-95 and (where recorded) on the train loss, and whether the measured ASHA rows match
    those curves."""
    if not all("curves" in d["full"] for d in per_seed):
        return []  # recorded before the curves were
    stopped = [
        (r.metric, d["full"]["curves"][r.label][r.epochs - 1])
        for d in per_seed
        for a in d
        if a.startswith("asha")
        for r in rows_of(d, a)
        if r.stopped
    ]
    match = sum(abs(a - b) <= 1e-4 for a, b in stopped)
    text = [
        "**Judged at which epoch?** Synchronous successive halving (every run of a policy judged at the same rung, the "
        "best third goes on, rungs at 3x the first) worked out from each seed's full-grid mAP50-95 after every epoch, "
        "not run: a run stopped at a rung is the same training as the full-length run up to there. Check: of the "
        f"{len(stopped)} runs the ASHA grids above stopped, {match} ended at the full grid's value for that epoch.",
        "",
        common.md_table(JUDGED_HEAD, judged_table(s, per_seed, top, "curves")),
    ]
    if all("loss_curves" in d["full"] for d in per_seed):
        text += [
            "",
            "The same, judged on the train loss at each rung (the sum of the `train/*` losses, lower goes on: "
            f"`early_stop_metric={TRAIN_LOSS}`); the pick is still the best final mAP50-95 of the survivors:",
            "",
            common.md_table(JUDGED_HEAD, judged_table(s, per_seed, top, "loss_curves")),
        ]
    return text


JUDGED_HEAD = ["judged first at epoch", "epochs (share)", "picks its seed's best", "one lr0 step from it"]
JUDGED_HEAD += ["behind it on average", "picks the mean best"]


def judged_table(s, per_seed: list[dict], top: str, judge: str) -> list[list[str]]:
    """The rows of a judging-epoch table: ``halving`` judging on the full grid's ``curves`` (mAP50-95) or
    ``loss_curves`` (train loss, lower is better)."""
    table = []
    for first in range(1, s.grid_epochs):
        spent, top_same, gaps, verdicts = 0, 0, [], []
        for d in per_seed:
            curves, rows = d["full"]["curves"], {r.label: r for r in rows_of(d, "full")}
            sign = -1 if judge == "loss_curves" else 1
            judged = {k: [sign * v for v in c] for k, c in d["full"][judge].items()}
            epochs, pick = halving(judged, curves, list(rows.values()), first, s.grid_epochs)
            best = pick_of(d, "full").label  # the seed's full-grid pick, ranked as the sweep ranks
            spent, top_same = spent + epochs, top_same + (pick == top)
            gaps.append(curves[best][-1] - curves[pick][-1])
            verdicts.append(verdict(s, rows[best], rows[pick]))
        n, full = len(per_seed), len(per_seed) * len(rows) * s.grid_epochs
        same, near = verdicts.count("the same point"), verdicts.count("within a grid step")
        row = [str(first), f"{spent / full:.0%}", f"{same} of {n}", f"{near} of {n}", f"{statistics.fmean(gaps):.4f}"]
        table.append([*row, f"{top_same} of {n}"])
    return table


def verdict(s, best, pick) -> str:
    """How a pick stands to a best point (sweep rows): the same point, within a grid step (the same policy, the
    neighbouring lr0), or another point."""
    if best is None or pick is None:
        return "no pick to compare"
    if pick.label == best.label:
        return "the same point"
    lr0s = sorted(s.grid_lr0)
    near = best.point == pick.point and abs(lr0s.index(best.lr0) - lr0s.index(pick.lr0)) <= 1
    return "within a grid step" if near else "another point"


def rows_of(d: dict, arm: str) -> list:
    """One grid's rows (sweep rows) from its record."""
    from yolo_lr.tools.sweep import SweepRow

    return [SweepRow.from_json(r) for r in d[arm]["rows"]]


def pick_of(d: dict, arm: str):
    """The row one grid picked, or None."""
    return next((r for r in rows_of(d, arm) if r.label == d[arm]["best"]), None)


def asha_text(s, data: dict) -> list[str]:
    """The table of the first seed, then every seed's picks (``asha``'s numbers)."""
    first = data["seeds"][0]
    early = [a for a in first if a not in ("seed", "full", "share")]
    grace = {
        a: f"{first[a]['grace']}" + (f" judged on {first[a]['judge']}" if "judge" in first[a] else "") for a in early
    }
    rows = {a: rows_of(first, a) for a in ("full", *early)}

    def best(arm: str) -> str:
        b = pick_of(first, arm)
        return f"{b.label} ({b.metric:.4f})" if b else "none"

    def cell(row) -> str:
        return f"stopped ({row.epochs})" if row.stopped else f"{row.metric:.4f}"

    head = ["point", "full grid: mAP50-95"]
    head += [f"ASHA grace {grace[a]}: mAP50-95 (or stopped after N epochs)" for a in early]
    table = [[r.label, f"{r.metric:.4f}", *(cell(rows[a][i]) for a in early)] for i, r in enumerate(rows["full"])]
    full = first["full"]
    text = [
        f"**ASHA against the full grid**: {len(table)} points ({len(s.grid_lr0)} lr0 x {len(s.grid_policies)} "
        f"policies: {', '.join(s.grid_policies)}), {s.grid_epochs} epochs each, reduction factor 3, one ASHA per "
        f"policy, grace period {grace['asha']} epochs (the default, a quarter of the epochs) and "
        f"{', '.join(str(grace[a]) for a in early[1:]) or 'no other'}; ranked by final mAP50-95. Training seed "
        f"{first['seed']}:",
        "",
        common.md_table(head, table),
        "",
        f"- Full grid: {full['epochs']} epochs in {full['seconds']:.0f} s, best {best('full')}.",
    ]
    for a in early:
        d = first[a]
        text.append(
            f"- ASHA, grace {grace[a]}: {d['epochs']} epochs ({d['epochs'] / full['epochs']:.0%} of the full grid's) "
            f"in {d['seconds']:.0f} s, best {best(a)}: {d['verdict']}."
        )
    text += ["", *seeds_text(s, data["seeds"], ["full", *early], grace)]
    judged = judged_text(s, data["seeds"], mean_best(data["seeds"])[1][0])
    return text + (["", *judged] if judged else [])


def mean_best(per_seed: list[dict]) -> tuple[dict[str, list[float]], list[str]]:
    """Every full-grid point's final mAP50-95 over the seeds, and the points by mean, best first (a failed run last)."""
    finals: dict[str, list[float]] = {}
    for d in per_seed:
        for r in rows_of(d, "full"):
            finals.setdefault(r.label, []).append(r.metric)
    means = {k: statistics.fmean(v) for k, v in finals.items()}
    return finals, sorted(finals, key=lambda k: (math.isnan(means[k]), -means[k]))


def seeds_text(s, per_seed: list[dict], arms: list[str], grace: dict) -> list[str]:
    """Every seed's picks against its own full grid and against the mean best (the point with the highest mean final
    mAP50-95 over the seeds), and the mean best against the runner-up (Welch's test over seeds)."""
    finals, ranked = mean_best(per_seed)
    top = next(r for r in rows_of(per_seed[0], "full") if r.label == ranked[0])
    name = {a: "full grid" if a == "full" else f"ASHA grace {grace[a]}" for a in arms}
    table, same, epochs, gaps = [], dict.fromkeys(arms, 0), {a: [] for a in arms}, {a: [] for a in arms}
    for d in per_seed:
        best = pick_of(d, "full")
        for a in arms:
            pick = pick_of(d, a)
            same[a] += pick is not None and pick.label == top.label
            epochs[a].append(d[a]["epochs"])
            gap = best.metric - pick.metric if best and pick else math.nan
            gaps[a].append(gap)
            share = f"{d[a]['epochs']} ({d[a]['epochs'] / d['full']['epochs']:.0%})"
            pick_cell = f"{pick.label} ({pick.metric:.4f})" if pick else "none"
            row = [str(d["seed"]), name[a], share, pick_cell, f"{gap:.4f}", d[a]["verdict"], verdict(s, top, pick)]
            table.append(row)
    head = ["seed", "grid", "epochs (share)", "pick (mAP50-95)", "behind this seed's best"]
    head += ["against this seed's full grid", "against the mean best"]
    text = [
        f"Over {len(per_seed)} training seed(s): each grid's pick against its seed's full grid, and against the point "
        "with the best mean final mAP50-95 over the seeds (the mean best):",
        "",
        common.md_table(head, table),
        "",
        f"- Mean best: {top.label} ({common.fmt_ms(finals[top.label])}).",
    ]
    if len(ranked) > 1:
        w = common.welch(finals[ranked[0]], finals[ranked[1]])
        text.append(
            f"- Runner-up: {ranked[1]} ({common.fmt_ms(finals[ranked[1]])}); the mean best against it, Welch's test "
            f"over seeds: {common.fmt_p(w)}."
        )
    full = sum(epochs["full"])
    text += [
        f"- {name[a]}: {sum(epochs[a])} epochs over the seeds ({sum(epochs[a]) / full:.0%} of the full grids'); its "
        f"pick {statistics.fmean(gaps[a]):.4f} mAP50-95 behind its seed's best on average; the mean best picked on "
        f"{same[a]} of {len(per_seed)} seed(s)."
        for a in arms
    ]
    return text


def run(ctx: common.Context) -> dict:
    """The measurements asked for (``--parts``): the raw numbers ``render`` reports."""
    s = ctx.settings
    data = common.ensure_dataset(common.DatasetSpec("N", s.n_train, s.n_val, s.imgsz, seed=0), ctx.workdir)
    return {
        "machine": common.machine_info(torch_threads=1),  # OMP_NUM_THREADS=1 (local), cpus_per_trial=1 (Ray)
        "wall_note": " (the sweeps above, one after another)",
        "load_jobs": 2,  # Ray runs two trainings at a time
        "load_affected": "the wall times are inflated",
        "block": ctx.args.block,
        "speed": speed(ctx, data) if "speed" in s.parts else {},
        "asha": asha(ctx, data) if "asha" in s.parts else {},
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The block of a measurement (or of its JSON: ``--from-json``)."""
    s = ctx.settings
    ds = common.DatasetSpec("N", s.n_train, s.n_val, s.imgsz, seed=0)
    seeds = "seed 0"  # the wall-time part's; the ASHA part's are its own
    if raw["asha"]:
        asha_seeds = f"seeds {', '.join(map(str, s.seeds))}"
        seeds = f"{seeds} (the ASHA part: {asha_seeds})" if raw["speed"] else asha_seeds
    setup = (
        f"Setup: fine-tuning `benchmarks/assets/source.pt` on synthetic {ds.describe()}; AdamW, momentum 0.9, "
        f"imgsz={s.imgsz}, batch={s.batch} (nbs={s.batch}), 1 warmup epoch, {seeds}, CPU."
    )
    speed_part = speed_text(s, raw["speed"]) if raw["speed"] else []
    asha_part = asha_text(s, raw["asha"]) if raw["asha"] else []
    body = "\n\n".join("\n".join(part) for part in ([setup], speed_part, asha_part) if part)
    block = raw["block"]
    return common.Report(body=body, console=body, name=block and f"sweep_engines_{block}", block=block)


def add_options(p) -> None:
    p.add_argument("--block", help="name of the BENCHMARKS.md block and results files (default: engines)")


if __name__ == "__main__":
    sys.exit(common.main(BENCH, run, script=Path(__file__), add_options=add_options, render=render))
