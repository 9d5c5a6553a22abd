"""The Ultralytics adapter: callbacks that make the optimizer use the policy's learning rate at every step.

Every Ultralytics quirk lives here (see ``shared/ULTRALYTICS_NOTES.md`` for the measured facts):

- Native code writes the LR in two places: warmup (after ``on_train_batch_start``, for ``ni <= nw``) and
  ``scheduler.step()`` (after ``on_train_epoch_start``). Neither can be pre-empted from a callback, so the controller
  wraps the trainer's own ``optimizer_step`` method and sets every param group's LR immediately before the step:
  whatever native code, ``time=`` scheduler rebuilds or OOM retries wrote before is overridden.
- Native warmup is left to run: it ramps ``accumulate`` (gradient accumulation) and momentum exactly as Ultralytics
  does. The controller uses the same warmup length ``nw`` and only replaces the LR it computed.
- Param groups are addressed by their ``param_group`` name (``bias`` warms from ``warmup_bias_lr``); each group's
  peak is its ``initial_lr``, which is the *effective* base LR (after ``optimizer=auto`` replaced ``lr0``, and the 3x
  head groups of MuSGD).
- Plateau state is saved to ``lr_state.json`` in the run directory after every epoch, right after the checkpoint, and
  restored on resume, so a resumed run continues with the same counters, best value and factor.
- Per-step LRs are written to ``lr.csv`` (flushed once per epoch) and drawn to ``lr.png`` at the end of training.

The plugin stays inert (native LRs at every step) when no ``lr_*`` key is set.
"""

from __future__ import annotations

import csv
import functools
import json
import math
from pathlib import Path
from typing import Any

from yolo_lr.config import LRSettings, is_active, resolve, validate
from yolo_lr.schedule import Group, group_lrs, policy_time, warmup_iterations

CSV_NAME, STATE_NAME, PLOT_NAME = "lr.csv", "lr_state.json", "lr.png"
_ATTR = "yolo_lr"  # trainer attribute holding the controller of that run
BACKBONE = "yolo_lr_backbone"  # param-group key marking the backbone part of a split group


def _logger():
    from ultralytics.utils import LOGGER

    return LOGGER


def _rank() -> int:
    from ultralytics.utils import RANK

    return RANK


