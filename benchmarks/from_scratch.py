#!/usr/bin/env python
"""From scratch on synthetic domain A: Ultralytics' native defaults vs each preset, at equal epochs, over seeds.

Every config trains ``yolo26n.yaml`` from random weights on the same domain-A dataset, once per seed, with the same
``train()`` arguments: ``defaults`` is a plain ``YOLO("yolo26n.yaml").train(...)`` with no ``lr_*`` key (the plugin
stays inert: no ``lr.csv``); every preset in ``configs/`` but ``finetune`` is attached with ``yolo_lr.attach``.
Reported per config: final and best-epoch mAP50-95, final mAP50 and train loss (mean ± std over seeds), wall time,
a bar chart and mean curves.

    python benchmarks/from_scratch.py               # full run (~17-20 min on 2 CPU cores)
    python benchmarks/from_scratch.py --write-md    # ... and rewrite its block of BENCHMARKS.md
    python benchmarks/from_scratch.py --smoke       # < 1 min: 8 images, 1 epoch, 1 seed, 2 configs
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

DEFAULTS = "defaults"  # label of the native run
EXCLUDED = "finetune"  # for pretrained weights: the transfer benchmark measures it

# Full: 8 configs x 3 seeds = 24 trainings of 12 epochs (12 optimizer steps each), 2 at a time: ~80-90 s each on one
# core of a 2.8 GHz Xeon (1178 s in all, with other work on the machine). Smoke: 2 trainings, ~15 s.
BENCH = common.Bench(
    name="from_scratch",
    block="scratch",
    doc=__doc__,
    full=dict(epochs=12, imgsz=128, batch=16, seeds=[0, 1, 2], n_train=192, n_val=64, configs=None, jobs=None),
    smoke=dict(epochs=1, imgsz=64, batch=4, seeds=[0], n_train=8, n_val=4, configs=[DEFAULTS, "warmup_cosine"]),
    help={
        "epochs": "epochs per training",
        "imgsz": "image size, also the dataset's",
        "batch": "batch size, nbs follows it",
        "seeds": "training seeds",
        "n_train": "domain-A train images",
        "n_val": "domain-A val images",
        "configs": f"subset of: {DEFAULTS} and the preset names (default: all)",
        "jobs": "trainings at a time (default: cores / torch threads per CPU training, 2 on 2 cores)",
    },
    flags={"n_train": "--train-images", "n_val": "--val-images"},
    types={"configs": [str], "jobs": int},
    minimum={"epochs": 1, "imgsz": 32, "batch": 1, "n_train": 1, "n_val": 1, "jobs": 1},
)


def last(runs: list[dict], key: str = "map") -> list[float]:
    """The last epoch's ``key``, one value per seed."""
    return [r[key][-1] for r in runs]


def by_config(results: list[dict]) -> dict[str, list[dict]]:
    """The runs of each config (seeds in run order), configs in run order."""
    return {c: [r for r in results if r["label"] == c] for c in dict.fromkeys(r["label"] for r in results)}


def check_runs(configs: dict[str, list[dict]], epochs: int) -> list[str]:
    """Problems that make a result untrustworthy: a wrong epoch count, the plugin active or not as expected."""
    problems = []
    for config, runs in configs.items():
        for r in runs:
            if len(r["map"]) != epochs:
                problems.append(f"{config} seed {r['seed']}: {len(r['map'])} epochs in results.csv")
        active = config != DEFAULTS
        if {r["plugin_active"] for r in runs} != {active}:
            problems.append(
                f"{config}: plugin " + ("inactive (lr.csv missing)" if active else "active (lr.csv written)")
            )
    return problems


def optimizers(runs: list[dict]) -> str:
    return ", ".join(sorted({f"{r['optimizer']} {r['lr0']:g}" for r in runs}))


