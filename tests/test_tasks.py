"""Every Ultralytics task trains with a policy, a plateau and the fine-tuning rules on tiny generated data, reading the
LR the optimizer used at every step; task-aware defaults (plateau mode, sweep metric, default data) hold.

Detection is covered on the bundled COCO8 by test_training/test_finetune; every other task of the installed
Ultralytics runs here (a task the data generator cannot make fails, it is not skipped).
"""

from __future__ import annotations

import math
import subprocess

import pytest
import yaml
from conftest import Run, attach_recorder, read_csv, venv_bin, yolo_env
from test_cli import make_task_data
from ultralytics.cfg import TASK2METRIC, TASK2MODEL, TASKS

from yolo_lr.plateau import Plateau, infer_mode

OTHER_TASKS = [t for t in TASKS if t != "detect"]
# 4 train / 2 val images, batch 2, nbs 2: 2 batches and 2 optimizer steps per epoch
TINY = dict(imgsz=32, batch=2, nbs=2, workers=0, device="cpu", plots=False, amp=False, verbose=False, seed=0)
LR0, LRF, SCALE = 0.01, 0.01, 0.5
# A lower-is-better metric where a task has one that does not say "loss"; else the task's own metric.
PLATEAU_METRIC = {**TASK2METRIC, "depth": "metrics/abs_rel"}
LOWER_IS_BETTER = {"metrics/abs_rel", "metrics/rmse", "metrics/silog"}  # besides */..._loss columns


def model_yaml(task: str) -> str:
    return TASK2MODEL[task].replace(".pt", ".yaml")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """Generated data per task, made on first use."""
    root, made = tmp_path_factory.mktemp("task_data"), {}

    def get(task: str) -> str:
        if task not in made:
            made[task] = str(make_task_data(root / task, task))
        return made[task]

    return get


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, datasets):
    """A 1-epoch checkpoint per task, trained here from the task's model YAML: the weights fine-tuning starts from."""
    from ultralytics import YOLO

    import yolo_lr  # noqa: F401

    root, made = tmp_path_factory.mktemp("task_ckpt"), {}

    def get(task: str) -> str:
        if task not in made:
            YOLO(model_yaml(task)).train(data=datasets(task), epochs=1, project=str(root), name=task, **TINY)
            made[task] = str(root / task / "weights" / "last.pt")
        return made[task]

    return get


def _backbone_snapshots(snaps: list):
    import torch

    def grab(trainer):
        n = len(trainer.model.yaml["backbone"])
        parts = ({}, {})
        for name, p in trainer.model.named_parameters():
            parts[int(name.split(".")[1]) >= n][name] = p.detach().clone()
        return parts

    def changed(a: dict, b: dict) -> bool:
        assert a.keys() == b.keys() and a
        return any(not torch.equal(a[k], b[k]) for k in a)

    return {
        "on_train_epoch_start": lambda tr: snaps.append(("start", tr.epoch, *grab(tr))),
        "on_train_epoch_end": lambda tr: snaps.append(("end", tr.epoch, *grab(tr))),
    }, changed


