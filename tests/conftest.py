"""Shared fixtures and helpers: an offline, isolated Ultralytics environment, a real coco8 training that records the LR
(and momentum) the optimizer actually used at every step, and interrupt/resume helpers.

Test modules never import each other: anything two of them need lives here. Tests that train or run the installed
commands carry the ``training`` marker (``pytest -m "not training"`` is the fast pure set); a test that uses the
``train`` or ``pretrained`` fixture without it is an error at collection time."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Before anything imports Ultralytics: no network, and a private settings dir with a local "Arial.ttf" so the font
# check does not reach out.
_CFG_DIR = Path(tempfile.mkdtemp(prefix="yolo_lr_cfg_"))
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_CONFIG_DIR"] = str(_CFG_DIR)
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.pop("YOLO_LR_DISABLE", None)
(_CFG_DIR / "Ultralytics").mkdir(parents=True, exist_ok=True)
import matplotlib  # noqa: E402

shutil.copy(
    Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", _CFG_DIR / "Ultralytics" / "Arial.ttf"
)

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COCO8 = ROOT / "datasets" / "coco8" / "coco8.yaml"
MODEL = "yolo26n.yaml"
# Tiny and fast: 4 train images, batch=1 -> 4 batches per epoch; nbs=1 -> accumulate=1, one optimizer step per batch.
FAST = {
    "imgsz": 64,
    "batch": 1,
    "nbs": 1,
    "workers": 0,
    "device": "cpu",
    "plots": False,
    "amp": False,
    "verbose": False,
    "seed": 0,
}


def yolo_env() -> dict:
    """Environment for subprocesses (stock `yolo` CLI): offline, same isolated config dir."""
    env = dict(os.environ)
    env.update(YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(_CFG_DIR), YOLO_AUTOINSTALL="false")
    env.pop("YOLO_LR_DISABLE", None)
    # The installed package, never a checkout: a benchmark helper run in-process may have put the checkout on
    # PYTHONPATH for its own workers (tests that want the checkout add it back explicitly).
    env.pop("PYTHONPATH", None)
    return env


def venv_bin(name: str) -> str:
    """A console script of the environment running the tests (the stock `yolo`, or `yolo-lr`)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed next to {sys.executable}; install the project (README)"
    return str(path)


@dataclass
class Step:
    """One optimizer step as the optimizer saw it."""

    epoch: int
    ni: int  # batch index over the run (Ultralytics' ni)
    lr: dict[str, list[float]]  # param_group name -> LRs of the groups with that name
    momentum: float | None  # param group 0's momentum (SGD) or betas[0] (Adam family)
    moms: dict[str, list[float]] = field(default_factory=dict)  # the same per param_group name, every group


@dataclass
class Run:
    steps: list[Step] = field(default_factory=list)
    save_dir: Path | None = None
    trainer: object = None
    nb: int = 0

    def lrs(self, group: str = "weight") -> list[float]:
        return [s.lr[group][0] for s in self.steps]


def _momentum(group: dict) -> float | None:
    return group.get("momentum", (group.get("betas") or (None,))[0])


def attach_recorder(model, run: Run) -> None:
    """Record the param-group LRs at the moment optimizer.step() runs: the LR that really updated the weights.

    A step pre-hook registered at on_train_start runs after any hook registered earlier (the plugin's, at
    on_pretrain_routine_end) and right before the update itself.
    """
    counter = {"i": -1}

    def on_train_epoch_start(trainer):
        counter["i"] = -1

    def on_train_batch_start(trainer):
        counter["i"] += 1

    def on_train_start(trainer):
        run.trainer, run.save_dir, run.nb = trainer, Path(trainer.save_dir), len(trainer.train_loader)

        def record(opt, args, kwargs):
            lr: dict[str, list[float]] = {}
            moms: dict[str, list[float]] = {}
            for g in opt.param_groups:
                lr.setdefault(g.get("param_group", "?"), []).append(g["lr"])
                moms.setdefault(g.get("param_group", "?"), []).append(_momentum(g))
            nb = len(trainer.train_loader)
            run.steps.append(
                Step(trainer.epoch, counter["i"] + nb * trainer.epoch, lr, _momentum(opt.param_groups[0]), moms)
            )

        trainer.optimizer.register_step_pre_hook(record)

    model.add_callback("on_train_epoch_start", on_train_epoch_start)
    model.add_callback("on_train_batch_start", on_train_batch_start)
    model.add_callback("on_train_start", on_train_start)


