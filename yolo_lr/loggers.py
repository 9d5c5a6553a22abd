"""The per-step LR curve and the plugin's plots in the experiment trackers Ultralytics already logs to.

Ultralytics' TensorBoard, W&B, MLflow, Comet and ClearML callbacks log ``lr/pg0..`` once per epoch. While a yolo_lr
policy drives the LR, this module also sends every optimizer step's LR, one series per param group, named after the
lr.csv columns with ``lr/`` turned into ``lr_step/`` and the parentheses dropped (MLflow refuses them):

    lr_step/pg0_weight  lr_step/pg1_bn  lr_step/pg2_bias  (lr_step/pg3_weight_backbone ... with fine-tuning rules)

The x value is the optimizer step (1, 2, ...: lr.csv's ``step`` column), not the epoch; on W&B it is the
``lr_step/step`` metric, so these charts do not share Ultralytics' epoch axis.

A tracker counts as active exactly when Ultralytics logs to it: its settings flag is on (``yolo settings
tensorboard=True``; Ultralytics enables mlflow, comet and clearml by default once their package is installed), the
Ultralytics integration module found its client package, and that integration's run object exists (the TensorBoard
SummaryWriter, ``wandb.run``, the MLflow run Ultralytics started or joined, Comet's running experiment, ClearML's
current task). The LRs come from the rows the adapter buffers for lr.csv: nothing is added to the per-step path; the
epoch's rows are sent at ``on_train_epoch_end`` (one ``log_batch`` call for MLflow). A tracker that raises is warned
about once and left alone for the rest of the run: logging never stops a training.

Plots: :func:`register_plot` puts a PNG in the trainer's plot registry (``trainer.plots``), which Ultralytics' W&B and
ClearML callbacks upload; this module uploads registered plots to Comet (which ignores the registry) and, when they lie
outside the run directory, to MLflow (which uploads the run directory's PNGs itself).

Examples:
    >>> from yolo_lr.loggers import register_plot
    >>> register_plot(trainer, trainer.save_dir / "lr_find.png")  # e.g. the LR finder's plot, inside a training
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "lr_step/"  # per-step series; Ultralytics' epoch-stepped ones are lr/pg*
WANDB_STEP = "lr_step/step"  # the x axis of the lr_step/* charts on W&B
_ATTR = "yolo_lr_loggers"  # trainer attribute holding this module's per-run state
_CALLBACKS = "ultralytics.utils.callbacks."
_MLFLOW_BATCH = 1000  # MLflow's limit of metrics per log_batch call


@dataclass
class _State:
    last_step: int = 0  # highest optimizer step already sent (an epoch repeated after NaN recovery is not resent)
    broken: set[str] = field(default_factory=set)  # trackers that raised: not called again in this run
    wandb_axis: bool = False  # define_metric done on the W&B run
    plots: list[Path] = field(default_factory=list)  # plots given to register_plot


def _state(trainer) -> _State:
    state = trainer.__dict__.get(_ATTR)
    if state is None:
        state = trainer.__dict__[_ATTR] = _State()
    return state


def series_name(column: str) -> str:
    """The per-step series name of an lr.csv LR column.

    Examples:
        >>> series_name("lr/pg0(weight)"), series_name("lr/pg3(weight/backbone)")
        ('lr_step/pg0_weight', 'lr_step/pg3_weight_backbone')
    """
    base = column.removeprefix("lr/")
    return PREFIX + re.sub(r"[^A-Za-z0-9.-]+", "_", base).strip("_")


# ------------------------------------------------------------------------------------------ which trackers are live
def _integration(key: str, module: str):
    """Ultralytics' integration module for a settings key, if the setting is on and Ultralytics loaded the module."""
    from ultralytics.utils import SETTINGS

    if SETTINGS.get(key) is not True:
        return None
    return sys.modules.get(_CALLBACKS + module)  # imported by add_integration_callbacks when the setting was on


def _tensorboard(trainer):
    mod = _integration("tensorboard", "tensorboard")
    return getattr(mod, "WRITER", None)


def _wandb(trainer):
    mod = _integration("wandb", "wb")
    wb = getattr(mod, "wb", None)
    return wb.run if wb is not None else None


def _mlflow(trainer):
    mod = _integration("mlflow", "mlflow")
    client = getattr(mod, "mlflow", None)
    if client is None or not getattr(trainer, "_mlflow_active", False):
        return None
    return client.active_run()


def _comet(trainer):
    mod = _integration("comet", "comet")
    client = getattr(mod, "comet_ml", None)
    return client.get_running_experiment() if client is not None else None


def _clearml(trainer):
    mod = _integration("clearml", "clearml")
    if getattr(mod, "clearml", None) is None:
        return None
    return mod.Task.current_task()


# ------------------------------------------------------------------------------------------------------ the writers
def _write_tensorboard(writer, trainer, names, rows) -> None:
    for _epoch, step, lrs in rows:
        for name, lr in zip(names, lrs):
            writer.add_scalar(name, lr, step)


def _write_wandb(run, trainer, names, rows) -> None:
    state = _state(trainer)
    if not state.wandb_axis:
        run.define_metric(WANDB_STEP)
        run.define_metric(PREFIX + "*", step_metric=WANDB_STEP)
        state.wandb_axis = True
    for _epoch, step, lrs in rows:
        run.log({WANDB_STEP: step, **dict(zip(names, lrs))}, commit=True)


