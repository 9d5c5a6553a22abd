"""The `yolo-lr` command as a user runs it (subprocesses of the installed console script), and its word parsing
against Ultralytics' own."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import COCO8, FAST, ROOT, read_csv, venv_bin, yolo_env

pytestmark = pytest.mark.training

PRESETS = ["finetune", "native", "onecycle", "plateau", "restarts", "step", "warmup_cosine", "wsd"]


def yolo_lr(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_bin("yolo-lr"), *args], capture_output=True, text=True, env=yolo_env(), cwd=cwd, timeout=timeout
    )


def make_task_data(*args, **kwargs):
    """scripts/make_task_data.py's generator (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_task_data", ROOT / "scripts" / "make_task_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module.make_task_data(*args, **kwargs)


def test_help_for_every_command():
    from ultralytics.cfg import TASKS

    p = yolo_lr("--help")
    assert p.returncode == 0
    for cmd in ("train", "val", "plot", "show", "presets", "copy-cfg"):
        assert f"yolo-lr {cmd}" in p.stdout or f"yolo-lr [TASK] {cmd}" in p.stdout, cmd
        sub = yolo_lr(cmd, "--help")
        assert sub.returncode == 0 and (f"yolo-lr {cmd}" in sub.stdout or f"yolo-lr [TASK] {cmd}" in sub.stdout), cmd
    # the new forms: task word (every task of the installed Ultralytics), spaces around '=', bare flags, copy-cfg
    assert ", ".join(TASKS) in p.stdout and "key = value" in p.stdout and "train resume" in p.stdout
    assert "copy-cfg NAME" in p.stdout and "yolo-lr segment train" in p.stdout
    assert "batches" in yolo_lr("plot", "--help").stdout
    assert "yolo-lr [TASK] train" in yolo_lr("segment", "train", "--help").stdout
    bad = yolo_lr("trian")
    assert bad.returncode == 2 and "unknown command 'trian'" in bad.stderr and "Did you mean 'train'" in bad.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["lr0", "=", "0.02", "lrf=", "0.1", "momentum", "=0.9", "epochs=3"],
        ["imgsz=[64,", "64]", "lr_milestones", "=", "[3,", "6]"],
        ["lr_milestones=", "[3,", "6,", "9]", "name=a", "=b"],
    ],
)
def test_merge_words_matches_ultralytics(argv):
    from ultralytics.cfg import merge_equals_args

    from yolo_lr.tools.cli import merge_words

    assert merge_words(argv) == merge_equals_args(argv)


