"""The ``ray`` engine of :func:`yolo_lr.tools.sweep.sweep`: every point of the grid is a Ray Tune trial.

Trials run in parallel as the resources allow (``cpus_per_trial``, ``gpus_per_trial``), on a local Ray started for the
sweep or an existing cluster (``address=``). Each trial is the same training as the local engine's
(:func:`yolo_lr.tools.sweep.train_point`): a normal plugin run in its own run folder of the sweep directory, with its
``lr.csv``. It reports its row after every epoch, so Ray's ASHA can stop a trailing trial (``early_stop=asha``), and
the sweep's table is built from what the trials reported.

Early stopping judges a trial before its schedule has ended. Two runs of different policies compared at the same
epoch are at different points of their decay (a WSD run is still at its peak LR while a cosine run has come down),
which favours whichever decays first. So ASHA here only compares trials that share every value but ``lr0`` (one ASHA
per combination of the other axes): within one schedule, the lr0 values are judged at the same point of it, and the
policies are compared at the end, between runs that trained to the end.

The experiment's state lives in the sweep directory (``ray/``). A sweep killed mid-way continues with
``resume=DIR``: Ray's ``Tuner.restore`` keeps what its scheduler decided, and a trial whose run folder holds its
``row.json`` is not trained again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

EXPERIMENT = "ray"  # the Ray Tune experiment's folder inside the sweep directory


def run_trials(
    plan: dict[str, Any],
    say: Callable[..., None],
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    address: str | None = None,
) -> list:
    """Run the plan's points as Ray Tune trials (or continue the experiment the sweep directory holds); the rows in
    the plan's order.

    Raises:
        LRConfigError: a trial found a setting that fails every run (the same error as the local engine).
        ValueError: a resource count below 0.
    """
    from yolo_lr.config import LRConfigError
    from yolo_lr.tools.sweep import ROW_FILE, SweepInterrupted, SweepRow, point_dir

    cpus = 1.0 if cpus_per_trial is None else float(cpus_per_trial)
    gpus = _default_gpus() if gpus_per_trial is None else float(gpus_per_trial)
    if cpus <= 0 or gpus < 0:
        raise ValueError(f"cpus_per_trial={cpus_per_trial} must be > 0 and gpus_per_trial={gpus_per_trial} >= 0")
    started = not ray.is_initialized()
    if started:
        names = ("YOLO_OFFLINE", "YOLO_CONFIG_DIR", "YOLO_LR_DISABLE")
        env = {
            k: str(Path(os.environ[k]).resolve()) if k.endswith("_DIR") else os.environ[k]
            for k in names
            if k in os.environ
        }
        env |= {"OMP_NUM_THREADS": str(max(1, int(cpus))), "RAY_CHDIR_TO_TRIAL_DIR": "0"}
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local cluster needs no token prompt
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trial, plan=plan, threads=max(1, int(cpus))), {"cpu": cpus, "gpu": gpus}
        )
        experiment = Path(plan["save_dir"]) / EXPERIMENT
        if tune.Tuner.can_restore(str(experiment)):
            say(f"  continuing the Ray Tune experiment in {experiment}", flush=True)
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"point": tune.grid_search(plan["points"])},
                # reuse_actors: a worker trains its next point without a new process (the local engine also trains
                # one model after another in one process)
                tune_config=tune.TuneConfig(num_samples=1, scheduler=_scheduler(plan), reuse_actors=True),
                run_config=tune.RunConfig(
                    name=EXPERIMENT,
                    storage_path=plan["save_dir"],
                    verbose=0,
                    callbacks=[_progress(plan, say)],
                ),
            )
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    results = {_key(r.config["point"]): r for r in grid if r.config}
    rows, unfinished = [], 0
    for point in plan["points"]:
        rest = {k: v for k, v in point.items() if k != "lr0"}
        done = point_dir(plan, point) / ROW_FILE  # written by the trial when it finished, by ASHA when it stopped it
        result = results.get(_key(point))
        m = (result.metrics if result is not None else None) or {}
        if m.get("config_error"):
            raise LRConfigError(m["config_error"])
        if done.is_file():
            rows.append(SweepRow.from_json(json.loads(done.read_text())))
        elif m.get("finished") and "row" in m:  # a cluster node's run folder this machine cannot see
            rows.append(SweepRow.from_json(json.loads(m["row"])))
        elif result is not None and result.error is not None:
            rows.append(SweepRow(float(point["lr0"]), rest, error=f"Ray trial failed: {result.error}"[:200]))
        else:
            unfinished += 1
    if unfinished:
        raise SweepInterrupted(Path(plan["save_dir"]), len(rows), len(plan["points"]))
    return rows


def _key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


def _default_gpus() -> float:
    try:
        import torch

        return 1.0 if torch.cuda.is_available() else 0.0
    except Exception:  # noqa: BLE001 - no torch CUDA: CPU trials
        return 0.0


def _trial(config: dict[str, Any], plan: dict[str, Any], threads: int) -> None:
    """One point, trained in a Ray worker; reports its row after each epoch and once finished."""
    import torch

    from yolo_lr.config import LRConfigError
    from yolo_lr.tools.sweep import judged_value, train_point

    torch.set_num_threads(threads)

    def report(row, finished: bool = False) -> None:
        value = judged_value(plan, row)  # what ASHA judges: the ranking metric unless early_stop_metric says otherwise
        value = {"metric": value} if math.isfinite(value) else {}  # nothing to judge yet: ASHA lets it go on
        tune.report({"epoch": row.epochs, **value, "row": json.dumps(row.to_json()), "finished": finished})

    try:
        row, _ = train_point(plan, config["point"], on_epoch=report, drop_callbacks=_ULTRALYTICS_RAY)
    except LRConfigError as e:
        tune.report({"epoch": 0, "config_error": str(e), "finished": True})
        return
    report(row, finished=True)


_ULTRALYTICS_RAY = "ultralytics.utils.callbacks.raytune"  # it would report each epoch a second time


def _scheduler(plan: dict[str, Any]) -> Any:
    from yolo_lr.tools.sweep import early_stop_on

    if plan["early_stop"] != "asha":
        return None
    return _ASHAPerSchedule(
        save_dir=plan["save_dir"],
        time_attr="epoch",
        metric="metric",
        mode=early_stop_on(plan)[1],
        max_t=plan["epochs"],
        grace_period=plan["grace_period"],
        reduction_factor=3,
    )


def _progress(plan: dict[str, Any], say: Callable[..., None]) -> Any:
    from yolo_lr.tools.sweep import ROW_FILE, SweepRow, _status, point_dir

    total = len(plan["points"])

    class Progress(tune.Callback):
        done = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            finished = sum((point_dir(plan, p) / ROW_FILE).is_file() for p in plan["points"])  # a resume's too
            self.done = max(self.done + 1, finished)
            m = trial.last_result or {}
            if "row" not in m:
                say(f"  [{self.done}/{total}] {trial.config['point']}: no result", flush=True)
                return
            row = SweepRow.from_json(json.loads(m["row"]))
            row.stopped = not m.get("finished", False)
            say(f"  [{self.done}/{total}] {row.label}: {_status(row, plan['metric'])}", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.done += 1
            say(f"  [{self.done}/{total}] {trial.config['point']}: failed", flush=True)

    return Progress()


class _ASHAPerSchedule(FIFOScheduler):
    """One ASHA per combination of the grid's values besides lr0: a trial is only judged against the trials of the
    same schedule, at the same point of it. A trial it stops gets its row (``stopped``) in its run folder, so a resumed
    sweep keeps the decision."""

    def __init__(self, save_dir: str | None = None, **asha: Any):
        super().__init__()
        self._save_dir = save_dir
        self._asha_args = asha
        self._by: dict[str, ASHAScheduler] = {}

    def _of(self, trial) -> ASHAScheduler:
        key = _key({k: v for k, v in trial.config["point"].items() if k != "lr0"})
        if key not in self._by:
            self._by[key] = ASHAScheduler(**self._asha_args)
        return self._by[key]

    def on_trial_add(self, tune_controller, trial):
        self._of(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result):
        action = self._of(trial).on_trial_result(tune_controller, trial, result)
        if action == self.STOP and self._save_dir and "row" in result and not result.get("finished"):
            from yolo_lr.tools.sweep import ROW_FILE, point_dir

            row = {**json.loads(result["row"]), "stopped": True}
            folder = point_dir({"save_dir": self._save_dir}, trial.config["point"])
            if folder.is_dir():
                (folder / ROW_FILE).write_text(json.dumps(row, indent=1) + "\n")
        return action

    def on_trial_complete(self, tune_controller, trial, result):
        self._of(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial):
        self._of(trial).on_trial_remove(tune_controller, trial)
