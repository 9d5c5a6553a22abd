"""The ``yolo-lr`` command: Ultralytics' ``yolo`` syntax (``key=value``) plus presets, previews and LR tools.

Only ``train``/``val``/``find``/``sweep``/... import Ultralytics; ``plot``, ``show`` and ``presets`` read
Ultralytics' default.yaml directly and start fast.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yolo_lr.config import (
    KEYS,
    LRConfigError,
    effective_values,
    is_active,
    keys_help,
    registry_defaults,
    resolve,
    validate,
)
from yolo_lr.presets import load_policy, preset_dir, preset_names
from yolo_lr.schedule import Group, group_lrs, policy_time, step_batches, warmup_iterations
from yolo_lr.ultralytics_compat import auto_optimizer, bias_warmup_groups, is_auto_optimizer

HELP = """\
yolo-lr: learning-rate policies for Ultralytics YOLO. Arguments use Ultralytics' key=value syntax.

Usage:
  yolo-lr [TASK] train [cfg=PRESET|FILE] [key=value ...]   train; presets by name, any `yolo train` key, any lr_* key
  yolo-lr [TASK] val   [key=value ...]                validate (as `yolo val`; data= defaults to the checkpoint's)
  yolo-lr [TASK] predict|export|track|benchmark [key=value ...]   passed to Ultralytics as they are
  yolo-lr plot   cfg=PRESET|FILE [epochs=N] [batches=NB] [key=value ...] [out=FILE.png]
                                                      preview the LR curve without training (PNG + table + CSV)
  yolo-lr show   cfg=PRESET|FILE [key=value ...]      the resolved settings, every lr_* key with its effective value
  yolo-lr presets                                     list the shipped presets
  yolo-lr copy-cfg NAME [force]                       copy preset NAME to ./NAME_copy.yaml for editing
  yolo-lr [TASK] find  model=M [lr_start=1e-5 lr_end=10 iters=50 rule=auto] [key=value ...]
                                                      LR range test: suggests lr0, writes lr_find.png, prints a command
  yolo-lr [TASK] sweep lr0=A,B,C model=M [lr_KEY=X,Y] [epochs=N] [metric=NAME] [engine=ray] [key=value ...]
                                                      one short training per grid point: table + plot, best marked
  yolo-lr check                                       versions, startup hook, supported range, trackers (`yolo checks`)
  yolo-lr help [COMMAND] | COMMAND --help             this text, or one command's help

Words, as in `yolo`:
  TASK          optional, first or anywhere: {tasks} (or task=NAME); it must match the model
  key=value     also `key = value`, `key= value`, `key =value`; lists may contain spaces: lr_milestones=[30, 60]
  flag          a true/false key alone means key=True: `yolo-lr train resume model=last.pt`, `plots`, `lr_plateau`

Default data: detect models train on the bundled, offline COCO8 when data= is not given; other tasks need data=.
`val` uses the data the checkpoint was trained on, else needs data=.

Examples:
  yolo-lr train cfg=warmup_cosine model=yolo26n.yaml epochs=3 imgsz=64      (data defaults to the bundled coco8)
  yolo-lr segment train cfg=plateau model=yolo26n-seg.yaml data=my-seg.yaml epochs = 30 plots
  yolo-lr train cfg=finetune model=path/to/best.pt data=my.yaml epochs=30
  yolo-lr train resume model=runs/detect/train/weights/last.pt
  yolo-lr copy-cfg plateau                     (then edit plateau_copy.yaml: yolo-lr train cfg=plateau_copy.yaml ...)
  yolo-lr plot cfg=restarts epochs=100 batches=50
  yolo-lr show cfg=plateau lr_plateau_patience=3
  yolo-lr find model=yolo26n.yaml imgsz=320 batch=16
  yolo-lr sweep lr0=1e-4,1e-3,1e-2 model=yolo26n.yaml epochs=10

The stock `yolo` CLI works too once the plugin is installed: `yolo train cfg=configs/plateau.yaml ...`.
Set YOLO_LR_DISABLE=1 to turn the plugin's startup hook off.
"""


COMMAND_HELP = {
    "train": """\
yolo-lr [TASK] train [cfg=PRESET|FILE] [key=value ...] [flag ...]

Runs Ultralytics training with the plugin active. cfg= takes a preset name (see `yolo-lr presets`) or a YAML file
(`yolo-lr copy-cfg NAME` writes an editable copy); keys on the command line override the preset's, as in
Ultralytics. Every `yolo train` key works, plus lr_* keys (`yolo-lr show` lists them). The lr_* settings are checked
before anything starts. The task comes from the model (YAML head or checkpoint); a task word (segment, pose, ...)
must agree with it. Without data=, a detect model trains on the bundled, offline COCO8; other tasks need data=.
A true/false key alone means key=True (`resume`, `plots`, `lr_plateau`); `key = value` with spaces works too.
The run directory gets lr.csv (LR of every param group at every optimizer step) and lr.png (when plots is on).

  yolo-lr train cfg=plateau model=yolo26n.yaml epochs=50 lr_plateau_patience=3
  yolo-lr segment train cfg=warmup_cosine model=yolo26n-seg.yaml data=my-seg.yaml epochs=30
  yolo-lr train resume model=runs/detect/train/weights/last.pt
""",
    "val": """\
yolo-lr [TASK] val model=M [data=D] [key=value ...]

Same as `yolo val`. Without data=, a checkpoint is validated on the data it was trained on (its train_args); a model
without one (a YAML, a foreign checkpoint) needs data=. It never falls back to COCO8 silently.
""",
    "copy-cfg": """\
yolo-lr copy-cfg NAME [force]

Copies the shipped preset NAME (see `yolo-lr presets`) to NAME_copy.yaml in the current folder, to edit and use as
`yolo-lr train cfg=NAME_copy.yaml ...` (or `yolo train cfg=NAME_copy.yaml ...`). An existing file is kept unless
`force` is given.

  yolo-lr copy-cfg finetune
""",
    "plot": """\
yolo-lr plot cfg=PRESET|FILE [epochs=N] [batches=NB] [batch=B nbs=NBS] [plateau_after=E] [out=FILE.png]

Previews the learning rate of every param group (weight, bn, bias, and backbone groups when fine-tuning) at every
optimizer step, without training, using the same code as a real run. Writes a PNG and a CSV (lr.csv format) and
prints a per-epoch table marking warmup, restarts, unfreezing and plateau reductions.
  epochs        run length (default: the preset's, else 100)
  batches       batches per epoch (default 50)
  batch, nbs    as in Ultralytics; with nbs > batch the optimizer steps every round(nbs/batch) batches
  plateau_after with plateau reduction on, the simulated metric improves until this epoch, then stays flat
                (default: 40% of the run); the real plateau rules then decide the reductions
  out           PNG path (default lr_plot_<preset>.png); the CSV goes next to it
""",
    "show": "yolo-lr show cfg=PRESET|FILE [key=value ...]\n\nPrints every lr_* key with its effective value.\n\n"
    + keys_help()
    + "\n",
    "presets": "yolo-lr presets\n\nLists the presets shipped with the plugin and what each is for.\n",
    "check": (
        "yolo-lr check\n\nLike `yolo checks`: the installed yolo-lr, Ultralytics, torch and Ray versions, whether the "
        "startup hook is active,\nwhether this Ultralytics is in the supported range (and registered), and which "
        "experiment trackers would\nreceive the per-step LR. Exit status 1 when the plugin is inactive.\n"
    ),
    "find": """\
yolo-lr find model=M [data=D] [lr_start=1e-5] [lr_end=10] [iters=50] [rule=auto|edge10|valley|steep|min10] [smooth=0.9]
             [diverge=4] [cfg=PRESET|FILE] [key=value ...]

LR range test on the real training set-up (dataloader, augmentation, loss, param groups, gradient accumulation,
clipping, EMA of an Ultralytics trainer): one optimizer step per LR, the LR rising exponentially from lr_start to
lr_end over iters steps (each step uses round(nbs/batch) batches, as training does), the same LR on every param group
(bias included). The test stops when the EMA of the loss (factor smooth) exceeds diverge x its best, or is not finite;
the rules read a running median of the loss (half-width ~ smooth/(1-smooth)/2 points). Model, optimizer, EMA, RNGs
and data order are restored afterwards.
  rule     auto (default): valley when the loss shows a real descent (its drop >= 2x the batch-to-batch noise, as
           when fine-tuning), else a twentieth of the LR where the loss starts to rise (as from scratch, where the
           loss hardly moves before it blows up); edge10: a tenth of the LR where the loss starts to rise (5 % above
           its low); valley: 60 % down the deepest descent; steep: steepest descent; min10: the LR at the minimum / 10
  The defaults were chosen on BENCHMARKS.md's finder benchmark (from scratch and fine-tuning, three training seeds,
  cases held out).
  Other keys are training keys (imgsz, batch, nbs, optimizer, momentum, lr_* policy keys, project, name, ...).
  optimizer=auto (the default) ignores lr0, so the finder then uses SGD and the printed command says optimizer=SGD.
  Defaults: data = the bundled COCO8, amp=False, name=lr_find; the run lands where `yolo train` puts runs.
Writes lr_find.csv (iteration, lr, loss, smoothed, read) and lr_find.png and prints a ready-to-run `yolo-lr train`
command. To find lr0 inside a training instead, pass lr_find=True to `yolo train`/`yolo-lr train` (its options are
the keys lr_find_start, lr_find_end, lr_find_iters, lr_find_rule, lr_find_smooth, lr_find_diverge: `yolo-lr show
--help`).

  yolo-lr find model=yolo26n.yaml data=my.yaml imgsz=320 batch=16
  yolo-lr find model=best.pt data=my.yaml optimizer=AdamW iters=80
""",
    "sweep": """\
yolo-lr [TASK] sweep lr0=A,B,C model=M [lr_KEY=X,Y ...] [data=D] [epochs=N] [metric=NAME] [cfg=PRESET|FILE]
      [engine=local|ray] [cpus_per_trial=1] [gpus_per_trial=G] [address=RAY] [early_stop=asha] [grace_period=E]
      [early_stop_metric=NAME] [key=value ...]
yolo-lr sweep resume=SWEEP_DIR [cpus_per_trial=...] [gpus_per_trial=...] [address=...]

One short training per point of a grid, everything else equal, each in its own run folder of a sweep directory
(name=sweep by default, incremented, where `yolo train` puts runs). The grid is lr0 x every lrf or one-value lr_* key
given several values (lr_policy=cosine,wsd lr_decay_frac=0.1,0.3). Prints and writes a table (the point, final train
loss, the ranking metric, fitness, wall time, epochs, optimizer steps, images): sweep.csv, sweep.md and sweep.png
(metric vs lr0, log x, a line per combination of the other keys). engine=ray runs the points as Ray Tune trials in
parallel (cpus_per_trial, gpus_per_trial; address= an existing cluster; needs pip install 'yolo-lr[ray]');
early_stop=asha stops trailing trials after grace_period epochs (only against trials of the same schedule, and only
runs trained to the end are ranked), judged on early_stop_metric: the ranking metric by default, train_loss (the summed
train losses, lower is better), fitness or a results.csv column. A killed sweep continues with resume=SWEEP_DIR;
finished points are kept.

Best = the best ranking metric of the last epoch (a tie goes to the lowest final loss; a tie on both crowns none). The
ranking metric is the task's own: detect/obb mAP50-95(B), segment mAP50-95(M), pose mAP50-95(P), classify
accuracy_top1 (newer tasks: Ultralytics' TASK2METRIC); metric=NAME picks another results.csv column or fitness (names
with loss/error rank lowest first). Without data=, a detect model uses the bundled COCO8; other tasks need data=.
optimizer=auto ignores lr0, so the sweep then uses SGD and says so. lr0 takes a comma-separated list
(lr0=1e-4,1e-3,1e-2), a list ([1e-4,1e-3]) or one value.

  yolo-lr sweep lr0=1e-4,1e-3,1e-2 model=yolo26n.yaml epochs=10 imgsz=320
  yolo-lr sweep lr0=3e-4,1e-3,3e-3 model=best.pt data=my.yaml cfg=finetune epochs=5
  yolo-lr sweep lr0=1e-3,1e-2 lr_policy=cosine,wsd model=yolo26n.yaml epochs=10 engine=ray early_stop=asha
  yolo-lr sweep resume=runs/detect/sweep3
  yolo-lr classify sweep lr0=1e-3,1e-2 model=yolo26n-cls.yaml data=path/to/images epochs=5
""",
}


# ---------------------------------------------------------------------------------------------------------- parsing
HELP_WORDS = {"-h", "--help", "help"}
ULTRALYTICS_FLAGS = {"half", "int8", "end2end", "nms"}  # bare words Ultralytics turns into True despite a None default


def smart_value(v: str) -> Any:
    """Ultralytics' CLI value rules: none/true/false, Python literals, else the string."""
    low = v.lower()
    if low == "none":
        return None
    if low in {"true", "false"}:
        return low == "true"
    try:
        return ast.literal_eval(v)
    except (ValueError, SyntaxError):
        return v


def merge_words(argv: list[str]) -> list[str]:
    """Rejoin what the shell split, as Ultralytics' entrypoint does: ``lr0 = 0.01``, ``lr0= 0.01`` and ``lr0 =0.01``
    become ``lr0=0.01``, and a bracketed value with spaces (``lr_milestones=[30, 60]``) becomes one word."""
    merged: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "=" and merged and i + 1 < len(argv):  # key = value
            a = f"{merged.pop()}={argv[i + 1]}"
            i += 1
        elif a.endswith("=") and a != "=" and i + 1 < len(argv) and "=" not in argv[i + 1]:  # key= value
            a += argv[i + 1]
            i += 1
        elif a.startswith("=") and a != "=" and merged:  # key =value
            a = merged.pop() + a
        merged.append(a)
        i += 1
    out: list[str] = []
    depth = 0
    for a in merged:
        if depth > 0:
            out[-1] += a
        else:
            out.append(a)
        depth += a.count("[") - a.count("]")
    if depth:
        raise LRConfigError(f"yolo-lr: unbalanced brackets in '{out[-1]}'")
    return out


@dataclass
class Words:
    """A command line after parsing: the task word, ``key=value`` settings, and leftover bare words."""

    task: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)  # normalised ``key=value`` words (bare flags as ``key=True``)
    positional: list[str] = field(default_factory=list)


