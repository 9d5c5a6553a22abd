"""The per-step LR reaches the trackers Ultralytics logs to, and lr.png reaches their plot uploads.

One tiny coco8 training (2 epochs x 4 batches, batch=1, nbs=1: 8 optimizer steps, cosine with warmup, fine-tuning
groups so the names include backbone groups) runs with all five Ultralytics integrations switched on the way a user
switches them on: the settings flag in the (isolated) YOLO_CONFIG_DIR and the client package importable. Each test
then reads one tracker's record back and compares the ``lr_step/*`` series with the LRs the optimizer really used
(the conftest recorder wraps ``optimizer.step``).

Ultralytics turns its integrations off while pytest runs (``TESTS_RUNNING``, read when each integration module is
imported): the helper sets it to False and re-imports those modules for these trainings only, then restores them.

- TensorBoard: real (the ``tensorboard`` package of the test extra; the event file is read back with its
  EventAccumulator).
- W&B, MLflow, Comet, ClearML: the client package is replaced at the import boundary by a small recording fake, and
  Ultralytics' own integration code runs against it. Why not the real clients:
  wandb is a 20 MB wheel whose offline mode runs its own service process and writes a binary run file that only
  wandb's internal modules read; comet_ml pulls 19 packages (dulwich, sentry-sdk, wurlitzer, ...) and its offline
  experiment is a zip to unpack; ClearML's ``Task.init`` (which Ultralytics calls) patches stdout, argparse and the
  frameworks of the whole process, scans the repository and the installed packages and starts monitor threads, which
  is not something to run inside a shared pytest process; mlflow-skinny (the small MLflow) is 29 packages and ~100 MB,
  and because Ultralytics enables its MLflow callback by default, installing it makes every training in the venv (the
  demo's included) warn "MLflow: Failed to initialize" (MLflow 3's default store needs the full package). The fakes
  record the exact calls, so these tests check names, steps and values as each client receives them, not that the
  client accepts them; the call shapes follow each client's documented API (``run.define_metric/log``,
  ``MlflowClient.log_batch``, ``experiment.log_metrics/log_image``, ``logger.report_scalar``).
- MLflow is also tested for real, against a file store, where mlflow is installed (``pip install mlflow-skinny``);
  without it that one test is skipped and says so.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from conftest import COCO8, FAST, MODEL, Run, attach_recorder

INTEGRATIONS = ("tensorboard", "wb", "mlflow", "comet", "clearml")  # ultralytics.utils.callbacks.<name>
SETTINGS_KEYS = ("tensorboard", "wandb", "mlflow", "comet", "clearml")
EPOCHS = 2


# ------------------------------------------------------------------------------------------ fake client packages
def fake_wandb() -> types.ModuleType:
    """wandb as Ultralytics' wb.py uses it: ``run`` is None until ``init`` creates a (recording) run."""
    wb = types.ModuleType("wandb")
    wb.__version__ = "0.0-fake"
    wb.run = None

    def init(**kwargs):
        wb.run = MagicMock(name="wandb.run")
        return wb.run

    wb.init = init
    wb.log = lambda *args, **kwargs: wb.run.log(*args, **kwargs)  # as in wandb: the module-level log is the run's
    for name in ("finish", "Image", "Artifact", "Table", "plot_table"):
        setattr(wb, name, MagicMock(name=f"wandb.{name}"))
    return wb


def fake_comet() -> types.ModuleType:
    """comet_ml as Ultralytics' comet.py uses it: ``start`` creates the running (recording) experiment."""
    comet = types.ModuleType("comet_ml")
    comet.__version__ = "0.0-fake"
    comet.experiment = None

    def start(**kwargs):
        comet.experiment = MagicMock(name="comet.experiment")
        return comet.experiment

    comet.start = start
    comet.get_running_experiment = lambda: comet.experiment
    return comet


def fake_clearml() -> types.ModuleType:
    """clearml as Ultralytics' clearml.py uses it: ``Task.init`` creates the current (recording) task."""
    clearml = types.ModuleType("clearml")
    clearml.__version__ = "0.0-fake"

    class Task:
        current = None

        @classmethod
        def current_task(cls):
            return cls.current

        @classmethod
        def init(cls, **kwargs):
            cls.current = MagicMock(name="clearml.task")
            return cls.current

    clearml.Task = Task
    return clearml


