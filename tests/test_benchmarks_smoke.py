"""The benchmarks (benchmarks/from_scratch.py, overhead.py, pretrain.py, transfer.py, finder_vs_sweep.py): their --smoke
mode end
to end, the harness they share (benchmarks/common.py), the overhead benchmark's instrumentation on a training with a
known cost, and the finder benchmark's replay, its committed results and the finder defaults it chose."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import COCO8, FAST, MODEL, ROOT, yolo_env

BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
import common  # noqa: E402
import finder_vs_sweep  # noqa: E402
import overhead  # noqa: E402
import sweep_engines  # noqa: E402
import transfer  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_bench(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a benchmark script in a subprocess with the tests' offline environment (the checkout on PYTHONPATH)."""
    env = {**yolo_env(), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(BENCH / script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, check=False)


def run_smoke(script: str, workdir: Path) -> subprocess.CompletedProcess:
    """Run one benchmark's --smoke mode (one to two minutes alone; the limit leaves room for a loaded machine)."""
    return run_bench(script, "--smoke", "--workdir", str(workdir), timeout=600)


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 5_000 < len(data) < 200_000, f"{path.name}: {len(data)} bytes"


@pytest.fixture(scope="module")
def md_before():
    return (ROOT / "BENCHMARKS.md").read_bytes()


@pytest.mark.training
def test_from_scratch_smoke(tmp_path, md_before):
    r = run_smoke("from_scratch.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = tmp_path / "results"
    check_png(res / "from_scratch.png")
    md = (res / "from_scratch.md").read_text()
    assert "| Ultralytics defaults (no `lr_*` key) | AdamW" in md
    assert "| `warmup_cosine` | SGD 0.01 |" in md
    assert "python benchmarks/from_scratch.py --smoke" in md and "ultralytics 8.4" in md
    assert "`finetune` is left out" in md
    data = json.loads((res / "from_scratch.json").read_text())
    assert sorted(r["label"] for r in data["runs"]) == ["defaults", "warmup_cosine"]
    for run in data["runs"]:
        assert len(run["map"]) == 1 and 0 <= run["map"][0] <= 1 and run["train_loss"][0] > 0 and run["wall_s"] > 0
    assert (tmp_path / "datasets").is_dir() and (tmp_path / "from_scratch" / "runs" / "defaults_s0").is_dir()
    assert not (tmp_path / "from_scratch" / "runs" / "defaults_s0" / "lr.csv").exists()  # native: plugin inert
    assert (tmp_path / "from_scratch" / "runs" / "warmup_cosine_s0" / "lr.csv").exists()
    again = run_smoke("from_scratch.py", tmp_path)  # the same settings: Ray rereads the finished trainings
    assert again.returncode == 0 and "finished jobs are reread" in again.stdout + again.stderr
    assert json.loads((res / "from_scratch.json").read_text())["runs"] == data["runs"]
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


@pytest.mark.training
def test_batch_scaling_smoke(tmp_path, md_before):
    r = run_smoke("batch_scaling.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = tmp_path / "results"
    check_png(res / "batch_scaling.png")
    md = (res / "batch_scaling.md").read_text()
    assert "python benchmarks/batch_scaling.py --smoke" in md and "| AdamW | 4 | auto |" in md
    data = json.loads((res / "batch_scaling.json").read_text())
    lr = {r["label"]: r["lr_used"] for r in data["runs"]}  # the peak LR the optimizer really used (lr.csv)
    approx = lambda x: pytest.approx(x, rel=1e-5)  # noqa: E731  (lr.csv keeps 6 significant digits)
    assert lr["SGD|4|auto"] == approx(0.01) and lr["SGD|4|off"] == approx(0.01)  # the summed loss scales SGD
    assert lr["AdamW|4|auto"] == approx(0.001 * 2**0.5) and lr["AdamW|4|off"] == approx(0.001)
    assert sorted(lr) == ["AdamW|2|off", "AdamW|4|auto", "AdamW|4|off", "SGD|2|off", "SGD|4|auto", "SGD|4|off"]
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


@pytest.mark.training
def test_sweep_engines_smoke(tmp_path, md_before):
    """Both engines run the same grid through `yolo-lr sweep` (Ray: a real local cluster), and ASHA's grid is compared
    with the full one on the epochs each trained."""
    r = run_smoke("sweep_engines.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    data = json.loads((tmp_path / "results" / "sweep_engines.json").read_text())
    assert len(data["speed"]["walls"]["local"]) == len(data["speed"]["walls"]["ray"]) == 1
    walls = data["speed"]["walls"]
    assert data["speed"]["ratios"][0] == pytest.approx(walls["local"][0] / walls["ray"][0], rel=1e-4)  # JSON rounds
    runs = tmp_path / "sweep_engines"
    for arm in ("local0", "ray0"):  # the same two points, each a plugin run
        assert len(read_csv_rows(runs / "speed" / arm / "sweep.csv")) == 2
        assert len(list((runs / "speed" / arm).glob("lr0_*/lr.csv"))) == 2
    assert (runs / "speed" / "ray0" / "ray").is_dir() and not (runs / "speed" / "local0" / "ray").exists()
    (seed,) = data["asha"]["seeds"]  # --smoke: one training seed
    full, asha = seed["full"], seed["asha"]
    assert full["epochs"] == sum(row["epochs"] for row in full["rows"]) == 4  # 2 points x 2 epochs
    assert asha["epochs"] == sum(row["epochs"] for row in asha["rows"]) <= 4
    assert seed["share"] == pytest.approx(asha["epochs"] / full["epochs"])
    judged = seed["asha_train_loss"]  # the same ASHA grid, judging the train loss at its rung
    assert judged["judge"] == "train_loss" and "judge" not in asha and judged["grace"] == asha["grace"]
    assert judged["epochs"] == sum(row["epochs"] for row in judged["rows"]) <= 4
    for row in full["rows"]:  # each run's mAP50-95 and train loss after every epoch, ending at its row's values
        assert len(full["curves"][label(row)]) == len(full["loss_curves"][label(row)]) == 2
        assert full["curves"][label(row)][-1] == pytest.approx(row["metric"], abs=1e-5)
        assert full["loss_curves"][label(row)][-1] == pytest.approx(row["final_loss"], abs=1e-4)
    md = (tmp_path / "results" / "sweep_engines.md").read_text()
    # judged at epoch 1: of the 2 points of one policy, one stopped after 1 of 2 epochs (on mAP50-95, on train loss)
    assert "| judged first at epoch |" in md and md.count("| 1 | 75% |") == 2
    assert "judged on the train loss at each rung" in md and "ASHA grace 1 judged on train_loss" in md
    assert "python benchmarks/sweep_engines.py --smoke" in md and "ratio local / ray" in md
    assert "| 0 | full grid | 4 (100%) |" in md and "Over 1 training seed(s)" in md
    # the load note is written once the measurement ended, from every load sample the JSON keeps
    assert data["load_note"] == common.LoadMonitor(data["load_average"]).summary(2, "the wall times are inflated")
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


def label(row: dict) -> str:
    from yolo_lr.tools.sweep import SweepRow

    return SweepRow.from_json(row).label


def test_halving_judges_every_run_of_a_policy_at_the_same_rung():
    """The judging-epoch table's successive halving: per policy, the best third at each rung goes on, and the pick is
    the best final value among the survivors."""
    from yolo_lr.tools.sweep import SweepRow

    rows = [SweepRow(lr0, {"lr_policy": p}) for p in ("cosine", "wsd") for lr0 in (1e-4, 1e-3, 1e-2)]
    curves = {r.label: [0.1, 0.1, 0.1, 0.1] for r in rows}
    curves["lr0=0.0001 lr_policy=cosine"] = [0.3, 0.3, 0.3, 0.3]  # leads early, ends low
    curves["lr0=0.01 lr_policy=cosine"] = [0.0, 0.0, 0.4, 0.9]  # trails early, ends best
    curves["lr0=0.001 lr_policy=wsd"] = [0.2, 0.2, 0.5, 0.5]
    # judged at epoch 1: per policy, two runs stopped after 1 epoch and one trained to the end
    assert sweep_engines.halving(curves, curves, rows, 1, 4) == (2 * (2 * 1 + 4), "lr0=0.001 lr_policy=wsd")
    # judged at epoch 3 (its next rung, 9, is past the end): the late riser survives and wins
    assert sweep_engines.halving(curves, curves, rows, 3, 4) == (2 * (2 * 3 + 4), "lr0=0.01 lr_policy=cosine")
    # judged at epoch 1 on another curve (a train loss, negated: higher goes on) where the late riser leads early
    judge = {k: [-1.0] * 4 for k in curves} | {"lr0=0.01 lr_policy=cosine": [-0.5] * 4}
    assert sweep_engines.halving(judge, curves, rows, 1, 4) == (2 * (2 * 1 + 4), "lr0=0.01 lr_policy=cosine")


def test_a_grid_an_earlier_run_left_is_continued_only_when_it_is_the_same_grid(tmp_path):
    """sweep_engines rereads a grid folder (or its -2, -3 ... sibling) whose sweep.json holds the same points, train
    arguments and early stopping, what it judges included; any difference trains a new grid."""
    data = tmp_path / "data.yaml"
    kw = {"lr_policy": ["cosine", "wsd"], "model": "m.pt", "data": str(data), "project": str(tmp_path), "epochs": 4}
    kw |= {"verbose": False, "engine": "ray", "seed": 1}
    points = [{"lr0": lr0, "lr_policy": p} for lr0 in (1e-3, 1e-2) for p in ("cosine", "wsd")]
    plan = {"points": points, "args": {"epochs": 4, "seed": 1}, "data": str(data), "metric": "metrics/mAP50-95(B)"}
    plan |= {"early_stop": "asha", "grace_period": 1, "early_stop_metric": "train_loss"}
    (tmp_path / "asha-2").mkdir()
    (tmp_path / "asha-2" / "sweep.json").write_text(json.dumps(plan))
    asha = {**kw, "early_stop": "asha", "early_stop_metric": "train_loss"}
    assert sweep_engines.same_sweep(tmp_path / "asha", [1e-3, 1e-2], asha) == tmp_path / "asha-2"
    assert sweep_engines.same_sweep(tmp_path / "asha", [1e-3, 1e-2], {**asha, "grace_period": 1}) == tmp_path / "asha-2"
    for other in ({"early_stop_metric": None}, {"grace_period": 2}, {"seed": 2}, {"lr_policy": ["cosine"]}):
        assert sweep_engines.same_sweep(tmp_path / "asha", [1e-3, 1e-2], {**asha, **other}) is None, other
    assert sweep_engines.same_sweep(tmp_path / "asha", [1e-3, 3e-2], asha) is None
    assert sweep_engines.same_sweep(tmp_path / "full", [1e-3, 1e-2], kw) is None  # no such folder


def read_csv_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.training
def test_transfer_smoke(tmp_path, md_before):
    r = run_smoke("transfer.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "transfer: 4 trainings" in r.stdout
    res = tmp_path / "results"
    check_png(res / "transfer.png")
    md = (res / "transfer.md").read_text()
    preset = yaml.safe_load((ROOT / "configs" / "finetune.yaml").read_text())
    assert "| `native`: Ultralytics defaults from the checkpoint | AdamW" in md
    assert f"| `finetune`: `finetune` preset | {preset['optimizer']} {preset['lr0']:.3g} |" in md
    assert "**near32**" in md and "**far**" in md and "python benchmarks/transfer.py --smoke" in md
    assert "Targets:" in md and "- near32: `finetune`" in md
    data = json.loads((res / "transfer.json").read_text())
    assert set(data["summary"]) == {"near32", "far"}
    for rows in data["summary"].values():
        assert set(rows) == {"native", "finetune"}
        assert all(len(c) == 2 for row in rows.values() for c in row["curves"])
    runs = sorted((tmp_path / "transfer" / "runs").iterdir())
    assert len(runs) == 4
    driven = [d for d in runs if (d / "lr.csv").exists()]  # the preset's runs; native leaves the LR alone
    assert len(driven) == 2 and all("backbone" in (d / "lr.csv").read_text().splitlines()[0] for d in driven)
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before
    mtimes = {d: (d / "results.csv").stat().st_mtime_ns for d in runs}
    again = run_smoke("transfer.py", tmp_path)  # identical settings: the engine rereads every run, nothing retrains
    assert again.returncode == 0 and "finished jobs are reread" in again.stdout, again.stdout[-2000:]
    assert {d: (d / "results.csv").stat().st_mtime_ns for d in runs} == mtimes
    assert json.loads((res / "transfer.json").read_text())["summary"] == data["summary"]


@pytest.mark.training
def test_pretrain_smoke(tmp_path, md_before):
    source = BENCH / "assets" / "source.pt"
    source_before = source.read_bytes()
    r = run_smoke("pretrain.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    md = (tmp_path / "results" / "pretrain.md").read_text()
    assert md.startswith("Measured ") and "python benchmarks/pretrain.py --smoke" in md
    assert "| dataset | domain S: 16 train / 8 val images, 64x64, dataset seed 0 |" in md
    assert "| training | 1 epochs, imgsz 64, batch 8, `warmup_cosine` preset" in md
    meta = json.loads((tmp_path / "results" / "pretrain.json").read_text())  # --smoke: the checkpoint in the workdir
    assert meta["settings"]["epochs"] == 1 and len(meta["curve_map50_95"]) == 1 and meta["bytes"] > 1e6
    assert meta["sha256"] == hashlib.sha256((tmp_path / "source.pt").read_bytes()).hexdigest()
    assert source.read_bytes() == source_before and (ROOT / "BENCHMARKS.md").read_bytes() == md_before
    # --from-json re-renders the block of the recorded run: its date, wall time and command
    out = tmp_path / "B.md"
    out.write_text("<!-- pretrain:start -->\n<!-- pretrain:end -->\n")
    again = run_bench(
        "pretrain.py",
        *("--from-json", str(tmp_path / "results" / "pretrain.json"), "--write-md"),
        *("--md", str(out), "--results-dir", str(tmp_path / "again")),
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    block = out.read_text().split("<!-- pretrain:start -->\n", 1)[1].split("\n<!-- pretrain:end -->", 1)[0]
    assert block == md.strip().removesuffix("\n\nThis was a `--smoke` run: too small to judge anything.")


def test_startup_smoke(tmp_path, md_before):
    """Paired processes with the hook on and off: the hook is seen to import yolo_lr, and each pair is kept."""
    r = run_smoke("startup.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    raw = json.loads((tmp_path / "results" / "startup.json").read_text())
    assert len(raw["on_ms"]) == len(raw["off_ms"]) == 4 and min(raw["on_ms"] + raw["off_ms"]) > 0
    assert "yolo_lr" in raw["modules"] and raw["hook_import_us"] > 0
    md = (tmp_path / "results" / "startup.md").read_text()
    assert "| **Added by the hook: median of paired differences** |" in md and "(4 on/off pairs)" in md
    assert "1-minute load average during the run: mean " in md and "training(s)" not in md  # no trainings here
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


@pytest.mark.parametrize(
    "script",
    [
        "from_scratch.py",
        "overhead.py",
        "pretrain.py",
        "transfer.py",
        "finder_vs_sweep.py",
        "sweep_engines.py",
        "startup.py",
    ],
)
def test_smoke_refuses_to_write_markdown(script):
    r = run_bench(script, "--smoke", "--write-md", timeout=60)
    assert r.returncode == 2 and "--smoke never writes" in r.stderr


def test_replace_block_touches_only_its_block(tmp_path):
    md = tmp_path / "B.md"
    md.write_text("# T\n\n<!-- a:start -->\nold a\n<!-- a:end -->\nmiddle\n<!-- b:start -->\nold b\n<!-- b:end -->\n")
    common.replace_block(md, "a", "new a\n| x |")
    assert md.read_text() == (
        "# T\n\n<!-- a:start -->\nnew a\n| x |\n<!-- a:end -->\nmiddle\n<!-- b:start -->\nold b\n<!-- b:end -->\n"
    )
    with pytest.raises(ValueError, match="c:start"):
        common.replace_block(md, "c", "x")


def test_real_benchmarks_md_has_the_blocks():
    """Every block of BENCHMARKS.md but the mutation scores (scripts/mutation.sh) is one the re-render test covers."""
    text = (ROOT / "BENCHMARKS.md").read_text()
    keys = {key for _, _, key in RENDERED}
    for key in keys:
        assert text.count(f"<!-- {key}:start -->") == 1 and text.count(f"<!-- {key}:end -->") == 1
    assert set(re.findall(r"<!-- (\w+):start -->", text)) == keys | {"mutation"}


def test_statistics_helpers():
    assert common.epochs_to_reach([0.0, 0.1, 0.3, 0.2], 0.25) == 3
    assert common.epochs_to_reach([0.0, 0.1], 0.25) is None
    assert common.epochs_to_reach([0.3], 0.3) == 1
    mean, std = common.mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    assert common.fmt_ms([0.5]) == "0.5000" and common.fmt_ms([1.0, 3.0], 1) == "2.0 ± 1.4"
    assert common.mean_curve([[0, 1], [2, 3]]) == ([1.0, 2.0], [0, 1], [2, 3])
    rows = [
        {
            "epoch": 1.0,
            "time": 1.0,
            "train/box_loss": 1.5,
            "train/cls_loss": 2.0,
            "metrics/mAP50(B)": 0.2,
            "metrics/mAP50-95(B)": 0.1,
            "val/box_loss": 9.0,
        }
    ]
    assert common.curves_from_rows(rows) == {"epoch": [1], "map": [0.1], "map50": [0.2], "train_loss": [3.5]}


def test_dataset_cache_reuses_and_regenerates(tmp_path):
    spec = common.DatasetSpec("A", 2, 1, 64, seed=0)
    path = common.ensure_dataset(spec, tmp_path)
    stamp = path.parent / "generator.sha256"
    first = path.stat().st_mtime_ns
    assert common.ensure_dataset(spec, tmp_path) == path and path.stat().st_mtime_ns == first  # reused
    stamp.write_text("stale\n")  # an older generator made it: regenerate
    assert common.ensure_dataset(spec, tmp_path) == path and stamp.read_text().strip() != "stale"


def test_transfer_study_never_runs_on_the_held_out_target(tmp_path):
    with pytest.raises(SystemExit, match="held-out"):
        transfer.main(["--study", "--targets", "near128", "--workdir", str(tmp_path)])


# ------------------------------------------------------------------------------------------------------ overhead
@pytest.mark.training
def test_overhead_smoke(tmp_path, md_before):
    r = run_smoke("overhead.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = tmp_path / "results"
    check_png(res / "overhead.png")
    md = (res / "overhead.md").read_text()
    assert "| **Plugin time per optimizer step** (step hook + per-batch + per-epoch callbacks) |" in md
    assert "python benchmarks/overhead.py --smoke" in md and "ultralytics 8.4" in md and "Goal: plugin time" in md
    data = json.loads((res / "overhead.json").read_text())
    assert [r["config"] for r in data["per_step"]] == list(overhead.CONFIGS)
    for row in data["per_step"]:
        # 24 images, batch 4, 2 epochs: every batch one optimizer step, and every step timed
        assert (row["steps"], row["epochs"], row["steps_per_epoch"]) == (12, 2, 6)
        assert row["hook_us"]["n"] == 12 and len(row["series_us"]) == 12 and row["step_ms"]["n"] == 12
        assert "callback on_train_epoch_start" in row["timed"] and "callback on_pretrain_routine_end" in row["timed"]
        assert row["plugin_us_per_step"] > 0 and row["per_epoch_us_per_step"] > 0
        total = row["hook_us"]["mean"] + row["per_batch_us_per_step"] + row["per_epoch_us_per_step"]
        assert row["plugin_us_per_step"] == pytest.approx(total, rel=1e-3)
    assert {r["param_groups"] for r in data["per_step"]} == {3, 6}  # finetune splits the backbone groups
    sides = sorted(r["side"] for r in data["end_to_end"]["runs"])
    assert sides == ["native", "plugin"] and data["end_to_end"]["wall_s"]["ratio_of_medians"] > 0
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before


def busy(seconds: float) -> None:
    """Spin for ``seconds`` (a cost that sleeping would not show as CPU work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


HOOK_S, BATCH_S, EPOCH_S = 300e-6, 200e-6, 2e-3  # the fake plugin's known costs


def fake_on_pretrain_routine_end(trainer):
    """Replace trainer.optimizer_step the way a plugin does (functools.wraps around the bound method)."""
    original = trainer.optimizer_step

    @functools.wraps(original)
    def optimizer_step(*args, **kwargs):
        busy(HOOK_S)
        return original(*args, **kwargs)

    trainer.optimizer_step = optimizer_step


def fake_on_train_batch_start(trainer):
    busy(BATCH_S)


def fake_on_fit_epoch_end(trainer):
    busy(EPOCH_S)


@pytest.mark.training
def test_overhead_probe_measures_a_known_plugin(tmp_path):
    """A fake 'plugin' (this file: its code lives under tests/) with known costs, timed by the benchmark's Probe on a
    real training: the step hook is its wrapper alone (Ultralytics' own step subtracted), callbacks land in their
    classes, and the real yolo_lr (not under tests/) is not counted."""
    from ultralytics import YOLO

    model = YOLO(MODEL)
    model.add_callback("on_pretrain_routine_end", fake_on_pretrain_routine_end)
    model.add_callback("on_train_batch_start", fake_on_train_batch_start)
    model.add_callback("on_fit_epoch_end", fake_on_fit_epoch_end)
    probe = overhead.Probe(Path(__file__).resolve().parent)
    with probe.attached(model):
        model.train(data=str(COCO8), epochs=2, project=str(tmp_path), name="fake", **FAST)
    from ultralytics.engine.trainer import BaseTrainer

    assert not overhead.is_timer(BaseTrainer.optimizer_step)  # the class patch is undone
    row = overhead.summarise_probe({"config": "fake", "probe": probe, "wall_s": 1.0})
    assert (row["steps"], row["epochs"]) == (8, 2)  # coco8: 4 images, batch 1
    assert row["timed"] == [
        "callback on_fit_epoch_end",
        "callback on_pretrain_routine_end",
        "callback on_train_batch_start",
        "trainer.optimizer_step replacement",
    ]
    hook = row["hook_us"]
    assert hook["n"] == 8 and hook["min"] >= 1e6 * HOOK_S
    # Ultralytics' own step (milliseconds) is not in the hook: the median stays near the wrapper's 300 µs
    assert hook["median"] < 1e6 * HOOK_S + 0.5 * row["native_step_us"]["median"]
    assert row["native_step_us"]["median"] > 1e6 * HOOK_S
    batch_calls = probe.callback_s["on_train_batch_start"]  # medians: a busy machine may pre-empt single calls
    assert len(batch_calls) == 8 and BATCH_S <= statistics.median(batch_calls) < BATCH_S + 1e-3
    assert row["per_batch_us_per_step"] == pytest.approx(1e6 * sum(batch_calls) / 8, rel=1e-6)
    assert row["per_epoch_ms_per_epoch"] >= 1e3 * EPOCH_S * 1.5  # 2 epochs + the final evaluation's extra call
    assert row["per_epoch_us_per_step"] == pytest.approx(1e3 * row["per_epoch_ms_per_epoch"] * 2 / 8, rel=1e-6)
    assert row["one_off_ms"] < 1  # only the wrapping itself
    expected = (
        sum(probe.callback_s["on_train_batch_start"]) + sum(probe.callback_s["on_fit_epoch_end"]) + 1e-6 * hook["sum"]
    )
    assert row["plugin_us_per_step"] == pytest.approx(1e6 * expected / 8, rel=1e-6)
    typical = hook["median"] + 1e6 * statistics.median(batch_calls) + row["per_epoch_us_per_step"]
    assert row["typical_us_per_step"] == pytest.approx(typical, rel=1e-6)


def test_plugin_code_is_recognised_by_where_it_lives():
    import ultralytics.engine.trainer as ut

    import yolo_lr
    from yolo_lr import api

    root = overhead.plugin_root()
    assert root == Path(yolo_lr.__file__).resolve().parent
    assert overhead.owned_by(api.attach, root) and overhead.owned_by(functools.partial(api.attach, None), root)

    @functools.wraps(ut.BaseTrainer.optimizer_step)  # copies __module__ = ultralytics...: still ours by its code
    def wrapper(*args):
        return None

    here = Path(__file__).resolve().parent
    assert wrapper.__module__.startswith("ultralytics") and overhead.owned_by(wrapper, here)
    assert not overhead.owned_by(ut.BaseTrainer.optimizer_step, root) and not overhead.owned_by(None, root)
    assert not overhead.owned_by(wrapper, root)

    class Callable:
        def __call__(self, trainer):
            return None

    assert overhead.owned_by(Callable(), here) and overhead.owned_by(Callable().__call__, here)
    sink = []
    timer = overhead.timed(wrapper, sink)
    assert overhead.is_timer(timer) and not overhead.is_timer(wrapper)
    assert not overhead.is_timer(functools.wraps(timer)(lambda: None))  # a wrapper around a timer is not one
    timer()
    assert len(sink) == 1 and sink[0] >= 0


# ------------------------------------------------------------------------------------------------------- harness
SPEC = common.Bench(
    name="demo",
    block="demo",
    doc="Demo benchmark.\n\nMore text.",
    full={"epochs": 12, "seeds": [0, 1, 2], "rate": 0.5, "plot": True, "configs": None, "n_train": 100},
    smoke={"epochs": 1, "seeds": [0]},
    types={"configs": [str]},
    flags={"n_train": "--train-images"},
    minimum={"epochs": 1, "seeds": 0},
)


def resolve(argv: list[str]):
    parser = common.build_parser(SPEC)
    return common.resolve_settings(SPEC, parser.parse_args(argv), parser)


def test_bench_options_defaults_smoke_and_explicit():
    assert vars(resolve([])) == {
        "epochs": 12,
        "seeds": [0, 1, 2],
        "rate": 0.5,
        "plot": True,
        "configs": None,
        "n_train": 100,
    }
    s = resolve(["--smoke"])
    assert (s.epochs, s.seeds, s.n_train) == (1, [0], 100)
    s = resolve(
        [
            "--smoke",
            "--epochs",
            "3",
            "--seeds",
            "4",
            "5",
            "--no-plot",
            "--configs",
            "a",
            "b",
            "--train-images",
            "7",
            "--rate",
            "0.25",
        ]
    )
    assert vars(s) == {"epochs": 3, "seeds": [4, 5], "rate": 0.25, "plot": False, "configs": ["a", "b"], "n_train": 7}


@pytest.mark.parametrize(
    "argv, message", [(["--epochs", "0"], "--epochs must be >= 1"), (["--seeds", "1", "-1"], "--seeds must be >= 0")]
)
def test_bench_options_bounds(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        resolve(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_bench_main_writes_block_json_and_markdown(tmp_path):
    md = tmp_path / "B.md"
    md.write_text("# B\n\n<!-- demo:start -->\nold\n<!-- demo:end -->\ntail\n")

    def run(ctx):
        assert ctx.settings.epochs == 2 and not ctx.smoke and ctx.workdir == tmp_path.resolve()
        return {"machine": common.machine_info(torch_threads=1), "x": [1.5], "wall_note": " (0 trainings)"}

    def render(ctx, raw):
        assert raw["x"] == [1.5] and raw["settings"]["epochs"] == 2  # as the JSON keeps it
        return common.Report(body="| a |\n|---|\n| 1 |", problems=["one thing"])

    argv = [
        "--epochs",
        "2",
        "--workdir",
        str(tmp_path),
        "--results-dir",
        str(tmp_path / "res"),
        "--write-md",
        "--md",
        str(md),
    ]
    assert common.main(SPEC, run, argv, script=BENCH / "demo.py", render=render) == 1  # the report listed a problem
    block = (tmp_path / "res" / "demo.md").read_text()
    data = json.loads((tmp_path / "res" / "demo.json").read_text())
    assert block.startswith("Measured ") and "The whole benchmark took " in block and " s (0 trainings). " in block
    assert "python benchmarks/demo.py --epochs 2 --workdir" in block and "| 1 |" in block
    assert "**Problems detected:** one thing" in block
    assert data["x"] == [1.5] and data["settings"]["epochs"] == 2 and data["machine"]["torch_threads"] == 1
    text = md.read_text()
    assert text.startswith("# B\n\n<!-- demo:start -->\nMeasured ") and text.endswith(
        "| 1 |\n\n**Problems detected:** one thing\n<!-- demo:end -->\ntail\n"
    )


def test_describe_and_welch():
    d = common.describe([1.0, 2.0, 3.0, 4.0, 10.0])
    assert (d["n"], d["mean"], d["median"], d["min"], d["max"], d["sum"]) == (5, 4.0, 3.0, 1.0, 10.0, 20.0)
    assert d["p90"] == pytest.approx(7.6)  # between 4 and 10
    assert common.percentile([5.0], 90) == 5.0
    from scipy.stats import t as student

    a, b = [0.30, 0.25, 0.35], [0.10, 0.20, 0.12, 0.14]
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)  # Welch's t and its degrees of freedom
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    w = common.welch(a, b)
    assert w["diff"] == pytest.approx(0.3 - 0.14) and w["p"] == pytest.approx(2 * student.sf(t, df))
    assert w["differs"] and common.fmt_p(w) == f"**p={w['p']:.2g}**" and w["p"] < common.ALPHA
    near = common.welch([0.30, 0.25, 0.35], [0.28, 0.33, 0.24])
    assert not near["differs"] and near["p"] > 0.5 and common.fmt_p(near) == f"p={near['p']:.2g}"
    assert common.welch([0.3], [0.1, 0.2]) == {"diff": pytest.approx(0.15), "p": None, "differs": False}
    assert common.welch([0.0, 0.0], [0.0, 0.0])["p"] == 1.0 and common.welch([0.0, 0.0], [0.1, 0.1])["p"] == 0.0
    assert common.fmt_p(common.welch([0.3], [0.1])) == "n/a (1 seed)"


# ------------------------------------------------------------------------------------------------ finder_vs_sweep
@pytest.mark.training  # it trains (twenty-one tiny runs, then one more): kept out of the fast set
def test_finder_vs_sweep_smoke(tmp_path, md_before):
    r = run_smoke("finder_vs_sweep.py", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = tmp_path / "results"
    check_png(res / "finder_vs_sweep.png")
    text = (res / "finder_vs_sweep.md").read_text()
    assert text.startswith("Measured ") and "python benchmarks/finder_vs_sweep.py --smoke" in text
    assert "Chosen on S, N and B only" in text and "A, C, D and E held out" in text and "was a `--smoke` run" in text
    data = json.loads((res / "finder_vs_sweep.json").read_text())
    assert (
        list(data["cases"]) == ["S", "N", "B", "A", "C", "D", "E"]
        and data["settings"]["iters"] == 8
        and data["settings"]["jobs"] == 0
    )
    assert data["library_default"] == ["median", 0.9, "auto"] and data["load"].startswith("1-minute load average")
    for case in data["cases"].values():
        assert len(case["runs"]) == 2 and len(case["finder"]["losses"]) >= 2 and case["sweep_cpu_s"] > 0
        assert all(0 <= run["map"] <= 1 for run in case["runs"])
    assert {run["lr0"] for run in data["cases"]["N"]["runs"]} == {1e-4, 1e-3}  # small values keep their digits
    assert (ROOT / "BENCHMARKS.md").read_bytes() == md_before
    # --from-json re-renders the same block without training
    again = run_bench(
        "finder_vs_sweep.py", "--smoke", "--workdir", str(tmp_path), "--from-json", str(res / "finder_vs_sweep.json"),
        timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and (res / "finder_vs_sweep.md").read_text() == text, again.stderr[-3000:]
    # --merge adds what the record lacks (here S's refinement lr0) and keeps the rest exactly; then nothing is left
    merged = run_bench(  # through the engine this time: the refinement training is a Ray Tune trial
        "finder_vs_sweep.py", "--smoke", "--workdir", str(tmp_path), "--merge", "--jobs", "1", timeout=300
    )
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    after = json.loads((res / "finder_vs_sweep.json").read_text())
    assert [r["lr0"] for r in after["cases"]["S"]["refine"]] == [0.0316]
    assert all("refine" not in c for k, c in after["cases"].items() if k != "S")
    assert {k: c["runs"] for k, c in after["cases"].items()} == {k: c["runs"] for k, c in data["cases"].items()}
    assert after["command"].splitlines() == [data["command"], data["command"] + " --merge --jobs 1"]
    assert after["wall_s"] > data["wall_s"] and after["date"].startswith(data["date"] + " (cases and refinement")
    assert "refinement (`--merge`" in (res / "finder_vs_sweep.md").read_text()
    again = run_bench("finder_vs_sweep.py", "--smoke", "--workdir", str(tmp_path), "--merge", timeout=120)
    assert again.returncode != 0 and "nothing to add" in again.stderr
    other = run_bench("finder_vs_sweep.py", "--smoke", "--workdir", str(tmp_path), "--merge", "--iters", "9")
    assert other.returncode != 0 and "needs the settings" in other.stderr and "iters=8 there, 9 here" in other.stderr


RENDERED = [  # (script, results stem, BENCHMARKS.md block): every block the harness re-renders from its JSON
    ("from_scratch.py", "from_scratch", "scratch"),
    ("batch_scaling.py", "batch_scaling", "batch"),
    ("transfer.py", "transfer", "transfer"),
    ("transfer.py", "transfer_study", "transfer_study"),
    ("transfer.py", "transfer_study2", "transfer_study2"),
    ("transfer.py", "transfer_study3", "transfer_study3"),
    ("finder_vs_sweep.py", "finder_vs_sweep", "finder"),
    ("finder_vs_sweep.py", "finder_vs_sweep_seed1", "finder_seed1"),
    ("finder_vs_sweep.py", "finder_vs_sweep_seed2", "finder_seed2"),
    ("sweep_engines.py", "sweep_engines", "engines"),
    ("sweep_engines.py", "sweep_engines_engines_long", "engines_long"),
    ("sweep_engines.py", "sweep_engines_engines_256", "engines_256"),
    ("sweep_engines.py", "sweep_engines_engines_256_fresh", "engines_256_fresh"),
    ("sweep_engines.py", "sweep_engines_engines_256_judge", "engines_256_judge"),
    ("overhead.py", "overhead", "overhead"),
    ("pretrain.py", "pretrain", "pretrain"),
    ("startup.py", "startup", "startup"),
]


@pytest.mark.parametrize(("script", "stem", "key"), RENDERED)
def test_committed_results_are_the_blocks_of_benchmarks_md(tmp_path, script, stem, key):
    """Every figure of these BENCHMARKS.md blocks (tables, verdicts, statistics, plots) is what today's script renders
    from the committed JSON: no figure lost or hand-edited, whatever the scripts became since they measured."""
    committed = BENCH / "results" / f"{stem}.json"
    r = run_bench(script, "--from-json", str(committed), "--results-dir", str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rendered = (tmp_path / f"{stem}.md").read_text().strip()
    rendered = rendered.replace(str(tmp_path) + "/", "benchmarks/results/")
    text = (ROOT / "BENCHMARKS.md").read_text()
    block = text.split(f"<!-- {key}:start -->\n", 1)[1].split(f"\n<!-- {key}:end -->", 1)[0]
    assert rendered == block
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes() == (BENCH / "results" / png.name).read_bytes(), png.name
    assert (BENCH / "results" / f"{stem}.md").read_text().strip() == block
    assert committed.read_text() == (BENCH / "results" / f"{stem}.json").read_text()  # --from-json never writes it


def test_finder_replay_is_the_online_test_it_stands_for():
    """A recording with no stop, replayed with a smoothing and the 4x stop, equals that online test step for step."""
    from yolo_lr.finder import RULES, range_test, read_curve, suggest

    def loss(lr):  # flat, a descent around 1e-3, then a blow-up
        return 1.0 + 4.0 / (1.0 + (lr / 1e-3) ** 2) + (lr / 0.05) ** 3

    rec = range_test(loss, 1e-6, 1.0, 50, smooth=0.0, diverge=1e12)
    timed = [10.0 + i for i in range(1, rec.steps + 1)]
    curve = {
        "lrs": rec.lrs,
        "losses": rec.losses,
        "stop_reason": rec.stop_reason,
        "planned": 50,
        "lr_end": 1.0,
        "setup_cpu_s": 10.0,
        "step_cpu_s": timed,
    }
    for smoothing in ("ema", "centred", "median"):
        for strength in (0.6, 0.9):
            for rule in RULES:
                got = finder_vs_sweep.reading(curve, smoothing, strength, rule)
                online = range_test(loss, 1e-6, 1.0, 50, smooth=strength, diverge=finder_vs_sweep.DIVERGE)
                assert got["steps"] == online.steps and got["stop"] == online.stop_reason == "diverged"
                assert got["cpu_s"] == 10.0 + online.steps  # set-up + one unit per step taken
                y = read_curve(online.losses, online.smoothed, strength, smoothing)
                assert got["lr"] == suggest(online.lrs, y, rule, online.losses).lr


def test_finder_seed_reaches_every_training_and_names_its_own_files(tmp_path):
    from types import SimpleNamespace

    s = SimpleNamespace(imgsz=64, batch=4, epochs=1, warmup_epochs=1.0, seed=3)
    case = finder_vs_sweep.cases_for(64, True)[1]
    assert finder_vs_sweep.train_args(s, case, Path("d.yaml"), Path("p"), "n", False)["seed"] == 3  # the recording
    spec = finder_vs_sweep.sweep_spec(s, case, "m.pt", {case.key: Path("d.yaml")}, Path("p"), 1e-3, False)
    assert spec.seed == 3 and spec.train_args["seed"] == 3  # every sweep training
    assert finder_vs_sweep.variant(s) == "finder_vs_sweep_seed3" and finder_vs_sweep.variant({"seed": 0}) is None
    committed = finder_vs_sweep.load_results(BENCH / "results" / "finder_vs_sweep.json")
    assert finder_vs_sweep.seed_of(committed["settings"]) == 0  # the main measurement: seed 0, its own block
    report = finder_vs_sweep.make_report(
        {**committed, "settings": {**committed["settings"], "seed": 3}}, tmp_path / "p.png"
    )
    assert (report.name, report.block) == ("finder_vs_sweep_seed3", "finder_seed3") and "seed 3; best" in report.body


def test_finder_grid_grows_past_an_edge_best_only():
    def runs(maps):
        return [{"lr0": lr0, "map": m, "loss": 1.0} for lr0, m in zip([0.001, 0.01, 0.1], maps)]

    assert finder_vs_sweep.extension(runs([0.1, 0.2, 0.3])) == 1.0  # best at the top: one grid step up
    assert finder_vs_sweep.extension(runs([0.3, 0.2, 0.1])) == 0.0001  # best at the bottom: one step down
    assert finder_vs_sweep.extension(runs([0.1, 0.3, 0.2])) is None  # an inner optimum: the grid is enough
    assert finder_vs_sweep.extension(runs([0.0, 0.0, 0.0])) is None  # nothing learnt anywhere: extending says nothing
    assert finder_vs_sweep.best_row(runs([0.2, 0.2, 0.1]))["lr0"] == 0.001  # ties: the lowest loss, then the first


def test_finder_defaults_are_what_the_benchmark_chose():
    """The committed benchmark's choice across the three seeds is the finder's default (and lr_find's), and the library
    reproduces its suggestions from the recorded losses."""
    from yolo_lr.config import resolve
    from yolo_lr.finder import DEFAULT_RULE, ITERS, LR_END, LR_START, range_test, suggestions

    runs = [
        finder_vs_sweep.load_results(BENCH / "results" / f"finder_vs_sweep{s}.json") for s in ("", "_seed1", "_seed2")
    ]
    choice = finder_vs_sweep.cross_seed_choice(runs)
    assert choice["chosen"]["shape"] == finder_vs_sweep.library_shape()
    assert set(choice["refs"]) >= set(finder_vs_sweep.TUNE) and choice["chosen"]["n_tune"] == 9
    assert finder_vs_sweep.library_default()[2] == DEFAULT_RULE == "auto"
    for results in runs:
        s = results["settings"]
        assert (s["lr_start"], s["lr_end"], s["iters"]) == (LR_START, LR_END, ITERS)
    find = resolve({"lr_find": True}).find
    assert (find.lr_start, find.lr_end, find.iters, find.rule, find.smooth) == (LR_START, LR_END, ITERS, "auto", 0.9)
    for i, results in enumerate(runs):
        for key in choice["refs"]:
            losses = iter(results["cases"][key]["finder"]["losses"])
            curve = range_test(lambda lr, it=losses: next(it, math.nan), LR_START, LR_END, ITERS)  # default smoothing
            assert suggestions(curve)[DEFAULT_RULE].lr == choice["chosen"]["per"][key][i], (key, i)


def test_json_keeps_small_values_and_rounds_the_rest(tmp_path):
    common.write_json(tmp_path / "x.json", {"lr": [6.32e-05, 1.23456789e-7, 0.123456789, 1234.56789012, math.nan]})
    assert json.loads((tmp_path / "x.json").read_text())["lr"] == [6.32e-05, 1.23457e-7, 0.123457, 1234.56789, None]


def test_finder_mean_reference_averages_every_seed_and_reads_the_share_at_a_suggestion():
    def seed(maps, refine=()):
        return {"cases": {"X": {"runs": [{"lr0": lr, "map": m, "loss": 1.0} for lr, m in maps],
                                "refine": [{"lr0": lr, "map": m, "loss": 1.0} for lr, m in refine]}}}  # fmt: skip

    runs = [
        seed([(1e-3, 0.2), (1e-2, 0.4), (1e-1, 0.1)], [(3e-2, 0.5)]),
        seed([(1e-3, 0.4), (1e-2, 0.6), (1e-1, 0.3)], [(3e-2, 0.3)]),
        seed([(1e-3, 0.3), (1e-2, 0.5)]),  # no 0.1 and no refinement: only the lr0 every seed ran count
    ]
    ref = finder_vs_sweep.mean_reference(runs, "X")
    assert [r["lr0"] for r in ref["curve"]] == [1e-3, 1e-2] and ref["best"]["map"] == pytest.approx(0.5)
    assert ref["peak"] is None and ref["ref"] == 1e-2  # the best at the end of what every seed ran: no vertex
    full = finder_vs_sweep.mean_reference(runs[:2], "X")
    assert [r["lr0"] for r in full["curve"]] == [1e-3, 1e-2, 3e-2, 1e-1]  # refinement runs join the mean
    assert full["best"]["map"] == pytest.approx(0.5) and full["peak"] == full["ref"] and 1e-3 < full["ref"] < 3e-2
    share = finder_vs_sweep.share_at
    assert share(ref, 1e-2) == pytest.approx(1.0) and share(ref, 1e-3) == pytest.approx(0.3 / 0.5)
    assert share(ref, 10**-2.5) == pytest.approx(0.4 / 0.5)  # halfway in log lr0
    assert share(ref, 1e-4) is None and share(ref, 1.0) is None and share(ref, None) is None
