#!/usr/bin/env python
"""Transfer: pretrain on synthetic domain A, fine-tune on domain B — native defaults vs the `finetune` preset vs
training B from scratch.

1. Pretraining: ``yolo26n.yaml`` trained once on domain A (circles, squares, triangles; warm colours, gradients) with
   Ultralytics' defaults; its ``best.pt`` is cached under the work dir, keyed by every setting it depends on, and
   reused by later runs with the same settings.
2. For each training seed, on domain B (stars, crosses, rings, hexagons; cool colours, textured backgrounds), the same
   number of epochs each:

   - ``native``: ``YOLO(pretrained).train(data=B, epochs=E, seed=s, ...)`` with Ultralytics' defaults, as a user
     would run it (``optimizer=auto``, which picks AdamW and its own lr0 for short runs; no ``lr_*`` key);
   - ``finetune``: ``yolo_lr.attach(YOLO(pretrained), "finetune", lr_unfreeze_epoch=U).train(...)`` with the same
     arguments; ``U`` defaults to the preset's own unfreeze epoch, capped at ``max(1, E // 5)`` so the backbone
     trains for most of a short run (it must be below E);
   - ``finetune_unprotected``: the same preset with ``lr_unfreeze_epoch=0`` and ``lr_backbone_scale=1`` (no frozen
     epochs, backbone at the head's LR): separates what the backbone protection does from the rest of the preset
     (optimizer, lr0, warmup, cosine);
   - ``scratch``: ``YOLO("yolo26n.yaml").train(data=B, ...)`` with Ultralytics' defaults: what pretraining buys.

All runs share batch=16 with nbs=16 (every batch an optimizer step), workers=0, amp=False, device=cpu, plots=False.
Reported: per-epoch mAP50-95 curves (mean and min-max band over seeds), final mAP50-95 and mAP50 (mean ± std), and
for each seed the first epoch at which each config reaches that seed's native final mAP50-95. The target: the
preset reaches native's final mAP50-95 in <= 50 % of the epochs (every seed) and ends >= 10 % (relative, on the
seed means) above it.

Run from the repository root::

    .venv/bin/python benchmarks/transfer.py               # full run (~13 min on 2 idle CPU cores, pretraining incl.)
    .venv/bin/python benchmarks/transfer.py --write-md    # ... and rewrite its block of BENCHMARKS.md
    .venv/bin/python benchmarks/transfer.py --smoke       # < 1 min: 8 images, 2 epochs, 1 seed, native + finetune

Trainings run in fresh worker processes, ``--jobs`` at a time (the scratch runs start while the pretraining runs).
Datasets, the pretrained checkpoint and runs go under ``--workdir`` (default ``benchmarks/work/``, a temp dir with
``--smoke``); the plot, the Markdown block and raw JSON go to ``benchmarks/results/`` (the work dir with ``--smoke``).
``--write-md`` rewrites only the text between ``<!-- transfer:start -->`` and ``<!-- transfer:end -->``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import functools
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

BLOCK = "transfer"
CONFIGS = ["native", "finetune", "finetune_unprotected", "scratch"]
PRESET = common.CONFIGS_DIR / "finetune.yaml"
UNPROTECTED = {"lr_unfreeze_epoch": 0, "lr_backbone_scale": 1.0}  # finetune_unprotected's overrides
SMOKE_CONFIGS = ["native", "finetune"]
TARGET_EPOCH_FRACTION = 0.5  # the preset must reach native's final mAP within this fraction of the epochs
TARGET_REL_GAIN = 0.10  # and end at least this much (relative) above native's final mAP


@dataclass
class Settings:
    """Everything a run of this benchmark depends on."""

    epochs: int
    pretrain_epochs: int
    imgsz: int
    batch: int
    seeds: list[int]
    n_train_a: int
    n_val_a: int
    n_train_b: int
    n_val_b: int
    unfreeze_epoch: int
    configs: list[str]
    jobs: int
    smoke: bool
    verbose: bool


# Full: pretraining 40 epochs on A (192 images, ~5.5 min on one core) in parallel with the 3 scratch runs, then 9
# fine-tuning runs, each 20 epochs on B (128 images, 8 optimizer steps per epoch, ~90 s on one core), 2 at a time:
# ~13 min on 2 cores of a 2.8 GHz Xeon without other work (estimated from ~90 s per run; measured 1613 s with the
# machine shared, load average ~3, where each run took ~240 s).
FULL = dict(epochs=20, pretrain_epochs=40, imgsz=128, batch=16, seeds=[0, 1, 2], n_train_a=192, n_val_a=64,
            n_train_b=128, n_val_b=64)
SMOKE = dict(epochs=2, pretrain_epochs=1, imgsz=64, batch=4, seeds=[0], n_train_a=8, n_val_a=4, n_train_b=8, n_val_b=4)


def preset_unfreeze() -> int:
    """The ``lr_unfreeze_epoch`` of configs/finetune.yaml (0 when it sets none)."""
    import yaml

    return int((yaml.safe_load(PRESET.read_text()) or {}).get("lr_unfreeze_epoch") or 0)


def default_unfreeze(epochs: int, preset_value: int) -> int:
    """The preset's unfreeze epoch, capped at a fifth of the run (at least 1) so the backbone trains for most of it."""
    return min(preset_value, max(1, epochs // 5)) if epochs > 1 else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny run in a temp dir (< 1 min); never writes BENCHMARKS.md")
    p.add_argument("--epochs", type=int, help=f"epochs of every run on B (default {FULL['epochs']})")
    p.add_argument("--pretrain-epochs", type=int, help=f"epochs of the pretraining on A ({FULL['pretrain_epochs']})")
    p.add_argument("--imgsz", type=int, help=f"image size, also the datasets' (default {FULL['imgsz']})")
    p.add_argument("--batch", type=int, help=f"batch size, nbs follows it (default {FULL['batch']})")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds on B (default 0 1 2)")
    p.add_argument("--train-images-a", type=int, dest="n_train_a", help=f"A train images ({FULL['n_train_a']})")
    p.add_argument("--val-images-a", type=int, dest="n_val_a", help=f"A val images ({FULL['n_val_a']})")
    p.add_argument("--train-images-b", type=int, dest="n_train_b", help=f"B train images ({FULL['n_train_b']})")
    p.add_argument("--val-images-b", type=int, dest="n_val_b", help=f"B val images ({FULL['n_val_b']})")
    p.add_argument("--unfreeze-epoch", type=int,
                   help="lr_unfreeze_epoch for the preset (default: the preset's, capped at max(1, E // 5))")
    p.add_argument("--configs", nargs="+", choices=CONFIGS, help=f"subset of {' '.join(CONFIGS)} (default all)")
    p.add_argument("--jobs", type=int, default=None, help=f"trainings at a time (default {common.default_jobs()})")
    p.add_argument("--workdir", type=Path, help="datasets and runs (default benchmarks/work; a temp dir with --smoke)")
    p.add_argument("--write-md", action="store_true", help="rewrite the transfer block of BENCHMARKS.md")
    p.add_argument("--md", type=Path, default=common.MD_PATH, help="Markdown file for --write-md")
    p.add_argument("--verbose", action="store_true", help="show Ultralytics' logs")
    args = p.parse_args(argv)
    if args.smoke and args.write_md:
        p.error("--smoke never writes BENCHMARKS.md; drop --write-md")
    for name in ("epochs", "pretrain_epochs", "imgsz", "batch", "n_train_a", "n_val_a", "n_train_b", "n_val_b",
                 "jobs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.imgsz is not None and args.imgsz < 32:
        p.error("--imgsz must be >= 32")
    return args


def build_settings(args: argparse.Namespace) -> Settings:
    """Defaults (full or smoke) overridden by explicit options; checks the unfreeze epoch against the epochs."""
    base = SMOKE if args.smoke else FULL
    pick = {k: getattr(args, k) if getattr(args, k, None) is not None else v for k, v in base.items()}
    unfreeze = args.unfreeze_epoch
    if unfreeze is None:
        unfreeze = default_unfreeze(pick["epochs"], preset_unfreeze())
    if not 0 <= unfreeze < pick["epochs"]:
        raise SystemExit(f"--unfreeze-epoch must be in [0, epochs={pick['epochs']}), got {unfreeze}")
    configs = list(dict.fromkeys(args.configs or (SMOKE_CONFIGS if args.smoke else CONFIGS)))
    if "native" not in configs:
        raise SystemExit("the 'native' config is the reference of every comparison: keep it in --configs")
    return Settings(unfreeze_epoch=unfreeze, configs=configs, jobs=args.jobs or common.default_jobs(),
                    smoke=args.smoke, verbose=args.verbose, **pick)


def pretrain_spec(s: Settings, data_a: Path, ds_a: common.DatasetSpec, workdir: Path) -> common.RunSpec:
    """The pretraining run, in a folder named after a hash of every setting it depends on."""
    key = common.settings_key({"dataset": ds_a.key, "epochs": s.pretrain_epochs, "imgsz": s.imgsz, "batch": s.batch,
                               "model": common.MODEL, "seed": 0})
    args = common.shared_train_args(s.imgsz, s.batch, s.pretrain_epochs, 0, data_a, workdir / "transfer" / "pretrain",
                                    f"A_{key}", s.verbose)
    return common.RunSpec(label="pretrain", seed=0, model=common.MODEL, train_args=args)


def cached_pretrain(spec: common.RunSpec) -> dict | None:
    """The summary of a finished pretraining with these settings, if its checkpoint is still there."""
    run_dir = Path(spec.train_args["project"]) / spec.train_args["name"]
    summary = run_dir / "pretrain.json"
    if not summary.exists():
        return None
    info = json.loads(summary.read_text())
    return info if info.get("train_args") == spec.train_args and Path(info["weights"]).exists() else None


def save_pretrain(spec: common.RunSpec, result: dict) -> dict:
    """Record a finished pretraining next to its run, for reuse."""
    info = {"train_args": spec.train_args, "weights": result["best_pt"], "map": result["map"],
            "map50": result["map50"], "wall_s": result["wall_s"], "optimizer": result["optimizer"],
            "lr0": result["lr0"], "cached": False}
    (Path(result["save_dir"]) / "pretrain.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def finetune_specs(s: Settings, config: str, data_b: Path, weights: str, runs_dir: Path) -> list[common.RunSpec]:
    """The runs of one config on B, one per seed."""
    specs = []
    for seed in s.seeds:
        args = common.shared_train_args(s.imgsz, s.batch, s.epochs, seed, data_b, runs_dir, f"{config}_s{seed}",
                                        s.verbose)
        if config == "scratch":
            specs.append(common.RunSpec(config, seed, common.MODEL, args))
        elif config == "native":
            specs.append(common.RunSpec(config, seed, weights, args))
        else:
            overrides = UNPROTECTED if config == "finetune_unprotected" else {"lr_unfreeze_epoch": s.unfreeze_epoch}
            specs.append(common.RunSpec(config, seed, weights, args, preset=str(PRESET), overrides=dict(overrides)))
    return specs


def run(s: Settings, workdir: Path, log, monitor: common.LoadMonitor) -> tuple[dict, list[dict], dict]:
    """Datasets, pretraining (or its cache) and every run on B; returns (pretrain info, results, datasets)."""
    ds_a = common.DatasetSpec("A", s.n_train_a, s.n_val_a, s.imgsz, seed=0)
    ds_b = common.DatasetSpec("B", s.n_train_b, s.n_val_b, s.imgsz, seed=0)
    data_a, data_b = common.ensure_dataset(ds_a, workdir), common.ensure_dataset(ds_b, workdir)
    runs_dir = workdir / "transfer" / "runs"
    pre = pretrain_spec(s, data_a, ds_a, workdir)
    info = cached_pretrain(pre)
    early = finetune_specs(s, "scratch", data_b, "", runs_dir) if "scratch" in s.configs else []
    late_configs = [c for c in s.configs if c != "scratch"]
    total = len(s.configs) * len(s.seeds)
    results: list[dict | None] = [None] * total
    done = 0
    with common.make_pool(s.jobs) as pool:
        pending: dict = {}

        def submit_late(weights: str) -> None:
            late = [sp for c in late_configs for sp in finetune_specs(s, c, data_b, weights, runs_dir)]
            pending.update({pool.submit(common.train_one, sp): len(early) + i for i, sp in enumerate(late)})

        if info is None:  # first in the queue, so it gets a worker first; scratch runs fill the others
            log(f"pretraining on A: {s.pretrain_epochs} epoch(s) ({pre.train_args['name']})")
            pending[pool.submit(common.train_one, pre)] = None
        else:
            info["cached"] = True
            log(f"pretraining on A: reusing {info['weights']}")
        pending.update({pool.submit(common.train_one, sp): i for i, sp in enumerate(early)})
        if info is not None:
            submit_late(info["weights"])
        while pending:
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                index = pending.pop(fut)
                result = fut.result()
                monitor.sample()
                if index is None:
                    info = save_pretrain(pre, result)
                    log(f"  pretrained: final mAP50-95 on A {result['map'][-1]:.4f}, {result['wall_s']:.0f} s")
                    submit_late(info["weights"])
                else:
                    results[index] = result
                    done += 1
                    log(f"  [{done}/{total}] {common.result_line(result)}")
    return info, results, {"A": ds_a, "B": ds_b}


def summarise(s: Settings, results: list[dict]) -> dict:
    """Per-config figures and per-seed epochs to reach native's final mAP50-95."""
    native = {r["seed"]: r for r in results if r["label"] == "native"}
    rows = []
    for config in s.configs:
        rs = sorted((r for r in results if r["label"] == config), key=lambda r: r["seed"])
        reach = [common.epochs_to_reach(r["map"], native[r["seed"]]["map"][-1]) for r in rs]
        rows.append({
            "config": config, "runs": rs, "final": [r["map"][-1] for r in rs],
            "final50": [r["map50"][-1] for r in rs], "best": [max(r["map"]) for r in rs], "reach": reach,
            "wall": [r["wall_s"] for r in rs], "optimizer": sorted({f"{r['optimizer']} {r['lr0']:g}" for r in rs}),
            "plugin_active": sorted({r["plugin_active"] for r in rs}),
        })
    return {"rows": rows, "verdict": verdict(s, rows)}


def verdict(s: Settings, rows: list[dict]) -> dict:
    """Target checks for the finetune preset against native (None where the preset was not run)."""
    by = {r["config"]: r for r in rows}
    if "finetune" not in by:
        return {}
    ft, nat = by["finetune"], by["native"]
    limit = TARGET_EPOCH_FRACTION * s.epochs
    reached = [e for e in ft["reach"] if e is not None]
    reach_ok = len(reached) == len(ft["reach"]) and all(e <= limit for e in reached)
    nat_mean, ft_mean = common.mean_std(nat["final"])[0], common.mean_std(ft["final"])[0]
    if min(nat["final"]) <= 0:  # reaching 0 is trivial and a relative gain over 0 is undefined
        return {"limit": limit, "undetermined": True}
    rel = ft_mean / nat_mean - 1
    return {"limit": limit, "reach_ok": reach_ok, "rel_gain": rel, "gain_ok": rel >= TARGET_REL_GAIN,
            "reached": f"{len(reached)}/{len(ft['reach'])}", "undetermined": False}


def fmt_reach(reach: list[int | None], epochs: int) -> str:
    """Per-seed epochs to reach and the mean over the seeds that reached it."""
    per = ", ".join(str(e) if e is not None else f">{epochs}" for e in reach)
    got = [e for e in reach if e is not None]
    mean = f"{sum(got) / len(got):.1f}" if got else "never"
    note = "" if len(got) == len(reach) else f" ({len(got)}/{len(reach)} seeds reached it)"
    return f"{per} (mean {mean}){note}"


def table(s: Settings, summary: dict) -> str:
    """The Markdown table of per-config figures."""
    rows = summary["rows"]
    nat_mean = common.mean_std(next(r for r in rows if r["config"] == "native")["final"])[0]
    header = ["config", "optimizer, lr0 used", "final mAP50-95", "vs native", "final mAP50", "best-epoch mAP50-95",
              "epochs to reach native's final mAP50-95 (per seed)", "wall s / run"]
    names = {"native": "native defaults from the A checkpoint",
             "finetune": f"`finetune` preset (lr_unfreeze_epoch={s.unfreeze_epoch})",
             "finetune_unprotected": "`finetune` preset, lr_unfreeze_epoch=0, lr_backbone_scale=1",
             "scratch": "from scratch on B (native defaults)"}
    out = []
    for r in rows:
        m = common.mean_std(r["final"])[0]
        rel = "" if r["config"] == "native" or nat_mean <= 0 else f"{100 * (m / nat_mean - 1):+.1f} %"
        out.append([names[r["config"]], ", ".join(r["optimizer"]), common.fmt_ms(r["final"]), rel,
                    common.fmt_ms(r["final50"]), common.fmt_ms(r["best"]), fmt_reach(r["reach"], s.epochs),
                    f"{common.mean_std(r['wall'])[0]:.0f}"])
    return common.md_table(header, out)


def verdict_lines(s: Settings, summary: dict) -> list[str]:
    """The target verdicts, as sentences."""
    v = summary["verdict"]
    if not v:
        return ["The `finetune` preset was not run: no verdict."]
    if v["undetermined"]:
        return ["Targets not judged: native's final mAP50-95 is 0 in at least one seed (the run is too short)."]
    word = {True: "**met**", False: "**missed**"}
    return [
        f"Target 1 — the preset reaches native's final mAP50-95 within {TARGET_EPOCH_FRACTION:.0%} of the epochs "
        f"(<= {v['limit']:g} of {s.epochs}) in every seed: {word[v['reach_ok']]} ({v['reached']} seeds reached it "
        "at all).",
        f"Target 2 — the preset ends >= {TARGET_REL_GAIN:.0%} above native (mean final mAP50-95): "
        f"{word[v['gain_ok']]} ({100 * v['rel_gain']:+.1f} %).",
    ]


def plot(s: Settings, summary: dict, path: Path, title: str) -> None:
    """Mean mAP50-95 curves with min-max bands, native's mean final level and the 50 % epoch mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    colours = {"native": "tab:blue", "finetune": "tab:orange", "finetune_unprotected": "tab:green",
               "scratch": "tab:gray"}
    for r in summary["rows"]:
        mean, lo, hi = common.mean_curve([run["map"] for run in r["runs"]])
        ep = range(1, len(mean) + 1)
        ax.plot(ep, mean, color=colours[r["config"]], lw=2, label=r["config"])
        ax.fill_between(ep, lo, hi, color=colours[r["config"]], alpha=0.15)
    nat = next(r for r in summary["rows"] if r["config"] == "native")
    ax.axhline(common.mean_std(nat["final"])[0], color="tab:blue", ls=":", lw=1, label="native final (mean)")
    ax.axvline(TARGET_EPOCH_FRACTION * s.epochs, color="k", ls="--", lw=0.8, label="50 % of the epochs")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch on B")
    ax.set_ylabel("mAP50-95 (val, B)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def unfreeze_note(s: Settings) -> str:
    """Why the unfreeze epoch has the value it has."""
    own = preset_unfreeze()
    if s.unfreeze_epoch == own:
        return "the preset's own value"
    if s.unfreeze_epoch == default_unfreeze(s.epochs, own):
        return f"the preset's {own} capped at max(1, E // 5) so the backbone trains for most of the run"
    return "set with --unfreeze-epoch"


def preset_sentence() -> str:
    """What the finetune preset file sets, read from it (the preset may change between runs)."""
    import yaml

    keys = yaml.safe_load(PRESET.read_text()) or {}
    shown = ", ".join(f"{k}={keys[k]}" for k in keys)
    return f"`configs/finetune.yaml` as run: {shown}."


def explain(summary: dict) -> list[str]:
    """What the unprotected variant says about the preset's gap to native (computed; empty if not run)."""
    by = {r["config"]: r for r in summary["rows"]}
    if not {"native", "finetune", "finetune_unprotected"} <= by.keys():
        return []
    (nm, ns), (fm, fs), (um, us) = (common.mean_std(by[k]["final"]) for k in
                                    ("native", "finetune", "finetune_unprotected"))
    spread = max(fs, us, 1e-9)
    if um - fm > 2 * spread:
        verdict = "the backbone protection (frozen epochs, slower backbone) costs accuracy on this domain shift"
    elif fm - um > 2 * spread:
        verdict = "the backbone protection helps on this domain shift"
    else:
        verdict = "the backbone protection makes no difference beyond the seed spread"
    rest = ("the rest of the preset (optimizer, lr0, warmup, schedule) ends "
            + ("above" if um > nm else "below") + f" native ({um:.4f} vs {nm:.4f})")
    return [f"Without backbone protection the preset ends at {um:.4f} ± {us:.4f} against {fm:.4f} ± {fs:.4f} with it: "
            f"{verdict}; {rest}."]


def render(s: Settings, summary: dict, meta: dict, png_rel: str) -> str:
    """The Markdown block."""
    pre, ds = meta["pretrain"], meta["datasets"]
    steps = -(-ds["B"].n_train // s.batch)
    pre_line = (
        f"Pretraining: `{common.MODEL}` on {ds['A'].describe()}, {s.pretrain_epochs} epoch(s) with Ultralytics' "
        f"defaults ({pre['optimizer']} lr0 {pre['lr0']:g}), seed 0: final mAP50-95 on A {pre['map'][-1]:.4f} "
        f"(mAP50 {pre['map50'][-1]:.4f}), {pre['wall_s']:.0f} s"
        + (" (cached checkpoint reused; not part of this run's wall time)." if pre.get("cached") else
           " (run as part of this benchmark).") + " Its `best.pt` is the starting point of every config but `scratch`."
    )
    lines = [
        f"Measured {meta['date']} on {common.machine_sentence(meta['machine'])}. The whole benchmark took "
        f"{meta['wall_s']:.0f} s ({len(s.configs) * len(s.seeds)} trainings on B, {s.jobs} at a time). "
        f"{meta['load']}",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        pre_line,
        "",
        f"Fine-tuning: {ds['B'].describe()} (other classes, palette and backgrounds), epochs={s.epochs} for every "
        f"config, imgsz={s.imgsz}, batch={s.batch}, nbs={s.batch} ({steps} optimizer steps per epoch), workers=0, "
        f"amp=False, training seeds {', '.join(map(str, s.seeds))}. `native` = `YOLO(best.pt).train(data=B, ...)` "
        "with no `lr_*` key; `finetune` = `yolo_lr.attach(YOLO(best.pt), \"configs/finetune.yaml\", "
        f"lr_unfreeze_epoch={s.unfreeze_epoch})` ({unfreeze_note(s)}); `finetune_unprotected` = the same with "
        "`lr_unfreeze_epoch=0, lr_backbone_scale=1` (isolates the backbone protection); "
        "`scratch` = `YOLO(\"yolo26n.yaml\").train(data=B, ...)`. " + preset_sentence() + " "
        "Final = the last epoch's validation; epochs to reach = first epoch whose mAP50-95 >= the same seed's native "
        "final value.",
        "",
        table(s, summary),
        "",
        f"![mAP50-95 curves on B]({png_rel})",
        "",
        *verdict_lines(s, summary),
        *explain(summary),
    ]
    if meta["problems"]:
        lines += ["", "**Problems detected:** " + "; ".join(meta["problems"])]
    return "\n".join(lines)


def check_runs(s: Settings, summary: dict) -> list[str]:
    """Problems that make a result untrustworthy."""
    problems = []
    for row in summary["rows"]:
        for r in row["runs"]:
            if len(r["map"]) != s.epochs:
                problems.append(f"{row['config']} seed {r['seed']}: {len(r['map'])} epochs in results.csv")
        expected = row["config"].startswith("finetune")
        if row["plugin_active"] != [expected]:
            problems.append(f"{row['config']}: plugin {'inactive' if expected else 'active'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write plot/JSON/Markdown."""
    args = parse_args(argv)
    s = build_settings(args)
    log = functools.partial(print, flush=True)
    command = common.command_line(Path(__file__).resolve(), argv)
    default_workdir = Path(tempfile.mkdtemp(prefix="yolo_lr_transfer_")) if s.smoke else common.DEFAULT_WORKDIR
    workdir = args.workdir or default_workdir
    workdir = workdir.resolve()
    results_dir = workdir / "results" if s.smoke else common.RESULTS_DIR
    cfg_dir = common.setup_environment(s.verbose)
    monitor = common.LoadMonitor()
    started = time.perf_counter()
    log(f"transfer: configs {s.configs}, seeds {s.seeds}, {s.epochs} epochs on B, {s.jobs} at a time")
    try:
        monitor.sample()
        pre, results, datasets = run(s, workdir, log, monitor)
    finally:
        if cfg_dir is not None:
            shutil.rmtree(cfg_dir, ignore_errors=True)
    summary = summarise(s, results)
    meta = {
        "date": common.utc_now(), "command": command, "machine": common.machine_info(results),
        "wall_s": time.perf_counter() - started, "datasets": datasets, "pretrain": pre,
        "load": monitor.summary(s.jobs), "problems": check_runs(s, summary),
    }
    png = results_dir / "transfer.png"
    plot(s, summary, png, f"yolo26n: A-pretrained vs scratch on synthetic B, {s.epochs} epochs, imgsz {s.imgsz}, "
                          f"{len(s.seeds)} seed(s)")
    png_rel = png.relative_to(common.ROOT).as_posix() if png.is_relative_to(common.ROOT) else png.as_posix()
    block = render(s, summary, meta, png_rel)
    (results_dir / "transfer.md").write_text(block + "\n")
    common.write_json(results_dir / "transfer.json", {
        "settings": vars(s), "datasets": {k: vars(v) for k, v in datasets.items()}, "machine": meta["machine"],
        "wall_s": meta["wall_s"], "command": command, "date": meta["date"],
        "pretrain": {k: pre[k] for k in ("map", "map50", "wall_s", "optimizer", "lr0", "cached")},
        "verdict": summary["verdict"],
        "runs": [{k: r[k] for k in ("label", "seed", "map", "map50", "train_loss", "wall_s", "optimizer", "lr0")}
                 for r in results],
    })
    log("")
    log(table(s, summary))
    log("")
    for line in [*verdict_lines(s, summary), *explain(summary)]:
        log(line)
    for p in meta["problems"]:
        log(f"PROBLEM: {p}")
    log(f"plot: {png}; block: {results_dir / 'transfer.md'}; took {meta['wall_s']:.0f} s")
    if args.write_md:
        common.replace_block(args.md, BLOCK, block)
        log(f"updated {args.md} between <!-- {BLOCK}:start --> and <!-- {BLOCK}:end -->")
    return 1 if meta["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