def _write_mlflow(run, trainer, names, rows) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    ms = int(time.time() * 1000)
    metrics = [Metric(name, lr, ms, step) for epoch, step, lrs in rows for name, lr in zip(names, lrs)]
    client = MlflowClient()
    for k in range(0, len(metrics), _MLFLOW_BATCH):
        client.log_batch(run.info.run_id, metrics=metrics[k : k + _MLFLOW_BATCH])


def _write_comet(experiment, trainer, names, rows) -> None:
    for epoch, step, lrs in rows:
        experiment.log_metrics(dict(zip(names, lrs)), step=step, epoch=epoch + 1)


def _write_clearml(task, trainer, names, rows) -> None:
    logger = task.get_logger()
    for _epoch, step, lrs in rows:
        for name, lr in zip(names, lrs):
            logger.report_scalar(PREFIX.rstrip("/"), name.removeprefix(PREFIX), lr, iteration=step)


# settings key -> (run object of the live integration or None, writer)
TRACKERS = {
    "tensorboard": (_tensorboard, _write_tensorboard),
    "wandb": (_wandb, _write_wandb),
    "mlflow": (_mlflow, _write_mlflow),
    "comet": (_comet, _write_comet),
    "clearml": (_clearml, _write_clearml),
}


def _each_live(trainer):
    """Yield (key, run object, writer) for every tracker Ultralytics logs to in this run; never raises."""
    from ultralytics.utils import RANK

    if RANK not in {-1, 0}:
        return
    state = _state(trainer)
    for key, (find, write) in TRACKERS.items():
        if key in state.broken:
            continue
        try:
            run = find(trainer)
        except Exception as e:  # noqa: BLE001 - a tracker's client must never fail the training
            _give_up(state, key, e)
            continue
        if run is not None:
            yield key, run, write


def _give_up(state: _State, key: str, error: Exception) -> None:
    from ultralytics.utils import LOGGER

    state.broken.add(key)
    LOGGER.warning(f"yolo_lr: per-step LR logging to {key} failed and is off for this run: {error}")


# ----------------------------------------------------------------------------------------------------------- plots
def register_plot(trainer, path) -> None:
    """Register a finished PNG in the trainer's plot registry, so the trackers upload it with the run's plots.

    W&B (at every epoch end and at the end of training) and ClearML (at the end) read ``trainer.plots``; Comet, and
    MLflow for a file outside the run directory, get it from this module's ``on_train_end``. So register during
    training, or at ``on_train_end`` from a callback that runs before this module's (the adapter's does: it is
    registered first, and the plugin's callbacks all run before Ultralytics' integrations).

    Args:
        trainer (ultralytics.engine.trainer.BaseTrainer): The running trainer.
        path (str | Path): The image file; its stem is the name the trackers show.

    Examples:
        >>> register_plot(trainer, Path(trainer.save_dir) / "lr.png")
    """
    path = Path(path)
    trainer.on_plot(path)
    state = _state(trainer)
    if path not in state.plots:
        state.plots.append(path)


# ------------------------------------------------------------------------------------------------------- callbacks
def on_train_epoch_end(trainer) -> None:
    """Send the epoch's per-step LRs (the adapter's lr.csv rows) to every live tracker."""
    ctl = trainer.__dict__.get("yolo_lr")
    if ctl is None:
        return
    header, rows = ctl.step_rows()
    lr_cols = [j for j, h in enumerate(header) if h.startswith("lr/")]
    if not rows or not lr_cols:
        return
    live = list(_each_live(trainer))
    if not live:
        return
    state = _state(trainer)
    e_col, s_col = header.index("epoch"), header.index("step")
    fresh = [(int(r[e_col]), int(r[s_col]), [float(r[j]) for j in lr_cols]) for r in rows]
    fresh = [r for r in fresh if r[1] > state.last_step]
    if not fresh:
        return
    names = [series_name(header[j]) for j in lr_cols]
    for key, run, write in live:
        try:
            write(run, trainer, names, fresh)
        except Exception as e:  # noqa: BLE001
            _give_up(state, key, e)
    state.last_step = fresh[-1][1]


def on_train_end(trainer) -> None:
    """Upload registered plots to the trackers that do not read ``trainer.plots`` (Comet; MLflow outside save_dir)."""
    state = trainer.__dict__.get(_ATTR)
    plots = [p for p in state.plots if p.exists()] if state else []
    if not plots:
        return
    save_dir = Path(trainer.save_dir).resolve()
    for key, run, _ in _each_live(trainer):
        try:
            if key == "comet":
                for p in plots:
                    run.log_image(str(p), name=p.stem)
            elif key == "mlflow":
                from mlflow.tracking import MlflowClient

                for p in plots:
                    if p.resolve().parent != save_dir:  # Ultralytics uploads save_dir/*.png itself
                        MlflowClient().log_artifact(run.info.run_id, str(p))
        except Exception as e:  # noqa: BLE001
            _give_up(state, key, e)


callbacks = {
    "on_train_epoch_end": on_train_epoch_end,
    "on_train_end": on_train_end,
}