def fake_mlflow() -> dict[str, types.ModuleType]:
    """mlflow as Ultralytics' mlflow.py and yolo_lr use it: fluent run calls, MlflowClient.log_batch, Metric."""
    mlflow = types.ModuleType("mlflow")
    mlflow.__version__ = "0.0-fake"
    mlflow.run = None
    mlflow.batches = []  # (run_id, [Metric, ...]) per log_batch call
    for name in ("set_experiment", "autolog", "log_params", "log_metrics", "log_artifact", "get_tracking_uri"):
        setattr(mlflow, name, MagicMock(name=f"mlflow.{name}"))

    def start_run(run_name=None, **kwargs):
        mlflow.run = types.SimpleNamespace(info=types.SimpleNamespace(run_id="fake-run", run_name=run_name))
        return mlflow.run

    def end_run(status="FINISHED"):
        mlflow.run = None

    mlflow.start_run, mlflow.end_run, mlflow.active_run = start_run, end_run, lambda: mlflow.run
    entities = types.ModuleType("mlflow.entities")
    entities.Metric = lambda key, value, timestamp, step: types.SimpleNamespace(key=key, value=value, step=step)
    tracking = types.ModuleType("mlflow.tracking")

    class MlflowClient:
        def log_batch(self, run_id, metrics=(), params=(), tags=()):
            mlflow.batches.append((run_id, list(metrics)))

        log_artifact = MagicMock(name="MlflowClient.log_artifact")

    tracking.MlflowClient = MlflowClient
    mlflow.entities, mlflow.tracking = entities, tracking
    return {"mlflow": mlflow, "mlflow.entities": entities, "mlflow.tracking": tracking}


# --------------------------------------------------------------------------------------------------- the training
def _reload_integrations() -> None:
    for name in INTEGRATIONS:
        module = importlib.import_module(f"ultralytics.utils.callbacks.{name}")
        importlib.reload(module)


def train_tracked(tmp: Path, keys: tuple[str, ...], modules: dict[str, types.ModuleType], **env) -> Run:
    """Train with the integrations ``keys`` (settings names) on and ``modules`` in sys.modules; record the LRs."""
    import ultralytics.utils
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    import yolo_lr  # noqa: F401

    saved = {k: SETTINGS[k] for k in SETTINGS_KEYS}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ultralytics.utils, "TESTS_RUNNING", False)
            for name, module in modules.items():
                mp.setitem(sys.modules, name, module)
            for name, value in env.items():
                mp.setenv(name, value)
            SETTINGS.update({k: k in keys for k in SETTINGS_KEYS})  # settings.json of the isolated config dir
            _reload_integrations()
            run = Run()
            model = YOLO(MODEL)
            attach_recorder(model, run)
            args = {**FAST, "plots": True, "optimizer": "SGD", "lr0": 0.01, "lr_policy": "cosine"}
            model.train(
                data=str(COCO8), epochs=EPOCHS, project=str(tmp / "runs"), name="train", lr_backbone_scale=0.5, **args
            )
    finally:
        SETTINGS.update(saved)
        _reload_integrations()  # back to Ultralytics' pytest state: integrations off, fakes gone
    return run


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """Train once with all five integrations live; return the recorder's Run and the fake clients."""
    fakes = {"wandb": fake_wandb(), "comet_ml": fake_comet(), "clearml": fake_clearml(), **fake_mlflow()}
    run = train_tracked(tmp_path_factory.mktemp("trackers"), SETTINGS_KEYS, fakes, COMET_START_ONLINE="0")
    return types.SimpleNamespace(run=run, **fakes)


def expected_series(run: Run) -> dict[str, list[float]]:
    """Series name -> the LR the optimizer used at optimizer steps 1, 2, ... for that param group."""
    from yolo_lr.backbone import BACKBONE

    names, seen = [], {}
    for j, g in enumerate(run.trainer.optimizer.param_groups):
        kind = g["param_group"]
        k = seen[kind] = seen.get(kind, -1) + 1  # k-th group of this kind: the recorder lists them in order
        names.append((f"lr_step/pg{j}_{kind}{'_backbone' if g.get(BACKBONE) else ''}", kind, k))
    series = {name: [s.lr[kind][k] for s in run.steps] for name, kind, k in names}
    assert len(run.steps) == EPOCHS * run.nb == 8, "nbs=1, batch=1: one optimizer step per batch"
    assert len(series) == 6, "weight/bn/bias, each split into head and backbone"
    assert series["lr_step/pg2_bias"][0] != series["lr_step/pg0_weight"][0], "bias warmup makes the groups differ"
    return series


