#!/usr/bin/env python
"""Transfer: fine-tune the committed source checkpoint on three targets — Ultralytics' defaults, Ultralytics'
frozen-backbone guidance, the ``finetune`` preset and the preset with ``lr_find``.

The checkpoint, ``benchmarks/assets/source.pt``, is yolo26n pretrained on the synthetic source world S (10 classes,
2000 varied images; ``benchmarks/pretrain.py``). Targets (``scripts/make_dataset.py``):

- ``near32`` / ``near128``: domain N, four classes S never showed (ring, crescent, trapezoid, chevron) in S's visual
  world, 32 or 128 training images (the 32 are the first 32 of the 128);
- ``far``: domain B, stars, crosses, rings and hexagons in colours and on textures S never showed, 128 images.

Every target has its own 250-image validation set. Every config trains the same epochs at the same batch size
(16) and image size (128), from the same checkpoint, once per training seed:

- ``native``: ``YOLO(ckpt).train(data, epochs, imgsz, batch, seed)``: what users run (optimizer=auto, nbs=64, ...);
- ``native_freeze``: the same with ``freeze=<backbone layers>``, Ultralytics' own fine-tuning guidance (frozen
  backbone, BatchNorm statistics frozen too);
- ``finetune``: ``yolo_lr.attach(YOLO(ckpt), "finetune")``;
- ``finetune_find``: the preset with ``lr_find=True`` (lr0 from a range test on the trainer's own model and data).

``--study`` runs instead the variants the preset's values were chosen from, on near32 and far only (near128 is the
held-out confirmation and is never used to choose), and writes its own block.

Reported per target: final mAP50-95 (mean ± std over seeds), relative to native, epochs to reach native's final
mAP50-95 (per seed), wall time; curves in ``benchmarks/results/transfer.png``. Each difference to native comes with
the p-value of Welch's t-test over the seeds (``common.welch``, scipy).

Run from the repository root::

    python benchmarks/transfer.py --write-md            # the confirmation (~1 h on 2 CPU cores)
    python benchmarks/transfer.py --study --write-md    # the study on near32 + far
    python benchmarks/transfer.py --smoke               # < 1 min, temp dir, never writes BENCHMARKS.md
"""

from __future__ import annotations

import argparse
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


@dataclass(frozen=True)
class Config:
    """One way of fine-tuning: a preset (or none), its lr_* overrides and extra Ultralytics train() arguments."""

    title: str
    preset: str | None = None
    overrides: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)  # "freeze": "backbone" is replaced by the model's backbone length


CONFIGS = {
    "native": Config("Ultralytics defaults from the checkpoint"),
    "native_freeze": Config("Ultralytics' guidance: `freeze` = backbone layers", train={"freeze": "backbone"}),
    "finetune": Config("`finetune` preset", preset=str(PRESET)),
    "finetune_find": Config("`finetune` preset + `lr_find=True`", preset=str(PRESET), overrides={"lr_find": True}),
}
# The study: what each knob of a fine-tuning recipe does here, each variant one change from `base` (the preset as it
# was before the study, with nbs=16) unless its name says otherwise.
_BASE = dict(
    optimizer="AdamW",
    lr0=0.001,
    lrf=0.01,
    momentum=0.9,
    warmup_epochs=2.0,
    warmup_bias_lr=0.0,
    lr_policy="cosine",
    lr_unfreeze_epoch=1,
    lr_unfreeze_warmup=1.0,
    lr_backbone_scale=0.5,
)


def _study(title: str, **changes) -> Config:
    return Config(title, preset=None, overrides={**_BASE, **changes})


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
}
# Second round, after "lr0 is the peak" (warmup ramps to lr0, the cosine starts when warmup ends): the preset against
# one change each, for near32's speed (native's final reached within half the epochs).
_ROUND2 = {
    "preset": Config("`finetune` preset", preset=str(PRESET)),
    "preset_lr0_6e-3": Config("preset, lr0 0.006", preset=str(PRESET), overrides={"lr0": 0.006}),
    "preset_warmup_1": Config("preset, warmup 1 epoch", preset=str(PRESET), overrides={"warmup_epochs": 1.0}),
    "preset_no_freeze": Config(
        "preset, backbone never frozen (scale 0.5 kept)", preset=str(PRESET), overrides={"lr_unfreeze_epoch": 0}
    ),
}
# Third round: warmup 1 epoch (round 2's best on near32) with one more change each; near32's mAP collapses to ~0
# once the LR reaches its peak and recovers as it decays, so a lower peak or a free backbone.
_W1 = {"warmup_epochs": 1.0}
_ROUND3 = {
    "w1_lr0_2e-3": Config("preset, warmup 1, lr0 0.002", preset=str(PRESET), overrides={**_W1, "lr0": 0.002}),
    "w1_lr0_1.5e-3": Config("preset, warmup 1, lr0 0.0015", preset=str(PRESET), overrides={**_W1, "lr0": 0.0015}),
    "w1_no_freeze": Config(
        "preset, warmup 1, backbone never frozen", preset=str(PRESET), overrides={**_W1, "lr_unfreeze_epoch": 0}
    ),
}
STUDY.update(_ROUND2)
STUDY.update(_ROUND3)
STUDY_DEFAULT = ["native", "native_freeze", "old_preset", "base", "lr0_3e-3", "no_protect", "bias_spike"]
TARGETS = {"near32": ("N", 32), "near128": ("N", 128), "far": ("B", 128)}
STUDY_TARGETS = ["near32", "far"]

