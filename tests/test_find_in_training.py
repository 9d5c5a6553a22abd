"""lr_find=True inside training: the range test runs on the trainer's own set-up before epoch 1 (with the plugin's
step pre-hook paused), lr0 becomes its suggestion, everything the test touched is restored, and a resume never reruns
it. Guards yolo_lr/find_in_training.py and its use in yolo_lr/adapter.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import COCO8, FAST, MODEL, Interrupt, Run, attach_recorder, interrupt_after, read_csv, venv_bin, yolo_env

pytestmark = pytest.mark.training

# A short range test on coco8 at batch=1 (nbs=1: one optimizer step per batch); the loss is noisy at this size, but
# seeded, so every run of this set-up finds the same lr0.
FIND = {"lr_find": True, "lr_find_start": 1e-4, "lr_find_end": 10.0, "lr_find_iters": 20, "lr_find_smooth": 0.8}
KW = {"epochs": 2, "optimizer": "SGD", "warmup_epochs": 0, "lrf": 0.01}
CLI_FAST = ["imgsz=64", "batch=1", "nbs=1", "workers=0", "device=cpu", "plots=False", "amp=False", "seed=0"]
FOUND = re.compile(r"yolo_lr: lr_find: lr0=([0-9.e+-]+) ")
GROUPS = ("weight", "bn", "bias")


class Probe:
    """What the trainer holds when epoch 1 starts, the weights/loss after the first optimizer steps, and the LRs of
    every optimizer step taken before training starts (the range test's), read after the step from the optimizer."""

    def __init__(self):
        self.start: dict = {}
        self.steps: list[tuple] = []  # (loss, weights) after each of the first batches (one optimizer step each)
        self.before_training: list[dict[str, list[float]]] = []  # param_group name -> LRs, per step before epoch 1
        self.training = False

    def callbacks(self) -> dict:
        import random

        import numpy as np
        import torch

        def on_train_start(trainer):
            self.training = True
            ds = trainer.train_loader.dataset
            self.start = {
                "torch": torch.get_rng_state().clone(),
                "numpy": np.random.get_state()[1].copy(),
                "random": random.getstate(),
                "loader": trainer.train_loader.generator.get_state().clone(),
                "buffer": list(ds.buffer),
                "weights": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
                "ema": {k: v.detach().clone() for k, v in trainer.ema.ema.state_dict().items()},
                "ema_updates": trainer.ema.updates,
                "optimizer_state": dict(trainer.optimizer.state),
                "groups": [{k: v for k, v in g.items() if k != "params"} for g in trainer.optimizer.param_groups],
                "criterion": getattr(trainer.model, "criterion", None),
            }

        def on_train_batch_end(trainer):
            if len(self.steps) < 3:
                weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
                self.steps.append((trainer.loss.detach().clone(), weights))

        return {"on_train_start": on_train_start, "on_train_batch_end": on_train_batch_end}

    def record(self, optimizer, args, kwargs) -> None:
        """A global optimizer step post-hook: the LR each group used, for steps taken before training starts."""
        if not self.training:
            lrs: dict[str, list[float]] = {}
            for g in optimizer.param_groups:
                name = g.get("param_group", "?") + ("/backbone" if g.get("yolo_lr_backbone") else "")
                lrs.setdefault(name, []).append(g["lr"])
            self.before_training.append(lrs)


def _train(project, name, model: str = MODEL, **kwargs) -> tuple[Run, Probe]:
    from torch.optim.optimizer import register_optimizer_step_post_hook
    from ultralytics import YOLO

    import yolo_lr  # noqa: F401

    run, probe = Run(), Probe()
    yolo = YOLO(model)
    attach_recorder(yolo, run)
    for event, fn in probe.callbacks().items():
        yolo.add_callback(event, fn)
    handle = register_optimizer_step_post_hook(probe.record)
    try:
        yolo.train(**{**FAST, "data": str(COCO8), "project": str(project), "name": name, **kwargs})
    finally:
        handle.remove()
    return run, probe


def _found(messages: list[str]) -> float:
    hits = [float(m.group(1)) for m in map(FOUND.search, messages) if m]
    assert len(hits) == 1, messages
    return hits[0]


def _rule(csv_path) -> float:
    """The default rule (auto) applied to the curve lr_find.csv recorded (its read and raw loss columns), rounded as lr0
    is."""
    from yolo_lr.finder import DEFAULT_RULE, suggest

    rows = read_csv(csv_path)
    lrs, read, raw = ([float(r[k]) for r in rows] for k in ("lr", "read", "loss"))
    return float(f"{suggest(lrs, read, DEFAULT_RULE, raw).lr:.3g}")


def _linear(lr0: float, s, nb: int, epochs: int, lrf: float = 0.01) -> float:
    """Linear decay from the peak to lr0*lrf at the run's last optimizer step (warmup_epochs=0, lr_interval=step)."""
    t, horizon = s.epoch + (s.ni - nb * s.epoch) / nb, epochs - 1 / nb
    return lr0 * ((1 - t / horizon) * (1 - lrf) + lrf)


@pytest.fixture(scope="module")
def found_run(tmp_path_factory):
    """One real run with lr_find (SGD, 2 epochs, no warmup): its recorded steps, probe, suggestion and log."""
    import logging

    from ultralytics.utils import LOGGER

    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    LOGGER.addHandler(handler)
    project = tmp_path_factory.mktemp("lr_find")
    try:
        run, probe = _train(project, "found", **FIND, **KW)
    finally:
        LOGGER.removeHandler(handler)
    return run, probe, _found(messages), messages, project


@pytest.mark.compat
def test_peak_is_the_printed_suggestion_and_is_saved(found_run):
    import torch

    run, _, lr0, messages, _ = found_run
    assert lr0 == _rule(run.save_dir / "lr_find.csv") and lr0 != 0.01  # the rule's answer, not the configured lr0
    (said,) = [m for m in messages if "range test on this run's model, data and SGD param groups" in m]
    tested = len(read_csv(run.save_dir / "lr_find.csv"))  # how the test ended, as the log says it
    stopped = r"stopped: (diverged|loss not finite) at lr=\S+"  # a divergence at the last step records every step
    ending = rf"(ran all steps|{stopped})" if tested == FIND["lr_find_iters"] else stopped
    assert re.search(rf": {tested}/20 steps of lr 0\.0001 -> 10 \({ending}\), \d+ images, ", said), said
    from yolo_lr.adapter import _controller
    from yolo_lr.finder import DEFAULT_RULE

    found = _controller(run.trainer).found  # what the run keeps of the test
    assert (found.lr0, found.before, found.rule, found.optimizer) == (lr0, 0.01, DEFAULT_RULE, "SGD")
    groups = run.trainer.optimizer.param_groups
    assert [g["initial_lr"] for g in groups] == [lr0] * 3  # the peak the policy reads
    assert run.trainer.scheduler.base_lrs == [lr0] * 3
    # warmup_epochs=0 and the linear policy: every step follows the closed form from the found peak
    assert len(run.steps) == 2 * run.nb
    for s in run.steps:
        for g in GROUPS:
            assert s.lr[g] == [pytest.approx(_linear(lr0, s, run.nb, 2), rel=1e-12)], (s.ni, g)
    assert run.steps[0].lr["weight"] == [lr0]
    saved = yaml.safe_load((run.save_dir / "args.yaml").read_text())
    assert saved["lr0"] == lr0 and saved["lr_find"] is True and saved["lr_find_iters"] == 20
    assert saved["optimizer"] == "SGD"
    ckpt = torch.load(run.save_dir / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["train_args"]["lr0"] == lr0
    rows = read_csv(run.save_dir / "lr_find.csv")
    assert len(rows) >= 5 and float(rows[0]["lr"]) == pytest.approx(FIND["lr_find_start"])
    assert float(read_csv(run.save_dir / "lr.csv")[0]["lr/pg0(weight)"]) == pytest.approx(lr0, rel=1e-12)


@pytest.mark.compat
def test_the_range_test_steps_use_the_tested_lrs(found_run):
    """The optimizer steps before epoch 1 are the range test's, at lr_find.csv's LRs on every group: the plugin's step
    pre-hook is paused while it runs (it would otherwise write the policy's LR)."""
    run, probe, _, _, _ = found_run
    tested = [float(r["lr"]) for r in read_csv(run.save_dir / "lr_find.csv")]
    assert len(probe.before_training) == len(tested) >= 5
    for used, lr in zip(probe.before_training, tested):
        assert used == {g: [pytest.approx(lr, rel=1e-6)] for g in GROUPS}


def test_the_range_test_leaves_no_trace(found_run):
    """A run whose lr0 is set by hand to the suggestion starts epoch 1 in the same state and takes the same steps."""
    import numpy as np
    import torch

    run, probe, lr0, _, project = found_run
    hand_run, hand = _train(project, "by_hand", lr0=lr0, lr_policy="linear", **KW)
    assert hand.before_training == []  # no range test in this run
    a, b = probe.start, hand.start
    assert torch.equal(a["torch"], b["torch"]) and np.array_equal(a["numpy"], b["numpy"]) and a["random"] == b["random"]
    assert torch.equal(a["loader"], b["loader"]) and a["buffer"] == b["buffer"]
    for key in ("weights", "ema"):  # parameters and BatchNorm running statistics
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), (key, k)
    assert a["ema_updates"] == b["ema_updates"] == 0 and a["optimizer_state"] == b["optimizer_state"] == {}
    assert a["groups"] == b["groups"] and a["criterion"] is None and b["criterion"] is None
    assert len(probe.steps) == len(hand.steps) == 3
    for (loss_a, w_a), (loss_b, w_b) in zip(probe.steps, hand.steps, strict=True):
        assert torch.equal(loss_a, loss_b)
        assert all(torch.equal(w_a[k], w_b[k]) for k in w_a)
    assert [s.lr for s in run.steps] == [s.lr for s in hand_run.steps]

    def metrics(path):
        return [{k: v for k, v in row.items() if k != "time"} for row in read_csv(path)]

    assert metrics(run.save_dir / "results.csv") == metrics(hand_run.save_dir / "results.csv")


def test_a_resume_through_the_stock_cli_reuses_lr0_and_never_reruns_the_finder(found_run, tmp_path):
    import os

    from ultralytics import YOLO

    run, _, lr0, _, _ = found_run
    cut = YOLO(MODEL)
    for event, fn in interrupt_after(0).items():
        cut.add_callback(event, fn)
    with pytest.raises(Interrupt):
        cut.train(**{**FAST, "data": str(COCO8), "project": str(tmp_path), "name": "cut", **FIND, **KW})
    save_dir = tmp_path / "cut"
    curve = save_dir / "lr_find.csv"
    stamp = (curve.read_bytes(), os.stat(curve).st_mtime_ns)
    assert yaml.safe_load((save_dir / "args.yaml").read_text())["lr0"] == lr0
    p = subprocess.run(
        [venv_bin("yolo"), "train", "resume=True", f"model={save_dir / 'weights' / 'last.pt'}"],
        cwd=tmp_path,
        env=yolo_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "Resuming training" in out and f"resumed run: training on with lr0={lr0:g}" in out
    assert "range test on this run's" not in out and not FOUND.search(out)
    assert (curve.read_bytes(), os.stat(curve).st_mtime_ns) == stamp
    assert yaml.safe_load((save_dir / "args.yaml").read_text())["lr0"] == lr0
    uninterrupted, resumed = read_csv(run.save_dir / "lr.csv"), read_csv(save_dir / "lr.csv")
    assert len(resumed) == len(uninterrupted) == 2 * run.nb
    assert resumed == uninterrupted


def test_stock_cli_with_a_preset_file(tmp_path):
    """`yolo train cfg=file.yaml` where the file sets lr_find and its options: found, printed, used, saved."""
    preset = tmp_path / "find.yaml"
    preset.write_text(yaml.safe_dump({"optimizer": "SGD", "warmup_epochs": 0, **FIND}))
    p = subprocess.run(
        [
            venv_bin("yolo"),
            "train",
            f"cfg={preset}",
            f"model={MODEL}",
            f"data={COCO8}",
            "epochs=1",
            f"project={tmp_path}",
            "name=cli",
            *CLI_FAST,
        ],
        cwd=tmp_path,
        env=yolo_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    lr0 = _found(out.splitlines())
    assert lr0 == _rule(tmp_path / "cli" / "lr_find.csv")
    assert len(read_csv(tmp_path / "cli" / "lr_find.csv")) <= FIND["lr_find_iters"]  # the file's options were used
    assert yaml.safe_load((tmp_path / "cli" / "args.yaml").read_text())["lr0"] == lr0
    rows = read_csv(tmp_path / "cli" / "lr.csv")
    assert float(rows[0]["lr/pg0(weight)"]) == float(rows[0]["lr/pg2(bias)"]) == pytest.approx(lr0, rel=1e-12)


def test_optimizer_auto_is_resolved_first_and_said_and_lr_png_names_the_lr0(tmp_path, ultralytics_log, monkeypatch):
    """optimizer=auto picks AdamW here; the range test runs on that AdamW and its lr replaces auto's. lr.png (drawn
    with plots=True) names the lr0 that lr_find found."""
    from matplotlib.figure import Figure

    drawn = {}
    original = Figure.savefig

    def savefig(fig, path, *args, **kwargs):
        if str(path).endswith("lr.png"):
            ax = fig.axes[0]
            drawn["texts"] = [ax.get_title(), *(t.get_text() for t in ax.texts)]
        return original(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    find = {**FIND, "lr_find_start": 1e-6, "lr_find_end": 1.0}
    run, probe = _train(tmp_path, "auto", epochs=1, warmup_epochs=0, plots=True, **find)
    lr0 = _found(ultralytics_log)
    assert any("optimizer=auto had chosen AdamW with lr=" in m for m in ultralytics_log), ultralytics_log
    assert not any("optimizer=auto replaced lr0" in m for m in ultralytics_log)  # no contradicting warning
    assert type(run.trainer.optimizer).__name__ == "AdamW" and len(probe.before_training) >= 5
    assert [g["initial_lr"] for g in run.trainer.optimizer.param_groups] == [lr0] * 3
    assert run.steps[0].lr["weight"] == [pytest.approx(lr0, rel=1e-12)]
    saved = yaml.safe_load((run.save_dir / "args.yaml").read_text())
    assert saved["optimizer"] == "AdamW" and saved["lr0"] == lr0 and saved["warmup_bias_lr"] == 0.0
    note = f"lr0={lr0:g} found by lr_find"
    assert note in drawn["texts"][0] and note in drawn["texts"][1:]
    assert (run.save_dir / "lr.png").stat().st_size > 5_000 and (run.save_dir / "lr_find.png").exists()
    # both plots in the trainer's plot registry, which W&B and ClearML upload
    registered = {Path(k).name for k in run.trainer.plots}
    assert {"lr.png", "lr_find.png"} <= registered, registered


def test_the_range_test_drives_each_group_as_epoch_1_will(tmp_path, pretrained):
    """Fine-tuning with lr_backbone_scale=0.5: during the range test, as in training, the backbone groups run at half
    the head groups' LR; the found lr0 is the head's peak and the backbone follows at half of it."""
    run, probe = _train(tmp_path, "ft", model=pretrained, epochs=1, optimizer="SGD", warmup_epochs=0, **FIND,
                        lr_backbone_scale=0.5)  # fmt: skip
    tested = [float(r["lr"]) for r in read_csv(run.save_dir / "lr_find.csv")]
    assert len(probe.before_training) == len(tested) >= 5
    for used, lr in zip(probe.before_training, tested):
        assert used == {
            **{g: [pytest.approx(lr, rel=1e-6)] for g in GROUPS},
            **{f"{g}/backbone": [pytest.approx(0.5 * lr, rel=1e-6)] for g in GROUPS},
        }
    lr0 = run.trainer.args.lr0
    assert lr0 == _rule(run.save_dir / "lr_find.csv")
    assert [g["initial_lr"] for g in run.trainer.optimizer.param_groups] == [lr0] * 6  # the schedule scales backbones
    for g in GROUPS:  # the first training step (no warmup): head part at lr0, backbone part at half of it
        assert sorted(run.steps[0].lr[g]) == [pytest.approx(0.5 * lr0, rel=1e-12), pytest.approx(lr0, rel=1e-12)]


def test_no_suggestion_stops_the_run_naming_lr_find_after_writing_the_curve(tmp_path, monkeypatch):
    """A curve on which the rule finds nothing (here: every rule, forced) stops the run before epoch 1."""
    from ultralytics import YOLO

    from yolo_lr import find_in_training
    from yolo_lr.finder import RULES

    monkeypatch.setattr(find_in_training, "suggestions", lambda curve: dict.fromkeys(RULES))
    with pytest.raises(RuntimeError, match=r"lr_find: no suggestion from rule auto: the smoothed loss never rose"):
        YOLO(MODEL).train(**{**FAST, "data": str(COCO8), "project": str(tmp_path), "name": "none", **FIND, **KW})
    assert len(read_csv(tmp_path / "none" / "lr_find.csv")) == FIND["lr_find_iters"]
    assert not (tmp_path / "none" / "results.csv").exists()  # no epoch trained


def test_start_scales_follow_the_fine_tuning_rules_at_the_start():
    """Each group's LR relative to the tested LR: its ratio to lr0, times its lr_scale (the per-layer rules put
    lr_backbone_scale there when they split the groups), times 0 for a backbone still frozen."""
    from types import SimpleNamespace

    from yolo_lr.config import resolve
    from yolo_lr.find_in_training import start_scales

    def trainer(start_epoch, backbone_scale=0.5):
        groups = [
            {"lr": 0.03, "initial_lr": 0.03},  # MuSGD's 3x head group
            {"lr": 0.01, "initial_lr": 0.01},
            {"lr": 0.01, "initial_lr": 0.01, "yolo_lr_backbone": True, "lr_scale": backbone_scale},
        ]
        return SimpleNamespace(
            start_epoch=start_epoch, args=SimpleNamespace(lr0=0.01), optimizer=SimpleNamespace(param_groups=groups)
        )

    frozen = resolve({"lr_find": True, "lr_unfreeze_epoch": 2, "lr_backbone_scale": 0.5, "epochs": 5})
    assert start_scales(trainer(0), frozen) == pytest.approx([3.0, 1.0, 0.0])
    assert start_scales(trainer(3), frozen) == pytest.approx([3.0, 1.0, 0.5])  # (a resume never runs the test)
    assert start_scales(trainer(0, 1.0), resolve({"lr_find": True})) == pytest.approx([3.0, 1.0, 1.0])
    scaled = resolve({"lr_find": True, "lr_backbone_scale": 2})
    assert start_scales(trainer(0, 2.0), scaled) == pytest.approx([3.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("kwargs", "key", "needle"),
    [
        ({"lr_find": "yes"}, "lr_find", "must be true or false"),
        ({"lr_find": True, "lr_find_start": 0}, "lr_find_start", "must be a number > 0"),
        ({"lr_find": True, "lr_find_start": 1e-3, "lr_find_end": 1e-4}, "lr_find_end", "greater than lr_find_start"),
        ({"lr_find": True, "lr_find_iters": 1}, "lr_find_iters", "must be an integer >= 2"),
        (
            {"lr_find": True, "lr_find_rule": "fastest"},
            "lr_find_rule",
            "must be one of auto, valley, steep, min10, edge10",
        ),
        ({"lr_find": True, "device": "0,1"}, "lr_find", "runs its range test on one device"),
    ],
)
def test_bad_lr_find_settings_fail_before_training(tmp_path, kwargs, key, needle):
    from ultralytics import YOLO

    from yolo_lr import LRConfigError

    with pytest.raises(LRConfigError) as err:
        YOLO(MODEL).train(**{**FAST, "data": str(COCO8), "project": str(tmp_path), "name": "bad", **kwargs})
    assert err.value.key == key and needle in str(err.value), str(err.value)
    assert not (tmp_path / "bad").exists()


def test_bad_lr_find_in_a_yaml_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optimizer: SGD\nlr_find: true\nlr_find_start: 1.0\nlr_find_end: 0.5\n")
    p = subprocess.run(
        [
            venv_bin("yolo"),
            "train",
            f"cfg={bad}",
            f"model={MODEL}",
            f"data={COCO8}",
            f"project={tmp_path}",
            "name=bad",
            *CLI_FAST,
        ],
        cwd=tmp_path,
        env=yolo_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = p.stdout + p.stderr
    assert p.returncode != 0 and f"lr_find_end=0.5 (from {bad}) must be greater than lr_find_start=1" in out, out[
        -3000:
    ]
    assert not (tmp_path / "bad").exists()


def test_the_standalone_finder_and_the_sweep_do_not_pass_lr_find_on(tmp_path):
    """`yolo-lr find` with a preset that sets lr_find prints a command with lr_find=False; a sweep refuses it."""
    from yolo_lr.tools.find import build_trainer, release
    from yolo_lr.tools.sweep import sweep

    preset = tmp_path / "p.yaml"
    preset.write_text("optimizer: SGD\nlr_find: true\nlr_find_iters: 20\n")
    trainer, setup = build_trainer(
        MODEL, data=str(COCO8), cfg=str(preset), project=str(tmp_path), name="f", imgsz=64, batch=2, workers=0
    )
    release(trainer)
    assert setup.train_args["lr_find"] is False and any("lr_find" in n for n in setup.notes)
    assert "yolo_lr" not in vars(trainer)  # the finder's own trainer runs no lr_find (no lr_* key reaches it)
    with pytest.raises(ValueError, match="lr_find"):
        sweep([1e-3, 1e-2], model=MODEL, data=str(COCO8), project=str(tmp_path), lr_find=True, epochs=1)