def parse_words(argv: list[str], positional: int = 0) -> Words:
    """Parse ``key=value`` words, bare true/false flags (``plots`` = ``plots=True``), a task word (``segment``) and up
    to ``positional`` other bare words.

    Raises:
        LRConfigError: naming the word: a key without a value, an unknown bare word, a second task, a missing value.
    """
    from yolo_lr.tasks import tasks

    out = Words()
    defaults = None
    for a in merge_words(argv):
        a = a.removeprefix("--")
        if a.endswith(",") and "=" in a:
            a = a[:-1]
        if "=" in a:
            k, v = (x.strip() for x in a.split("=", 1))
            if not k or not v:
                raise LRConfigError(f"yolo-lr: '{a}' needs a key and a value, e.g. lr0=0.01")
            k = k.lstrip("-")
            if k == "task":
                _set_task(out, str(v))
                continue
            out.args[k] = v if k in {"name", "project"} and v.lower() != "none" else smart_value(v)
            out.words.append(f"{k}={v}")
            continue
        if a in tasks():
            _set_task(out, a)
            continue
        defaults = defaults if defaults is not None else native_defaults()
        if isinstance(defaults.get(a), bool) or a in ULTRALYTICS_FLAGS:
            out.args[a] = True
            out.words.append(f"{a}=True")
        elif a in defaults:
            example = f"{a}={defaults[a]}" if defaults[a] is not None else f"{a}=VALUE"
            if a in KEYS:
                example += f" ({KEYS[a].allowed()})"
            raise LRConfigError(
                f"yolo-lr: '{a}' needs a value, e.g. {example}; only true/false keys can stand alone "
                f"(such as plots, resume, val)"
            )
        elif len(out.positional) < positional:
            out.positional.append(a)
        else:
            flags = sorted(k for k, v in defaults.items() if isinstance(v, bool))
            near = difflib.get_close_matches(a, [*flags, *tasks(), *defaults], n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            raise LRConfigError(
                f"yolo-lr: unexpected word '{a}'.{hint} Words are key=value, a task ({', '.join(tasks())}) or a "
                f"true/false key standing for key=True ({', '.join(flags)})."
            )
    return out


def _set_task(out: Words, task: str) -> None:
    from yolo_lr.tasks import tasks

    if task not in tasks():
        near = difflib.get_close_matches(task, tasks(), n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise LRConfigError(f"yolo-lr: unknown task '{task}'.{hint} Tasks: {', '.join(tasks())}.")
    if out.task is not None and out.task != task:
        raise LRConfigError(f"yolo-lr: two tasks given, '{out.task}' and '{task}': keep one")
    out.task = task


def parse_args(argv: list[str]) -> dict[str, Any]:
    """``key=value`` words (and bare true/false flags) into a dict, values converted as Ultralytics does."""
    parsed = parse_words(argv)
    return {**parsed.args, **({"task": parsed.task} if parsed.task else {})}


def native_defaults() -> dict[str, Any]:
    """Ultralytics' default.yaml (read without importing Ultralytics) plus the plugin's keys."""
    import yaml

    spec = importlib.util.find_spec("ultralytics")
    path = Path(spec.submodule_search_locations[0]) / "cfg" / "default.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(registry_defaults())
    return data


def load_config(args: dict[str, Any]) -> tuple[dict[str, Any], str | None, list[str]]:
    """Merge defaults <- preset (cfg=) <- command line; validate. Returns (config, preset source, warnings)."""
    cli = dict(args)
    preset, source = load_policy(cli.pop("cfg", None))
    cfg = {**native_defaults(), **preset, **cli}
    warnings = validate(cfg)
    return cfg, source, warnings


# ---------------------------------------------------------------------------------------------------------- preview
def simulate(cfg: dict[str, Any], batches: int, plateau_after: float | None = None) -> dict[str, Any]:
    """Every optimizer step of a run with this config, as the trainer would take it (no training).

    Reproduces Ultralytics' step cadence: ``accumulate = max(round(nbs/batch), 1)`` capped at the run's batches,
    ramped from 1 during warmup, and a step whenever ``ni - last_step >= accumulate``.
    """
    from yolo_lr.plateau import Plateau

    settings = resolve(cfg)
    epochs, nb = int(cfg["epochs"]), int(batches)
    lr0 = float(cfg["lr0"])
    names = ["weight", "bn", "bias"]
    bias = set(bias_warmup_groups([{"param_group": n} for n in names]))  # the installed Ultralytics' rule
    groups = [Group(n, lr0, bias_start=j in bias) for j, n in enumerate(names)]
    if settings.finetune.backbone_rules:  # lr_layer_scales/lr_layer_decay depend on the model: not previewed
        groups += [Group(n, lr0, backbone=True, scale=settings.finetune.backbone_scale) for n in names]
    batch = cfg.get("batch") if isinstance(cfg.get("batch"), int) and cfg.get("batch") > 0 else 16
    acc0 = min(max(round(cfg.get("nbs", 64) / batch), 1), nb * epochs)
    nw = warmup_iterations(float(cfg.get("warmup_epochs") or 0), epochs, nb)
    optimizer = cfg.get("optimizer")
    if is_auto_optimizer(optimizer):  # Ultralytics' own choice for a dataset of `batches` batches (80 classes)
        optimizer = auto_optimizer(nb * batch, batch, int(cfg.get("nbs", 64)), epochs, 80)[0]
    batch_factor, _ = settings.batch.factor(str(optimizer), batch * acc0, float(cfg.get("nbs", 64)))
    tracker: Plateau | None = settings.plateau.tracker() if settings.plateau else None
    flat_from = plateau_after if plateau_after is not None else 0.4 * epochs
    rows, events, step = [], {}, 0
    steps = set(step_batches(nb, epochs, nw, acc0))
    for epoch in range(epochs):
        for i in range(nb):
            ni = i + nb * epoch
            if ni not in steps:
                continue
            step += 1
            lrs = group_lrs(
                settings,
                groups,
                epoch=epoch,
                i=i,
                nb=nb,
                nw=nw,
                epochs=epochs,
                warmup_bias_lr=float(cfg.get("warmup_bias_lr") or 0.0),
                plateau_factor=tracker.factor if tracker else 1.0,
                batch_factor=batch_factor,
            )
            rows.append([epoch, ni, step, *lrs, _momentum(settings, cfg, epoch, i, nb, nw, epochs)])
        if tracker is not None:  # metric improves until flat_from, then stays flat: a plateau on demand
            value = min(epoch, flat_from)
            value = value if tracker.mode == "max" else -value
            if tracker.step(float(value)):
                events.setdefault(epoch + 1, []).append(f"plateau x{tracker.reduce_factor:g}")
    _mark_events(settings, epochs, nb, nw, events)
    header = ["epoch", "iteration", "step"]
    header += [f"lr/pg{j}({g.name}{'/backbone' if g.backbone else ''})" for j, g in enumerate(groups)] + ["momentum"]
    return {"header": header, "rows": rows, "events": events, "settings": settings, "nb": nb, "epochs": epochs}


def _momentum(settings, cfg: dict[str, Any], epoch: int, i: int, nb: int, nw: int, epochs: int) -> float:
    """Momentum at a step: the policy's if it cycles momentum, else Ultralytics' warmup ramp then ``momentum``."""
    base = float(cfg.get("momentum", 0.937))
    if settings.cycles_momentum:
        return settings.policy.momentum(*policy_time(settings, epoch, i, nb, epochs, nw), base)
    ni = i + nb * epoch
    if nw and ni <= nw:
        start = float(cfg.get("warmup_momentum", 0.8))
        return start + (base - start) * ni / nw
    return base


def _mark_events(settings, epochs: int, nb: int, nw: int, events: dict[int, list[str]]) -> None:
    if nw:
        events.setdefault(0, []).append(f"warmup {nw} it")
    cycle = getattr(settings.policy, "cycle", None)
    if cycle is not None:
        prev = 0
        for e in range(epochs):
            for i in range(nb):
                c = cycle(*policy_time(settings, e, i, nb, epochs, nw))
                if c != prev:
                    events.setdefault(e, []).append(f"restart {c}")
                    prev = c
    if settings.finetune.unfreeze_epoch:
        events.setdefault(settings.finetune.unfreeze_epoch, []).append("unfreeze")


def print_table(sim: dict[str, Any], limit: int = 40) -> None:
    """Per-epoch table: the LR of each group at the epoch's first and last optimizer step."""
    header, rows, events = sim["header"], sim["rows"], sim["events"]
    cols = [j for j, h in enumerate(header) if h.startswith("lr/")]
    by_epoch: dict[int, list] = {}
    for r in rows:
        by_epoch.setdefault(r[0], []).append(r)
    epochs = sorted(by_epoch)
    keep = set(epochs) if len(epochs) <= limit else {e for e in epochs if e % math.ceil(len(epochs) / limit) == 0}
    keep |= {e for e in events if e in by_epoch} | {epochs[-1]}
    names = [header[j][3:] for j in cols]
    print(f"{'epoch':>6}  " + "  ".join(f"{n:>22}" for n in names) + "  events")
    for e in sorted(keep):
        first, last = by_epoch[e][0], by_epoch[e][-1]
        cells = [f"{first[j]:.3g}->{last[j]:.3g}" if first[j] != last[j] else f"{first[j]:.3g}" for j in cols]
        print(f"{e + 1:>6}  " + "  ".join(f"{c:>22}" for c in cells) + "  " + ", ".join(events.get(e, [])))
    print(f"(epochs 1-based; first->last optimizer step of each epoch; {len(rows)} steps, {sim['nb']} batches/epoch)")


def write_preview(sim: dict[str, Any], out: Path, title: str) -> tuple[Path, Path]:
    import csv

    from yolo_lr.adapter import plot_lr_csv

    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path = out.with_suffix(".csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(sim["header"])
        w.writerows(sim["rows"])
    reductions = [e - 1 for e, ev in sim["events"].items() if any(x.startswith("plateau") for x in ev)]
    plot_lr_csv(csv_path, out, reductions, title=title)
    return out, csv_path


# --------------------------------------------------------------------------------------------------------- commands
def cmd_plot(args: dict[str, Any]) -> int:
    args = dict(args)
    batches = int(args.pop("batches", 50))
    out = args.pop("out", None)
    plateau_after = args.pop("plateau_after", None)
    name = Path(str(args.get("cfg", "custom"))).stem
    if "epochs" not in args and "epochs" not in load_policy(args.get("cfg"))[0]:
        args["epochs"] = 100
    cfg, source, warnings = load_config(args)
    for w in warnings:
        print(f"warning: {w}")
    if str(cfg.get("optimizer")).lower() == "auto":
        print("note: optimizer=auto replaces lr0 at train time; this preview uses lr0 as given.")
    if cfg.get("lr_find"):
        print("note: lr_find sets lr0 at train time (an LR range test before epoch 1); this preview uses lr0 as given.")
    ft = resolve(cfg).finetune
    if ft.layer_scales or ft.layer_decay != 1.0:
        print(
            "note: lr_layer_scales/lr_layer_decay multiply each layer's groups by its scale (the model's layers are "
            "known at train time); the preview shows scale 1 (and the backbone scale)."
        )
    sim = simulate(cfg, batches, plateau_after)
    print(f"yolo-lr plot: {name}{f' ({source})' if source else ''}: {sim['settings'].describe()}")
    print(f"lr0={cfg['lr0']:g} lrf={cfg['lrf']:g} warmup_epochs={cfg['warmup_epochs']:g} epochs={cfg['epochs']}")
    print_table(sim)
    png, csv_path = write_preview(sim, Path(out or f"lr_plot_{name}.png"), f"{name}: {sim['settings'].policy_name}")
    print(f"plot: {png}\ncsv: {csv_path}")
    return 0


def cmd_show(args: dict[str, Any]) -> int:
    cfg, source, warnings = load_config(args)
    print(f"# resolved settings{f' from {source}' if source else ''} (command-line keys applied)")
    for k in ("optimizer", "lr0", "lrf", "momentum", "warmup_epochs", "warmup_bias_lr", "warmup_momentum", "epochs"):
        print(f"{k}: {cfg.get(k)}")
    if not is_active(cfg):
        print("# no lr_* key set: the plugin stays inert (native Ultralytics LRs)")
        return 0
    s = resolve(cfg)
    for k, v, note in effective_values(cfg):
        print(f"{k}: {v}{f'   # {note}' if note else ''}")
    print(f"# {s.describe()}")
    for w in warnings:
        print(f"# warning: {w}")
    return 0


def cmd_presets() -> int:
    print(f"Presets in {preset_dir()} (use cfg=NAME):")
    for name in preset_names():
        first = (preset_dir() / f"{name}.yaml").read_text().splitlines()[0]
        desc = first.lstrip("# ").split(":", 1)[-1].strip()
        print(f"  {name:<14} {desc}")
    return 0


TRACKERS = {  # Ultralytics settings key -> the package its integration needs
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "mlflow": "mlflow",
    "comet": "comet_ml",
    "clearml": "clearml",
}


def cmd_check() -> int:
    """``yolo-lr check``: versions, the startup hook, the supported range, the trackers that would get the LR."""
    import importlib.util
    import os
    import site
    from importlib import metadata

    import ultralytics.engine.trainer  # noqa: F401  (loading it runs the registration, the trainer's part too)
    from ultralytics.utils import SETTINGS

    from yolo_lr import __version__, registration
    from yolo_lr import ultralytics_compat as compat

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    rows = [("yolo-lr", __version__), ("ultralytics", compat.version()), ("torch", version("torch"))]
    rows.append(("ray", version("ray")))
    pth = [Path(d) / "yolo_lr.pth" for d in [*site.getsitepackages(), site.getusersitepackages()]]
    hook = next((p for p in pth if p.exists()), None)
    disabled = os.environ.get("YOLO_LR_DISABLE", "").strip().lower() not in ("", "0", "false", "no")
    if hook is None:
        rows.append(("startup hook", "not installed (pip install the package, not only its source)"))
    else:
        rows.append(("startup hook", f"{'off (YOLO_LR_DISABLE is set)' if disabled else 'active'}: {hook}"))
    inactive = registration.inactive_reasons()
    supported = f"supported range {compat.supported_range()}"
    if inactive:
        rows.append(("plugin", f"INACTIVE ({'; '.join(inactive)}); {supported}"))
    elif registration.installed():
        rows.append(("plugin", f"registered ({', '.join(sorted(registration.installed()))}); {supported}"))
    else:
        rows.append(("plugin", f"not registered (YOLO_LR_DISABLE, or yolo_lr.uninstall()); {supported}"))
    live = []
    for key, pkg in TRACKERS.items():
        on, there = SETTINGS.get(key) is True, importlib.util.find_spec(pkg) is not None
        state = "receives the per-step LR" if on and there else f"setting {'on' if on else 'off'}"
        if not there:
            state += f", {pkg} not installed"
        live.append(f"{key}: {state}")
    rows.append(("trackers", "; ".join(live)))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 1 if inactive else 0


def _wants_pretrained(preset: Path) -> bool:
    """A preset with fine-tuning rules (frozen or slowed backbone) only makes sense from pretrained weights."""
    import yaml

    cfg = yaml.safe_load(preset.read_text()) or {}
    return bool(cfg.get("lr_unfreeze_epoch") or cfg.get("lr_backbone_scale") not in (None, 1, 1.0))


def cmd_copy_cfg(parsed: Words) -> int:
    """Write a preset next to the user (``NAME_copy.yaml`` in the current folder) for editing."""
    import shutil

    args = dict(parsed.args)
    force = args.pop("force", "force" in parsed.positional)
    names = [w for w in parsed.positional if w != "force"] + ([args.pop("cfg")] if "cfg" in args else [])
    if args or len(names) != 1 or not isinstance(force, bool):
        extra = f" (unexpected: {', '.join(f'{k}={v}' for k, v in args.items())})" if args else ""
        raise LRConfigError(
            f"yolo-lr copy-cfg: give one preset name{extra}: yolo-lr copy-cfg NAME [force]. "
            f"Presets: {', '.join(preset_names())}."
        )
    name = str(names[0])
    if name not in preset_names():
        near = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise LRConfigError(f"yolo-lr copy-cfg: no preset '{name}'.{hint} Presets: {', '.join(preset_names())}.")
    src = preset_dir() / f"{name}.yaml"
    dst = Path.cwd() / f"{name}_copy.yaml"
    if dst.exists() and not force:
        raise LRConfigError(
            f"yolo-lr copy-cfg: {dst} already exists; not overwritten. Add `force` to overwrite it, or rename it."
        )
    shutil.copyfile(src, dst)
    print(f"yolo-lr copy-cfg: wrote {dst} (a copy of the {name} preset, {src})")
    model = "path/to/pretrained.pt" if _wants_pretrained(dst) else "yolo26n.yaml"
    print(f"Edit it, then: yolo-lr train cfg={dst.name} model={model} data=your.yaml")
    return 0


def cmd_ultralytics(mode: str, parsed: Words) -> int:
    """train/val/...: check lr_* settings early, resolve a preset name and the task's default data, then hand over to
    Ultralytics' entrypoint."""
    from yolo_lr.presets import preset_path

    args = parsed.args
    words = [w for w in parsed.words if not w.startswith("cfg=")]
    if "cfg" in args:
        words.insert(0, f"cfg={preset_path(str(args['cfg']))}")
    preset = load_policy(args.get("cfg"))[0]
    if mode == "train":
        load_config(args)  # raises LRConfigError before anything is built
    data = _default_data(mode, {**preset, **args}, parsed.task)
    if data is not None:
        words.append(f"data={data}")
    from ultralytics import cfg as ultralytics_cfg

    import yolo_lr  # noqa: F401  (registers the keys before Ultralytics parses them)

    sys.argv[:] = ["yolo", *([parsed.task] if parsed.task else []), mode, *words]
    ultralytics_cfg.ARGV = list(sys.argv)  # entrypoint() reads the argv it captured at import
    ultralytics_cfg.entrypoint()
    return 0


def _default_data(command: str, args: dict[str, Any], task: str | None) -> str | None:
    """The data= to add when none is given, by the model's task; raises when there is no safe default.

    train/find/sweep: the bundled COCO8 for a detect model, else data= is required. val: the data the checkpoint was
    trained on (its train_args), else data= is required: a checkpoint is never validated on COCO8 by default.
    Other commands, resumed trainings and given data: nothing to add (the task word is still checked).
    """
    from yolo_lr.tasks import default_data, example_data, resolve_task

    model = args.get("model")
    if command not in {"train", "val", "find", "sweep"}:
        return None
    if "data" in args or (command == "train" and args.get("resume")):
        if task is not None and model is not None:
            resolve_task(model, task)  # a contradicting task word fails here, not deep in Ultralytics
        return None
    info = resolve_task(model, task)
    label = f"model={model}" if model is not None else f"the default {info.task} model"
    if command == "val":
        if info.data:
            print(f"yolo-lr val: data= not given, using the data {label} was trained on ({info.data})")
            return info.data
        raise LRConfigError(
            f"yolo-lr val: data= is required: {label} carries no training data to validate on (a model YAML or "
            f"a checkpoint without train_args). Give data=path/to/data.yaml; yolo-lr never falls back to COCO8 here."
        )
    found = default_data(info.task)
    if found is None:
        form = "path/to/data.yaml"
        if info.task == "classify":
            form = "path/to/folder (train/ and val/ holding one folder per class)"
        raise LRConfigError(
            f"yolo-lr {command}: data= is required for {label} ({info.task} task): the bundled COCO8 is detection "
            f"only. Give a {info.task} dataset, data={form} (Ultralytics' example: data={example_data(info.task)}, "
            f"downloaded on first use)."
        )
    print(f"yolo-lr {command}: data= not given, using the bundled COCO8 ({found})")
    return str(found)


def cmd_find(parsed: Words) -> int:
    """LR range test; exit status 1 when the loss never decreased (no suggestion, no command)."""
    from yolo_lr.finder import FINDER_KEYS, check_finder_args
    from yolo_lr.tools.find import find_lr

    args = dict(parsed.args)
    finder = {k: args.pop(k) for k in FINDER_KEYS if k in args}  # lr_start/lr_end are not lr_* policy keys
    try:
        check_finder_args(**finder)
    except ValueError as e:
        raise LRConfigError(f"yolo-lr find: {e}") from None
    if args.get("model") is None:
        raise LRConfigError("yolo-lr find: model= is required (e.g. model=yolo26n.yaml or model=path/to/best.pt)")
    load_config(args)  # bad lr_* keys or presets fail here, before anything is built
    data = _default_data("find", {**load_policy(args.get("cfg"))[0], **args}, parsed.task)
    if data is not None:
        args["data"] = data
    res = find_lr(args.pop("model"), **finder, **args)
    return 0 if res.lr is not None else 1


SWEEP_OPTIONS = (
    "metric",
    "engine",
    "cpus_per_trial",
    "gpus_per_trial",
    "address",
    "early_stop",
    "grace_period",
    "early_stop_metric",
)


def cmd_sweep(parsed: Words) -> int:
    """One training per grid point; exit status 1 when no run produced a metric."""
    from yolo_lr.tools.sweep import SweepInterrupted

    try:
        return _sweep(parsed)
    except (SweepInterrupted, KeyboardInterrupt) as e:
        print(f"yolo-lr sweep: {e or 'interrupted'}", file=sys.stderr)
        return 130


def _sweep(parsed: Words) -> int:
    from yolo_lr.tools.sweep import parse_lr0s, split_grid, sweep

    args = dict(parsed.args)
    options = {k: args.pop(k) for k in SWEEP_OPTIONS if k in args}
    resume = args.pop("resume", None)
    try:
        if resume not in (None, False):
            if resume is True:
                raise ValueError("resume= needs the sweep directory to continue, e.g. resume=runs/detect/sweep3")
            ray = {k: options.pop(k) for k in SWEEP_OPTIONS[2:5] if k in options}
            if args or options:
                raise ValueError(f"resume= takes nothing else but the Ray options, not {', '.join([*args, *options])}")
            res = sweep(resume=str(resume), **ray)
            return 0 if res.best is not None else 1
        if "lr0" not in args:
            raise ValueError("lr0= is required, e.g. lr0=1e-4,1e-3,1e-2")
        values = parse_lr0s(args.pop("lr0"))
        if args.get("model") is None:
            raise ValueError("model= is required (e.g. model=yolo26n.yaml or model=path/to/best.pt)")
        axes, shared = split_grid(args)
    except ValueError as e:
        if isinstance(e, LRConfigError):
            raise
        raise LRConfigError(f"yolo-lr sweep: {e}") from None
    load_config(shared)  # bad lr_* keys or presets fail here (each grid point is checked by sweep)
    data = _default_data("sweep", {**load_policy(args.get("cfg"))[0], **shared}, parsed.task)
    if data is not None:
        args["data"] = data
    try:
        res = sweep(values, model=args.pop("model"), **options, **args)
    except ValueError as e:
        if isinstance(e, LRConfigError):
            raise
        raise LRConfigError(f"yolo-lr sweep: {e}") from None
    return 0 if res.best is not None else 1


COMMANDS = ("train", "val", "plot", "show", "presets", "copy-cfg", "find", "sweep", "check", "help")
TASK_COMMANDS = ("find", "sweep")  # besides Ultralytics' modes, the commands a task word may go with


def _split_command(argv: list[str]) -> tuple[str | None, str, list[str]]:
    """``[TASK] COMMAND rest...`` -> (task, command, rest)."""
    from yolo_lr.tasks import modes, tasks

    task = None
    if argv[0] in tasks():
        task, argv = argv[0], argv[1:]
        if not argv:
            raise LRConfigError(f"yolo-lr: a task word needs a command after it, e.g. yolo-lr {task} train ...")
    cmd = argv[0].replace("_", "-") if argv[0] in {"copy_cfg", "copy-cfg"} else argv[0]
    known = (*COMMANDS, *modes())
    if cmd not in known:
        near = difflib.get_close_matches(cmd, [*known, *tasks()], n=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        raise LRConfigError(
            f"yolo-lr: unknown command '{cmd}'.{hint} Commands: {', '.join(dict.fromkeys(known))}; a task word "
            f"({', '.join(tasks())}) may come first. See `yolo-lr --help`."
        )
    if task is not None and cmd not in (*modes(), *TASK_COMMANDS):
        raise LRConfigError(
            f"yolo-lr: the task word '{task}' goes with {', '.join((*modes(), *TASK_COMMANDS))}, not with '{cmd}'"
        )
    return task, cmd, argv[1:]


def help_text(topic: str | None = None) -> str:
    """The general help, or one command's, with the installed Ultralytics' tasks filled in."""
    from yolo_lr.tasks import tasks

    return COMMAND_HELP.get(str(topic), HELP).replace("{tasks}", ", ".join(tasks()))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in HELP_WORDS:
        print(help_text(argv[1] if len(argv) > 1 and argv[0] == "help" else None))
        return 0
    if any(a in HELP_WORDS for a in argv[1:]):  # `yolo-lr train --help`, `yolo-lr segment train -h`
        from yolo_lr.tasks import tasks

        print(help_text(next((a for a in argv if a not in tasks()), None)))
        return 0
    try:
        task, cmd, rest = _split_command(argv)
        if cmd == "presets":
            return cmd_presets()
        if cmd == "check":
            return cmd_check()
        parsed = parse_words(rest, positional=2 if cmd == "copy-cfg" else 0)  # copy-cfg NAME [force]
        if parsed.task is not None and task is not None and parsed.task != task:
            raise LRConfigError(f"yolo-lr: two tasks given, '{task}' and '{parsed.task}': keep one")
        parsed.task = parsed.task or task
        if parsed.task is not None and cmd in {"plot", "show", "copy-cfg"}:
            raise LRConfigError(f"yolo-lr {cmd}: takes no task (got '{parsed.task}')")
        if cmd == "copy-cfg":
            return cmd_copy_cfg(parsed)
        if cmd == "plot":
            return cmd_plot(parsed.args)
        if cmd == "show":
            return cmd_show(parsed.args)
        if cmd == "find":
            return cmd_find(parsed)
        if cmd == "sweep":
            return cmd_sweep(parsed)
        if cmd == "help":
            print(help_text())
            return 0
        return cmd_ultralytics(cmd, parsed)
    except LRConfigError as e:
        print(str(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