class LRController:
    """Drives the LR of one Ultralytics trainer. Created by the callbacks; stored as ``trainer.yolo_lr``."""

    def __init__(self, settings: LRSettings):
        self.settings = settings
        self.plateau = settings.plateau.tracker() if settings.plateau else None
        self.requested: dict[str, Any] = {}  # optimizer/lr0 as the user asked, before optimizer=auto
        self.states: dict[str, dict] = {}  # epoch -> plateau state after that epoch (saved for resume)
        self.reductions: list[int] = []  # epochs after which the plateau reduced the LR
        self.batch_i, self.nb, self.nw = -1, 1, 0
        self.pending_epoch: int | None = None  # epoch trained but not yet fed to the plateau
        self.rows: list[list] = []  # this epoch's lr.csv rows, flushed at epoch end
        self.last_lrs: list[float] | None = None
        self.save_dir: Path | None = None
        self.loss_metric_checked = False
        self.groups: list[Group] = []  # the optimizer's groups as the schedule sees them
        self.header: list[str] = []  # lr.csv columns (set at setup, from the param groups)
        self.frozen: list = []  # backbone parameters this plugin froze (until lr_unfreeze_epoch)

    # ---------------------------------------------------------------------------------------------------- lifecycle
    def setup(self, trainer) -> None:
        """After the optimizer exists (on_pretrain_routine_end): wrap optimizer_step, restore state, report."""
        self.save_dir = Path(trainer.save_dir)
        self._check_metric_known(trainer)
        if not getattr(trainer.optimizer_step, "_yolo_lr", False):
            original = trainer.optimizer_step

            @functools.wraps(original)
            def optimizer_step(*args, **kwargs):
                self.apply(trainer)
                return original(*args, **kwargs)

            optimizer_step._yolo_lr = True
            trainer.optimizer_step = optimizer_step
        self.groups = _groups(trainer.optimizer)
        self._finetune_setup(trainer)
        if trainer.start_epoch > 0:
            self._restore(trainer)
        elif _rank() in {-1, 0}:
            (self.save_dir / CSV_NAME).unlink(missing_ok=True)
            (self.save_dir / STATE_NAME).unlink(missing_ok=True)
        if _rank() in {-1, 0}:
            self._report(trainer)

    def epoch_start(self, trainer) -> None:
        """Reset the batch counter; read the epoch length and warmup length the trainer uses now."""
        self.batch_i = -1
        self.nb = max(len(trainer.train_loader), 1)
        self.nw = _warmup_iterations(trainer, self.nb)
        self.rows = []  # an epoch repeated (NaN recovery, OOM retry) replaces its rows
        self.pending_epoch = trainer.epoch
        self.groups = _groups(trainer.optimizer)  # NaN recovery may have reloaded the optimizer
        if self.frozen and self.settings.unfreeze_epoch is not None and trainer.epoch >= self.settings.unfreeze_epoch:
            for p in self.frozen:
                p.requires_grad_(True)
            _logger().info(f"yolo_lr: epoch {trainer.epoch + 1}: backbone unfrozen ({len(self.frozen)} tensors)")
            self.frozen = []

    def apply(self, trainer) -> None:
        """Set every param group's LR (and momentum, for policies that cycle it) for the step about to happen."""
        s, epoch, i, nb = self.settings, trainer.epoch, max(self.batch_i, 0), self.nb
        lrs = group_lrs(
            s,
            self.groups,
            epoch=epoch,
            i=i,
            nb=nb,
            nw=self.nw,
            epochs=trainer.epochs,
            warmup_bias_lr=trainer.args.warmup_bias_lr,
            plateau_factor=self.plateau.factor if self.plateau else 1.0,
        )
        momentum = None
        if s.cycles_momentum:
            momentum = s.policy.momentum(*policy_time(s, epoch, i, nb, trainer.epochs), trainer.args.momentum)
        for g, lr in zip(trainer.optimizer.param_groups, lrs):
            g["lr"] = lr
            if momentum is not None:
                if "momentum" in g:
                    g["momentum"] = momentum
                elif "betas" in g:
                    g["betas"] = (momentum, *tuple(g["betas"])[1:])
        self.last_lrs = lrs
        g0 = trainer.optimizer.param_groups[0]
        mom = g0.get("momentum", (g0.get("betas") or (float("nan"),))[0])
        step = trainer.ema.updates + 1 if getattr(trainer, "ema", None) is not None else len(self.rows) + 1
        self.rows.append([epoch, i + nb * epoch, step, *lrs, mom])

    def step_rows(self) -> tuple[list[str], list[list]]:
        """lr.csv's header and this epoch's rows so far (read by yolo_lr.loggers at on_train_epoch_end)."""
        return self.header, self.rows

    def epoch_end(self, trainer) -> None:
        """Report the LR the optimizer last used as this epoch's lr/pg* (results.csv, loggers)."""
        if self.last_lrs is not None:
            trainer.lr = {f"lr/pg{j}": lr for j, lr in enumerate(self.last_lrs)}

    def after_validation(self, trainer) -> None:
        """Feed the epoch's metric to the plateau (rank 0), save state and flush lr.csv. Once per trained epoch."""
        if self.pending_epoch is None or self.pending_epoch != trainer.epoch:
            return  # final_eval's extra on_fit_epoch_end, or already done in on_model_save
        epoch, self.pending_epoch = trainer.epoch, None
        if _rank() not in {-1, 0}:
            return
        if self.plateau is not None:
            value = self.metric_value(trainer)
            before = self.plateau.factor
            if self.plateau.step(value):
                self.reductions.append(epoch)
                _logger().info(
                    f"yolo_lr: {self.settings.plateau.metric} did not improve for {self.plateau.patience + 1} "
                    f"epochs (last {value:.5g}); LR factor {before:.4g} -> {self.plateau.factor:.4g}"
                )
            self.states[str(epoch)] = self.plateau.state_dict()
            self._write_state()
        self._flush_rows()

    def sync(self, trainer) -> None:
        """DDP: every rank takes rank 0's plateau state (only rank 0 has validation metrics).

        Called at every on_fit_epoch_end, which every rank runs the same number of times (each epoch, plus
        final_eval's extra call), so the collective never waits for a rank that will not come. Do not make it
        conditional on per-rank state.
        """
        if self.plateau is None or getattr(trainer, "world_size", 1) <= 1:
            return
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        box = [self.plateau.state_dict() if _rank() == 0 else None]
        dist.broadcast_object_list(box, 0)
        self.plateau.load_state_dict(box[0])

    def finish(self, trainer) -> None:
        """Draw lr.png from lr.csv (rank 0, end of training), unless plots=False."""
        path = self.save_dir / CSV_NAME if self.save_dir else None
        if path is None or not path.exists() or not trainer.args.plots:
            return
        try:
            plot_lr_csv(path, self.save_dir / PLOT_NAME, self.reductions)
            from yolo_lr.loggers import register_plot

            register_plot(trainer, self.save_dir / PLOT_NAME)  # W&B/ClearML upload trainer.plots
        except Exception as e:  # noqa: BLE001 - a plot must never fail a finished training
            _logger().warning(f"yolo_lr: could not draw {PLOT_NAME}: {e}")

    # -------------------------------------------------------------------------------------------------- fine-tuning
    def _finetune_setup(self, trainer) -> None:
        """Freeze the backbone until lr_unfreeze_epoch; warn when there are no pretrained weights to protect."""
        s = self.settings
        if not s.split_backbone:
            return
        if not _has_pretrained_weights(trainer.args):
            _logger().warning(
                f"yolo_lr: fine-tuning rules (lr_backbone_scale/lr_unfreeze_epoch) on model={trainer.args.model}, "
                "which has no pretrained weights: freezing or slowing a randomly initialised backbone only hurts. "
                "Fine-tune from a .pt checkpoint, or train from scratch without these keys."
            )
        if s.unfreeze_epoch and trainer.start_epoch < s.unfreeze_epoch:
            groups = [g for g in trainer.optimizer.param_groups if g.get(BACKBONE)]
            self.frozen = [p for g in groups for p in g["params"] if p.requires_grad]
            for p in self.frozen:
                p.requires_grad_(False)
            _logger().info(f"yolo_lr: backbone frozen ({len(self.frozen)} tensors) until epoch {s.unfreeze_epoch + 1}")

    # ------------------------------------------------------------------------------------------------------ metrics
    def metric_value(self, trainer) -> float:
        """The watched metric for the epoch just validated; NaN when it is missing (counted as no improvement)."""
        name = self.settings.plateau.metric
        if name == "fitness":
            value = trainer.fitness
        else:
            pool = dict(trainer.metrics or {})
            if trainer.tloss is not None:
                pool.update(trainer.label_loss_items(trainer.tloss, prefix="train"))
            pool.update(getattr(trainer, "lr", None) or {})
            value = pool.get(name)
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    def _check_metric_known(self, trainer) -> None:
        """Fail before training when the task never produces the watched metric."""
        if self.plateau is None or _rank() not in {-1, 0}:
            return
        name = self.settings.plateau.metric
        if name == "fitness" or name.startswith(("train/", "val/")):
            return  # loss names are only known after the first forward pass: checked then (check_loss_metric)
        known = [
            "fitness",
            *(trainer.metrics or {}),
            *(f"lr/pg{j}" for j in range(len(trainer.optimizer.param_groups))),
        ]
        if name not in known:
            raise _metric_error(name, known)

    def check_loss_metric(self, trainer) -> None:
        """After the first batch, when loss names exist: a train/ or val/ metric must be one of them."""
        if self.loss_metric_checked or self.plateau is None:
            return
        self.loss_metric_checked = True
        name = self.settings.plateau.metric
        if name.startswith(("train/", "val/")) and trainer.loss_names:
            known = trainer.label_loss_items(prefix="train") + trainer.label_loss_items(prefix="val")
            if name not in known:
                raise _metric_error(name, ["fitness", *(trainer.metrics or {}), *known])

    # -------------------------------------------------------------------------------------------------- persistence
    def _write_state(self) -> None:
        # A plain write: an atomic tmp+rename costs 4-10x more right after Ultralytics' checkpoint write, and a torn
        # file (crash mid-write of a few hundred bytes) is detected on resume, which then warns and starts fresh.
        state = {"metric": self.settings.plateau.metric, "states": self.states, "reductions": self.reductions}
        (self.save_dir / STATE_NAME).write_text(json.dumps(state))

    def _restore(self, trainer) -> None:
        """Resume: plateau state as of the checkpoint's epoch; lr.csv cut back to the epochs the checkpoint holds."""
        last = trainer.start_epoch - 1
        if self.plateau is not None:
            path = self.save_dir / STATE_NAME
            try:
                saved = json.loads(path.read_text()) if path.exists() else {}
            except (OSError, ValueError):
                saved = {}
            state = saved.get("states", {}).get(str(last))
            if state is None:
                _logger().warning(
                    f"yolo_lr: no plateau state for epoch {last + 1} in {path}; the plateau restarts from scratch"
                )
            else:
                self.plateau.load_state_dict(state)
                self.states = {k: v for k, v in saved["states"].items() if int(k) <= last}
                self.reductions = [e for e in saved.get("reductions", []) if e <= last]
        path = self.save_dir / CSV_NAME
        if _rank() in {-1, 0} and path.exists():
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            kept = [rows[0], *(r for r in rows[1:] if r and int(r[0]) <= last)] if rows else []
            with open(path, "w", newline="") as f:
                csv.writer(f).writerows(kept)

    def _flush_rows(self) -> None:
        if not self.rows or self.save_dir is None:
            return
        path = self.save_dir / CSV_NAME
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(self.header)
            writer.writerows(self.rows)
        self.rows = []

    # ------------------------------------------------------------------------------------------------------ report
    def _report(self, trainer) -> None:
        log = _logger()
        groups = trainer.optimizer.param_groups
        self.header = [
            "epoch",
            "iteration",
            "step",
            *(
                f"lr/pg{j}({g.get('param_group', j)}{'/backbone' if g.get(BACKBONE) else ''})"
                for j, g in enumerate(groups)
            ),
            "momentum",
        ]
        req = self.requested
        if str(req.get("optimizer", "")).lower() == "auto":
            g0 = groups[0]
            mom = g0.get("momentum", (g0.get("betas") or (float("nan"),))[0])
            log.warning(
                f"yolo_lr: optimizer=auto replaced lr0={req.get('lr0')} with {type(trainer.optimizer).__name__}"
                f"(lr={trainer.args.lr0:g}, momentum={mom:g}) and warmup_bias_lr="
                f"{trainer.args.warmup_bias_lr:g}. The policy runs on that effective peak LR. Set optimizer=SGD, "
                "AdamW, ... to have lr0 honoured."
            )
        peaks = sorted({round(g["initial_lr"], 12) for g in groups})
        nb = max(len(trainer.train_loader), 1)
        warm = _warmup_iterations(trainer, nb)
        peak = "/".join(f"{p:g}" for p in peaks)
        final = "/".join(f"{p * self.settings.lrf:g}" for p in peaks)
        log.info(
            f"yolo_lr: {self.settings.describe()} | peak lr={peak} final={final} | "
            f"warmup_epochs={trainer.args.warmup_epochs:g} ({warm} iterations, bias from "
            f"{trainer.args.warmup_bias_lr:g}) | {type(trainer.optimizer).__name__}, {len(groups)} param groups, "
            f"{nb} batches/epoch"
        )


