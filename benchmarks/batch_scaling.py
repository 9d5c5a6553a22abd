#!/usr/bin/env python
"""Batch size and LR: the same data and epochs at several batch sizes, with and without ``lr_batch_scale=auto``.

Every run trains ``yolo26n.yaml`` from random weights on synthetic domain A with a per-step cosine
(``lr_policy=cosine``, so the plugin drives every run), ``nbs`` equal to the batch (one optimizer step per batch: the
images per step are the batch), and ``lr0`` meant for a reference batch (``lr_batch_ref``, default 16). For each
optimizer (SGD, AdamW) and batch size:

- ``off``: ``lr0`` as given, whatever the batch (Ultralytics' behaviour: it never scales ``lr0``);
- ``auto``: ``lr_batch_scale=auto``, i.e. the effective update follows the batch linearly for SGD (the summed loss
  already does: LR unchanged) and like its square root for AdamW (LR x sqrt(batch / reference)).

At the reference batch both arms are the same run. Reported per optimizer and batch: final mAP50-95 (mean ± std over
training seeds), its difference to the reference batch's, and whether it lies within 2 seed standard deviations of the
reference (the goal: every batch size with the rule).

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
BENCH = common.Bench(
    name="batch_scaling",
    block="batch",
    doc=__doc__,
    full={
        "epochs": 12,
        "imgsz": 128,
        "batches": [8, 16, 32, 64],
        "ref": 16,
        "optimizers": ["SGD", "AdamW"],
        "seeds": [0, 1, 2],
        "n_train": 192,
        "n_val": 64,
        "jobs": None,
    },
    smoke={
        "epochs": 1,
        "imgsz": 64,
        "batches": [2, 4],
        "ref": 2,
        "optimizers": ["SGD", "AdamW"],
        "seeds": [0],
        "n_train": 8,
        "n_val": 4,
    },
    help={
        "epochs": "epochs per training",
        "imgsz": "image size, also the dataset's",
        "batches": "batch sizes (nbs follows each)",
        "ref": "the reference batch lr0 is meant for (lr_batch_ref)",
        "optimizers": "optimizers (SGD, AdamW)",
        "seeds": "training seeds",
        "n_train": "domain-A train images",
        "n_val": "domain-A val images",
        "jobs": "trainings at a time (default: cores / torch threads per CPU training)",
    },
    flags={"n_train": "--train-images", "n_val": "--val-images"},
    types={"batches": [int], "optimizers": [str], "jobs": int},
    minimum={"epochs": 1, "imgsz": 32, "ref": 1, "n_train": 1, "n_val": 1, "jobs": 1},
)


def peak_lr(save_dir: Path) -> float:
    """The highest LR the weight group really used (lr.csv): the peak warmup ramps to, lr_batch_scale's factor in."""
    rows = common.read_results_csv(save_dir / "lr.csv")
    return max(r["lr/pg0(weight)"] for r in rows) if rows else float("nan")


def run_specs(s, data: Path, runs_dir: Path, verbose: bool) -> list[common.RunSpec]:
    """One run per (optimizer, batch, arm, seed); the reference batch once per seed (both arms are that run)."""
    specs = []
    for opt in s.optimizers:
        for batch in s.batches:
            for arm in ("off",) if batch == s.ref else ("off", "auto"):
                for seed in s.seeds:
                    name = f"{opt}_b{batch}_{arm}_s{seed}"
                    args = common.shared_train_args(s.imgsz, batch, s.epochs, seed, data, runs_dir, name, verbose)
                    args |= {"optimizer": opt, "lr0": LR0[opt], "lr_policy": "cosine", "lr_batch_ref": s.ref}
                    if arm == "auto":
                        args["lr_batch_scale"] = "auto"
                    specs.append(common.RunSpec(label=f"{opt}|{batch}|{arm}", seed=seed, model=common.MODEL,
                                                train_args=args))  # fmt: skip
    return specs


def summarise(s, results: list[dict]) -> list[dict]:
    rows = []
    for opt in s.optimizers:
        ref = [r["map"][-1] for r in results if r["label"] == f"{opt}|{s.ref}|off"]
        for batch in s.batches:
            for arm in ("off", "auto"):
                label = f"{opt}|{batch}|{'off' if batch == s.ref else arm}"
                runs = [r for r in results if r["label"] == label]
                final = [r["map"][-1] for r in runs]
                rows.append(
                    {
                        "optimizer": opt,
                        "batch": batch,
                        "arm": arm,
                        "final": final,
                        "ref": ref,
                        "welch": common.welch(final, ref),
                        "lr": sorted({r["lr_used"] for r in runs}),
                        "wall": [r["wall_s"] for r in runs],
                    }  # fmt: skip
                )
    return rows


