#!/usr/bin/env python
"""Batch size and LR: the same data and epochs at several batch sizes, with and without ``lr_batch_scale=auto``.

Every run trains ``yolo26n.yaml`` from random weights on synthetic domain A with a per-step cosine (the plugin drives
every run), nbs = batch, and ``lr0`` meant for a reference batch (``lr_batch_ref``). Per optimizer and batch: ``off``
keeps ``lr0`` whatever the batch (as Ultralytics does); ``auto`` scales it (SGD: unchanged, the summed loss already
follows the batch; AdamW: x sqrt(batch / reference)). Reported: final mAP50-95 over seeds against the reference
batch's (Welch's t-test).

    python benchmarks/batch_scaling.py               # full run (42 trainings, 2 at a time on 2 cores)
    python benchmarks/batch_scaling.py --write-md    # ... and rewrite its block of BENCHMARKS.md
    python benchmarks/batch_scaling.py --smoke       # seconds: 8 images, 1 epoch, 1 seed, batches 2 and 4
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

LR0 = {"SGD": 0.01, "AdamW": 0.001}
ARMS = ("off", "auto")  # lr_batch_scale
SETTINGS = {  # key: (full run, --smoke or None to keep the full run's, help)
    "epochs": (12, 1, "epochs per training"),
    "imgsz": (128, 64, "image size, also the dataset's"),
    "batches": ([8, 16, 32, 64], [2, 4], "batch sizes (nbs follows each)"),
    "ref": (16, 2, "the reference batch lr0 is meant for (lr_batch_ref)"),
    "optimizers": (["SGD", "AdamW"], ["SGD", "AdamW"], "optimizers (SGD, AdamW)"),
    "seeds": ([0, 1, 2], [0], "training seeds"),
    "n_train": (192, 8, "domain-A train images"),
    "n_val": (64, 4, "domain-A val images"),
    "jobs": (None, None, "trainings at a time (default: cores / torch threads per CPU training)"),
}
BENCH = common.Bench(
    name="batch_scaling",
    block="batch",
    doc=__doc__,
    full={k: full for k, (full, _, _) in SETTINGS.items()},
    smoke={k: smoke for k, (_, smoke, _) in SETTINGS.items() if smoke is not None},
    help={k: text for k, (_, _, text) in SETTINGS.items()},
    flags={"n_train": "--train-images", "n_val": "--val-images"},
    types={"batches": [int], "optimizers": [str], "jobs": int},
    minimum={"epochs": 1, "imgsz": 32, "ref": 1, "n_train": 1, "n_val": 1, "jobs": 1},
)


def summarise(s, runs: list[dict]) -> list[dict]:
    """One row per (optimizer, batch, arm): final mAP50-95 per seed, against the reference batch's (at which both arms
    are the same run, ``off``)."""
    rows = []
    for opt in s.optimizers:
        ref = [r["map"][-1] for r in runs if r["label"] == f"{opt}|{s.ref}|off"]
        for batch in s.batches:
            for arm in ARMS:
                rs = [r for r in runs if r["label"] == f"{opt}|{batch}|{'off' if batch == s.ref else arm}"]
                final = [r["map"][-1] for r in rs]
                row = {"optimizer": opt, "batch": batch, "arm": arm, "final": final, "welch": common.welch(final, ref)}
                rows.append(row | {"lr": sorted({r["lr_used"] for r in rs})})
    return rows


def table(rows: list[dict]) -> str:
    columns = {  # header: cell of a row
        "optimizer": lambda r: r["optimizer"],
        "batch": lambda r: str(r["batch"]),
        "lr_batch_scale": lambda r: r["arm"],
        "peak lr used": lambda r: ", ".join(f"{x:.3g}" for x in r["lr"]),
        "final mAP50-95": lambda r: common.fmt_ms(r["final"]),
        "Δ vs reference batch": lambda r: f"{r['welch']['diff']:+.4f}",
        "Welch p vs the reference": lambda r: common.fmt_p(r["welch"]),
        "per seed": lambda r: ", ".join(f"{x:.4f}" for x in r["final"]),
    }
    return common.md_table(list(columns), [[cell(r) for cell in columns.values()] for r in rows])


def observations(s, rows: list[dict]) -> list[str]:
    lines = []
    for opt in s.optimizers:
        for arm in ARMS:
            rs = [r for r in rows if r["optimizer"] == opt and r["arm"] == arm and r["batch"] != s.ref]
            out = [f"{r['batch']} ({r['welch']['diff']:+.4f})" for r in rs if r["welch"]["differs"]]
            verdict = "no batch size differs" if not out else f"batch {', '.join(out)} differ{'s' * (len(out) == 1)}"
            lines.append(
                f"{opt}, lr_batch_scale={arm}: {verdict} from the reference batch "
                f"(Welch's t-test over seeds, p < {common.ALPHA:g})."
            )
    return lines


def run(ctx: common.Context) -> dict:
    """Train every (optimizer, batch, arm, seed), the reference batch once; the raw numbers ``render`` reports."""
    s = ctx.settings
    if s.ref not in s.batches:
        raise SystemExit(f"--ref {s.ref} must be one of the batch sizes {s.batches}")
    jobs = s.jobs or common.default_jobs()
    data = common.ensure_dataset(common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0), ctx.workdir)
    runs_dir = ctx.workdir / "batch_scaling" / "runs"
    specs = []
    for opt in s.optimizers:
        for batch in s.batches:
            for arm in ARMS[: 1 if batch == s.ref else 2]:
                for seed in s.seeds:
                    name = f"{opt}_b{batch}_{arm}_s{seed}"
                    args = common.shared_train_args(s.imgsz, batch, s.epochs, seed, data, runs_dir, name, ctx.verbose)
                    args |= {"optimizer": opt, "lr0": LR0[opt], "lr_policy": "cosine", "lr_batch_ref": s.ref}
                    if arm == "auto":
                        args["lr_batch_scale"] = "auto"
                    specs.append(common.RunSpec(f"{opt}|{batch}|{arm}", seed, model=common.MODEL, train_args=args))
    ctx.log(f"batch_scaling: {len(specs)} trainings, {jobs} at a time; data {data}")
    results = common.run_all(specs, jobs, ctx.log, ctx.monitor)
    for r in results:
        # The highest LR the weight group really used (lr.csv): the peak warmup ramps to, lr_batch_scale's factor in.
        lrs = common.read_results_csv(Path(r["save_dir"]) / "lr.csv") if r["plugin_active"] else []
        r["lr_used"] = max((row["lr/pg0(weight)"] for row in lrs), default=float("nan"))
    return {
        "machine": common.machine_info(results),
        "wall_note": f" ({len(specs)} trainings, {jobs} at a time)",
        "load_jobs": jobs,
        "problems": [f"{r['label']} seed {r['seed']}: plugin inactive" for r in results if not r["plugin_active"]],
        "runs": [{k: r[k] for k in ("label", "seed", "map", "wall_s", "lr_used")} for r in results],
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The table, plot and verdicts of a measurement (or of its JSON: ``--from-json``)."""
    s = ctx.settings
    rows = summarise(s, raw["runs"])
    png = ctx.output(".png")
    with common.figure(png, ncols=len(s.optimizers), title="final mAP50-95 against batch size") as axes:
        for ax, opt in zip(axes if len(s.optimizers) > 1 else [axes], s.optimizers):
            for arm, style in zip(ARMS, ("o--", "s-")):
                rs = [r for r in rows if r["optimizer"] == opt and r["arm"] == arm]
                mean, std = zip(*(common.mean_std(r["final"]) for r in rs))
                ax.errorbar(
                    [r["batch"] for r in rs], mean, yerr=std, fmt=style, label=f"lr_batch_scale={arm}", capsize=3
                )
            ax.set_xscale("log", base=2)
            ax.set(xlabel="batch (= images per optimizer step)", ylabel="final mAP50-95 (val)")
            ax.set_title(f"{opt}, lr0 {LR0[opt]:g} for batch {s.ref}")
            ax.legend(fontsize=7)
    ds = common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0)
    setup = (
        f"Setup: `{common.MODEL}` from random weights on synthetic {ds.describe()}; epochs={s.epochs}, "
        f"imgsz={s.imgsz}, nbs = batch (one optimizer step per batch), Ultralytics' 3-epoch warmup, then a per-step "
        f"cosine; lr0 {LR0} meant for batch {s.ref} (`lr_batch_ref={s.ref}`); training seeds "
        f"{', '.join(map(str, s.seeds))}. A larger batch takes fewer steps in the same epochs, which no LR rule gives "
        "back: the table shows how far each rule gets."
    )
    tab, obs = table(rows), observations(s, rows)
    notes = [x for note in raw.get("notes", []) for x in ("", note)]  # added to a record after its run
    body = "\n".join([setup, "", tab, *notes, "", f"![batch scaling]({common.md_link(png)})", "", *obs])
    return common.Report(body=body, console="\n".join([tab, "", *obs]), problems=raw["problems"])


if __name__ == "__main__":
    sys.exit(common.main(BENCH, run, script=Path(__file__), render=render))