def _metric_error(name: str, known: list[str]):
    import difflib

    from yolo_lr.config import LRConfigError

    near = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    return LRConfigError(
        f"yolo_lr: lr_plateau_metric={name!r} is not produced by this task.{hint} Available: {', '.join(known)}."
    )


def _warmup_iterations(trainer, nb: int) -> int:
    """The trainer's own warmup length in batches (same rule as native warmup, so accumulate ramps align)."""
    if hasattr(trainer, "_get_warmup_iterations"):
        return int(trainer._get_warmup_iterations(nb))
    return warmup_iterations(trainer.args.warmup_epochs, trainer.epochs, nb)


def _groups(optimizer) -> list[Group]:
    return [Group(g.get("param_group", "?"), g["initial_lr"], bool(g.get(BACKBONE))) for g in optimizer.param_groups]


def _has_pretrained_weights(args) -> bool:
    def is_weights(v) -> bool:
        return isinstance(v, (str, Path)) and str(v).endswith((".pt", ".pth"))

    return is_weights(args.model) or is_weights(getattr(args, "pretrained", None))


def backbone_layer_count(model, settings: LRSettings) -> int:
    """How many leading ``model.N`` layers form the backbone: lr_backbone_layers, else the YAML's backbone section."""
    if settings.backbone_layers:
        return settings.backbone_layers
    inner = getattr(model, "module", model)  # DDP
    yaml = getattr(inner, "yaml", None) or {}
    if not yaml.get("backbone"):
        raise ValueError("yolo_lr: this model has no YAML 'backbone' section; set lr_backbone_layers=N")
    return len(yaml["backbone"])