def table(rows: list[dict]) -> str:
    header = ["optimizer", "batch", "lr_batch_scale", "peak lr used", "final mAP50-95", "Δ vs reference batch",
              "Welch p vs the reference", "per seed"]  # fmt: skip
    out = []
    for r in rows:
        lrs = ", ".join(f"{x:.3g}" for x in r["lr"])
        seeds = ", ".join(f"{x:.4f}" for x in r["final"])
        w = r["welch"]
        out.append(
            [r["optimizer"], str(r["batch"]), r["arm"], lrs, common.fmt_ms(r["final"]), f"{w['diff']:+.4f}",
             common.fmt_p(w), seeds]
        )  # fmt: skip
    return common.md_table(header, out)


def observations(s, rows: list[dict]) -> list[str]:
    lines = []
    for opt in s.optimizers:
        for arm in ("off", "auto"):
            rs = [r for r in rows if r["optimizer"] == opt and r["arm"] == arm and r["batch"] != s.ref]
            out = [f"{r['batch']} ({r['welch']['diff']:+.4f})" for r in rs if r["welch"]["differs"]]
            verdict = "no batch size differs" if not out else f"batch {', '.join(out)} differ{'s' * (len(out) == 1)}"
            lines.append(
                f"{opt}, lr_batch_scale={arm}: {verdict} from the reference batch "
                f"(Welch's t-test over seeds, p < {common.ALPHA:g})."
            )
    return lines


def run(ctx: common.Context) -> dict:
    """Train every (optimizer, batch, arm, seed); the raw numbers ``render`` reports."""
    s = ctx.settings
    if s.ref not in s.batches:
        raise SystemExit(f"--ref {s.ref} must be one of the batch sizes {s.batches}")
    jobs = s.jobs or common.default_jobs()
    ds = common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0)
    data = common.ensure_dataset(ds, ctx.workdir)
    specs = run_specs(s, data, ctx.workdir / "batch_scaling" / "runs", ctx.verbose)
    ctx.log(f"batch_scaling: {len(specs)} trainings, {jobs} at a time; data {data}")
    results = common.run_all(specs, jobs, ctx.log, ctx.monitor)
    for r in results:
        r["lr_used"] = peak_lr(Path(r["save_dir"])) if r["plugin_active"] else float("nan")
    return {
        "machine": common.machine_info(results),
        "wall_note": f" ({len(specs)} trainings, {jobs} at a time)",
        "load_note": ctx.monitor.summary(jobs),
        "problems": [f"{r['label']} seed {r['seed']}: plugin inactive" for r in results if not r["plugin_active"]],
        "runs": [{k: r[k] for k in ("label", "seed", "map", "wall_s", "lr_used")} for r in results],
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The table, plot and verdicts of a measurement (or of its JSON: ``--from-json``)."""
    s = ctx.settings
    ds = common.DatasetSpec("A", s.n_train, s.n_val, s.imgsz, seed=0)
    rows = summarise(s, raw["runs"])
    png = ctx.output(".png")
    with common.figure(png, ncols=len(s.optimizers), title="final mAP50-95 against batch size") as axes:
        axes = list(axes) if len(s.optimizers) > 1 else [axes]
        for ax, opt in zip(axes, s.optimizers):
            for arm, style in (("off", "o--"), ("auto", "s-")):
                rs = [r for r in rows if r["optimizer"] == opt and r["arm"] == arm]
                ms = [common.mean_std(r["final"]) for r in rs]
                ax.errorbar([r["batch"] for r in rs], [m for m, _ in ms], yerr=[sd for _, sd in ms], fmt=style,
                            label=f"lr_batch_scale={arm}", capsize=3)  # fmt: skip
            ax.set_xscale("log", base=2)
            ax.set_xlabel("batch (= images per optimizer step)")
            ax.set_ylabel("final mAP50-95 (val)")
            ax.set_title(f"{opt}, lr0 {LR0[opt]:g} for batch {s.ref}")
            ax.legend(fontsize=7)
    setup = (
        f"Setup: `{common.MODEL}` from random weights on synthetic {ds.describe()}; epochs={s.epochs}, "
        f"imgsz={s.imgsz}, nbs = batch (one optimizer step per batch), Ultralytics' 3-epoch warmup, then a per-step "
        "cosine; lr0 "
        f"{LR0} meant for batch {s.ref} (`lr_batch_ref={s.ref}`); training seeds {', '.join(map(str, s.seeds))}. "
        "A larger batch takes fewer steps in the same epochs, which no LR rule gives back: the table shows how far "
        "each rule gets."
    )
    notes = [x for note in raw.get("notes", []) for x in ("", note)]
    body = "\n".join([setup, "", table(rows), *notes, "", f"![batch scaling]({common.md_link(png)})", "",
                      *observations(s, rows)])  # fmt: skip
    return common.Report(
        body=body,
        machine=raw["machine"],
        console="\n".join([table(rows), "", *observations(s, rows)]),
        problems=raw["problems"],
    )


if __name__ == "__main__":
    sys.exit(common.main(BENCH, run, script=Path(__file__), render=render))