@pytest.mark.training
@pytest.mark.parametrize("task", OTHER_TASKS)
def test_task_finetunes_with_policy_plateau_and_backbone_rules(task, datasets, checkpoints, tmp_path):
    """From the task's own checkpoint: cosine per step, a plateau on the task's metric, the backbone frozen in epoch 0
    and then at half the head's LR. Every optimizer step's LR is checked against the closed form."""
    from ultralytics import YOLO

    metric = PLATEAU_METRIC[task]
    epochs = 3
    run, snaps = Run(), []
    callbacks, changed = _backbone_snapshots(snaps)
    model = YOLO(checkpoints(task))
    assert model.task == task
    attach_recorder(model, run)
    for event, fn in callbacks.items():
        model.add_callback(event, fn)
    model.train(
        data=datasets(task),
        epochs=epochs,
        optimizer="SGD",
        lr0=LR0,
        lrf=LRF,
        warmup_epochs=0,
        lr_policy="cosine",
        lr_plateau=True,
        lr_plateau_metric=metric,
        lr_plateau_patience=0,
        lr_plateau_threshold=1e9,
        lr_plateau_threshold_mode="abs",
        lr_plateau_min_factor=0.0,
        lr_backbone_scale=SCALE,
        lr_unfreeze_epoch=1,
        project=str(tmp_path),
        name=task,
        **TINY,
    )
    trainer = run.trainer
    ctl = trainer.yolo_lr
    want_mode = "min" if metric in LOWER_IS_BETTER else "max"
    assert ctl.settings.plateau.mode == want_mode and ctl.settings.plateau.metric == metric

    # The plateau's factor before each epoch, replayed from the metric values in results.csv. With an absolute
    # threshold of 1e9 only the first value improves, so epoch 1 is a bad epoch and epoch 2 runs at factor 0.1.
    results = read_csv(run.save_dir / "results.csv")
    assert len(results) == epochs and metric in results[0]
    replay = Plateau(mode=want_mode, factor=0.1, patience=0, threshold=1e9, threshold_mode="abs", min_factor=0.0)
    factor = []
    for row in results:
        factor.append(replay.factor)
        replay.step(float(row[metric]))
    assert factor[2] < 1.0, f"no plateau reduction replayed from {[r[metric] for r in results]}"

    groups = trainer.optimizer.param_groups
    assert [bool(g.get("yolo_lr_backbone")) for g in groups] == [False] * 3 + [True] * 3
    nb = run.nb
    assert nb == 2 and len(run.steps) == epochs * nb
    horizon = epochs - 1 / nb
    for s in run.steps:
        t = s.epoch + (s.ni - nb * s.epoch) / nb
        head = LR0 * (LRF + (1 - LRF) * (1 + math.cos(math.pi * t / horizon)) / 2) * factor[s.epoch]
        backbone = 0.0 if s.epoch < 1 else SCALE * head
        for name in ("weight", "bn", "bias"):
            got_head, got_backbone = s.lr[name]
            assert got_head == pytest.approx(head, rel=1e-9), (task, s, name)
            assert got_backbone == pytest.approx(backbone, rel=1e-9, abs=1e-15), (task, s, name)
    assert len(read_csv(run.save_dir / "lr.csv")) == len(run.steps)

    by = {(kind, e): (bb, head) for kind, e, bb, head in snaps}
    for e in range(epochs):
        (bb0, head0), (bb1, head1) = by[("start", e)], by[("end", e)]
        assert changed(head0, head1), f"{task}: head did not train in epoch {e}"
        assert changed(bb0, bb1) == (e >= 1), f"{task}: backbone frozen state wrong in epoch {e}"

    # Every metric and loss column this task writes has a direction the plugin can infer, and the right one.
    for column in results[0]:
        if column.startswith(("metrics/", "train/", "val/")):
            want = "min" if column.endswith("loss") or column in LOWER_IS_BETTER else "max"
            assert infer_mode(column) == want, column


@pytest.mark.training
def test_metric_the_task_does_not_produce_is_an_error_not_a_silent_nan(datasets, tmp_path):
    """Depth's validator names its metrics only when it first runs (before that the trainer lists box metrics): a
    plateau on a box metric stops after the first validation instead of feeding NaN to the plateau."""
    from ultralytics import YOLO

    from yolo_lr.config import LRConfigError

    with pytest.raises(LRConfigError, match=r"lr_plateau_metric='metrics/mAP50-95\(B\)' is not produced by this task"):
        YOLO(model_yaml("depth")).train(
            data=datasets("depth"),
            epochs=2,
            lr_plateau=True,
            warmup_epochs=0,
            lr_plateau_metric="metrics/mAP50-95(B)",
            project=str(tmp_path),
            name="d",
            **TINY,
        )
    assert len(read_csv(tmp_path / "d" / "results.csv")) <= 1