def table(configs: dict[str, list[dict]]) -> str:
    base = configs.get(DEFAULTS)

    def delta(config: str, runs: list[dict]) -> str:
        if base is None or config == DEFAULTS:
            return ""
        w = common.welch(last(runs), last(base))
        return f"{w['diff']:+.4f}" + ("" if w["p"] is None else f" ({common.fmt_p(w)})")

    columns = {  # header: cell of a config and its runs
        "config": lambda c, rs: "Ultralytics defaults (no `lr_*` key)" if c == DEFAULTS else f"`{c}`",
        "optimizer, lr0 used": lambda c, rs: optimizers(rs),
        "final mAP50-95": lambda c, rs: common.fmt_ms(last(rs)),
        "Δ vs defaults (Welch p)": delta,
        "final mAP50": lambda c, rs: common.fmt_ms(last(rs, "map50")),
        "best-epoch mAP50-95": lambda c, rs: common.fmt_ms([max(r["map"]) for r in rs]),
        "final train loss": lambda c, rs: common.fmt_ms(last(rs, "train_loss"), 3),
        "wall s / run": lambda c, rs: f"{common.mean_std([r['wall_s'] for r in rs])[0]:.0f}",
        "per seed final mAP50-95": lambda c, rs: ", ".join(f"{x:.4f}" for x in last(rs)),
    }
    cells = [[cell(c, rs) for cell in columns.values()] for c, rs in configs.items()]
    return common.md_table(list(columns), cells)


def observations(configs: dict[str, list[dict]]) -> list[str]:
    """The ranking, each preset against the defaults' spread, and ``native`` against the defaults."""
    ranked = sorted(configs, key=lambda c: common.mean_std(last(configs[c]))[0], reverse=True)
    lines = ["Ranking by mean final mAP50-95: " + " > ".join(f"`{c}`" for c in ranked) + "."]
    base, native = configs.get(DEFAULTS), configs.get("native")
    if base is not None and len(base) > 1:
        tests = {c: common.welch(last(rs), last(base)) for c, rs in configs.items() if c != DEFAULTS}
        above = [f"`{c}`" for c, w in tests.items() if w["differs"] and w["diff"] > 0]
        below = [f"`{c}`" for c, w in tests.items() if w["differs"] and w["diff"] < 0]
        found = "no config differs significantly"
        if above or below:
            found = f"higher: {', '.join(above) or 'none'}; lower: {', '.join(below) or 'none'}; the other "
            found += "differences are not significant"
        lines.append(
            f"Against the defaults over seeds (Welch's t-test, p < {common.ALPHA:g}): {found} at {len(base)} seeds."
        )
    if base is not None and native is not None:
        diffs = [abs(x - y) for a in base for b in native if a["seed"] == b["seed"] for x, y in zip(a["map"], b["map"])]
        if diffs:
            how = "identical training, as the preset promises."
            if max(diffs):
                how = "not bit-identical (CPU run-to-run nondeterminism or a schedule difference)."
            lines.append(
                "The `native` preset (Ultralytics' curve driven by the plugin) against the defaults, same seed: "
                f"largest per-epoch mAP50-95 difference {max(diffs):.2g} — {how}"
            )
    return lines


