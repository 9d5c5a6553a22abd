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
