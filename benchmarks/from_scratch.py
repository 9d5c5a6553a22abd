#!/usr/bin/env python
"""From scratch on synthetic domain A: Ultralytics' native defaults vs each preset, at equal epochs, over seeds.

Every config trains ``yolo26n.yaml`` from random weights on the same synthetic domain-A dataset
(``scripts/make_dataset.py``: circles, squares, triangles) for the same number of epochs, once per training seed:

- ``defaults``: a plain ``YOLO("yolo26n.yaml").train(data=A, epochs=E, seed=s, ...)`` with no ``lr_*`` key, so
  Ultralytics' own schedule and ``optimizer=auto`` (which picks AdamW and its own lr0 for short runs) apply; the
  plugin, although imported, stays inert (checked: such a run must not write ``lr.csv``);
- every preset in ``configs/`` except ``finetune`` (it is for pretrained weights: frozen backbone, lr0=0.001; the
  transfer benchmark measures it), attached with ``yolo_lr.attach(model, name)``.

All runs share the same ``train()`` arguments (batch=16 with nbs=16 so every batch is an optimizer step, workers=0,
amp=False, device=cpu, plots=False, Ultralytics' augmentation defaults). Reported per config: mean ± std over seeds of
the final mAP50-95 and mAP50 (the last epoch's validation in ``results.csv``), the best epoch's mAP50-95, the final
train loss (sum of the ``train/*loss`` columns), wall time per run, and a bar chart plus mean curves.

Run from the repository root::

    .venv/bin/python benchmarks/from_scratch.py               # full run (~17-20 min on 2 CPU cores)
    .venv/bin/python benchmarks/from_scratch.py --write-md    # ... and rewrite its block of BENCHMARKS.md
    .venv/bin/python benchmarks/from_scratch.py --smoke       # < 1 min: 8 images, 1 epoch, 1 seed, 2 configs

Trainings run in fresh worker processes, ``--jobs`` at a time (default: cores / torch threads per CPU training, 2 on a
2-core machine). Datasets and runs go under ``--workdir`` (default ``benchmarks/work/``, a temp dir with
``--smoke``); the plot, the Markdown block and raw JSON go to ``benchmarks/results/`` (the work dir with ``--smoke``).
``--write-md`` rewrites only the text between ``<!-- scratch:start -->`` and ``<!-- scratch:end -->``.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

BLOCK = "scratch"
DEFAULTS = "defaults"  # label of the native run
EXCLUDED = {"finetune": "for pretrained weights (frozen backbone, lr0=0.001); measured in the transfer benchmark"}


@dataclass
class Settings:
    """Everything a run of this benchmark depends on."""

    epochs: int
    imgsz: int
    batch: int
    seeds: list[int]
    n_train: int
    n_val: int
    configs: list[str]
    jobs: int
    smoke: bool
    verbose: bool


# Full: 8 configs x 3 seeds = 24 trainings of 12 epochs (12 optimizer steps each) at imgsz 128, 2 at a time:
# ~80-90 s per training on one core of a 2.8 GHz Xeon, ~17-20 min in all (measured 1178 s with other work on the
# machine). Smoke: 2 trainings of 1 epoch on 8 images, ~15 s.
FULL = dict(epochs=12, imgsz=128, batch=16, seeds=[0, 1, 2], n_train=192, n_val=64)
SMOKE = dict(epochs=1, imgsz=64, batch=4, seeds=[0], n_train=8, n_val=4)
SMOKE_CONFIGS = [DEFAULTS, "warmup_cosine"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny run in a temp dir (< 1 min); never writes BENCHMARKS.md")
    p.add_argument("--epochs", type=int, help=f"epochs per training (default {FULL['epochs']})")
    p.add_argument("--imgsz", type=int, help=f"image size, also the dataset's (default {FULL['imgsz']})")
    p.add_argument("--batch", type=int, help=f"batch size, nbs follows it (default {FULL['batch']})")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default 0 1 2)")
    p.add_argument("--train-images", type=int, dest="n_train", help=f"domain-A train images ({FULL['n_train']})")
    p.add_argument("--val-images", type=int, dest="n_val", help=f"domain-A val images ({FULL['n_val']})")
    p.add_argument("--configs", nargs="+", help=f"subset of: {DEFAULTS} and the preset names (default: all)")
    p.add_argument("--jobs", type=int, default=None, help=f"trainings at a time (default {common.default_jobs()})")
    p.add_argument("--workdir", type=Path, help="datasets and runs (default benchmarks/work; a temp dir with --smoke)")
    p.add_argument("--write-md", action="store_true", help="rewrite the scratch block of BENCHMARKS.md")
    p.add_argument("--md", type=Path, default=common.MD_PATH, help="Markdown file for --write-md")
    p.add_argument("--verbose", action="store_true", help="show Ultralytics' logs")
    args = p.parse_args(argv)
    if args.smoke and args.write_md:
        p.error("--smoke never writes BENCHMARKS.md; drop --write-md")
    for name in ("epochs", "imgsz", "batch", "n_train", "n_val", "jobs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.imgsz is not None and args.imgsz < 32:
        p.error("--imgsz must be >= 32")
    return args


def build_settings(args: argparse.Namespace) -> Settings:
    """Defaults (full or smoke) overridden by explicit options."""
    base = SMOKE if args.smoke else FULL
    pick = {k: getattr(args, k) if getattr(args, k, None) is not None else v for k, v in base.items()}
    known = [DEFAULTS, *common.preset_names(exclude=EXCLUDED)]
    configs = args.configs or (SMOKE_CONFIGS if args.smoke else known)
    unknown = [c for c in configs if c not in known]
    if unknown:
        raise SystemExit(f"unknown config(s) {unknown}; choose from {known}")
    jobs = args.jobs or common.default_jobs()
    return Settings(configs=list(dict.fromkeys(configs)), jobs=jobs, smoke=args.smoke, verbose=args.verbose, **pick)


def run_specs(s: Settings, data: Path, runs_dir: Path) -> list[common.RunSpec]:
    """One RunSpec per (config, seed), seeds innermost."""
    specs = []
    for config in s.configs:
        for seed in s.seeds:
            args = common.shared_train_args(s.imgsz, s.batch, s.epochs, seed, data, runs_dir, f"{config}_s{seed}",
                                            s.verbose)
            preset = None if config == DEFAULTS else str(common.CONFIGS_DIR / f"{config}.yaml")
            specs.append(common.RunSpec(label=config, seed=seed, model=common.MODEL, train_args=args, preset=preset))
    return specs


def summarise(s: Settings, results: list[dict]) -> list[dict]:
    """Per-config figures over seeds, in config order."""
    rows = []
    for config in s.configs:
        rs = [r for r in results if r["label"] == config]
        finals = [r["map"][-1] for r in rs]
        rows.append({
            "config": config,
            "runs": rs,
            "final": finals,
            "final50": [r["map50"][-1] for r in rs],
            "best": [max(r["map"]) for r in rs],
            "best_epoch": [r["map"].index(max(r["map"])) + 1 for r in rs],
            "loss": [r["train_loss"][-1] for r in rs],
            "wall": [r["wall_s"] for r in rs],
            "optimizer": sorted({f"{r['optimizer']} {r['lr0']:g}" for r in rs}),
            "plugin_active": sorted({r["plugin_active"] for r in rs}),
        })
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
            problems.append(f"{row['config']}: plugin {'inactive' if expected else 'active'} (lr.csv "
                            f"{'missing' if expected else 'written'})")
    return problems


def table(rows: list[dict]) -> str:
    """The Markdown table of per-config figures."""
    base = next((r for r in rows if r["config"] == DEFAULTS), None)
    header = ["config", "optimizer, lr0 used", "final mAP50-95", "Δ vs defaults", "final mAP50", "best-epoch mAP50-95",
              "final train loss", "wall s / run", "per seed final mAP50-95"]
    out = []
    for row in rows:
        m, _ = common.mean_std(row["final"])
        delta = "" if base is None or row is base else f"{m - common.mean_std(base['final'])[0]:+.4f}"
        name = "Ultralytics defaults (no `lr_*` key)" if row["config"] == DEFAULTS else f"`{row['config']}`"
        out.append([
            name, ", ".join(row["optimizer"]), common.fmt_ms(row["final"]), delta, common.fmt_ms(row["final50"]),
            common.fmt_ms(row["best"]), common.fmt_ms(row["loss"], 3), f"{common.mean_std(row['wall'])[0]:.0f}",
            ", ".join(f"{x:.4f}" for x in row["final"]),
        ])
    return common.md_table(header, out)


def observations(rows: list[dict]) -> list[str]:
    """Sentences computed from the figures: the best config and each preset against the defaults' spread."""
    lines = []
    ranked = sorted(rows, key=lambda r: common.mean_std(r["final"])[0], reverse=True)
    lines.append("Ranking by mean final mAP50-95: " + " > ".join(f"`{r['config']}`" for r in ranked) + ".")
    base = next((r for r in rows if r["config"] == DEFAULTS), None)
    if base is not None and len(base["final"]) > 1:
        bm, bs = common.mean_std(base["final"])
        beat = [r for r in rows if r is not base and common.mean_std(r["final"])[0] - bm > 2 * bs]
        lose = [r for r in rows if r is not base and bm - common.mean_std(r["final"])[0] > 2 * bs]
        lines.append(
            f"Against the defaults' seed-to-seed spread (std {bs:.4f}): above by more than 2 std: "
            + (", ".join(f"`{r['config']}`" for r in beat) or "none")
            + "; below by more than 2 std: " + (", ".join(f"`{r['config']}`" for r in lose) or "none") + "."
        )
    native = next((r for r in rows if r["config"] == "native"), None)
    if base is not None and native is not None:
        pairs = [(a, b) for a in base["runs"] for b in native["runs"] if a["seed"] == b["seed"]]
        if pairs:
            diff = max(abs(x - y) for a, b in pairs for x, y in zip(a["map"], b["map"]))
            lines.append(
                "The `native` preset (Ultralytics' curve driven by the plugin) against the defaults, same seed: "
                f"largest per-epoch mAP50-95 difference {diff:.2g}"
                + (" — identical training, as the preset promises." if diff == 0 else
                   " — not bit-identical (CPU run-to-run nondeterminism or a schedule difference).")
            )
    return lines


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Bar chart (final and best-epoch mAP50-95, mean ± std, seeds as dots) and mean mAP50-95 curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    xs = range(len(rows))
    for off, key, lab, alpha in ((-0.2, "final", "final epoch", 0.9), (0.2, "best", "best epoch", 0.45)):
        means = [common.mean_std(r[key])[0] for r in rows]
        stds = [common.mean_std(r[key])[1] for r in rows]
        ax.bar([x + off for x in xs], means, 0.4, yerr=stds, capsize=3, alpha=alpha, color="tab:blue", label=lab)
        for x, r in zip(xs, rows):
            ax.plot([x + off] * len(r[key]), r[key], "k.", ms=3)
    ax.set_xticks(list(xs), [r["config"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("mAP50-95 (val)")
    ax.set_title("mean ± std over seeds (dots: seeds)")
    ax.legend(fontsize=8)
    for r in rows:
        mean, lo, hi = common.mean_curve([run["map"] for run in r["runs"]])
        ep = range(1, len(mean) + 1)
        line, = ax2.plot(ep, mean, label=r["config"], lw=2 if r["config"] == DEFAULTS else 1.2,
                         ls="-" if r["config"] == DEFAULTS else "--")
        ax2.fill_between(ep, lo, hi, color=line.get_color(), alpha=0.1)
    ax2.xaxis.get_major_locator().set_params(integer=True)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("mAP50-95 (val)")
    ax2.set_title("mean curve (band: min-max over seeds)")
    ax2.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def render(s: Settings, rows: list[dict], meta: dict, png_rel: str) -> str:
    """The Markdown block."""
    ds = meta["dataset"]
    steps = -(-ds.n_train // s.batch)
    excluded = "; ".join(f"`{k}` is left out: {v}" for k, v in EXCLUDED.items())
    defaults_opt = next((", ".join(r["optimizer"]) for r in rows if r["config"] == DEFAULTS), None)
    lines = [
        f"Measured {meta['date']} on {common.machine_sentence(meta['machine'])}. The whole benchmark took "
        f"{meta['wall_s']:.0f} s ({len(s.configs) * len(s.seeds)} trainings, {s.jobs} at a time). {meta['load']}",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        f"Setup: `{common.MODEL}` from random weights on synthetic {ds.describe()} (`scripts/make_dataset.py`); "
        f"every config trains epochs={s.epochs}, imgsz={s.imgsz}, batch={s.batch}, nbs={s.batch} ({steps} optimizer "
        f"steps per epoch; Ultralytics' nbs=64 would accumulate 4 batches and give a quarter of that), workers=0, "
        f"amp=False, Ultralytics' default augmentation, training seeds {', '.join(map(str, s.seeds))}. "
        "`defaults` is a plain `YOLO(\"yolo26n.yaml\").train(...)` with those arguments and no `lr_*` key "
        f"(`optimizer=auto` chose {defaults_opt or 'n/a'}); each preset is attached with "
        f"`yolo_lr.attach(model, \"configs/<name>.yaml\")`. {excluded}. Final = the last epoch's validation "
        "(`results.csv`); best-epoch = the best epoch's validation; train loss = sum of the `train/*loss` columns at "
        "the last epoch. Sizes were chosen so the default run fits in ~25 min on 2 CPU cores: the models are far "
        "from converged, so this compares how much each schedule gets out of a short, fixed budget.",
        "",
        table(rows),
        "",
        f"![mAP50-95 per config]({png_rel})",
        "",
        *observations(rows),
    ]
    if meta["problems"]:
        lines += ["", "**Problems detected:** " + "; ".join(meta["problems"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write plot/JSON/Markdown."""
    args = parse_args(argv)
    s = build_settings(args)
    log = functools.partial(print, flush=True)
    command = common.command_line(Path(__file__).resolve(), argv)
    workdir = args.workdir or (Path(tempfile.mkdtemp(prefix="yolo_lr_scratch_")) if s.smoke else common.DEFAULT_WORKDIR)
    workdir = workdir.resolve()
    results_dir = workdir / "results" if s.smoke else common.RESULTS_DIR
    cfg_dir = common.setup_environment(s.verbose)
    monitor = common.LoadMonitor()
    started = time.perf_counter()
    try:
        monitor.sample()
        ds = common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0)
        data = common.ensure_dataset(ds, workdir)
        runs_dir = workdir / "from_scratch" / "runs"
        specs = run_specs(s, data, runs_dir)
        log(f"from_scratch: {len(specs)} trainings ({len(s.configs)} configs x {len(s.seeds)} seeds), {s.jobs} at a "
            f"time; data {data}")
        results = common.run_all(specs, s.jobs, log, monitor)
    finally:
        if cfg_dir is not None:
            shutil.rmtree(cfg_dir, ignore_errors=True)
    rows = summarise(s, results)
    meta = {
        "date": common.utc_now(), "command": command, "machine": common.machine_info(results),
        "wall_s": time.perf_counter() - started, "dataset": ds, "load": monitor.summary(s.jobs),
        "problems": check_runs(rows, s.epochs),
    }
    png = results_dir / "from_scratch.png"
    plot(rows, png, f"yolo26n from scratch on synthetic A, {s.epochs} epochs, imgsz {s.imgsz}, "
                    f"{len(s.seeds)} seed(s)")
    png_rel = png.relative_to(common.ROOT).as_posix() if png.is_relative_to(common.ROOT) else png.as_posix()
    block = render(s, rows, meta, png_rel)
    (results_dir / "from_scratch.md").write_text(block + "\n")
    common.write_json(results_dir / "from_scratch.json", {
        "settings": {k: v for k, v in vars(s).items()}, "dataset": vars(ds), "machine": meta["machine"],
        "wall_s": meta["wall_s"], "command": command, "date": meta["date"],
        "runs": [{k: r[k] for k in ("label", "seed", "map", "map50", "train_loss", "wall_s", "optimizer", "lr0")}
                 for r in results],
    })
    log("")
    log(table(rows))
    log("")
    for line in observations(rows):
        log(line)
    for p in meta["problems"]:
        log(f"PROBLEM: {p}")
    log(f"plot: {png}; block: {results_dir / 'from_scratch.md'}; took {meta['wall_s']:.0f} s")
    if args.write_md:
        common.replace_block(args.md, BLOCK, block)
        log(f"updated {args.md} between <!-- {BLOCK}:start --> and <!-- {BLOCK}:end -->")
    return 1 if meta["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