def run(ctx: common.Context) -> dict:
    """Train every (config, seed) in worker processes, seeds innermost; the raw numbers ``render`` reports."""
    s = ctx.settings
    known = [DEFAULTS, *common.preset_names(exclude=[EXCLUDED])]
    names = list(dict.fromkeys(s.configs or known))
    if unknown := [c for c in names if c not in known]:
        raise SystemExit(f"unknown config(s) {unknown}; choose from {known}")
    jobs = s.jobs or common.default_jobs()
    ds = common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0)
    data = common.ensure_dataset(ds, ctx.workdir)
    runs_dir = ctx.workdir / "from_scratch" / "runs"
    specs = []
    for config in names:
        preset = None if config == DEFAULTS else str(common.CONFIGS_DIR / f"{config}.yaml")
        for seed in s.seeds:
            name = f"{config}_s{seed}"
            args = common.shared_train_args(s.imgsz, s.batch, s.epochs, seed, data, runs_dir, name, ctx.verbose)
            specs.append(common.RunSpec(label=config, seed=seed, model=common.MODEL, train_args=args, preset=preset))
    ctx.log(
        f"from_scratch: {len(specs)} trainings ({len(names)} configs x {len(s.seeds)} seeds), {jobs} at a time; "
        f"data {data}"
    )
    results = common.run_all(specs, jobs, ctx.log, ctx.monitor)
    keep = ("label", "seed", "map", "map50", "train_loss", "wall_s", "optimizer", "lr0")
    return {
        "machine": common.machine_info(results),
        "wall_note": f" ({len(specs)} trainings, {jobs} at a time)",
        "load_jobs": jobs,
        "problems": check_runs(by_config(results), s.epochs),
        "dataset": vars(ds),
        "runs": [{k: r[k] for k in keep} for r in results],
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The set-up, table, plot and observations of a measurement (or of its JSON: ``--from-json``)."""
    s, ds = ctx.settings, common.DatasetSpec(**raw["dataset"])
    configs = by_config(raw["runs"])
    png = ctx.output(".png")
    title = f"yolo26n from scratch on synthetic A, {s.epochs} epochs, imgsz {s.imgsz}, {len(s.seeds)} seed(s)"
    with common.figure(png, ncols=2, width_ratios=[1.3, 1], title=title) as (ax, ax2):
        series = [
            ("final epoch", [last(rs) for rs in configs.values()]),
            ("best epoch", [[max(r["map"]) for r in rs] for rs in configs.values()]),
        ]
        common.seed_bars(ax, list(configs), series, "mAP50-95 (val)")
        ax.set_title("mean ± std over seeds (dots: seeds)")
        for c, rs in configs.items():
            common.curve_band(ax2, [r["map"] for r in rs], c, emphasis=c == DEFAULTS)
        ax2.set(xlabel="epoch", ylabel="mAP50-95 (val)", title="mean curve (band: min-max over seeds)")
        ax2.legend(fontsize=7)
    setup = (
        f"Setup: `{common.MODEL}` from random weights on synthetic {ds.describe()} (`scripts/make_dataset.py`); "
        f"every config trains epochs={s.epochs}, imgsz={s.imgsz}, batch={s.batch}, nbs={s.batch} "
        f"({-(-ds.n_train // s.batch)} optimizer steps per epoch; Ultralytics' nbs=64 would accumulate 4 batches and "
        f"give a quarter of that), workers=0, amp=False, Ultralytics' default augmentation, training seeds "
        f"{', '.join(map(str, s.seeds))}. "
        '`defaults` is a plain `YOLO("yolo26n.yaml").train(...)` with those arguments and no `lr_*` key '
        f"(`optimizer=auto` chose {optimizers(configs.get(DEFAULTS, [])) or 'n/a'}); each preset is attached with "
        f'`yolo_lr.attach(model, "configs/<name>.yaml")`. `{EXCLUDED}` is left out: for pretrained weights '
        "(AdamW at a low lr0, backbone frozen for the first epoch); measured in the transfer benchmark. Final = the "
        "last epoch's validation (`results.csv`); best-epoch = the best epoch's validation; train loss = sum of the "
        "`train/*loss` columns at the last epoch. Sizes were chosen so the default run fits in ~25 min on 2 CPU "
        "cores: the models are far from converged, so this compares how much each schedule gets out of a short, "
        "fixed budget."
    )
    tab, obs = table(configs), observations(configs)
    body = "\n".join([setup, "", tab, "", f"![mAP50-95 per config]({common.md_link(png)})", "", *obs])
    return common.Report(body=body, console="\n".join([tab, "", *obs]), problems=raw["problems"])


if __name__ == "__main__":
    sys.exit(common.main(BENCH, run, script=Path(__file__), render=render))
