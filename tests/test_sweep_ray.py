"""Grid sweeps (lr0 x lr_* values) and the Ray engine: the grid, its checks, ASHA per schedule, and real sweeps on a
local Ray cluster (a 2x2 grid whose trials are plugin runs, a sweep killed mid-way and continued, the error without
Ray)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import COCO8, MODEL, read_csv, venv_bin, yolo_env

from yolo_lr.tools.sweep import SweepRow, grid_points, run_name, split_grid, sweep

# coco8: 4 train images, batch 2, nbs 2 -> 2 optimizer steps per epoch; no warmup so the policy starts at step 0
TINY = {"imgsz": 64, "batch": 2, "nbs": 2, "workers": 0, "seed": 0, "plots": False, "amp": False, "warmup_epochs": 0}


def words(**extra) -> list[str]:
    return [f"{k}={v}" for k, v in {**TINY, **extra}.items()]


def test_grid_axes_points_and_run_names():
    axes, rest = split_grid(
        {"lr_policy": "cosine,wsd", "lrf": (0.01, 0.1), "lr_milestones": (0.5, 0.8), "epochs": 3, "lr_gamma": 0.5}
    )
    assert axes == {"lr_policy": ["cosine", "wsd"], "lrf": [0.01, 0.1]}
    assert rest == {"lr_milestones": (0.5, 0.8), "epochs": 3, "lr_gamma": 0.5}  # a list-valued key keeps its list
    points = grid_points([1e-3, 1e-2], axes)
    assert len(points) == 8 and points[0] == {"lr0": 1e-3, "lr_policy": "cosine", "lrf": 0.01}
    assert points[-1] == {"lr0": 1e-2, "lr_policy": "wsd", "lrf": 0.1}
    assert run_name(1e-3, {"lr_policy": "wsd", "lrf": 0.1}) == "lr0_0.001-lr_policy_wsd-lrf_0.1"
    assert run_name(1e-3) == "lr0_0.001"
    with pytest.raises(ValueError, match="lr_policy values given twice"):
        split_grid({"lr_policy": ["wsd", "wsd"]})


def test_row_json_round_trip_keeps_nan_and_point():
    row = SweepRow(1e-3, {"lr_policy": "wsd"}, final_loss=2.5, metric=math.nan, metrics={"fitness": math.nan})
    row.epochs, row.stopped = 2, True
    back = SweepRow.from_json(json.loads(json.dumps(row.to_json())))
    assert back.point == {"lr_policy": "wsd"} and back.final_loss == 2.5 and back.epochs == 2 and back.stopped
    assert math.isnan(back.metric) and math.isnan(back.metrics["fitness"])
    assert back.label == "lr0=0.001 lr_policy=wsd"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr_policy": "cosine,wsdd"}, "lr_policy='wsdd'.*at the grid point lr0=0.001 lr_policy=wsdd"),
        ({"early_stop": "asha"}, "early_stop=asha needs engine=ray"),
        ({"engine": "ray", "early_stop": "hyperband"}, "early_stop='hyperband': use asha"),
        ({"engine": "ray", "early_stop": "asha", "grace_period": 3}, r"grace_period=3: .* 1 to epochs-1 \(2\)"),
        ({"grace_period": 1}, "give early_stop=asha"),
        ({"early_stop_metric": "train_loss"}, "early_stop_metric is what early stopping judges at a rung: give"),
        ({"engine": "ray", "early_stop": "asha", "early_stop_metric": "time"}, "early_stop_metric='time': cannot tell"),
        ({"cpus_per_trial": 2}, "cpus_per_trial: only with engine=ray"),
        ({"engine": "spark"}, "engine='spark': use one of local, ray"),
    ],
)
def test_bad_sweeps_fail_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweep([1e-3, 1e-2], model=MODEL, data=str(COCO8), project=str(tmp_path), epochs=3, verbose=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_the_plan_holds_what_the_sweep_was_given_resolved(tmp_path, monkeypatch):
    """sweep.json: paths absolute (Ray trials run elsewhere), a preset by name as its file, the default data, the axes,
    the grace period's default, `none` spellings of off, and the run folder's place."""
    from ultralytics import YOLO

    from yolo_lr.tasks import default_data
    from yolo_lr.tools.sweep import make_plan

    train = {"cfg": "finetune", "lr_policy": "cosine,wsd", "epochs": 8, "optimizer": "SGD"}
    plan = make_plan([1e-3, 1e-2], MODEL, None, tmp_path, "s", None, "ray", {"early_stop": "asha"}, dict(train))
    assert plan["axes"] == ["lr_policy"] and len(plan["points"]) == 4 and plan["grace_period"] == 2
    assert Path(plan["args"]["cfg"]).is_absolute() and plan["args"]["cfg"].endswith("finetune.yaml")
    assert plan["data"] == str(default_data("detect")) and plan["model"] == MODEL and plan["task"] == "detect"
    assert plan["save_dir"] == str((tmp_path / "s").resolve()) and not (tmp_path / "s").exists()  # made by sweep()
    assert (plan["epochs"], plan["metric"], plan["mode"], plan["engine"]) == (8, "metrics/mAP50-95(B)", "max", "ray")
    assert plan["optimizer"] == "SGD" and plan["notes"] == [] and "lr_policy" not in plan["args"]
    assert (plan["early_stop_metric"], plan["early_stop_mode"]) == ("metrics/mAP50-95(B)", "max")  # the ranking one
    early = {"early_stop": "asha", "early_stop_metric": "train_loss"}
    judged = make_plan([1e-3], MODEL, None, tmp_path, "s", "fitness", "ray", early, {"epochs": 4})
    assert [judged[k] for k in ("metric", "early_stop_metric", "early_stop_mode")] == ["fitness", "train_loss", "min"]
    data = tmp_path / "my.yaml"
    data.write_text(COCO8.read_text())
    monkeypatch.chdir(tmp_path)
    yolo = YOLO(MODEL)
    plan = make_plan(0.01, yolo, "my.yaml", None, "s", "fitness", "local", {"early_stop": "none"}, {"epochs": 2})
    assert plan["early_stop"] is None and plan["grace_period"] is None and plan["model"] == MODEL
    assert plan["early_stop_metric"] is None
    assert plan["metric"] == "fitness" and plan["optimizer"] == "SGD" and "ignores lr0" in plan["notes"][0]
    assert plan["data"] == str(data.resolve())  # relative here, absolute for a trial that runs elsewhere


def test_resume_takes_only_the_sweep_directory(tmp_path):
    with pytest.raises(ValueError, match="give nothing else"):
        sweep([1e-3], resume=tmp_path)
    with pytest.raises(ValueError, match="no sweep.json there"):
        sweep(resume=tmp_path)
    (tmp_path / "sweep.json").write_text('{"engine": "local", "save_dir": "x"}')
    with pytest.raises(ValueError, match="an engine=local sweep: it continues on that engine"):
        sweep(resume=tmp_path, engine="ray")


def test_early_stopping_judges_the_value_its_plan_names(tmp_path):
    """The ranking metric by default (and in a sweep.json written before early_stop_metric existed), the summed train
    losses, fitness, or any other results.csv column of the run so far."""
    from yolo_lr.tools.sweep import early_stop_on, judged_value

    (tmp_path / "results.csv").write_text("epoch, train/box_loss, val/box_loss\n1, 2.0, 3.5\n2, 1.5, 3.25\n")
    row = SweepRow(1e-3, final_loss=4.0, metric=0.25, metrics={"fitness": 0.5}, run_dir=tmp_path)
    old = {"metric": "metrics/mAP50-95(B)", "mode": "max"}
    assert early_stop_on(old) == ("metrics/mAP50-95(B)", "max") and judged_value(old, row) == 0.25
    for key, mode, value in [("train_loss", "min", 4.0), ("fitness", "max", 0.5), ("val/box_loss", "min", 3.25)]:
        plan = {**old, "early_stop_metric": key, "early_stop_mode": mode}
        assert early_stop_on(plan) == (key, mode) and judged_value(plan, row) == value
    missing = {**old, "early_stop_metric": "val/dfl_loss", "early_stop_mode": "min"}
    assert math.isnan(judged_value(missing, row))  # not in results.csv (yet): nothing to judge, ASHA lets it go on


def test_asha_judges_a_trial_only_against_its_own_schedule():
    """Trials of one policy at a rung are compared with each other, never with another policy's: a cosine trial far
    below every WSD trial at epoch 1 goes on (first of its schedule), while the trailing WSD trials stop."""
    from yolo_lr.tools.sweep_ray import _ASHAPerSchedule

    def trials(policy):
        return [
            SimpleNamespace(trial_id=f"{policy}{i}", config={"point": {"lr0": 10.0**-i, "lr_policy": policy}})
            for i in range(3)
        ]

    s = _ASHAPerSchedule(time_attr="epoch", metric="metric", mode="max", max_t=9, grace_period=1, reduction_factor=3)
    wsd, cosine = trials("wsd"), trials("cosine")
    for t in wsd + cosine:
        s.on_trial_add(None, t)
    assert [s.on_trial_result(None, t, {"epoch": 1, "metric": v}) for t, v in zip(wsd, [30, 20, 10])] == [
        "CONTINUE",
        "STOP",
        "STOP",
    ]
    assert s.on_trial_result(None, cosine[0], {"epoch": 1, "metric": 3}) == "CONTINUE"
    assert s.on_trial_result(None, cosine[1], {"epoch": 1, "metric": 1}) == "STOP"
    assert s.on_trial_result(None, cosine[2], {"epoch": 1}) == "CONTINUE"  # no metric yet: not judged


@pytest.mark.training
def test_ray_sweep_2x2_grid_trials_are_plugin_runs(tmp_path):
    """`yolo-lr sweep lr0=A,B lr_policy=cosine,wsd engine=ray`: four Ray trials, each a plugin run whose optimizer
    followed its own lr0 and policy at every step; the same table, CSV, plot and run folders as the local engine."""
    epochs = 3
    p = subprocess.run(
        [venv_bin("yolo-lr"), "sweep", "lr0=0.002,0.02", "lr_policy=cosine,wsd", f"model={MODEL}", f"data={COCO8}",
         "engine=ray", "cpus_per_trial=1", "lrf=0.1", *words(epochs=epochs), f"project={tmp_path}", "name=grid"],
        capture_output=True, text=True, env={**yolo_env(), "RAY_AUTH_MODE": "disabled"}, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert p.returncode in (0, 1), p.stdout[-3000:] + p.stderr[-3000:]
    out = tmp_path / "grid"
    rows = read_csv(out / "sweep.csv")
    assert [(float(r["lr0"]), r["lr_policy"]) for r in rows] == [
        (0.002, "cosine"),
        (0.002, "wsd"),
        (0.02, "cosine"),
        (0.02, "wsd"),
    ]
    assert (out / "sweep.png").exists() and "lr0 x lr_policy sweep" in (out / "sweep.md").read_text()
    assert (out / "ray").is_dir() and "engine ray" in p.stdout
    for r in rows:
        lr0, policy = float(r["lr0"]), r["lr_policy"]
        run = out / run_name(lr0, {"lr_policy": policy})
        assert r["run_dir"] == str(run) and int(r["epochs"]) == epochs and r["stopped_early"] == "0"
        assert (run / "row.json").is_file() and f"lr_policy: {policy}" in (run / "args.yaml").read_text()
        steps = read_csv(run / "lr.csv")
        assert len(steps) == 2 * epochs
        lrs = [float(s["lr/pg0(weight)"]) for s in steps]
        h = epochs - 1 / 2  # the policy's horizon: the last step's epoch time
        for k, lr in enumerate(lrs):
            t = k / 2
            if policy == "cosine":
                want = 0.1 + 0.9 * (1 + math.cos(math.pi * t / h)) / 2
            else:  # wsd: flat, then linear to lrf over the last lr_decay_frac (0.2) of the run
                start = h * 0.8
                want = 1.0 if t <= start else 1 - 0.9 * (t - start) / (h - start)
            assert lr == pytest.approx(lr0 * want, rel=1e-9), (lr0, policy, k)
        assert float(steps[0]["lr/pg2(bias)"]) == pytest.approx(lr0, rel=1e-12)


def _wait_for(pred, timeout: float, proc) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


def _stop_when(args, env, cwd, sig, ready, log_path):
    """Start a sweep in its own session and send ``sig`` to its whole process group (the driver, the local Ray and
    its workers) once ``ready()``; the exit status."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        try:
            got_there = _wait_for(ready, 300, proc)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
            rc = proc.wait(timeout=120)
    assert got_there, log_path.read_text()[-3000:]
    return rc