FULL = dict(epochs=20, imgsz=128, batch=16, n_val=250, seeds=[0, 1, 2])
STUDY_FULL = dict(epochs=20, imgsz=128, batch=16, n_val=250, seeds=[0, 1])
SMOKE = dict(epochs=2, imgsz=64, batch=4, n_val=8, seeds=[0])
SMOKE_CONFIGS = ["native", "finetune"]  # on near32 and far, 8 training images each
SMOKE_STUDY_CONFIGS = ["native", "base"]


def _default(key: str) -> str:
    """A setting's default as --help shows it: FULL's, and STUDY_FULL's when it differs."""
    full, study = common._shown(FULL[key]), common._shown(STUDY_FULL[key])
    return f"default {full}" + (f"; {study} with --study" if study != full else "")


BENCH = common.Bench(
    name="transfer",
    block="transfer",
    doc=__doc__,
    # None: decided at run time, from FULL, STUDY_FULL or SMOKE (imgsz, batch and n_val are not options)
    full={"epochs": None, "seeds": None, "configs": None, "targets": None, "jobs": None},
    smoke={"epochs": SMOKE["epochs"], "seeds": SMOKE["seeds"]},
    help={
        "epochs": f"epochs per training ({_default('epochs')})",
        "seeds": f"training seeds ({_default('seeds')})",
        "configs": "subset of configs (or study variants); native is always kept (default: every config; with "
        f"--study: {' '.join(STUDY_DEFAULT)}; --smoke: {' '.join(SMOKE_CONFIGS)}, or {' '.join(SMOKE_STUDY_CONFIGS)})",
        "targets": f"targets (default {' '.join(TARGETS)}; with --study or --smoke: {' '.join(STUDY_TARGETS)})",
        "jobs": f"trainings at a time (default {common.default_jobs()})",
    },
    types={"epochs": int, "seeds": [int], "configs": [str], "targets": [str], "jobs": int},
    minimum={"epochs": 1, "seeds": 0, "jobs": 1},
    choices={"targets": list(TARGETS)},
)


def add_options(p: argparse.ArgumentParser) -> None:
    """This benchmark's options beyond its settings."""
    p.add_argument("--study", action="store_true", help="run the study variants on near32 and far")
    p.add_argument("--checkpoint", type=Path, default=CHECKPOINT, help="source checkpoint (default %(default)s)")
    p.add_argument(
        "--block", help="name of the BENCHMARKS.md block and results files (default: transfer, or transfer_study)"
    )


def backbone_layers() -> int:
    """Layers in the model YAML's backbone section (what the plugin's fine-tuning rules call the backbone)."""
    from ultralytics.nn.tasks import yaml_model_load

    return len(yaml_model_load(common.MODEL)["backbone"])


def policy_of(cfg: Config) -> dict:
    """Every key a config sets on top of Ultralytics' defaults (a preset file is read, then its overrides)."""
    if cfg.preset is None:
        return dict(cfg.overrides)
    import yaml

    return {**(yaml.safe_load(Path(cfg.preset).read_text()) or {}), **cfg.overrides}


def run_specs(configs: dict, targets: list[str], s: dict, data: dict, ckpt: Path, runs: Path, verbose: bool):
    """One RunSpec per (target, config, seed), each in its own run folder (``runs/<target>_<config>_s<seed>``)."""
    n_backbone = backbone_layers()
    specs = []
    for target in targets:
        for name, cfg in configs.items():
            policy = policy_of(cfg)
            extra = {k: (n_backbone if v == "backbone" else v) for k, v in cfg.train.items()}
            for seed in s["seeds"]:
                train = dict(data=str(data[target]), epochs=s["epochs"], imgsz=s["imgsz"], batch=s["batch"], seed=seed,
                             device="cpu", workers=0, amp=False, plots=False, val=True, verbose=verbose,
                             project=str(runs), name=f"{target}_{name}_s{seed}", exist_ok=True, **extra)  # fmt: skip
                specs.append(
                    common.RunSpec(f"{target}/{name}", seed, str(ckpt), train, preset=dict(policy) if policy else None)
                )
    return specs


