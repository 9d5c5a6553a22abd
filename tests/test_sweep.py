"""lr0 sweep: value parsing, the best-row rule, and real 1-epoch coco8 sweeps through Python and the CLI."""

from __future__ import annotations

import math
import subprocess

import pytest
from conftest import COCO8, MODEL, read_csv, venv_bin, yolo_env

from yolo_lr.tools.sweep import SweepRow, _low_lr0_kept, parse_lr0s, pick_best, rank, read_last_row, run_name

# coco8: 4 train images, batch 2, nbs 2 -> 2 batches and 2 optimizer steps per epoch
TINY = {"epochs": 1, "imgsz": 64, "batch": 2, "nbs": 2, "workers": 0, "seed": 0, "plots": False, "amp": False}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((1e-2, 1e-4, 1e-3), [1e-4, 1e-3, 1e-2]),  # what `lr0=1e-2,1e-4,1e-3` becomes on the command line
        ([3e-3, 1e-3], [1e-3, 3e-3]),
        (0.01, [0.01]),
        ("1e-4, 1e-3,1e-2", [1e-4, 1e-3, 1e-2]),
        ("[1e-3,1e-2]", [1e-3, 1e-2]),
    ],
)
def test_parse_lr0s(value, expected):
    assert parse_lr0s(value) == expected


@pytest.mark.parametrize("value", [(), "", (1e-3, -1e-2), (1e-3, "fast"), (1e-3, 1e-3), (True,), (math.inf,)])
def test_parse_lr0s_rejects(value):
    with pytest.raises(ValueError):
        parse_lr0s(value)


def test_best_is_highest_map_then_lowest_loss_and_never_a_failed_run():
    rows = [
        SweepRow(1e-4, final_loss=3.0, metric=0.20),
        SweepRow(1e-3, final_loss=2.0, metric=0.30),
        SweepRow(1e-2, final_loss=1.5, metric=0.30),  # same metric, lower loss: wins the tie
        SweepRow(1e-1, final_loss=math.nan, metric=math.nan),
        SweepRow(1.0, metric=0.9, error="RuntimeError: diverged"),
    ]
    assert pick_best(rows).lr0 == 1e-2
    assert pick_best(rows[3:]) is None


@pytest.mark.parametrize("mode", ["max", "min"])
def test_ranking_in_both_directions_with_ties(mode):
    """Higher wins for max (mAP), lower for min (a loss); a tie on the metric goes to the lower final loss and says
    so; a tie on both crowns nobody."""
    rows = [SweepRow(1e-4, final_loss=3.0, metric=0.2), SweepRow(1e-3, final_loss=2.0, metric=0.3)]
    best, why = rank(rows, mode, "m")
    assert best.lr0 == (1e-3 if mode == "max" else 1e-4) and why.startswith(
        "highest m" if mode == "max" else "lowest m"
    )
    tie = [SweepRow(1e-4, final_loss=3.0, metric=0.0), SweepRow(1e-3, final_loss=2.5, metric=0.0)]
    best, why = rank(tie, mode, "m")
    assert best.lr0 == 1e-3 and "tie on m (0)" in why and "lowest final loss decides: 2.5" in why, why
    same = [SweepRow(1e-4, final_loss=8.34, metric=0.0), SweepRow(1e-3, final_loss=8.34, metric=0.0)]
    best, why = rank(same, mode, "m")
    assert best is None and "cannot be told apart" in why and "8.34" in why, why
    assert pick_best(same, mode) is None


@pytest.fixture(scope="module")
def py_sweep(tmp_path_factory):
    from yolo_lr.tools.sweep import sweep

    return sweep([1e-2, 1e-3], model=MODEL, data=str(COCO8), project=str(tmp_path_factory.mktemp("sweep")), **TINY)


@pytest.mark.training
def test_python_sweep_rows_come_from_each_runs_results(py_sweep):
    res = py_sweep
    assert [r.lr0 for r in res.rows] == [1e-3, 1e-2]
    for r in res.rows:
        assert r.error is None and r.run_dir == res.save_dir / run_name(r.lr0)
        last = read_last_row(r.run_dir / "results.csv")
        assert r.final_loss == pytest.approx(sum(v for k, v in last.items() if k.startswith("train/")))
        assert (r.map50, r.map) == (last["metrics/mAP50(B)"], last["metrics/mAP50-95(B)"])
        assert r.metric == r.map and math.isfinite(r.fitness)  # detect ranks by box mAP50-95
        assert r.epochs == 1 and r.steps == 2 and r.images == 4 and r.seconds > 0
        args = (r.run_dir / "args.yaml").read_text()
        assert f"lr0: {r.lr0}" in args and "optimizer: SGD" in args  # lr0 honoured: not replaced by auto
    assert res.steps == 4 and res.images == 8


@pytest.mark.training
def test_python_sweep_marks_one_best_and_writes_table_and_plot(py_sweep):
    res = py_sweep
    assert sum(r.best for r in res.rows) == 1 and res.best is pick_best(res.rows)
    rows = read_csv(res.csv)
    assert [float(r["lr0"]) for r in rows] == [1e-3, 1e-2] and [r["best"] for r in rows].count("1") == 1
    md = res.md.read_text()
    assert md.count("<- best") == 1 and f"**{res.best.lr0:.3g}**" in md and "mAP50-95" in md
    assert res.png.exists() and res.png.stat().st_size > 10_000
    assert res.optimizer == "SGD" and any("optimizer=auto ignores lr0" in n for n in res.notes)
    assert (res.task, res.metric, res.mode) == ("detect", "metrics/mAP50-95(B)", "max")


