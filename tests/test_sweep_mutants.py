"""Fast tests of the sweep's rows, ranking, results.csv reading and written tables, against the mutants of
``tools/sweep.py`` that survived the integration mutation run (scripts/mutation_integration.sh, BENCHMARKS.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from yolo_lr.tools.sweep import SweepRow


def test_a_row_survives_its_json_round_trip_field_by_field(tmp_path):
    row = SweepRow(
        3e-3,
        {"lr_policy": "wsd", "lrf": 0.05},
        final_loss=2.5,
        metric=math.nan,
        metrics={"metrics/mAP50(B)": 0.25, "fitness": math.nan},
        seconds=12.5,
        epochs=3,
        steps=6,
        images=12,
        run_dir=tmp_path / "lr0_0.003",
        error="boom",
        stopped=True,
    )
    d = json.loads(json.dumps(row.to_json()))  # JSON-safe: NaN written as null
    assert d["metric"] is None and d["metrics"] == {"metrics/mAP50(B)": 0.25, "fitness": None}
    back = SweepRow.from_json(d)
    assert back.lr0 == 3e-3 and back.point == {"lr_policy": "wsd", "lrf": 0.05}
    assert back.final_loss == 2.5 and math.isnan(back.metric) and back.seconds == 12.5
    assert back.metrics["metrics/mAP50(B)"] == 0.25 and math.isnan(back.metrics["fitness"])
    assert (back.epochs, back.steps, back.images) == (3, 6, 12)
    assert back.run_dir == tmp_path / "lr0_0.003" and isinstance(back.run_dir, Path)
    assert back.error == "boom" and back.stopped is True and back.best is False


def test_a_row_without_a_run_dir_or_point_reads_back_empty():
    back = SweepRow.from_json(json.loads(json.dumps(SweepRow(1e-2).to_json())))
    assert back.point == {} and back.run_dir is None and back.error is None and back.stopped is False
    assert math.isnan(back.final_loss) and math.isnan(back.seconds) and back.metrics == {}


MAP = "metrics/mAP50-95(B)"


def result(tmp_path, rows, **kw):
    from yolo_lr.tools.sweep import SweepResult

    return SweepResult(
        rows,
        "SGD",
        ["one note", "another"],
        tmp_path,
        tmp_path / "sweep.csv",
        tmp_path / "sweep.md",
        None,
        20.0,
        train_args={"model": "yolo26n.yaml", "epochs": 2},
        **kw,
    )


def three_rows(tmp_path) -> list[SweepRow]:
    best = SweepRow(1e-3, {"lr_policy": "wsd"}, 2.0, 0.3, {"fitness": 0.25}, 12.34, 2, 4, 8, best=True)
    failed = SweepRow(1e-2, {"lr_policy": "cosine"}, seconds=3.0, error="CUDA out of memory")
    stopped = SweepRow(3e-3, {"lr_policy": "wsd"}, math.nan, 0.1, {}, 5.0, 1, 2, 4, tmp_path / "r3", stopped=True)
    return [best, failed, stopped]


def test_the_table_marks_the_best_a_failed_run_and_a_stopped_one(tmp_path):
    res = result(tmp_path, three_rows(tmp_path), axes=["lr_policy"])
    assert res.table().splitlines() == [
        f"| lr0 | lr_policy | final train loss | {MAP} | fitness | time (s) | epochs | steps | images |  |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| **0.001** | **wsd** | **2.0000** | **0.3000** | **0.2500** | **12.3** | **2** | **4** | **8** | <- best |",
        "| 0.01 | cosine | failed: CUDA out of memory | | | 3.0 | | | | |",
        "| 0.003 | wsd | nan | 0.1000 | nan | 5.0 | 1 | 2 | 4 | stopped early |",
    ]


def test_the_csv_has_every_run_with_its_flags(tmp_path):
    import csv

    from yolo_lr.tools.sweep import _write_csv

    res = result(tmp_path, three_rows(tmp_path), axes=["lr_policy"])
    _write_csv(res)
    with open(res.csv, newline="") as f:
        assert list(csv.reader(f)) == [
            ["lr0", "lr_policy", "final_loss", MAP, "fitness", "time_s", "epochs", "steps", "images", "best"]
            + ["stopped_early", "run_dir", "error"],
            ["0.001", "wsd", "2", "0.3", "0.25", "12.340", "2", "4", "8", "1", "0", "", ""],
            ["0.01", "cosine", "nan", "nan", "nan", "3.000", "0", "0", "0", "0", "0", "", "CUDA out of memory"],
            ["0.003", "wsd", "nan", "0.1", "nan", "5.000", "1", "2", "4", "0", "1", str(tmp_path / "r3"), ""],
        ]


def test_the_csv_of_a_fitness_ranked_sweep_has_no_second_fitness_column(tmp_path):
    import csv

    from yolo_lr.tools.sweep import _write_csv

    res = result(tmp_path, [SweepRow(1e-3, final_loss=1.5, metric=0.5, seconds=1.0)], metric="fitness")
    _write_csv(res)
    with open(res.csv, newline="") as f:
        header, row = list(csv.reader(f))
    assert header[:5] == ["lr0", "final_loss", "fitness", "time_s", "epochs"]
    assert row[:4] == ["0.001", "1.5", "0.5", "1.000"]


def test_the_markdown_report(tmp_path):
    from yolo_lr.tools.sweep import _write_md

    res = result(tmp_path, three_rows(tmp_path), axes=["lr_policy"], reason="highest mAP: 0.3")
    _write_md(res)
    assert res.md.read_text() == "\n".join(
        [
            "# lr0 x lr_policy sweep (detect, SGD, engine local)",
            "",
            "Training arguments: `model=yolo26n.yaml epochs=2`",
            "",
            res.table(),
            "",
            "Best: lr0=0.001 lr_policy=wsd (highest mAP: 0.3).",
            "Note: one note",
            "Note: another",
            "",
        ]
    )
    res = result(tmp_path, three_rows(tmp_path)[1:], mode="min")  # no best row, no reason: neither line
    _write_md(res)
    assert "Best:" not in res.md.read_text() and "engine local" in res.md.read_text()


def test_the_rule_in_words_follows_the_mode(tmp_path):
    assert result(tmp_path, []).rule() == f"highest {MAP}; ties -> lowest final loss"
    by_loss = result(tmp_path, [], mode="min", metric="val/box_loss")
    assert by_loss.rule() == "lowest val/box_loss; ties -> lowest final loss"


def test_read_last_row_reads_the_last_of_several_rows(tmp_path):
    from yolo_lr.tools.sweep import read_last_row

    path = tmp_path / "results.csv"
    path.write_text("epoch, train/box_loss, metrics/mAP50(B)\n1, 3.0, 0.1\n2, 2.5, 0.2\n3, 2.0, oops\n")
    last = read_last_row(path)
    assert last["epoch"] == 3 and last["train/box_loss"] == 2.0 and math.isnan(last["metrics/mAP50(B)"])


def test_ctrl_c_in_a_local_sweep_says_how_to_continue(tmp_path, monkeypatch):
    import pytest

    from yolo_lr.tools import sweep as sweep_module

    def interrupted(plan, point, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "train_point", interrupted)
    with pytest.raises(sweep_module.SweepInterrupted) as e:
        sweep_module.sweep([1e-3, 1e-2], model="yolo26n.yaml", project=str(tmp_path), name="s", epochs=1, verbose=False)
    where = (tmp_path / "s").resolve()
    assert e.value.save_dir == where and "with 0 of 2 points finished" in str(e.value)
    assert f"yolo-lr sweep resume={where}" in str(e.value) and f"yolo_lr.sweep(resume={str(where)!r})" in str(e.value)


def test_a_moved_sweep_directory_resumes_where_it_is_now(tmp_path):
    from yolo_lr.tools.sweep import load_plan

    (tmp_path / "sweep.json").write_text(json.dumps({"engine": "local", "save_dir": "/somewhere/it/was"}))
    assert load_plan(tmp_path)["save_dir"] == str(tmp_path.resolve())


def test_a_failing_training_becomes_a_row_with_its_first_error_line(tmp_path, monkeypatch):
    import ultralytics

    from yolo_lr.tools.sweep import ROW_FILE, SweepRow, train_point

    class Broken:
        def __init__(self, model):
            self.trainer = None

        def add_callback(self, event, fn):
            pass

        def train(self, **kwargs):
            raise RuntimeError("diverged at step 3\nsecond line")

    monkeypatch.setattr(ultralytics, "YOLO", Broken)
    plan = {"save_dir": str(tmp_path), "metric": MAP, "model": "m.yaml", "data": "d.yaml", "args": {}}
    row, before = train_point(plan, {"lr0": 0.01, "lr_policy": "wsd"})
    assert not before and row.error == "RuntimeError: diverged at step 3" and row.point == {"lr_policy": "wsd"}
    assert row.run_dir == tmp_path / "lr0_0.01-lr_policy_wsd"
    assert SweepRow.from_json(json.loads((row.run_dir / ROW_FILE).read_text())).error == row.error
    again, before = train_point(plan, {"lr0": 0.01, "lr_policy": "wsd"})  # a finished point is read back, not retrained
    assert before and again.error == row.error


def test_a_metric_missing_from_results_csv_reads_as_nan(tmp_path):
    from yolo_lr.tools.sweep import _fill

    (tmp_path / "results.csv").write_text("epoch,train/box_loss,metrics/mAP50(B)\n1,2.0,0.5\n")
    row = SweepRow(0.01, run_dir=tmp_path)
    _fill(row, {"epochs": 1, "steps": 2, "images": 4, "fitness": 0.1}, "metrics/mAP50-95(M)", 3.5)
    assert math.isnan(row.metric) and row.final_loss == 2.0 and row.metrics == {"metrics/mAP50(B)": 0.5, "fitness": 0.1}
    assert (row.seconds, row.epochs, row.steps, row.images) == (3.5, 1, 2, 4)


def test_the_plot_says_which_way_is_better_and_how_long_each_run_trained(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from yolo_lr.tools.sweep import _plot

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    for mode, word, epochs in (("max", "higher", 1), ("min", "lower", 2)):
        row = SweepRow(1e-3, {"lr_policy": "wsd"}, 2.0, 0.3, {}, 1.0, epochs, 2, 4)
        res = result(tmp_path, [row], mode=mode, metric="m", axes=["lr_policy"])
        assert _plot(res, tmp_path / f"{mode}.png") == tmp_path / f"{mode}.png"
        ax = figures[-1].axes[0]
        assert ax.get_ylabel() == f"m (last epoch, {word} is better)"
        runs = "1 epoch per run" if epochs == 1 else "2 epochs per run"
        assert ax.get_title() == f"lr0 x lr_policy sweep: yolo26n.yaml, SGD, {runs}"
