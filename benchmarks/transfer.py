#!/usr/bin/env python
"""Transfer: fine-tune the committed source checkpoint on three targets with Ultralytics' defaults, its frozen-backbone
guidance, the ``finetune`` preset and the preset with ``lr_find``.

``benchmarks/assets/source.pt`` is yolo26n pretrained on the synthetic world S (``benchmarks/pretrain.py``). Targets
(``scripts/make_dataset.py``, 250 validation images each): ``near32`` / ``near128`` (domain N: four classes S never
showed, in S's visual world; 32 or 128 training images) and ``far`` (domain B: shapes, colours and textures S never
showed; 128 images). Configs, each trained once per seed at batch 16, imgsz 128: ``native`` (``YOLO(ckpt).train()``),
``native_freeze`` (plus ``freeze=<backbone layers>``, Ultralytics' guidance), ``finetune`` (the preset attached) and
``finetune_find`` (plus ``lr_find=True``). ``--study`` runs instead the variants the preset was chosen from, on near32
and far only (near128 is the held-out confirmation). Reported per target: final mAP50-95 (mean ± std over seeds), its
gain over native with Welch's p, epochs to reach native's final, wall time, curves::

    python benchmarks/transfer.py --write-md            # the confirmation (~1 h on 2 CPU cores)
    python benchmarks/transfer.py --study --write-md    # the study on near32 + far, its own block
    python benchmarks/transfer.py --smoke               # < 1 min, temp dir, never writes BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

CHECKPOINT = common.ROOT / "benchmarks" / "assets" / "source.pt"
PRESET = common.CONFIGS_DIR / "finetune.yaml"
REL_GAIN_TARGET = 0.10  # near32: the preset ends >= 10 % above native ...
EPOCH_FRACTION_TARGET = 0.5  # ... and reaches native's final mAP within half the epochs
MET = {True: "met", False: "missed"}


@dataclass(frozen=True)
class Config:
    """One way of fine-tuning: plugin keys (on top of ``PRESET``'s if ``preset``) and extra train() arguments."""

    title: str
    policy: dict = field(default_factory=dict)
    preset: bool = False
    train: dict = field(default_factory=dict)  # "freeze": "backbone" is replaced by the model's backbone length


def _preset(title: str, **overrides) -> Config:
    return Config(title, overrides, preset=True)


# The study's first round: each variant one change from `base` (the preset before the study, with nbs=16) unless its
# name says otherwise.
_BASE = dict(optimizer="AdamW", lr0=0.001, lrf=0.01, momentum=0.9, warmup_epochs=2.0, warmup_bias_lr=0.0)
_BASE.update(lr_policy="cosine", lr_unfreeze_epoch=1, lr_unfreeze_warmup=1.0, lr_backbone_scale=0.5)


def _study(title: str, **changes) -> Config:
    return Config(title, {**_BASE, **changes})


CONFIGS = {
    "native": Config("Ultralytics defaults from the checkpoint"),
    "native_freeze": Config("Ultralytics' guidance: `freeze` = backbone layers", train={"freeze": "backbone"}),
    "finetune": _preset("`finetune` preset"),
    "finetune_find": _preset("`finetune` preset + `lr_find=True`", lr_find=True),
}
STUDY = {
    "native": CONFIGS["native"],
    "native_freeze": CONFIGS["native_freeze"],
    "old_preset": _study("preset before the study (nbs 64)"),
    "base": _study("old preset, nbs=16 (an optimizer step every batch)", nbs=16),
    "lr0_3e-3": _study("base, lr0 0.003", nbs=16, lr0=0.003),
    "lr0_3e-4": _study("base, lr0 0.0003", nbs=16, lr0=0.0003),
    "no_protect": _study("base, backbone never frozen, scale 1", nbs=16, lr_unfreeze_epoch=0, lr_backbone_scale=1.0),
    "bb_0.1": _study("base, backbone scale 0.1", nbs=16, lr_backbone_scale=0.1),
    "freeze_3": _study("base, backbone frozen 3 epochs", nbs=16, lr_unfreeze_epoch=3),
    "warmup_0.5": _study("base, warmup 0.5 epoch", nbs=16, warmup_epochs=0.5),
    "bias_spike": _study("base with native's 0.1 bias warmup", nbs=16, warmup_bias_lr=0.1),
    "sgd_0.01": _study("base with SGD lr0 0.01 momentum 0.937", nbs=16, optimizer="SGD", lr0=0.01, momentum=0.937),
    # Second round, after "lr0 is the peak" (warmup ramps to lr0, the cosine starts when warmup ends): the preset
    # against one change each, for near32's speed (native's final reached within half the epochs).
    "preset": _preset("`finetune` preset"),
    "preset_lr0_6e-3": _preset("preset, lr0 0.006", lr0=0.006),
    "preset_warmup_1": _preset("preset, warmup 1 epoch", warmup_epochs=1.0),
    "preset_no_freeze": _preset("preset, backbone never frozen (scale 0.5 kept)", lr_unfreeze_epoch=0),
    # Third round: warmup 1 epoch (round 2's best on near32) with one more change each; near32's mAP collapses to ~0
    # once the LR reaches its peak and recovers as it decays, so a lower peak or a free backbone.
    "w1_lr0_2e-3": _preset("preset, warmup 1, lr0 0.002", warmup_epochs=1.0, lr0=0.002),
    "w1_lr0_1.5e-3": _preset("preset, warmup 1, lr0 0.0015", warmup_epochs=1.0, lr0=0.0015),
    "w1_no_freeze": _preset("preset, warmup 1, backbone never frozen", warmup_epochs=1.0, lr_unfreeze_epoch=0),
}
TITLES = {name: f"`{name}`: {cfg.title}" for name, cfg in {**STUDY, **CONFIGS}.items()}  # table row labels
TARGETS = {"near32": ("N", 32), "near128": ("N", 128), "far": ("B", 128)}  # domain, training images

# The defaults of a run, a study, a smoke run (8 training images per target) and a smoke study; options given win.
FULL = dict(epochs=20, imgsz=128, batch=16, n_val=250, seeds=[0, 1, 2], targets=list(TARGETS), configs=list(CONFIGS))
STUDY_FULL = {**FULL, "seeds": [0, 1], "targets": ["near32", "far"]}
STUDY_FULL["configs"] = ["native", "native_freeze", "old_preset", "base", "lr0_3e-3", "no_protect", "bias_spike"]
SMOKE = dict(epochs=2, imgsz=64, batch=4, n_val=8, seeds=[0], targets=["near32", "far"], configs=["native", "finetune"])
SMOKE_STUDY = {**SMOKE, "configs": ["native", "base"]}

BENCH = common.Bench(
    name="transfer",
    block="transfer",
    doc=__doc__,
    # None: decided at run time, from FULL, STUDY_FULL, SMOKE or SMOKE_STUDY (imgsz, batch and n_val are not options)
    full=dict.fromkeys(["epochs", "seeds", "configs", "targets", "jobs"]),
    smoke={"epochs": SMOKE["epochs"], "seeds": SMOKE["seeds"]},
    help={
        "epochs": f"epochs per training (default {FULL['epochs']})",
        "seeds": f"seeds (default {common._shown(FULL['seeds'])}; {common._shown(STUDY_FULL['seeds'])} with --study)",
        "configs": "subset of configs (or study variants); native is always kept (default: every config; --study: "
        f"{' '.join(STUDY_FULL['configs'])}; --smoke: {' '.join(SMOKE['configs'])}, "
        f"or {' '.join(SMOKE_STUDY['configs'])} with --study)",
        "targets": f"targets (default {' '.join(TARGETS)}; with --study or --smoke: {' '.join(SMOKE['targets'])})",
        "jobs": f"trainings at a time (default {common.default_jobs()})",
    },
    types={"epochs": int, "seeds": [int], "configs": [str], "targets": [str], "jobs": int},
    minimum={"epochs": 1, "seeds": 0, "jobs": 1},
    choices={"targets": list(TARGETS)},
)


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", action="store_true", help="run the study variants on near32 and far")
    p.add_argument("--checkpoint", type=Path, default=CHECKPOINT, help="source checkpoint (default %(default)s)")
    p.add_argument("--block", help="BENCHMARKS.md block and results files (default: transfer, or transfer_study)")


def run(ctx: common.Context) -> dict:
    """Train every (target, config, seed) in its own run folder; the raw numbers ``render`` reports."""
    import yaml
    from ultralytics.nn.tasks import yaml_model_load

    args, s = ctx.args, ctx.settings
    base = (SMOKE_STUDY if args.study else SMOKE) if ctx.smoke else (STUDY_FULL if args.study else FULL)
    for key, default in base.items():
        setattr(s, key, getattr(s, key, None) or default)
    targets, pool = s.targets, STUDY if args.study else CONFIGS
    if args.study and "near128" in targets:
        raise SystemExit("near128 is the held-out confirmation target: the study never runs on it")
    s.configs = ["native", *[c for c in dict.fromkeys(s.configs) if c != "native"]]  # each config once
    if unknown := [c for c in s.configs if c not in pool]:
        raise SystemExit(f"unknown config(s) {unknown}; choose from {list(pool)}")
    if not args.checkpoint.exists():
        raise SystemExit(f"{args.checkpoint} is missing: run benchmarks/pretrain.py first")
    s.jobs = s.jobs or common.default_jobs()
    n_train = {t: min(TARGETS[t][1], 8) if ctx.smoke else TARGETS[t][1] for t in targets}
    data = {t: common.DatasetSpec(TARGETS[t][0], n_train[t], s.n_val, s.imgsz) for t in targets}
    data = {t: common.ensure_dataset(spec, ctx.workdir) for t, spec in data.items()}
    preset = yaml.safe_load(PRESET.read_text()) or {}
    n_backbone = len(yaml_model_load(common.MODEL)["backbone"])  # what the plugin's fine-tuning rules call backbone
    runs, specs = ctx.workdir / "transfer" / "runs", []
    for target, name, seed in itertools.product(targets, s.configs, s.seeds):
        cfg = pool[name]
        extra = {k: (n_backbone if v == "backbone" else v) for k, v in cfg.train.items()}
        train = dict(
            data=str(data[target]),
            epochs=s.epochs,
            imgsz=s.imgsz,
            batch=s.batch,
            seed=seed,
            device="cpu",
            workers=0,
            amp=False,
            plots=False,
            val=True,
            verbose=ctx.verbose,
            project=str(runs),
            name=f"{target}_{name}_s{seed}",
            exist_ok=True,
            **extra,
        )
        policy = {**(preset if cfg.preset else {}), **cfg.policy}
        specs.append(common.RunSpec(f"{target}/{name}", seed, str(args.checkpoint), train, preset=policy or None))
    ctx.log(f"transfer: {len(specs)} trainings, {s.jobs} at a time")
    results = common.run_all(specs, s.jobs, ctx.log, ctx.monitor)
    by_seed, summary = sorted(results, key=lambda r: r["seed"]), {}
    for target in targets:
        by = {n: [r for r in by_seed if r["label"] == f"{target}/{n}"] for n in s.configs}
        native = {r["seed"]: r["map"][-1] for r in by["native"]}
        summary[target] = {
            name: {
                "final": [r["map"][-1] for r in rs],
                "final50": [r["map50"][-1] for r in rs],
                "best": [max(r["map"]) for r in rs],
                "reach": [common.epochs_to_reach(r["map"], native[r["seed"]]) for r in rs],
                "wall": [r["wall_s"] for r in rs],
                "used": sorted({f"{r['optimizer']} {r['lr0']:.3g}" for r in rs}),
                "curves": [r["map"] for r in rs],
            }
            for name, rs in by.items()
        }
    return {
        "machine": common.machine_info(results),
        "wall_note": f" ({len(specs)} trainings, {s.jobs} at a time)",
        "load_jobs": s.jobs,
        "study": bool(args.study),
        "block": args.block or ("transfer_study" if args.study else "transfer"),
        "n_train": n_train,
        "summary": summary,
    }


def gain(rows: dict, name: str) -> tuple[float, dict]:
    """A config against native: relative gain of the mean final mAP50-95, and Welch's test over the seeds."""
    native = statistics.fmean(rows["native"]["final"])
    rel = statistics.fmean(rows[name]["final"]) / native - 1 if native > 0 else float("nan")
    return rel, common.welch(rows[name]["final"], rows["native"]["final"])


def fmt_gain(rows: dict, name: str) -> str:
    """The gain over native with its Welch p (bold: significant); blank for native itself."""
    if name == "native":
        return ""
    rel, w = gain(rows, name)
    return f"{100 * rel:+.1f} %" + ("" if w["p"] is None else f" ({common.fmt_p(w)})")


def fmt_reach(reach: list, epochs: int) -> str:
    return ", ".join(str(e) if e is not None else f">{epochs}" for e in reach)


def target_table(rows: dict, epochs: int) -> str:
    header = ["config", "optimizer, lr0 used", "final mAP50-95", "vs native", "final mAP50", "best-epoch mAP50-95"]
    header += ["epochs to reach native's final (per seed)", "wall s / run"]
    body = []
    for name, r in rows.items():
        cells = [TITLES[name], ", ".join(r["used"]), common.fmt_ms(r["final"]), fmt_gain(rows, name)]
        cells += [common.fmt_ms(r["final50"]), common.fmt_ms(r["best"]), fmt_reach(r["reach"], epochs)]
        body.append([*cells, f"{statistics.fmean(r['wall']):.0f}"])
    return common.md_table(header, body)


def study_table(summary: dict) -> str:
    """The variants run on every target: final mAP50-95 and gain over native per target, and the worse gain."""
    tables = list(summary.values())
    header = ["variant", *(f"{t} final mAP50-95" for t in summary), *(f"{t} vs native" for t in summary)]
    body = []
    for name in [n for n in tables[0] if all(n in rows for rows in tables)]:
        worst = "" if name == "native" else f"{100 * min(gain(rows, name)[0] for rows in tables):+.1f} %"
        finals = [common.fmt_ms(rows[name]["final"]) for rows in tables]
        body.append([TITLES[name], *finals, *(fmt_gain(rows, name) for rows in tables), worst])
    return common.md_table([*header, "worse of the two"], body)


def verdicts(summary: dict, epochs: int, name: str = "finetune") -> list[str]:
    """``name`` against the goals: mean >= native everywhere; on near32 also the gain and the speed targets."""
    lines = []
    for target, rows in summary.items():
        if name not in rows:
            continue
        rel, w = gain(rows, name)
        mean, native = (statistics.fmean(rows[n]["final"]) for n in (name, "native"))
        line = f"- {target}: `{name}` {mean:.4f} vs native {native:.4f} ({100 * rel:+.1f} %, {common.fmt_p(w)})"
        line += f": mean >= native **{MET[mean >= native]}**"
        if target == "near32":
            limit, reach = EPOCH_FRACTION_TARGET * epochs, rows[name]["reach"]
            fast = all(e is not None and e <= limit for e in reach)
            line += f"; >= +{REL_GAIN_TARGET:.0%} **{MET[rel >= REL_GAIN_TARGET]}**; native's final reached within "
            line += f"{limit:g} epochs in every seed **{MET[fast]}** ({fmt_reach(reach, epochs)})"
        lines.append(line)
    return lines


def plot(summary: dict, path: Path, epochs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(5 * len(summary), 4), squeeze=False)
    for ax, (target, rows) in zip(axes[0], summary.items()):
        for name, r in rows.items():
            mean, lo, hi = common.mean_curve(r["curves"])
            ax.plot(range(1, len(mean) + 1), mean, label=name, linewidth=1.3)
            ax.fill_between(range(1, len(mean) + 1), lo, hi, alpha=0.15)
        ax.axhline(common.mean_std(rows["native"]["final"])[0], color="0.5", linestyle=":", linewidth=1)
        ax.axvline(EPOCH_FRACTION_TARGET * epochs, color="0.8", linewidth=0.8)
        ax.set(title=target, xlabel="epoch", ylabel="mAP50-95")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The tables, plot and verdicts of a measurement or a study (or of its JSON: ``--from-json``)."""
    s, summary = ctx.settings, raw["summary"]
    note = (
        "p: Welch's t-test of the final mAP50-95 against `native` over the training seeds (scipy), bold below "
        f"{common.ALPHA:g}; with two or three seeds only a large, steady difference reaches it."
    )
    paragraphs = [
        f"Checkpoint `benchmarks/assets/source.pt` (yolo26n pretrained on the source world S). Every run: "
        f"epochs={s.epochs}, imgsz={s.imgsz}, batch={s.batch}, workers=0, amp=False, device=cpu, "
        f"training seeds {', '.join(map(str, s.seeds))}; validation on {s.n_val} images per target."
    ]
    if raw["study"]:
        paragraphs += [study_table(summary), note]
    else:
        png = ctx.output(".png")
        plot(summary, png, s.epochs)
        for target, rows in summary.items():
            paragraphs.append(f"**{target}** (domain {TARGETS[target][0]}, {raw['n_train'][target]} train images)")
            paragraphs.append(target_table(rows, s.epochs))
        paragraphs += [note, f"![mAP50-95 curves]({common.md_link(png)})"]
        paragraphs.append("\n".join(["Targets:", *verdicts(summary, s.epochs)]))
    body = "\n\n".join(paragraphs)
    return common.Report(body=body, console=body, name=raw["block"], block=raw["block"])


def main(argv: list[str] | None = None) -> int:
    return common.main(BENCH, run, argv, script=Path(__file__), add_options=add_options, render=render)


if __name__ == "__main__":
    sys.exit(main())
