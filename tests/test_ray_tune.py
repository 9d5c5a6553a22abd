"""model.tune(use_ray=True) over lr_* keys, on a real local Ray cluster: every trial is a plugin run with its sampled
values (lr.csv, the LRs its optimizer used), Ray can compare policies, and a space Ray would sample wrongly fails
before any trial starts, naming the key."""

from __future__ import annotations

import math

import pytest
import yaml
from conftest import COCO8, FAST, MODEL, read_csv

from yolo_lr.config import LRConfigError

LR0, LRF, EPOCHS = 0.02, 0.05, 2


def _space(tune):
    return {
        "lr_policy": tune.grid_search(["cosine", "wsd"]),  # one trial per policy, whatever the sampler
        "lr_plateau_patience": tune.randint(2, 4),
        "lr_decay_frac": tune.uniform(0.2, 0.4),
    }


@pytest.mark.training
def test_ray_trials_are_plugin_runs_with_their_sampled_values(tmp_path, monkeypatch):
    import ray
    from ray import tune
    from ultralytics import YOLO

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}}
    )
    try:
        YOLO(MODEL).tune(
            use_ray=True,
            space=_space(tune),
            iterations=1,  # grid_search makes it one trial per policy
            grace_period=EPOCHS,
            gpu_per_trial=0,
            search_alg="random",
            data=str(COCO8),
            epochs=EPOCHS,
            optimizer="SGD",
            lr0=LR0,
            lrf=LRF,
            warmup_epochs=0,
            lr_plateau=True,
            project=str(tmp_path),
            **{k: v for k, v in FAST.items() if k != "verbose"},
        )
    finally:
        ray.shutdown()
    trials = sorted(p.parent for p in tmp_path.rglob("args.yaml") if (p.parent / "weights").exists())
    assert len(trials) == 2, list(tmp_path.rglob("*"))
    policies = set()
    for run in trials:
        args = yaml.safe_load((run / "args.yaml").read_text())
        policies.add(args["lr_policy"])
        assert isinstance(args["lr_plateau_patience"], int) and 2 <= args["lr_plateau_patience"] <= 3
        rows = read_csv(run / "lr.csv")  # the plugin drove the trial: one row per optimizer step
        nb = len(rows) // EPOCHS
        assert nb >= 1 and len(rows) == EPOCHS * nb
        lrs = [float(r["lr/pg0(weight)"]) for r in rows]
        h = EPOCHS - 1 / nb
        for k, lr in enumerate(lrs):
            t = k / nb
            if args["lr_policy"] == "cosine":
                want = LRF + (1 - LRF) * (1 + math.cos(math.pi * t / h)) / 2
            else:  # wsd, linear decay over the last lr_decay_frac of the run
                start = h * (1 - args["lr_decay_frac"])
                want = 1.0 if t <= start else 1 - (1 - LRF) * (t - start) / (h - start)
            assert lr == pytest.approx(LR0 * want, rel=1e-9), (args["lr_policy"], k)
        assert float(rows[0]["lr/pg2(bias)"]) == pytest.approx(LR0, rel=1e-12)  # not Ultralytics' bias warmup
    assert policies == {"cosine", "wsd"}


@pytest.mark.parametrize(
    ("space", "key", "needle"),
    [
        (lambda tune: {"lr_plateau_patience": tune.uniform(2, 5)}, "lr_plateau_patience", r"tune\.randint\(2, 6\)"),
        (lambda tune: {"lr_policy": tune.choice(["cosine", "cosin"])}, "lr_policy", "cosin"),
        (lambda tune: {"lr_policy": tune.uniform(0, 1)}, "lr_policy", r"tune\.choice"),
        (lambda tune: {"lr_gamma": tune.uniform(0.5, 1.5)}, "lr_gamma", "1.5"),
        (lambda tune: {"lr_nonsense": tune.uniform(0.5, 1.5)}, "lr_nonsense", "lr_nonsense"),
    ],
    ids=["float-on-integer", "bad-choice", "range-on-a-name", "out-of-range", "unknown"],
)
def test_a_ray_space_it_cannot_use_fails_before_ray_starts(space, key, needle):
    import ray
    from ray import tune
    from ultralytics import YOLO

    with pytest.raises(LRConfigError, match=needle) as e:
        YOLO(MODEL).tune(use_ray=True, space=space(tune), iterations=1, data=str(COCO8), lr_policy="step", epochs=3)
    assert e.value.key == key
    assert not ray.is_initialized()  # refused before Ray was started