@pytest.fixture
def train(tmp_path):
    """Train yolo26n on the bundled coco8 for real and return the recorded steps.

    Usage: ``run = train(epochs=3, lr_policy="cosine")``; extra callbacks via ``callbacks={"event": fn}``.
    """
    from ultralytics import YOLO

    import yolo_lr  # noqa: F401  (registers keys and callbacks before the model exists)

    def _train(model: str = MODEL, callbacks: dict | None = None, strip_plugin: bool = False, **kwargs) -> Run:
        run = Run()
        m = YOLO(model)
        if strip_plugin:  # a model that never saw the plugin's callbacks: native Ultralytics
            for event, fns in m.callbacks.items():
                m.callbacks[event] = [f for f in fns if not getattr(f, "__module__", "").startswith("yolo_lr")]
        attach_recorder(m, run)
        for event, fn in (callbacks or {}).items():
            m.add_callback(event, fn)
        args = {**FAST, "data": str(COCO8), "project": str(tmp_path / "runs"), "name": "train", **kwargs}
        m.train(**args)
        return run

    return _train


def read_csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def pretrained() -> str:
    """The project's source checkpoint (yolo26n pretrained on the synthetic source world S, benchmarks/pretrain.py):
    the 'pretrained weights' that fine-tuning tests start from."""
    weights = ROOT / "benchmarks" / "assets" / "source.pt"
    assert weights.exists(), f"{weights} is missing: it is committed with the repository"
    return str(weights)


@pytest.fixture(scope="session")
def coco8_checkpoint(tmp_path_factory) -> str:
    """A checkpoint trained here for 1 epoch on coco8 (its train_args name coco8 as its data)."""
    from ultralytics import YOLO

    import yolo_lr  # noqa: F401

    project = tmp_path_factory.mktemp("coco8_ckpt")
    YOLO(MODEL).train(data=str(COCO8), epochs=1, project=str(project), name="base", **FAST)
    weights = project / "base" / "weights" / "last.pt"
    assert weights.exists()
    return str(weights)


@pytest.fixture
def ultralytics_log():
    """Collect the messages Ultralytics' LOGGER (and so the plugin) emits during the test."""
    import logging

    from ultralytics.utils import LOGGER

    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    LOGGER.addHandler(handler)
    yield messages
    LOGGER.removeHandler(handler)


# ------------------------------------------------------------------------------------------------ interrupt, resume
class Interrupt(Exception):
    """Raised by :func:`interrupt_after` to stop a training the way a crash would (after the epoch's checkpoint)."""


def interrupt_after(epoch_index: int) -> dict:
    """Callbacks that abort a training at the end of 0-based epoch ``epoch_index`` (after last.pt is written)."""

    def on_fit_epoch_end(trainer):
        if trainer.epoch == epoch_index:
            raise Interrupt

    return {"on_fit_epoch_end": on_fit_epoch_end}


def stitch(steps: list[dict], resume_epoch: int | None = None) -> list[dict]:
    """A probe trace (tests/probe, one ``pid`` per process) as one run, ``pid`` dropped. With ``resume_epoch``: a
    killed run and its resume, i.e. the killed process's steps of the epochs its checkpoint kept, then the resumed
    process's (which must start at ``resume_epoch``). Without: an uninterrupted run's steps, to compare with."""
    if resume_epoch is not None:
        first = steps[0]["pid"]
        resumed = [s for s in steps if s["pid"] != first]
        assert resumed and resumed[0]["epoch"] == resume_epoch, "the resumed run did not start at the expected epoch"
        steps = [s for s in steps if s["pid"] == first and s["epoch"] < resume_epoch] + resumed
    return [{k: v for k, v in s.items() if k != "pid"} for s in steps]


def oom_once() -> tuple[dict, dict]:
    """Callbacks that make the model's first forward pass raise a CUDA out-of-memory error, as a real one would (so
    Ultralytics halves the batch and retries the epoch), and the state that says whether it was raised."""
    state = {"raised": False}

    def on_train_start(trainer):
        inner = trainer.model.forward

        def forward(*args, **kwargs):
            if not state["raised"]:
                state["raised"] = True
                raise RuntimeError("CUDA out of memory (simulated by the test)")
            return inner(*args, **kwargs)

        trainer.model.forward = forward

    return state, {"on_train_start": on_train_start}


def resume(last_pt: Path, callbacks: dict | None = None, run: Run | None = None) -> Run:
    """``YOLO(last.pt).train(resume=True)`` in this process, recording the steps it takes (into ``run`` if given, so
    they survive an exception the callbacks raise)."""
    from ultralytics import YOLO

    run = Run() if run is None else run
    model = YOLO(str(last_pt))
    attach_recorder(model, run)
    for event, fn in (callbacks or {}).items():
        model.add_callback(event, fn)
    model.train(resume=True)
    return run


# ---------------------------------------------------------------------------------------------------------- markers
_TRAINING_FIXTURES = {"train", "pretrained", "coco8_checkpoint"}


def pytest_collection_modifyitems(config, items):
    """A test that trains must say so: the fast set (``-m "not training"``) has to stay fast."""
    unmarked = [
        item.nodeid
        for item in items
        if _TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("training") is None
    ]
    if unmarked:
        raise pytest.UsageError("tests that train must be marked @pytest.mark.training: " + ", ".join(unmarked))