def test_infer_mode_knows_lower_is_better_beyond_loss_and_refuses_to_guess():
    for name in (
        "val/box_loss",
        "train/DFL_LOSS",
        "metrics/abs_rel",
        "metrics/rmse",
        "metrics/silog",
        "val/error",
        "top1_err",
        "metrics/MAE",
    ):
        assert infer_mode(name) == "min", name
    for name in (
        "fitness",
        "metrics/mAP50-95(M)",
        "metrics/accuracy_top1",
        "metrics/mIoU",
        "metrics/pixel_acc",
        "metrics/delta1",
        "metrics/recall(P)",
    ):
        assert infer_mode(name) == "max", name
    for name in ("lr/pg0", "time", "my_score"):
        with pytest.raises(ValueError, match="whether higher or lower is better"):
            infer_mode(name)


@pytest.mark.training
def test_plateau_on_an_unclear_metric_fails_before_training(tmp_path):
    """A metric whose direction the name does not tell: exit 2 naming lr_plateau_metric and lr_plateau_mode."""
    words = ["lr_plateau", "lr_plateau_metric=lr/pg0", "epochs=1", "imgsz=32", f"project={tmp_path}"]
    p = subprocess.run(
        [venv_bin("yolo-lr"), "train", "model=yolo26n.yaml", *words],
        capture_output=True,
        text=True,
        env=yolo_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert p.returncode == 2, p.stdout[-2000:] + p.stderr[-2000:]
    assert "lr_plateau_metric='lr/pg0'" in p.stderr and "needs lr_plateau_mode=min or max" in p.stderr
    assert not list(tmp_path.iterdir())
    ok = subprocess.run(
        [venv_bin("yolo-lr"), "show", "lr_plateau", "lr_plateau_metric=lr/pg0", "lr_plateau_mode=min"],
        capture_output=True,
        text=True,
        env=yolo_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert ok.returncode == 0 and "lr_plateau_mode: min\n" in ok.stdout, ok.stderr


def _yolo_lr(*args, cwd, timeout=300):
    return subprocess.run(
        [venv_bin("yolo-lr"), *args], capture_output=True, text=True, env=yolo_env(), cwd=cwd, timeout=timeout
    )


@pytest.mark.training
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["pose", "train", "epochs=1"], "data= is required for the default pose model (pose task)"),
        (
            ["train", "model=yolo26n-cls.yaml", "epochs=1"],
            "data= is required for model=yolo26n-cls.yaml (classify task): the bundled COCO8 is detection only",
        ),
        (["sweep", "lr0=1e-3", "model=yolo26n-seg.yaml"], "data= is required for model=yolo26n-seg.yaml (segment"),
        (["find", "model=yolo26n-obb.yaml"], "data= is required for model=yolo26n-obb.yaml (obb task)"),
        (["val", "model=yolo26n-pose.yaml"], "data= is required: model=yolo26n-pose.yaml carries no training data"),
    ],
)
def test_non_detect_tasks_need_data(tmp_path, args, needle):
    p = _yolo_lr(*args, cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and needle in p.stderr, p.stdout[-2000:] + p.stderr[-2000:]
    assert not list(tmp_path.iterdir())


@pytest.mark.training
def test_val_uses_the_checkpoints_own_data(tmp_path, checkpoints, datasets):
    """A segment checkpoint is validated on the data it was trained on (its train_args), never on COCO8."""
    ckpt = checkpoints("segment")
    p = _yolo_lr(
        "val",
        f"model={ckpt}",
        "imgsz=32",
        "batch=2",
        "device=cpu",
        "plots=False",
        f"project={tmp_path}",
        "name=val",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert f"using the data model={ckpt} was trained on ({datasets('segment')})" in p.stdout
    log = p.stdout + p.stderr
    assert "coco8" not in log.lower() and "Mask(P" in log  # segment metrics on the generated data


@pytest.mark.training
def test_classify_sweep_ranks_by_top1(tmp_path, datasets):
    """`yolo-lr classify sweep`: the table and the best row use metrics/accuracy_top1 read from each run."""
    from yolo_lr.tools.sweep import SweepRow, pick_best

    words = [f"{k}={v}" for k, v in TINY.items() if k != "verbose"]
    p = _yolo_lr(
        "classify",
        "sweep",
        "lr0=1e-3,1e-1",
        "model=yolo26n-cls.yaml",
        f"data={datasets('classify')}",
        "epochs=1",
        *words,
        f"project={tmp_path}",
        "name=cls",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "ranked by metrics/accuracy_top1 (max)" in p.stdout
    header = next(line for line in p.stdout.splitlines() if line.startswith("| lr0"))
    assert "metrics/accuracy_top1" in header and "mAP" not in header
    rows = read_csv(tmp_path / "cls" / "sweep.csv")
    assert len(rows) == 2 and [r["best"] for r in rows].count("1") == 1
    replay = []
    for r in rows:
        last = read_csv(tmp_path / "cls" / f"lr0_{float(r['lr0']):.3g}" / "results.csv")[-1]
        assert float(r["metrics/accuracy_top1"]) == pytest.approx(float(last["metrics/accuracy_top1"]), abs=1e-6)
        replay.append(
            SweepRow(float(r["lr0"]), final_loss=float(r["final_loss"]), metric=float(r["metrics/accuracy_top1"]))
        )
    best = next(float(r["lr0"]) for r in rows if r["best"] == "1")
    assert pick_best(replay).lr0 == best


def test_sweep_metric_and_data_defaults_follow_the_task():
    from yolo_lr.tasks import default_data, main_metric, model_info
    from yolo_lr.tools.sweep import SweepRow, pick_best

    assert {t: main_metric(t) for t in ("detect", "segment", "pose", "obb", "classify")} == {
        "detect": "metrics/mAP50-95(B)",
        "segment": "metrics/mAP50-95(M)",
        "pose": "metrics/mAP50-95(P)",
        "obb": "metrics/mAP50-95(B)",
        "classify": "metrics/accuracy_top1",
    }
    assert all(main_metric(t) == TASK2METRIC[t] for t in TASKS)
    assert default_data("detect").name == "coco8.yaml" and all(default_data(t) is None for t in OTHER_TASKS)
    assert {t: model_info(model_yaml(t)).task for t in TASKS} == {t: t for t in TASKS}
    rows = [SweepRow(1e-3, final_loss=2.0, metric=0.5), SweepRow(1e-2, final_loss=1.0, metric=0.4)]
    assert pick_best(rows, "max").lr0 == 1e-3 and pick_best(rows, "min").lr0 == 1e-2


def test_generated_datasets_are_what_each_task_reads(tmp_path):
    """Labels of every task's generated dataset have the task's shape; the same seed gives the same bytes."""
    for task in ("detect", *OTHER_TASKS):
        data = make_task_data(tmp_path / "a" / task, task, seed=3)
        again = make_task_data(tmp_path / "b" / task, task, seed=3)
        if task == "classify":
            images = sorted(p.relative_to(data) for p in data.rglob("*.png"))
            assert len(images) == 6 and {p.parent.name for p in images} == {"square", "triangle"}
            assert [(again / p).read_bytes() for p in images] == [(data / p).read_bytes() for p in images]
            continue
        root, cfg = data.parent, yaml.safe_load(data.read_text())
        images = sorted(p.relative_to(root) for p in (root / "images").rglob("*.png"))
        assert len(images) == 6, task  # 4 train + 2 val
        assert [(again.parent / p).read_bytes() for p in images] == [(root / p).read_bytes() for p in images]
        if task in ("semantic", "depth"):
            folder = {"semantic": "masks", "depth": "depth"}[task]
            assert sorted(p.relative_to(root / folder) for p in (root / folder).rglob("*.png")) == [
                p.relative_to("images") for p in images
            ]
            continue
        assert cfg["names"] == {0: "square", 1: "triangle"}
        width = {"detect": 5, "pose": 5 + 3 * 3, "obb": 9}.get(task)
        for label in (root / "labels" / "train").glob("*.txt"):
            for line in label.read_text().splitlines():
                values = [float(v) for v in line.split()]
                coords = [v for j, v in enumerate(values[1:]) if task != "pose" or j < 4 or (j - 4) % 3 != 2]
                assert values[0] in (0, 1) and all(0 <= v <= 1 for v in coords), (task, line)
                assert task != "pose" or values[7::3] == [2.0, 2.0, 2.0], line  # keypoints visible
                if width:
                    assert len(values) == width, (task, line)
                else:  # segment: a polygon of at least 3 points
                    assert (len(values) - 1) % 2 == 0 and len(values) >= 7, (task, line)