def summarise(results: list[dict], configs: dict, targets: list[str], epochs: int) -> dict:
    out = {}
    for target in targets:
        by = {
            name: sorted((r for r in results if r["label"] == f"{target}/{name}"), key=lambda r: r["seed"])
            for name in configs
        }
        native_final = {r["seed"]: r["map"][-1] for r in by["native"]}
        rows = {}
        for name, rs in by.items():
            if not rs:
                continue
            finals = [r["map"][-1] for r in rs]
            rows[name] = {
                "final": finals,
                "final50": [r["map50"][-1] for r in rs],
                "best": [max(r["map"]) for r in rs],
                "reach": [common.epochs_to_reach(r["map"], native_final[r["seed"]]) for r in rs],
                "wall": [r["wall_s"] for r in rs],
                "used": sorted({f"{r['optimizer']} {r['lr0']:.3g}" for r in rs}),
                "curves": [r["map"] for r in rs],
            }
        out[target] = rows
    return out


def compare(rows: dict, name: str) -> dict:
    """A config against native: relative gain of the means, and Welch's test of the difference over seeds."""
    m, sd = common.mean_std(rows[name]["final"])
    nm = statistics.fmean(rows["native"]["final"])
    rel = m / nm - 1 if nm > 0 else float("nan")
    return {"mean": m, "std": sd, "rel": rel, "welch": common.welch(rows[name]["final"], rows["native"]["final"])}


def fmt_rel(c: dict) -> str:
    """The gain over native with its Welch p (bold: significant)."""
    return f"{100 * c['rel']:+.1f} %" + ("" if c["welch"]["p"] is None else f" ({common.fmt_p(c['welch'])})")


def fmt_reach(reach: list, epochs: int) -> str:
    return ", ".join(str(e) if e is not None else f">{epochs}" for e in reach)


def target_table(rows: dict, configs: dict, epochs: int) -> str:
    header = [
        "config",
        "optimizer, lr0 used",
        "final mAP50-95",
        "vs native",
        "final mAP50",
        "best-epoch mAP50-95",
        "epochs to reach native's final (per seed)",
        "wall s / run",
    ]
    body = []
    for name, r in rows.items():
        c = compare(rows, name)
        rel = "" if name == "native" else fmt_rel(c)
        body.append(
            [
                f"`{name}`: {configs[name].title}",
                ", ".join(r["used"]),
                common.fmt_ms(r["final"]),
                rel,
                common.fmt_ms(r["final50"]),
                common.fmt_ms(r["best"]),
                fmt_reach(r["reach"], epochs),
                f"{statistics.fmean(r['wall']):.0f}",
            ]
        )
    return common.md_table(header, body)


def verdicts(summary: dict, epochs: int, name: str = "finetune") -> list[str]:
    lines = []
    for target, rows in summary.items():
        if name not in rows:
            continue
        c = compare(rows, name)
        ok = c["mean"] >= common.mean_std(rows["native"]["final"])[0]
        line = (
            f"- {target}: `{name}` {c['mean']:.4f} vs native {common.mean_std(rows['native']['final'])[0]:.4f} "
            f"({100 * c['rel']:+.1f} %, {common.fmt_p(c['welch'])}): mean >= native "
            f"**{'met' if ok else 'missed'}**"
        )
        if target == "near32":
            limit = EPOCH_FRACTION_TARGET * epochs
            reach = rows[name]["reach"]
            fast = all(e is not None and e <= limit for e in reach)
            line += (
                f"; >= +{REL_GAIN_TARGET:.0%} **{'met' if c['rel'] >= REL_GAIN_TARGET else 'missed'}**; native's "
                f"final reached within {limit:g} epochs in every seed **{'met' if fast else 'missed'}** "
                f"({fmt_reach(reach, epochs)})"
            )
        lines.append(line)
    return lines


def study_table(summary: dict, configs: dict) -> str:
    header = [
        "variant",
        *(f"{t} final mAP50-95" for t in summary),
        *(f"{t} vs native" for t in summary),
        "worse of the two",
    ]
    body = []
    for name in configs:
        if not all(name in rows for rows in summary.values()):
            continue
        cs = [compare(rows, name) for rows in summary.values()]
        worst = min(c["rel"] for c in cs)
        body.append(
            [
                f"`{name}`: {configs[name].title}",
                *(common.fmt_ms(rows[name]["final"]) for rows in summary.values()),
                *("" if name == "native" else fmt_rel(c) for c in cs),
                "" if name == "native" else f"{100 * worst:+.1f} %",
            ]
        )
    return common.md_table(header, body)


