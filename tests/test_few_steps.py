"""A run with few optimizer steps says what it does: a warning with the numbers and the fix at train start, an lr.png
that shows every step (one included), and lr/pg* in results.csv that some step really used."""

from __future__ import annotations

import math

import pytest
from conftest import read_csv

pytestmark = pytest.mark.training
LR0 = 0.02


def _coloured_pixels(png) -> int:
    """Pixels that are neither grey nor white: the drawn curves and markers."""
    from matplotlib.image import imread

    img = imread(png)[..., :3]
    spread = img.max(axis=2) - img.min(axis=2)
    return int((spread > 0.15).sum())


def test_a_run_of_few_steps_warns_draws_them_and_logs_only_used_lrs(train, ultralytics_log):
    """4 images, batch=4, nbs=8: one batch per epoch and a step every second batch, so 4 epochs take 2 optimizer
    steps, in epochs 1 and 3; epochs 0 and 2 take none (epoch 2's lr/pg* is epoch 1's last step)."""
    run = train(epochs=4, batch=4, nbs=8, optimizer="SGD", lr0=LR0, warmup_epochs=0, lr_policy="cosine", plots=True)
    rows = read_csv(run.save_dir / "lr.csv")
    assert run.nb == 1 and [int(r["epoch"]) for r in rows] == [1, 3] and len(run.steps) == 2
    warnings = [m for m in ultralytics_log if "yolo_lr: this run takes only" in m]
    assert len(warnings) == 1, ultralytics_log
    w = warnings[0]
    assert "2 optimizer steps in 4 epochs" in w and "4 images, batch=4, 1 batches per epoch" in w, w
    assert "nbs=8" in w and "nbs=4 (one step per batch: 4 steps)" in w and "a smaller batch" in w, w

    assert _coloured_pixels(run.save_dir / "lr.png") > 50  # the steps are drawn, not an empty frame

    results = read_csv(run.save_dir / "results.csv")
    by_epoch = {int(r["epoch"]): float(r["lr/pg0(weight)"]) for r in rows}
    last = math.nan
    for epoch, r in enumerate(results):  # each epoch: its last step's LR, else the run's last step so far
        last = by_epoch.get(epoch, last)
        got = float(r["lr/pg0"])
        assert (math.isnan(got) and math.isnan(last)) or got == pytest.approx(last, rel=1e-12), (epoch, got, last)
    assert math.isnan(float(results[0]["lr/pg0"]))  # no step yet: no LR
    assert float(results[2]["lr/pg0"]) == pytest.approx(by_epoch[1], rel=1e-6)  # epoch 1's last step, not a formula


def test_a_run_of_many_steps_does_not_warn(train, ultralytics_log):
    run = train(epochs=2, optimizer="SGD", lr0=LR0, warmup_epochs=1, lr_policy="cosine")
    assert len(run.steps) == 8
    assert not [m for m in ultralytics_log if "this run takes only" in m]


def test_a_single_step_run_still_draws_its_point(tmp_path):
    from yolo_lr.lr_log import plot_lr_csv

    csv = tmp_path / "lr.csv"
    csv.write_text("epoch,iteration,step,lr/pg0(weight),lr/pg1(bn),lr/pg2(bias),momentum\n0,0,1,0.01,0.01,0.01,0.9\n")
    png = plot_lr_csv(csv, tmp_path / "lr.png")
    assert _coloured_pixels(png) > 10
