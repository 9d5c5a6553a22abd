#!/usr/bin/env python
"""From scratch on synthetic domain A: Ultralytics' native defaults vs each preset, at equal epochs, over seeds.

Every config trains ``yolo26n.yaml`` from random weights on the same synthetic domain-A dataset
(``scripts/make_dataset.py``: circles, squares, triangles) for the same number of epochs, once per training seed:

- ``defaults``: a plain ``YOLO("yolo26n.yaml").train(data=A, epochs=E, seed=s, ...)`` with no ``lr_*`` key, so
  Ultralytics' own schedule and ``optimizer=auto`` (which picks AdamW and its own lr0 for short runs) apply; the
  plugin, although imported, stays inert (checked: such a run must not write ``lr.csv``);
- every preset in ``configs/`` except ``finetune`` (it is for pretrained weights; the transfer benchmark measures
  it), attached with ``yolo_lr.attach(model, "configs/<name>.yaml")``.

All runs share the same ``train()`` arguments (batch=16 with nbs=16 so every batch is an optimizer step, workers=0,
amp=False, device=cpu, plots=False, Ultralytics' augmentation defaults). Reported per config: mean ± std over seeds of
the final mAP50-95 and mAP50 (the last epoch's validation in ``results.csv``), the best epoch's mAP50-95, the final
train loss (sum of the ``train/*loss`` columns), wall time per run, and a bar chart plus mean curves.

Run from the repository root::

    python benchmarks/from_scratch.py               # full run (~17-20 min on 2 CPU cores)
    python benchmarks/from_scratch.py --write-md    # ... and rewrite its block of BENCHMARKS.md
    python benchmarks/from_scratch.py --smoke       # < 1 min: 8 images, 1 epoch, 1 seed, 2 configs

Trainings run in fresh worker processes, ``--jobs`` at a time (default: cores / torch threads per CPU training, 2 on a
2-core machine). The harness (``benchmarks/common.py``) puts datasets and runs under ``--workdir`` and the plot, the
Markdown block and raw JSON in ``benchmarks/results/`` (``WORKDIR/results`` with ``--smoke``); ``--write-md``
rewrites only the text between ``<!-- scratch:start -->`` and ``<!-- scratch:end -->``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

DEFAULTS = "defaults"  # label of the native run
EXCLUDED = {
    "finetune": "for pretrained weights (AdamW at a low lr0, backbone frozen for the first epoch); measured in the "
    "transfer benchmark"
}

# Full: 8 configs x 3 seeds = 24 trainings of 12 epochs (12 optimizer steps each) at imgsz 128, 2 at a time:
# ~80-90 s per training on one core of a 2.8 GHz Xeon, ~17-20 min in all (measured 1178 s with other work on the
# machine). Smoke: 2 trainings of 1 epoch on 8 images, ~15 s.
BENCH = common.Bench(
    name="from_scratch",
    block="scratch",
    doc=__doc__,
    full={
        "epochs": 12,
        "imgsz": 128,
        "batch": 16,
        "seeds": [0, 1, 2],
        "n_train": 192,
        "n_val": 64,
        "configs": None,
        "jobs": None,
    },
    smoke={
        "epochs": 1,
        "imgsz": 64,
        "batch": 4,
        "seeds": [0],
        "n_train": 8,
        "n_val": 4,
        "configs": [DEFAULTS, "warmup_cosine"],
    },
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


def configs(s) -> list[str]:
    """The configs to run (all by default), checked against the presets in ``configs/``."""
    known = [DEFAULTS, *common.preset_names(exclude=EXCLUDED)]
    chosen = list(dict.fromkeys(s.configs or known))
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise SystemExit(f"unknown config(s) {unknown}; choose from {known}")
    return chosen


def run_specs(s, names: list[str], data: Path, runs_dir: Path, verbose: bool) -> list[common.RunSpec]:
    """One RunSpec per (config, seed), seeds innermost."""
    specs = []
    for config in names:
        for seed in s.seeds:
            args = common.shared_train_args(
                s.imgsz, s.batch, s.epochs, seed, data, runs_dir, f"{config}_s{seed}", verbose
            )
            preset = None if config == DEFAULTS else str(common.CONFIGS_DIR / f"{config}.yaml")
            specs.append(common.RunSpec(label=config, seed=seed, model=common.MODEL, train_args=args, preset=preset))
    return specs


def summarise(names: list[str], results: list[dict]) -> list[dict]:
    """Per-config figures over seeds, in config order."""
    rows = []
    for config in names:
        rs = [r for r in results if r["label"] == config]
        rows.append(
            {
                "config": config,
                "runs": rs,
                "final": [r["map"][-1] for r in rs],
                "final50": [r["map50"][-1] for r in rs],
                "best": [max(r["map"]) for r in rs],
                "loss": [r["train_loss"][-1] for r in rs],
                "wall": [r["wall_s"] for r in rs],
                "optimizer": sorted({f"{r['optimizer']} {r['lr0']:g}" for r in rs}),
                "plugin_active": sorted({r.get("plugin_active") for r in rs}),
            }
        )
    return rows


def check_runs(rows: list[dict], epochs: int) -> list[str]:
    """Problems that make a result untrustworthy (wrong epoch count, plugin active or not as expected)."""
    problems = []
    for row in rows:
        for r in row["runs"]:
            if len(r["map"]) != epochs:
                problems.append(f"{row['config']} seed {r['seed']}: {len(r['map'])} epochs in results.csv")
        expected = row["config"] != DEFAULTS
        if row["plugin_active"] != [expected]:
            problems.append(
                f"{row['config']}: plugin {'inactive' if expected else 'active'} (lr.csv "
                f"{'missing' if expected else 'written'})"
            )
    return problems


def table(rows: list[dict]) -> str:
    """The Markdown table of per-config figures."""
    base = next((r for r in rows if r["config"] == DEFAULTS), None)
    header = [
        "config",
        "optimizer, lr0 used",
        "final mAP50-95",
        "Δ vs defaults (Welch p)",
        "final mAP50",
        "best-epoch mAP50-95",
        "final train loss",
        "wall s / run",
        "per seed final mAP50-95",
    ]
    out = []
    for row in rows:
        if base is None or row is base:
            delta = ""
        else:
            w = common.welch(row["final"], base["final"])
            delta = f"{w['diff']:+.4f}" + ("" if w["p"] is None else f" ({common.fmt_p(w)})")
        name = "Ultralytics defaults (no `lr_*` key)" if row["config"] == DEFAULTS else f"`{row['config']}`"
        out.append(
            [
                name,
                ", ".join(row["optimizer"]),
                common.fmt_ms(row["final"]),
                delta,
                common.fmt_ms(row["final50"]),
                common.fmt_ms(row["best"]),
                common.fmt_ms(row["loss"], 3),
                f"{common.mean_std(row['wall'])[0]:.0f}",
                ", ".join(f"{x:.4f}" for x in row["final"]),
            ]
        )
    return common.md_table(header, out)


def observations(rows: list[dict]) -> list[str]:
    """Sentences computed from the figures: the ranking, each preset against the defaults' spread, native = defaults."""
    ranked = sorted(rows, key=lambda r: common.mean_std(r["final"])[0], reverse=True)
    lines = ["Ranking by mean final mAP50-95: " + " > ".join(f"`{r['config']}`" for r in ranked) + "."]
    base = next((r for r in rows if r["config"] == DEFAULTS), None)
    if base is not None and len(base["final"]) > 1:
        tests = {r["config"]: common.welch(r["final"], base["final"]) for r in rows if r is not base}
        above = [f"`{c}`" for c, w in tests.items() if w["differs"] and w["diff"] > 0]
        below = [f"`{c}`" for c, w in tests.items() if w["differs"] and w["diff"] < 0]
        head, n = f"Against the defaults over seeds (Welch's t-test, p < {common.ALPHA:g})", len(base["final"])
        if above or below:
            found = f"higher: {', '.join(above) or 'none'}; lower: {', '.join(below) or 'none'}"
            lines.append(f"{head}: {found}; the other differences are not significant at {n} seeds.")
        else:
            lines.append(f"{head}: no config differs significantly at {n} seeds.")
    native = next((r for r in rows if r["config"] == "native"), None)
    if base is not None and native is not None:
        pairs = [(a, b) for a in base["runs"] for b in native["runs"] if a["seed"] == b["seed"]]
        if pairs:
            diff = max(abs(x - y) for a, b in pairs for x, y in zip(a["map"], b["map"]))
            lines.append(
                "The `native` preset (Ultralytics' curve driven by the plugin) against the defaults, same seed: "
                f"largest per-epoch mAP50-95 difference {diff:.2g}"
                + (
                    " — identical training, as the preset promises."
                    if diff == 0
                    else " — not bit-identical (CPU run-to-run nondeterminism or a schedule difference)."
                )
            )
    return lines


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Bar chart (final and best-epoch mAP50-95, mean ± std, seeds as dots) and mean mAP50-95 curves."""
    with common.figure(path, ncols=2, width_ratios=[1.3, 1], title=title) as (ax, ax2):
        common.seed_bars(
            ax,
            [r["config"] for r in rows],
            [("final epoch", [r["final"] for r in rows]), ("best epoch", [r["best"] for r in rows])],
            "mAP50-95 (val)",
        )
        ax.set_title("mean ± std over seeds (dots: seeds)")
        for r in rows:
            common.curve_band(ax2, [run["map"] for run in r["runs"]], r["config"], emphasis=r["config"] == DEFAULTS)
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("mAP50-95 (val)")
        ax2.set_title("mean curve (band: min-max over seeds)")
        ax2.legend(fontsize=7)


def setup_sentence(s, ds: common.DatasetSpec, rows: list[dict]) -> str:
    """What was trained, how, and how the table's columns are defined."""
    steps = -(-ds.n_train // s.batch)
    excluded = "; ".join(f"`{k}` is left out: {v}" for k, v in EXCLUDED.items())
    defaults_opt = next((", ".join(r["optimizer"]) for r in rows if r["config"] == DEFAULTS), None)
    return (
        f"Setup: `{common.MODEL}` from random weights on synthetic {ds.describe()} (`scripts/make_dataset.py`); "
        f"every config trains epochs={s.epochs}, imgsz={s.imgsz}, batch={s.batch}, nbs={s.batch} ({steps} optimizer "
        f"steps per epoch; Ultralytics' nbs=64 would accumulate 4 batches and give a quarter of that), workers=0, "
        f"amp=False, Ultralytics' default augmentation, training seeds {', '.join(map(str, s.seeds))}. "
        '`defaults` is a plain `YOLO("yolo26n.yaml").train(...)` with those arguments and no `lr_*` key '
        f"(`optimizer=auto` chose {defaults_opt or 'n/a'}); each preset is attached with "
        f'`yolo_lr.attach(model, "configs/<name>.yaml")`. {excluded}. Final = the last epoch\'s validation '
        "(`results.csv`); best-epoch = the best epoch's validation; train loss = sum of the `train/*loss` columns at "
        "the last epoch. Sizes were chosen so the default run fits in ~25 min on 2 CPU cores: the models are far "
        "from converged, so this compares how much each schedule gets out of a short, fixed budget."
    )


def run(ctx: common.Context) -> dict:
    """Train every (config, seed) in worker processes; the raw numbers ``render`` reports."""
    s = ctx.settings
    names = configs(s)
    jobs = s.jobs or common.default_jobs()
    ds = common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0)
    data = common.ensure_dataset(ds, ctx.workdir)
    specs = run_specs(s, names, data, ctx.workdir / "from_scratch" / "runs", ctx.verbose)
    ctx.log(
        f"from_scratch: {len(specs)} trainings ({len(names)} configs x {len(s.seeds)} seeds), {jobs} at a time; "
        f"data {data}"
    )
    results = common.run_all(specs, jobs, ctx.log, ctx.monitor)
    return {
        "machine": common.machine_info(results),
        "wall_note": f" ({len(specs)} trainings, {jobs} at a time)",
        "load_note": ctx.monitor.summary(jobs),
        "problems": check_runs(summarise(names, results), s.epochs),
        "dataset": vars(ds),
        "runs": [
            {k: r[k] for k in ("label", "seed", "map", "map50", "train_loss", "wall_s", "optimizer", "lr0")}
            for r in results
        ],
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The per-config figures, plot and observations of a measurement (or of its JSON: ``--from-json``)."""
    s, ds = ctx.settings, common.DatasetSpec(**raw["dataset"])
    rows = summarise(list(dict.fromkeys(r["label"] for r in raw["runs"])), raw["runs"])
    png = ctx.output(".png")
    plot(rows, png, f"yolo26n from scratch on synthetic A, {s.epochs} epochs, imgsz {s.imgsz}, {len(s.seeds)} seed(s)")
    body = "\n".join(
        [
            setup_sentence(s, ds, rows),
            "",
            table(rows),
            "",
            f"![mAP50-95 per config]({common.md_link(png)})",
            "",
            *observations(rows),
        ]
    )
    return common.Report(
        body=body,
        machine=raw["machine"],
        console="\n".join([table(rows), "", *observations(rows)]),
        problems=raw["problems"],
    )


if __name__ == "__main__":
    sys.exit(common.main(BENCH, run, script=Path(__file__), render=render))
