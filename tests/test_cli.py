"""The `yolo-lr` command as a user runs it (subprocesses of the installed console script)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import COCO8, ROOT, read_csv, venv_bin, yolo_env

pytestmark = pytest.mark.training

PRESETS = ["finetune", "native", "onecycle", "plateau", "restarts", "step", "warmup_cosine", "wsd"]


def yolo_lr(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_bin("yolo-lr"), *args], capture_output=True, text=True, env=yolo_env(), cwd=cwd, timeout=timeout
    )


def test_help_for_every_command():
    p = yolo_lr("--help")
    assert p.returncode == 0
    for cmd in ("train", "val", "plot", "show", "presets"):
        assert f"yolo-lr {cmd}" in p.stdout
        sub = yolo_lr(cmd, "--help")
        assert sub.returncode == 0 and f"yolo-lr {cmd}" in sub.stdout, cmd
    assert "batches" in yolo_lr("plot", "--help").stdout
    bad = yolo_lr("trian")
    assert bad.returncode == 2 and "unknown command 'trian'" in bad.stderr


def test_presets_ship_as_package_data():
    p = yolo_lr("presets")
    assert p.returncode == 0
    assert "site-packages" in p.stdout  # read from the installed wheel, not the checkout
    for name in PRESETS:
        line = next(x for x in p.stdout.splitlines() if x.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 20, line  # a real one-line description


def test_show_resolves_every_key():
    p = yolo_lr("show", "cfg=plateau", "lr_plateau_patience=3")
    assert p.returncode == 0, p.stderr
    assert "lr_plateau_patience: 3\n" in p.stdout and "lr_plateau_factor: 0.5\n" in p.stdout
    assert "lr_plateau_mode: max   # default" in p.stdout and "configs/plateau.yaml" in p.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["show", "cfg=step", "lr_gamma=2"], "lr_gamma=2"),
        (["plot", "cfg=warmup_cosin"], "Did you mean 'warmup_cosine'"),
        (["train", "cfg=plateau", "lr_plateau_facter=0.5"], "Did you mean 'lr_plateau_factor'"),
        (["train", "cfg=finetune", "epochs=1"], "lr_unfreeze_epoch=1 (from"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(tmp_path, args, needle):
    p = yolo_lr(*args, cwd=tmp_path, timeout=60)
    assert p.returncode == 2 and needle in p.stderr, p.stdout + p.stderr
    assert not (tmp_path / "runs").exists()


def test_plot_prints_a_table_with_events(tmp_path):
    out = tmp_path / "ft.png"
    p = yolo_lr("plot", "cfg=finetune", "epochs=10", "batches=4", "batch=1", "nbs=1", f"out={out}")
    assert p.returncode == 0, p.stderr
    assert "unfreeze" in p.stdout and "warmup 8 it" in p.stdout and "pg3(weight/backbone)" in p.stdout
    assert out.stat().st_size > 5000 and len(read_csv(out.with_suffix(".csv"))) == 40


def test_train_a_preset_by_name_with_default_data(tmp_path):
    p = yolo_lr(
        "train",
        "cfg=step",
        "model=yolo26n.yaml",
        "epochs=2",
        "imgsz=64",
        "batch=1",
        "nbs=1",
        "workers=0",
        "device=cpu",
        "plots=False",
        "warmup_epochs=0",
        f"project={tmp_path}",
        "name=byname",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "using the bundled COCO8" in p.stdout
    rows = read_csv(tmp_path / "byname" / "lr.csv")
    # step preset: gamma 0.1, step size = a third of the run in whole epochs (at least 1): a stair at epoch 1
    assert len(rows) == 8
    for r in rows:
        assert float(r["lr/pg0(weight)"]) == pytest.approx(0.01 * 0.1 ** int(r["epoch"]), rel=1e-9)


def test_finetune_script_offline(pretrained, tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "finetune.py"),
            "--model",
            pretrained,
            "--data",
            str(COCO8),
            "--epochs",
            "3",
            "--imgsz",
            "64",
            "--batch",
            "1",
            "--device",
            "cpu",
            "--project",
            str(tmp_path),
            "--name",
            "ft",
            "nbs=1",
            "workers=0",
            "plots=False",
        ],
        capture_output=True,
        text=True,
        env=yolo_env(),
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    rows = read_csv(tmp_path / "ft" / "lr.csv")
    assert len(rows) == 12  # 3 epochs x 4 batches, one step each (nbs=1)
    for r in rows:
        head, bb = float(r["lr/pg0(weight)"]), float(r["lr/pg3(weight/backbone)"])
        epoch, first_of_epoch = int(r["epoch"]), int(r["iteration"]) % 4 == 0
        # frozen during the preset's first epoch; from epoch 1 the ramp starts at 0 and rises at every step
        assert (bb == 0.0) == (epoch == 0 or (epoch == 1 and first_of_epoch))
        assert bb <= 0.5 * head + 1e-15 and (int(r["iteration"]) == 0 or head > 0)
    short = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "finetune.py"), "--model", pretrained, "--epochs", "1", "--help"],
        capture_output=True,
        text=True,
        env=yolo_env(),
        timeout=60,
    )
    assert short.returncode == 0 and "--unfreeze-epoch" in short.stdout


def test_val_passes_through_to_ultralytics(pretrained, tmp_path):
    p = yolo_lr(
        "val",
        f"model={pretrained}",
        "imgsz=64",
        "batch=2",
        "device=cpu",
        "plots=False",
        f"project={tmp_path}",
        "name=val",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "using the bundled COCO8" in p.stdout and "mAP50-95" in p.stdout + p.stderr