# ----------------------------------------------------------------------------------------------------- the tests
@pytest.mark.training
def test_tensorboard_event_file_has_the_per_step_lr(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tracked.run
    events = EventAccumulator(str(run.save_dir), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()["scalars"]
    expected = expected_series(run)
    assert sorted(t for t in tags if t.startswith("lr_step/")) == sorted(expected)
    for name, lrs in expected.items():
        logged = events.Scalars(name)
        assert [e.step for e in logged] == list(range(1, len(lrs) + 1)), name
        assert [e.value for e in logged] == pytest.approx(lrs, rel=1e-6, abs=1e-12), name  # float32 in the file
    # Ultralytics' own epoch-stepped series is still there, unchanged in name and axis.
    assert [e.step for e in events.Scalars("lr/pg0")] == list(range(1, EPOCHS + 1))


def _check_mlflow_history(history: dict[str, list[tuple[int, float]]], run: Run) -> None:
    expected = expected_series(run)
    assert sorted(k for k in history if k.startswith("lr_step/")) == sorted(expected)
    for name, lrs in expected.items():
        steps_values = sorted(history[name])
        assert [s for s, _ in steps_values] == list(range(1, len(lrs) + 1)), name
        assert [v for _, v in steps_values] == pytest.approx(lrs, rel=1e-12), name


@pytest.mark.training
def test_mlflow_gets_the_per_step_lr_in_one_batch_per_epoch_and_lr_png(tracked):
    mlflow, run = tracked.mlflow, tracked.run
    assert len(mlflow.batches) == EPOCHS, "one log_batch call per epoch"
    assert {run_id for run_id, _ in mlflow.batches} == {"fake-run"}
    history: dict[str, list[tuple[int, float]]] = {}
    for _, metrics in mlflow.batches:
        for m in metrics:
            history.setdefault(m.key, []).append((m.step, m.value))
    _check_mlflow_history(history, run)
    # Ultralytics' MLflow on_train_end uploads the run directory's PNGs: lr.png must exist by then.
    assert str(run.save_dir / "lr.png") in [c.args[0] for c in mlflow.log_artifact.call_args_list]


@pytest.mark.training
def test_mlflow_file_store_for_real(tmp_path):
    """Real MLflow (file store in tmp_path): the per-step series and lr.png, read back with MlflowClient."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        pytest.skip(
            "mlflow is not installed (deliberately not in the test extra, see this module's docstring); "
            "the fake-client MLflow test above covers the calls. pip install mlflow-skinny to run this one."
        )
    uri = f"file:{tmp_path / 'mlruns'}"
    # MLFLOW_ALLOW_FILE_STORE: mlflow >= 3.7 refuses a file store without it.
    run = train_tracked(tmp_path, ("mlflow",), {}, MLFLOW_TRACKING_URI=uri, MLFLOW_ALLOW_FILE_STORE="true")
    import mlflow

    mlflow.autolog(disable=True)  # Ultralytics' callback turned autologging on for the whole process
    client = MlflowClient(tracking_uri=uri)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert len(runs) == 1, [r.info.run_name for r in runs]
    run_id = runs[0].info.run_id
    names = list(expected_series(run))
    history = {n: [(m.step, m.value) for m in client.get_metric_history(run_id, n)] for n in names}
    _check_mlflow_history(history, run)
    assert "lr.png" in {a.path for a in client.list_artifacts(run_id)}
    assert len(client.get_metric_history(run_id, "lr/pg0")) == EPOCHS  # Ultralytics' epoch series beside it


@pytest.mark.training
def test_wandb_gets_the_per_step_lr_on_its_own_axis_and_lr_png(tracked):
    wb, run = tracked.wandb, tracked.run
    wrun = wb.run
    assert wrun is not None, "Ultralytics' W&B callback did not start a run"
    wrun.define_metric.assert_any_call("lr_step/*", step_metric="lr_step/step")
    per_step = [c.args[0] for c in wrun.log.call_args_list if "lr_step/step" in c.args[0]]
    expected = expected_series(run)
    assert [d["lr_step/step"] for d in per_step] == list(range(1, len(run.steps) + 1))
    for name, lrs in expected.items():
        assert [d[name] for d in per_step] == lrs, name
    assert all(set(d) == {"lr_step/step", *expected} for d in per_step), "only per-step keys in those rows"
    # Every per-step row is its own committed W&B step, sent while Ultralytics had nothing uncommitted pending (else
    # its half-built epoch row would be committed early under the per-step axis).
    pending = False
    for call in wrun.log.call_args_list:
        data, commit = call.args[0], call.kwargs.get("commit")
        if "lr_step/step" in data:
            assert commit is True and not pending, call
        pending = commit is False  # any other call commits what was pending
    # lr.png went up through trainer.plots, the way W&B uploads Ultralytics' own plots.
    png = str(run.save_dir / "lr.png")
    assert png in [c.args[0] for c in wb.Image.call_args_list]
    assert any(c.args[0].get("lr") is wb.Image.return_value for c in wrun.log.call_args_list)


@pytest.mark.training
def test_comet_gets_the_per_step_lr_and_lr_png(tracked):
    experiment, run = tracked.comet_ml.experiment, tracked.run
    assert experiment is not None, "Ultralytics' Comet callback did not start an experiment"
    expected = expected_series(run)
    per_step = [c for c in experiment.log_metrics.call_args_list if any(k.startswith("lr_step/") for k in c.args[0])]
    assert [c.kwargs["step"] for c in per_step] == list(range(1, len(run.steps) + 1))
    assert [c.kwargs["epoch"] for c in per_step] == [s.epoch + 1 for s in run.steps]
    for name, lrs in expected.items():
        assert [c.args[0][name] for c in per_step] == lrs, name
    experiment.log_image.assert_any_call(str(run.save_dir / "lr.png"), name="lr")


@pytest.mark.training
def test_clearml_gets_the_per_step_lr_and_lr_png(tracked):
    task, run = tracked.clearml.Task.current, tracked.run
    assert task is not None, "Ultralytics' ClearML callback did not create a task"
    logger = task.get_logger.return_value
    got: dict[str, list[tuple[int, float]]] = {}
    for c in logger.report_scalar.call_args_list:
        if c.args and c.args[0] == "lr_step":
            got.setdefault(f"lr_step/{c.args[1]}", []).append((c.kwargs["iteration"], c.args[2]))
    expected = expected_series(run)
    assert sorted(got) == sorted(expected)
    for name, lrs in expected.items():
        assert got[name] == list(zip(range(1, len(lrs) + 1), lrs)), name
    # Ultralytics' ClearML on_train_end uploads every trainer.plots entry; lr.png is one of them.
    titles = [c.kwargs.get("title") for c in logger.report_matplotlib_figure.call_args_list]
    assert "lr" in titles


def test_a_tracker_counts_only_when_its_setting_is_on(monkeypatch):
    """The TensorBoard writer of a run is used only while ``SETTINGS['tensorboard']`` is on, as in Ultralytics."""
    import ultralytics.utils.callbacks.tensorboard as tb
    from ultralytics.utils import SETTINGS

    from yolo_lr.loggers import TRACKERS

    find = TRACKERS["tensorboard"][0]
    writer = object()
    monkeypatch.setattr(tb, "WRITER", writer, raising=False)  # absent while pytest runs (TESTS_RUNNING)
    monkeypatch.setitem(SETTINGS, "tensorboard", False)
    assert find(None) is None
    monkeypatch.setitem(SETTINGS, "tensorboard", True)
    assert find(None) is writer


def test_series_names_are_valid_everywhere():
    from yolo_lr.loggers import series_name

    assert series_name("lr/pg0(weight)") == "lr_step/pg0_weight"
    assert series_name("lr/pg4(bn/backbone)") == "lr_step/pg4_bn_backbone"
    # MLflow's rule for metric names (the strictest of the five trackers)
    assert all(ch.isalnum() or ch in "_-./ " for ch in series_name("lr/pg7(muon/backbone)"))