@pytest.mark.training
def test_killed_ray_sweep_continues_without_retraining_finished_points(tmp_path):
    """SIGKILL the sweep (driver, local Ray and its workers) once one point has finished; `resume=DIR`, interrupted
    by Ctrl-C (SIGINT) once another finished, says how to continue (exit 130); the next `resume=DIR` trains the rest.
    Finished points' folders are never touched again, and every run has each epoch once."""
    epochs, lr0s = 3, [0.001, 0.002, 0.005, 0.01, 0.03]
    out = tmp_path / "killed"
    env = {**yolo_env(), "RAY_AUTH_MODE": "disabled"}
    grid = [f"lr0={','.join(map(str, lr0s))}", "lr_policy=cosine", f"model={MODEL}", f"data={COCO8}", "engine=ray"]
    sweep_cmd = [venv_bin("yolo-lr"), "sweep", *grid, *words(epochs=epochs), f"project={tmp_path}", "name=killed"]
    resume_cmd = [venv_bin("yolo-lr"), "sweep", f"resume={out}"]

    def finished():
        return {
            p.parent.name: (p.stat().st_mtime_ns, (p.parent / "results.csv").read_bytes())
            for p in out.glob("*/row.json")
        }

    _stop_when(sweep_cmd, env, tmp_path, signal.SIGKILL, lambda: finished(), tmp_path / "first.log")
    time.sleep(5)  # Ray's workers run in sessions of their own: an orphaned trial may finish its point meanwhile
    first = finished()
    assert 1 <= len(first) <= 2 and not (out / "sweep.csv").exists()

    rc = _stop_when(
        resume_cmd, env, tmp_path, signal.SIGINT, lambda: len(finished()) > len(first), tmp_path / "second.log"
    )
    second = finished()
    log = (tmp_path / "second.log").read_text()
    assert rc == 130 and f"continue it (finished points are kept) with: yolo-lr sweep resume={out}" in log, log[-3000:]
    assert len(first) < len(second) < len(lr0s) and not (out / "sweep.csv").exists()

    p = subprocess.run(resume_cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert p.returncode in (0, 1), p.stdout[-3000:] + p.stderr[-3000:]
    assert "continuing the Ray Tune experiment" in p.stdout
    rows = read_csv(out / "sweep.csv")
    assert [float(r["lr0"]) for r in rows] == lr0s
    last = finished()
    assert all(last[name] == second[name] for name in second)  # not trained again
    for r in rows:
        assert r["error"] == "" and int(r["epochs"]) == epochs
        results = read_csv(out / run_name(float(r["lr0"])) / "results.csv")
        assert [int(float(x["epoch"])) for x in results] == list(range(1, epochs + 1))  # no epoch twice
        assert len(read_csv(out / run_name(float(r["lr0"])) / "lr.csv")) == 2 * epochs


@pytest.mark.training
def test_asha_stops_trailing_trials_and_ranks_only_finished_ones(tmp_path):
    """ASHA judges on early_stop_metric (here the summed train losses), reported after every epoch; the runs are ranked
    on metric (here train/box_loss: both differ between lr0 values from the first epoch on coco8)."""
    res = sweep(
        [1e-4, 1e-3, 1e-2],
        model=MODEL,
        data=str(COCO8),
        project=str(tmp_path),
        metric="train/box_loss",
        engine="ray",
        early_stop="asha",
        grace_period=1,
        early_stop_metric="train_loss",
        epochs=4,
        verbose=False,
        **TINY,
    )
    reported = [json.loads(x) for f in (res.save_dir / "ray").glob("*/result.json") for x in f.read_text().splitlines()]
    judged = [(r["metric"], json.loads(r["row"])) for r in reported if not r["finished"]]
    assert len(judged) >= 3 and all(m == pytest.approx(row["final_loss"]) != row["metric"] for m, row in judged)
    at_rung = {row["lr0"]: m for m, row in judged if row["epochs"] == 1}
    stopped = [r for r in res.rows if r.stopped]
    assert all(at_rung[r.lr0] > min(at_rung.values()) for r in stopped)  # a lower train loss went on
    assert stopped and all(r.epochs < 4 and not r.best for r in stopped)
    assert all(0 < r.seconds < 300 for r in res.rows)  # each row's own training time, also where ASHA stopped it
    assert all(r.epochs == 4 for r in res.rows if not r.stopped) and res.best is not None and not res.best.stopped
    assert res.epochs == sum(r.epochs for r in res.rows) < 12
    assert any("stopped early by asha on train_loss" in n for n in res.notes)
    kept = max(r.lr0 for r in res.rows if not r.stopped)  # the short-horizon note: only when a higher lr0 was stopped
    assert any("before their schedule decayed" in n for n in res.notes) == any(r.lr0 > kept for r in stopped)
    assert read_csv(res.csv)[res.rows.index(stopped[0])]["stopped_early"] == "1"


@pytest.mark.training
def test_a_metric_the_task_does_not_produce_stops_the_sweep_before_any_epoch(tmp_path):
    """train_loss is a value early stopping can judge, not a results.csv column a sweep can rank on."""
    from yolo_lr.config import LRConfigError

    with pytest.raises(LRConfigError, match=r"metric='train_loss' is not produced by this task\. Available: fitness"):
        sweep([1e-3], model=MODEL, data=str(COCO8), project=str(tmp_path), metric="train_loss", epochs=1, **TINY)
    assert not list(tmp_path.rglob("results.csv"))


def test_engine_ray_without_ray_fails_at_once_with_the_install_command(tmp_path):
    fake = tmp_path / "no_ray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray (test)')\n")
    env = {**yolo_env(), "PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run(
        [venv_bin("yolo-lr"), "sweep", "lr0=1e-3,1e-2", f"model={MODEL}", "engine=ray", f"project={tmp_path / 'r'}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2, p.stdout[-2000:] + p.stderr[-2000:]
    assert "engine=ray needs Ray Tune" in p.stderr and "pip install 'yolo-lr[ray]'" in p.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.training
def test_local_sweep_resume_keeps_finished_points_and_restarts_a_killed_one(tmp_path, capsys):
    """The local engine keeps the same promise: a point whose folder has row.json is kept; a folder without it (a
    training killed mid-way) is trained again from nothing, not appended to."""
    res = sweep([1e-3, 1e-2], model=MODEL, data=str(COCO8), project=str(tmp_path), epochs=2, verbose=False, **TINY)
    kept, killed = (r.run_dir for r in res.rows)
    mtime = (kept / "row.json").stat().st_mtime_ns
    (killed / "row.json").unlink()  # as if killed during its last epoch
    (res.save_dir / "sweep.csv").unlink()
    capsys.readouterr()
    again = sweep(resume=res.save_dir)
    said = capsys.readouterr().out
    assert "[1/2] lr0=0.001: loss" in said and "(trained before: not retrained)" in said.split("[2/2]")[0]
    assert "(trained before" not in said.split("[2/2]")[1]
    assert (kept / "row.json").stat().st_mtime_ns == mtime and (killed / "row.json").is_file()
    assert [int(float(r["epoch"])) for r in read_csv(killed / "results.csv")] == [1, 2]
    assert [(r.lr0, r.epochs, r.final_loss) for r in again.rows] == [(r.lr0, r.epochs, r.final_loss) for r in res.rows]
    assert res.engine == again.engine == "local" and not (res.save_dir / "ray").exists()  # no Ray for a local sweep