@pytest.mark.training
def test_cli_sweep(tmp_path):
    words = [f"{k}={v}" for k, v in TINY.items()]
    p = subprocess.run(
        [
            venv_bin("yolo-lr"),
            "sweep",
            "lr0=1e-3,1e-2",
            f"model={MODEL}",
            *words,
            "lr_policy=cosine",
            f"project={tmp_path}",
            "name=cli",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=yolo_env(),
        cwd=tmp_path,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "using the bundled COCO8" in p.stdout and "optimizer=auto ignores lr0" in p.stdout
    table = [line for line in p.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 4 and sum("<- best" in line for line in table) == 1  # header, rule, 2 rows
    out = tmp_path / "cli"
    assert len(read_csv(out / "sweep.csv")) == 2 and (out / "sweep.png").exists() and (out / "sweep.md").exists()
    for lr0 in ("0.001", "0.01"):  # the lr_* policy reached every run with that run's lr0 as its peak
        steps = read_csv(out / f"lr0_{lr0}" / "lr.csv")
        # 1 epoch of 2 steps, no warmup (warmup_epochs is capped at epochs-1 = 0): per-step cosine from lr0 to lr0*lrf
        for col in ("lr/pg0(weight)", "lr/pg2(bias)"):
            got = [float(r[col]) for r in steps]
            assert got == pytest.approx([float(lr0), float(lr0) * 0.01], rel=1e-9), (lr0, col, got)


@pytest.mark.training
def test_cli_sweep_needs_lr0_values(tmp_path):
    p = subprocess.run(
        [venv_bin("yolo-lr"), "sweep", f"model={MODEL}", "lr0=1e-3,-1"],
        check=False,
        capture_output=True,
        text=True,
        env=yolo_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert p.returncode == 2 and "lr0 value -1" in p.stderr and not (tmp_path / "runs").exists()


@pytest.mark.training
def test_find_and_sweep_land_where_yolo_train_puts_runs(tmp_path):
    """No project=: Ultralytics' runs_dir setting, then the task, as `yolo train`; nothing under the current folder."""
    import shutil

    env = yolo_env()
    env.pop("PYTEST_CURRENT_TEST", None)  # else Ultralytics thinks it is under test and uses its own tests/tmp/runs
    cfg_dir = tmp_path / "cfg"
    shutil.copytree(env["YOLO_CONFIG_DIR"], cfg_dir)
    env["YOLO_CONFIG_DIR"] = str(cfg_dir)
    runs, work = tmp_path / "my_runs", tmp_path / "work"
    work.mkdir()

    def run(*args):
        return subprocess.run(args, capture_output=True, text=True, env=env, cwd=work, timeout=600)

    assert run(venv_bin("yolo"), "settings", f"runs_dir={runs}").returncode == 0
    words = [f"{k}={v}" for k, v in TINY.items()]
    p = run(venv_bin("yolo-lr"), "sweep", "lr0=1e-3,1e-2", f"model={MODEL}", *words)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert (runs / "detect" / "sweep" / "sweep.csv").exists(), list(runs.rglob("*"))[:20]
    p = run(venv_bin("yolo-lr"), "find", f"model={MODEL}", "iters=8", *words)
    assert (runs / "detect" / "lr_find" / "lr_find.csv").exists(), p.stdout[-2000:] + p.stderr[-2000:]
    assert not (work / "runs").exists()


def test_a_note_says_when_early_stopping_kept_only_the_lowest_lr0_of_a_schedule():
    """The short-horizon bias favours low lr0 at an early rung: when every stopped lr0 of a schedule lies above the
    one kept, the sweep names them (and, unless it judged the train loss, says that judging it trails them less);
    stopping below the kept lr0, or a failed run, is no reason for the note."""

    def row(lr0, policy, stopped=False, error=None):
        return SweepRow(lr0, {"lr_policy": policy}, stopped=stopped, error=error)

    rows = [row(1e-4, "cosine"), row(1e-3, "cosine", True), row(1e-2, "cosine", True)]
    rows += [row(1e-4, "wsd", True), row(1e-3, "wsd"), row(1e-2, "wsd", error="nan loss")]
    (note,) = _low_lr0_kept(rows, "asha", "train_loss")
    assert note.startswith("asha with lr_policy=cosine kept lr0=0.0001 and stopped lr0=0.001, 0.01.")
    assert "wsd" not in note and "short-horizon bias" in note
    assert note.endswith("the same sweep with lr0=0.001,0.01 and no early_stop.")  # it judged the train loss already
    assert _low_lr0_kept(rows[3:], "asha") == []  # the stopped lr0 lies below the kept one
    rows.append(row(1e-2, "wsd", True))  # above every lr0 wsd kept: both schedules named, kept values listed
    rows[:3] = [row(1e-4, "cosine"), row(1e-3, "cosine"), row(1e-2, "cosine", True)]
    (note,) = _low_lr0_kept(rows, "asha", "metrics/mAP50-95(B)")
    assert "with lr_policy=cosine kept lr0=0.0001, 0.001 and stopped lr0=0.01; with lr_policy=wsd kept" in note
    assert "lr0=0.01 and no early_stop. Judging the training loss (early_stop_metric=train_loss) trails" in note
    only_lr0 = [SweepRow(1e-3, {}), SweepRow(1e-2, {}, stopped=True)]
    (note,) = _low_lr0_kept(only_lr0, "asha")
    assert note.startswith("asha kept lr0=0.001 and stopped lr0=0.01.")