def split_backbone_groups(optimizer, model, settings: LRSettings) -> int:
    """Split every param group into its head part (kept in place) and a backbone part (appended, marked BACKBONE).

    Runs right after Ultralytics builds the optimizer, on every rank and on resume alike, so the group structure
    saved in checkpoints is the structure a resumed run rebuilds. Returns the number of backbone tensors.
    """
    import re

    n = backbone_layer_count(model, settings)
    pattern = re.compile(r"(?:^|\.)model\.(\d+)\.")
    backbone = set()
    for name, p in model.named_parameters():
        m = pattern.search(name)
        if m and int(m.group(1)) < n:
            backbone.add(id(p))
    parts = []
    for g in optimizer.param_groups:
        head = [p for p in g["params"] if id(p) not in backbone]
        bb = [p for p in g["params"] if id(p) in backbone]
        g["params"] = head
        parts.append({**{k: v for k, v in g.items() if k != "params"}, "params": bb, BACKBONE: True})
    for part in parts:
        optimizer.add_param_group(part)
    return len(backbone)


def plot_lr_csv(csv_path: Path, png_path: Path, reductions: list[int] | None = None, title: str | None = None) -> Path:
    """Draw LR vs iteration per param group from an lr.csv, with epoch boundaries and plateau reductions marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], [r for r in rows[1:] if r]
    lr_cols = [j for j, h in enumerate(header) if h.startswith("lr/")]
    it = [int(r[1]) for r in data]
    fig = Figure(figsize=(8, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    seen, tops = set(), {}
    for j in lr_cols:  # identical curves (weight/bn) are drawn once, labelled together
        ys = tuple(float(r[j]) for r in data)
        if ys in seen:
            continue
        seen.add(ys)
        same = [header[k] for k in lr_cols if tuple(float(r[k]) for r in data) == ys]
        ax.plot(it, ys, label=", ".join(same), linewidth=1.2)
        tops["bias" in header[j]] = max(tops.get("bias" in header[j], 0.0), max(ys))
    if tops.get(True, 0.0) > 3 * tops.get(False, math.inf):  # the bias warmup spike would flatten everything else
        ax.set_ylim(0, 1.25 * tops[False])
        ax.text(0.01, 0.97, f"bias warmup from {tops[True]:.3g} clipped", transform=ax.transAxes, fontsize=8, va="top")
    epoch_first = {}
    for r in data:
        epoch_first.setdefault(int(r[0]), int(r[1]))
    for e, x in epoch_first.items():
        if e > 0:
            ax.axvline(x, color="0.85", linewidth=0.8, zorder=0)
    for e in reductions or []:
        if e + 1 in epoch_first:
            ax.axvline(epoch_first[e + 1], color="tab:red", linestyle="--", linewidth=1.0)
            ax.annotate("plateau", (epoch_first[e + 1], ax.get_ylim()[1]), color="tab:red", fontsize=8, va="top")
    ax.set_xlabel("iteration (batch); grey lines = epoch starts")
    ax.set_ylabel("learning rate")
    ax.set_title(title or f"yolo_lr: LR per optimizer step ({csv_path.parent.name})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path)
    return png_path


# ---------------------------------------------------------------------------------------------------- the callbacks
def _controller(trainer, create: bool = False) -> LRController | None:
    ctl = trainer.__dict__.get(_ATTR)
    if ctl is None and create and is_active(vars(trainer.args)):
        ctl = LRController(resolve(vars(trainer.args)))
        trainer.__dict__[_ATTR] = ctl
    return ctl


def on_pretrain_routine_start(trainer):
    """Rank 0, before data and optimizer: remember what the user asked for and print config warnings."""
    if not is_active(vars(trainer.args)):
        return
    for w in validate(vars(trainer.args)):
        _logger().warning(f"yolo_lr: {w}")
    ctl = _controller(trainer, create=True)
    ctl.requested = {"optimizer": trainer.args.optimizer, "lr0": trainer.args.lr0}


def on_pretrain_routine_end(trainer):
    """Optimizer, loaders and resume state exist: take over the LR."""
    ctl = _controller(trainer, create=True)
    if ctl is not None:
        ctl.setup(trainer)


def on_train_epoch_start(trainer):
    if ctl := _controller(trainer):
        ctl.epoch_start(trainer)


def on_train_batch_start(trainer):
    if ctl := _controller(trainer):
        ctl.batch_i += 1


def on_train_batch_end(trainer):
    if (ctl := _controller(trainer)) and not ctl.loss_metric_checked:
        ctl.check_loss_metric(trainer)


def on_train_epoch_end(trainer):
    if ctl := _controller(trainer):
        ctl.epoch_end(trainer)


def on_model_save(trainer):
    if ctl := _controller(trainer):
        ctl.after_validation(trainer)


def on_fit_epoch_end(trainer):
    if ctl := _controller(trainer):
        ctl.after_validation(trainer)
        ctl.sync(trainer)


def on_train_end(trainer):
    if ctl := _controller(trainer):
        ctl.finish(trainer)


callbacks = {
    "on_pretrain_routine_start": on_pretrain_routine_start,
    "on_pretrain_routine_end": on_pretrain_routine_end,
    "on_train_epoch_start": on_train_epoch_start,
    "on_train_batch_start": on_train_batch_start,
    "on_train_batch_end": on_train_batch_end,
    "on_train_epoch_end": on_train_epoch_end,
    "on_model_save": on_model_save,
    "on_fit_epoch_end": on_fit_epoch_end,
    "on_train_end": on_train_end,
}