def test_parse_words_task_flags_and_spaces():
    from yolo_lr.tools.cli import parse_words

    w = parse_words(
        [
            "lr0",
            "=",
            "0.02",
            "lrf=",
            "0.1",
            "momentum",
            "=0.9",
            "lr_milestones=[3,",
            "6]",
            "plots",
            "segment",
            "resume",
            "--epochs=3",
            "lr_plateau",
        ]
    )
    assert w.task == "segment"
    assert w.args == {
        "lr0": 0.02,
        "lrf": 0.1,
        "momentum": 0.9,
        "lr_milestones": [3, 6],
        "plots": True,
        "resume": True,
        "epochs": 3,
        "lr_plateau": True,
    }
    assert w.words == [
        "lr0=0.02",
        "lrf=0.1",
        "momentum=0.9",
        "lr_milestones=[3,6]",
        "plots=True",
        "resume=True",
        "epochs=3",
        "lr_plateau=True",
    ]
    assert parse_words(["task=pose", "half"]).task == "pose" and parse_words(["half"]).args == {"half": True}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "epochs"], "'epochs' needs a value, e.g. epochs=100"),
        (["train", "plotz"], "unexpected word 'plotz'. Did you mean 'plots'?"),
        (
            ["train", "lr_plateau_patience", "="],  # a key registered with its fixed default shows it
            "'lr_plateau_patience' needs a value, e.g. lr_plateau_patience=10 (an integer >= 0)",
        ),
        (["train", "lr_gamma"], "'lr_gamma' needs a value, e.g. lr_gamma=VALUE (a number in (0, 1))"),
        (["train", "=", "0.1"], "'=' needs a key and a value"),
        (["train", "lr_milestones=[3,", "6"], "unbalanced brackets in 'lr_milestones=[3,6'"),
        (["segmnt", "train"], "unknown command 'segmnt'. Did you mean 'segment'?"),
        (["train", "task=segmnt"], "unknown task 'segmnt'. Did you mean 'segment'?"),
        (["segment", "train", "task=pose"], "two tasks given, 'segment' and 'pose'"),
        (["segment", "plot", "cfg=plateau"], "task word 'segment' goes with train, val"),
        (
            ["segment", "train", "model=yolo26n.yaml"],
            "task 'segment' does not match model=yolo26n.yaml, which is a detect model",
        ),
        (["copy-cfg", "platau"], "no preset 'platau'. Did you mean 'plateau'?"),
        (["copy-cfg"], "give one preset name"),
    ],
)
def test_bad_words_exit_2_naming_the_word(tmp_path, args, needle):
    p = yolo_lr(*args, cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and needle in p.stderr, p.stdout[-2000:] + p.stderr[-2000:]
    assert not list(tmp_path.iterdir())  # nothing written, nothing trained


def test_task_word_spaces_and_bare_flags_train(tmp_path):
    """`yolo-lr segment train ... epochs = 2 imgsz= 32 exist_ok lr_plateau`: task word, spaced '=' and bare flags
    reach the run."""
    data = make_task_data(tmp_path / "data", "segment")
    (tmp_path / "seg").mkdir()  # without exist_ok=True Ultralytics would train into seg2
    p = yolo_lr(
        "segment",
        "train",
        "model=yolo26n-seg.yaml",
        f"data={data}",
        "epochs",
        "=",
        "2",
        "imgsz=",
        "32",
        "batch",
        "=2",
        "nbs=2",
        "workers=0",
        "device=cpu",
        "amp=False",
        "plots=False",
        "optimizer=SGD",
        "warmup_epochs=0",
        "lr_policy",
        "=",
        "cosine",
        "exist_ok",
        "lr_plateau",
        "lr_plateau_patience =0",
        f"project={tmp_path}",
        "name=seg",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert not (tmp_path / "seg2").exists()
    args = yaml.safe_load((tmp_path / "seg" / "args.yaml").read_text())
    assert (args["task"], args["epochs"], args["imgsz"], args["batch"], args["exist_ok"]) == ("segment", 2, 32, 2, True)
    assert (args["lr_policy"], args["lr_plateau"], args["lr_plateau_patience"]) == ("cosine", True, 0)
    summary = [line for line in (p.stdout + p.stderr).splitlines() if "yolo_lr: policy=" in line]
    assert summary and "plateau=off" not in summary[0] and "plateau=" in summary[0]  # the plateau ran
    rows = read_csv(tmp_path / "seg" / "lr.csv")
    assert len(rows) == 4 and float(rows[0]["lr/pg0(weight)"]) == pytest.approx(0.01)


def test_resume_as_a_bare_flag(tmp_path):
    """`yolo-lr train resume model=last.pt` continues an interrupted run (resume alone means resume=True)."""
    from conftest import Interrupt, interrupt_after
    from ultralytics import YOLO

    import yolo_lr as plugin  # noqa: F401  (registers the lr_* keys; the name yolo_lr is this file's runner)

    model = YOLO("yolo26n.yaml")
    model.add_callback("on_fit_epoch_end", interrupt_after(0)["on_fit_epoch_end"])
    with pytest.raises(Interrupt):
        model.train(
            data=str(COCO8),
            epochs=2,
            optimizer="SGD",
            warmup_epochs=0,
            lr_policy="cosine",
            project=str(tmp_path),
            name="cut",
            **FAST,
        )
    last = tmp_path / "cut" / "weights" / "last.pt"
    assert {int(r["epoch"]) for r in read_csv(tmp_path / "cut" / "lr.csv")} == {0}
    p = yolo_lr("train", "resume", f"model={last}", cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "data= not given" not in p.stdout  # a resumed run keeps its own data
    rows = read_csv(tmp_path / "cut" / "lr.csv")
    assert [int(r["epoch"]) for r in rows] == [0] * 4 + [1] * 4 and len(read_csv(tmp_path / "cut" / "results.csv")) == 2
    assert float(rows[-1]["lr/pg0(weight)"]) == pytest.approx(0.01 * 0.01)


def test_copy_cfg_writes_an_editable_preset(tmp_path):
    from yolo_lr.presets import preset_dir

    p = yolo_lr("copy-cfg", "plateau", cwd=tmp_path, timeout=60)
    copy = tmp_path / "plateau_copy.yaml"
    assert p.returncode == 0 and f"wrote {copy}" in p.stdout, p.stdout + p.stderr
    assert copy.read_bytes() == (preset_dir() / "plateau.yaml").read_bytes()
    copy.write_text(copy.read_text().replace("lr_plateau_patience: 5", "lr_plateau_patience: 2"))
    edited = copy.read_bytes()
    again = yolo_lr("copy-cfg", "plateau", cwd=tmp_path, timeout=60)
    assert again.returncode == 2 and "already exists" in again.stderr and "force" in again.stderr
    assert copy.read_bytes() == edited  # not overwritten
    shown = yolo_lr("show", f"cfg={copy.name}", cwd=tmp_path, timeout=60)  # the copy is a working cfg
    assert shown.returncode == 0 and "lr_plateau_patience: 2\n" in shown.stdout, shown.stderr
    forced = yolo_lr("copy-cfg", "plateau", "force", cwd=tmp_path, timeout=60)
    assert forced.returncode == 0 and copy.read_bytes() == (preset_dir() / "plateau.yaml").read_bytes()
    assert "model=yolo26n.yaml" in forced.stdout
    finetune = yolo_lr("copy-cfg", "finetune", cwd=tmp_path, timeout=60)  # fine-tuning needs pretrained weights
    assert finetune.returncode == 0 and "model=path/to/pretrained.pt" in finetune.stdout, finetune.stdout


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
    # the preset's 1 warmup epoch of 4 batches: 4 warmup iterations
    p = yolo_lr("plot", "cfg=finetune", "epochs=10", "batches=4", "batch=1", "nbs=1", f"out={out}")
    assert p.returncode == 0, p.stderr
    assert "unfreeze" in p.stdout and "warmup 4 it" in p.stdout and "pg3(weight/backbone)" in p.stdout
    assert out.stat().st_size > 5000 and len(read_csv(out.with_suffix(".csv"))) == 40


def test_plot_says_lr_find_sets_lr0_at_train_time(tmp_path):
    p = yolo_lr("plot", "cfg=warmup_cosine", "lr_find=True", "epochs=3", f"out={tmp_path / 'f.png'}")
    assert p.returncode == 0, p.stderr
    assert "note: lr_find sets lr0 at train time" in p.stdout and "lr_find=rule auto" in p.stdout
    assert "note: lr_find" not in yolo_lr("plot", "cfg=warmup_cosine", "epochs=3", f"out={tmp_path / 'g.png'}").stdout


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


def test_val_passes_through_to_ultralytics(coco8_checkpoint, tmp_path):
    p = yolo_lr(
        "val",
        f"model={coco8_checkpoint}",
        "imgsz=64",
        "batch=2",
        "device=cpu",
        "plots=False",
        f"project={tmp_path}",
        "name=val",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    # the checkpoint's own data (train_args), which here happens to be the bundled COCO8
    assert f"using the data model={coco8_checkpoint} was trained on ({COCO8})" in p.stdout
    assert "mAP50-95" in p.stdout + p.stderr


def test_demo_prints_only_paths_that_exist(tmp_path):
    """The main job (scripts/run_demo.sh, 2 epochs here) ends with the files it wrote; each printed path exists,
    lr.png included, and the per-step table has one line per optimizer step."""
    demo = tmp_path / "demo"
    stale = demo / "warmup_cosine" / "lr.png"  # left by an earlier demo in the same folder: must not be shown as new
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    started = time.time() - 1
    env = {
        **yolo_env(),
        "YOLO_LR_SKIP_SETUP": "1",
        "YOLO_LR_VENV": str(Path(sys.executable).parents[1]),
        "YOLO_LR_DEMO_DIR": str(demo),
    }
    p = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run_demo.sh"), "epochs=2", "device=cpu", "workers=0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    summary = p.stdout[p.stdout.index("yolo_lr demo:") :]
    printed = dict(re.findall(r"^([a-z -]+): (/\S+)$", summary, flags=re.M))
    assert set(printed) == {"per-step log", "plot", "metrics", "weights"}, summary
    for label, path in printed.items():
        assert Path(path).is_file(), f"the demo printed {label}: {path}, which does not exist"
        assert Path(path).parent in (demo / "warmup_cosine", demo / "warmup_cosine" / "weights")
        assert Path(path).stat().st_mtime >= started, f"{path} was not written by this demo"
    png = Path(printed["plot"])
    assert png.name == "lr.png" and png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
    steps = read_csv(Path(printed["per-step log"]))
    table = [line for line in summary.splitlines() if re.match(r"^\s+\d+\s+\d+\s", line)]
    assert len(table) == len(steps) == 8 and table[-1].rstrip().endswith("#")  # 2 epochs x 4 steps, with bars


@pytest.mark.training
def test_check_reports_versions_hook_range_and_trackers():
    import ultralytics

    p = yolo_lr("check", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = dict(line.split(None, 1) if not line.startswith("startup") else ("startup hook", line[12:].strip())
                 for line in p.stdout.splitlines() if line.strip())  # fmt: skip
    assert lines["ultralytics"].strip() == ultralytics.__version__ and lines["yolo-lr"].strip() == yolo_lr_version()
    assert lines["startup hook"].startswith("active: ") and lines["startup hook"].endswith("yolo_lr.pth")
    assert lines["plugin"].startswith("registered (") and "trainer" in lines["plugin"] and "8.4.0 to" in lines["plugin"]
    assert "tensorboard: " in lines["trackers"]


def yolo_lr_version() -> str:
    import yolo_lr as pkg

    return pkg.__version__