def plot(summary: dict, path: Path, epochs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(5 * len(summary), 4), squeeze=False)
    for ax, (target, rows) in zip(axes[0], summary.items()):
        for name, r in rows.items():
            mean, lo, hi = common.mean_curve(r["curves"])
            x = list(range(1, len(mean) + 1))
            ax.plot(x, mean, label=name, linewidth=1.3)
            ax.fill_between(x, lo, hi, alpha=0.15)
        ax.axhline(common.mean_std(rows["native"]["final"])[0], color="0.5", linestyle=":", linewidth=1)
        ax.axvline(EPOCH_FRACTION_TARGET * epochs, color="0.8", linewidth=0.8)
        ax.set_title(target)
        ax.set_xlabel("epoch")
        ax.set_ylabel("mAP50-95")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(ctx: common.Context) -> dict:
    """Train every (target, config, seed); the raw numbers ``render`` reports."""
    args, s = ctx.args, ctx.settings
    base = SMOKE if ctx.smoke else (STUDY_FULL if args.study else FULL)
    s.epochs, s.seeds = s.epochs or base["epochs"], s.seeds or base["seeds"]
    s.imgsz, s.batch, s.n_val = base["imgsz"], base["batch"], base["n_val"]
    targets = s.targets = s.targets or (STUDY_TARGETS if args.study or ctx.smoke else list(TARGETS))
    if args.study and "near128" in targets:
        raise SystemExit("near128 is the held-out confirmation target: the study never runs on it")
    pool_of = STUDY if args.study else CONFIGS
    if ctx.smoke:
        default = SMOKE_STUDY_CONFIGS if args.study else SMOKE_CONFIGS
    else:
        default = STUDY_DEFAULT if args.study else list(pool_of)
    s.configs = ["native", *[c for c in (s.configs or default) if c != "native"]]
    unknown = [c for c in s.configs if c not in pool_of]
    if unknown:
        raise SystemExit(f"unknown config(s) {unknown}; choose from {list(pool_of)}")
    configs = {n: pool_of[n] for n in s.configs}
    if not args.checkpoint.exists():
        raise SystemExit(f"{args.checkpoint} is missing: run benchmarks/pretrain.py first")
    s.jobs = s.jobs or common.default_jobs()
    n_train = {t: min(TARGETS[t][1], 8) if ctx.smoke else TARGETS[t][1] for t in targets}
    data = {
        t: common.ensure_dataset(common.DatasetSpec(TARGETS[t][0], n_train[t], s.n_val, s.imgsz), ctx.workdir)
        for t in targets
    }
    specs = run_specs(configs, targets, vars(s), data, args.checkpoint, ctx.workdir / "transfer" / "runs", ctx.verbose)
    ctx.log(f"transfer: {len(specs)} trainings, {s.jobs} at a time")
    results = common.run_all(specs, s.jobs, ctx.log, ctx.monitor)
    return {
        "machine": common.machine_info(results),
        "wall_note": f" ({len(specs)} trainings, {s.jobs} at a time)",
        "load_note": ctx.monitor.summary(s.jobs),
        "study": bool(args.study),
        "block": args.block or ("transfer_study" if args.study else "transfer"),
        "n_train": n_train,
        "summary": summarise(results, configs, targets, s.epochs),
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    """The tables, plot and verdicts of a measurement or a study (or of its JSON: ``--from-json``)."""
    s, summary = ctx.settings, raw["summary"]
    names = dict.fromkeys(n for rows in summary.values() for n in rows)
    configs = {n: (STUDY if raw["study"] else CONFIGS)[n] for n in names}
    parts = [
        f"Checkpoint `benchmarks/assets/source.pt` (yolo26n pretrained on the source world S). Every run: "
        f"epochs={s.epochs}, imgsz={s.imgsz}, batch={s.batch}, workers=0, amp=False, device=cpu, "
        f"training seeds {', '.join(map(str, s.seeds))}; validation on {s.n_val} images per target."
    ]
    if raw["study"]:
        parts += ["", study_table(summary, configs), "", P_NOTE]
    else:
        png = ctx.output(".png")
        plot(summary, png, s.epochs)
        for target, rows in summary.items():
            parts += [
                "",
                f"**{target}** (domain {TARGETS[target][0]}, {raw['n_train'][target]} train images)",
                "",
                target_table(rows, configs, s.epochs),
            ]
        parts += ["", P_NOTE, "", f"![mAP50-95 curves]({common.md_link(png)})", "", "Targets:",
                  *verdicts(summary, s.epochs)]  # fmt: skip
    body = "\n".join(parts)
    return common.Report(body=body, machine=raw["machine"], console=body, name=raw["block"], block=raw["block"])


P_NOTE = (
    "p: Welch's t-test of the final mAP50-95 against `native` over the training seeds (scipy), bold below "
    f"{common.ALPHA:g}; with two or three seeds only a large, steady difference reaches it."
)


def main(argv: list[str] | None = None) -> int:
    return common.main(BENCH, run, argv, script=Path(__file__), add_options=add_options, render=render)


if __name__ == "__main__":
    sys.exit(main())
