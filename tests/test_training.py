"""Real Ultralytics training on the bundled coco8 (CPU): the LR and momentum the optimizer used at every step are the
policy's, checked against closed forms written here (and torch's ReduceLROnPlateau), never against the package's own
schedule code.

Guards the integration layer (yolo_lr/adapter.py and whatever replaces it): every policy, warmup, plateau on a metric
that moves, resume mid-patience and mid-cooldown, native equivalence, optimizer=auto, time= and OOM retries.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import Interrupt, Run, interrupt_after, oom_once, read_csv, resume

pytestmark = pytest.mark.training

LR0, LRF = 0.02, 0.05
MOMENTUM = 0.937  # Ultralytics' default SGD momentum (and Adam beta1 when optimizer=AdamW is given explicitly)
GROUPS = ("weight", "bn", "bias")


def cosine_mult(t: float, horizon: float, lrf: float = LRF) -> float:
    return lrf + (1 - lrf) * (1 + math.cos(math.pi * min(t, horizon) / horizon)) / 2


def half_cos(a: float, b: float, q: float) -> float:
    """Half-cosine from a (q=0) to b (q=1)."""
    return a + (b - a) * (1 - math.cos(math.pi * q)) / 2


def step_time(s, nb: int, epochs: int) -> tuple[float, float]:
    """Per-step policy time: fractional epoch of the step and the run's last step (lr_interval=step)."""
    return s.epoch + (s.ni - nb * s.epoch) / nb, epochs - 1 / nb


# ------------------------------------------------------------------------------------------ every policy, LR + momentum
# Each reference is written from the README/policy docstrings, independently of yolo_lr's code: (t, horizon) -> LR/lr0.
def _restarts(t, h):  # period 1, mult 2, decay 0.5: cycles [0, 1) at peak 1 and [1, 3) at peak 0.5
    # the second cycle ends with the run (3 epochs), so it anneals over its steps up to the last one, at h: lrf there
    start, length, peak = (0.0, 1.0, 1.0) if t < 1 else (1.0, h - 1.0, 0.5)
    return LRF + (peak - LRF) * (1 + math.cos(math.pi * (t - start) / length)) / 2


def _onecycle_lr(t, h, pct=0.4, div=10.0):
    p = t / h
    return half_cos(1 / div, 1.0, p / pct) if p <= pct else half_cos(1.0, LRF, (p - pct) / (1 - pct))


def _onecycle_momentum(t, h, pct=0.4, low=0.8, high=0.95):
    p = t / h
    return half_cos(high, low, p / pct) if p <= pct else half_cos(low, high, (p - pct) / (1 - pct))


def _wsd_sqrt(t, h, frac=0.5):
    p = min(max((t / h - (1 - frac)) / frac, 0.0), 1.0)
    return LRF + (1 - LRF) * (1 - math.sqrt(p))


ONECYCLE = {
    "lr_policy": "onecycle",
    "lr_onecycle_pct": 0.4,
    "lr_onecycle_div": 10,
    "lr_momentum_min": 0.8,
    "momentum": 0.95,
}
POLICY_CASES = {
    # id: (train kwargs, LR multiplier reference, momentum reference or None for the configured momentum)
    "linear": ({"lr_policy": "linear"}, lambda t, h: (1 - t / h) * (1 - LRF) + LRF, None),
    "cosine": ({"lr_policy": "cosine"}, cosine_mult, None),
    "cosine_restarts": (
        {"lr_policy": "cosine_restarts", "lr_restart_period": 1, "lr_restart_mult": 2, "lr_restart_decay": 0.5},
        _restarts,
        None,
    ),
    "step": (
        {"lr_policy": "step", "lr_step_size": 1, "lr_gamma": 0.5},
        lambda t, h: max(0.5 ** math.floor(t), LRF),
        None,
    ),
    "multistep": (
        {"lr_policy": "multistep", "lr_milestones": [1, 2], "lr_gamma": 0.3},
        lambda t, h: max(0.3 ** sum(m <= t for m in (1, 2)), LRF),
        None,
    ),
    "exponential": ({"lr_policy": "exponential"}, lambda t, h: LRF ** (t / h), None),
    "poly": ({"lr_policy": "poly", "lr_power": 2}, lambda t, h: LRF + (1 - LRF) * (1 - t / h) ** 2, None),
    "poly-epoch-interval": (  # once per epoch: t = epoch over `epochs`, as Ultralytics' lf(epoch)
        {"lr_policy": "poly", "lr_power": 2, "lr_interval": "epoch"},
        lambda t, h: LRF + (1 - LRF) * (1 - math.floor(t) / 3) ** 2,
        None,
    ),
    "onecycle-sgd": (ONECYCLE, _onecycle_lr, _onecycle_momentum),
    "onecycle-adamw-beta1": ({**ONECYCLE, "optimizer": "AdamW"}, _onecycle_lr, _onecycle_momentum),
    "wsd": ({"lr_policy": "wsd", "lr_decay_frac": 0.5, "lr_decay_shape": "sqrt"}, _wsd_sqrt, None),
    "constant": ({"lr_policy": "constant"}, lambda t, h: 1.0, None),
    "plateau": ({"lr_policy": "plateau"}, lambda t, h: 1.0, None),  # patience 10: no reduction in 3 epochs
}


@pytest.mark.parametrize("case", list(POLICY_CASES))
@pytest.mark.compat
def test_every_policy_in_training_matches_its_closed_form(train, case):
    """3 epochs x 4 steps, no warmup: every group's LR and momentum (SGD) or beta1 (AdamW) at every optimizer step."""
    kwargs, lr_ref, mom_ref = POLICY_CASES[case]
    epochs = 3
    kw = {"optimizer": "SGD", "lr0": LR0, "lrf": LRF, "warmup_epochs": 0, **kwargs}
    run = train(epochs=epochs, **kw)
    assert run.nb == 4 and len(run.steps) == epochs * run.nb
    base_momentum = kw.get("momentum", MOMENTUM)
    for s in run.steps:
        t, h = step_time(s, run.nb, epochs)
        want = LR0 * lr_ref(t, h)
        for g in GROUPS:
            assert s.lr[g] == pytest.approx([want], rel=1e-9, abs=1e-15), (case, g, s.ni)
            want_m = mom_ref(t, h) if mom_ref else base_momentum
            assert s.moms[g] == pytest.approx([want_m], rel=1e-9), (case, "momentum", g, s.ni)
    if kw["optimizer"] == "AdamW":
        assert "betas" in run.trainer.optimizer.param_groups[0]  # the cycled value really is Adam's beta1
    assert (run.save_dir / "lr.csv").exists() and not (run.save_dir / "lr.png").exists()  # plots=False: no lr.png


# --------------------------------------------------------------------------------------------------------------- warmup
@pytest.mark.parametrize(
    ("shape", "start", "warmup_epochs", "weight"),
    [
        ("linear", None, 1.5, lambda u: u),  # fractional warmup: 1.5 epochs = 6 batches
        ("cosine", 0.25, 2.0, lambda u: (1 - math.cos(math.pi * u)) / 2),
    ],
    ids=["linear-from-0", "cosine-from-0.25"],
)
@pytest.mark.compat
def test_warmup_shape_and_start_in_training(train, shape, start, warmup_epochs, weight):
    """Warmup into a constant policy (so the result does not depend on when the policy's clock starts): weight/bn
    groups rise from start*lr0, bias from warmup_bias_lr, with the requested shape over Ultralytics' nw batches; the
    native momentum ramp 0.8 -> 0.937 stays. 3 epochs x 4 batches; nw = round(min(warmup_epochs, 2) * 4) (before
    Ultralytics 8.4.103: at least 100, so the whole run warms up; before 8.4.100 the *first* group warms from
    warmup_bias_lr, as Ultralytics' own warmup does there)."""
    from yolo_lr.ultralytics_compat import host_rules

    keys = {"lr_warmup_shape": shape} | ({"lr_warmup_start": start} if start is not None else {})
    run = train(epochs=3, optimizer="SGD", lr0=LR0, warmup_epochs=warmup_epochs, lr_policy="constant", **keys)
    rules = host_rules()
    nw = max(round(warmup_epochs * run.nb), 100) if rules.warmup_floor else round(min(warmup_epochs, 2) * run.nb)
    assert nw in ((100,) if rules.warmup_floor else (6, 8)) and len(run.steps) == 12
    begin = {"weight": (start or 0.0) * LR0, "bn": (start or 0.0) * LR0, "bias": 0.1}  # warmup_bias_lr default 0.1
    if not rules.bias_by_name:
        begin["weight"], begin["bias"] = begin["bias"], begin["weight"]
    last = nw if rules.warmup_last else nw - 1  # the native momentum ramp's last batch (8.4.103-8.4.14x: nw - 1)
    for s in run.steps:
        u = min(s.ni / nw, 1.0)
        for g in GROUPS:
            want = begin[g] + (LR0 - begin[g]) * weight(u)
            assert s.lr[g] == pytest.approx([want], rel=1e-9, abs=1e-15), (shape, g, s.ni)
        assert s.momentum == pytest.approx(0.8 + (MOMENTUM - 0.8) * min(s.ni, last) / nw, rel=1e-9)
    assert run.lrs("bn")[0] == pytest.approx((start or 0.0) * LR0, abs=1e-15)
    if nw < len(run.steps):
        assert run.lrs()[nw] == pytest.approx(LR0, rel=1e-12)


@pytest.mark.parametrize(
    ("policy", "extra"),
    [("cosine", {}), ("cosine_restarts", {"lr_restart_mult": 1.0, "lr_restart_decay": 0.7}), ("wsd", {})],
)
def test_lr0_is_the_peak(train, policy, extra):
    """The optimizer really uses lr0 at the end of warmup and never more, whatever the policy; the run still ends at
    lr0*lrf. (A 1-epoch warmup in a 5-epoch run: Ultralytics' overlay would peak below lr0.) 5 epochs of 4 batches:
    the 3.75 epochs after warmup split into three restart cycles of exactly 5 steps."""
    run = train(epochs=5, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=1, lr_policy=policy, **extra)
    lrs, nw = run.lrs(), run.nb  # warmup_epochs=1: nw = nb batches
    assert max(lrs) == lrs[nw] == pytest.approx(LR0, rel=1e-15), (policy, max(lrs) / LR0)
    assert all(b >= a for a, b in zip(lrs[: nw + 1], lrs[1 : nw + 1]))  # the warmup ramp rises to it
    assert lrs[-1] == pytest.approx(LR0 * LRF, rel=1e-12)
    if policy == "cosine_restarts":  # three cycles after warmup, each restart at 0.7x the previous peak
        peaks = [b for a, b in zip(lrs[nw:], lrs[nw + 1 :]) if b > a]
        assert peaks == pytest.approx([0.7 * LR0, 0.49 * LR0], rel=1e-12)
    if policy == "cosine":  # after warmup: a cosine over the remaining 3.75 epochs, from its own clock
        h = 5 - 1 / run.nb - 1
        for s in run.steps[nw:]:
            t = s.epoch + (s.ni - run.nb * s.epoch) / run.nb - 1
            assert s.lr["weight"] == pytest.approx([LR0 * cosine_mult(t, h)], rel=1e-9), s.ni


def test_warmup_overlay_is_opt_in(train):
    """lr_warmup_overlay=True: Ultralytics' way, warmup blends into a cosine that started at step 0 (peak < lr0)."""
    epochs = 4
    run = train(
        epochs=epochs, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=1, lr_policy="cosine", lr_warmup_overlay=True
    )
    nb = run.nb
    nw, h = nb, epochs - 1 / nb
    for s in run.steps:
        target = LR0 * cosine_mult(s.epoch + (s.ni - nb * s.epoch) / nb, h)
        want = target * s.ni / nw if s.ni <= nw else target
        assert s.lr["weight"] == pytest.approx([want], rel=1e-9, abs=1e-15), s.ni
    assert max(run.lrs()) == pytest.approx(LR0 * cosine_mult(1.0, h), rel=1e-12)
    assert max(run.lrs()) < 0.85 * LR0


# ------------------------------------------------------------------------------------------------ lr.csv, results.csv
def test_lr_csv_matches_optimizer_and_results_csv(train):
    """lr.csv holds exactly the LRs (and momentum) the optimizer used; results.csv lr/pg* is the epoch's last step."""
    run = train(epochs=2, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=1, lr_policy="cosine")
    rows = read_csv(run.save_dir / "lr.csv")
    assert len(rows) == len(run.steps)
    cols = [c for c in rows[0] if c.startswith("lr/")]
    assert cols == ["lr/pg0(weight)", "lr/pg1(bn)", "lr/pg2(bias)"]
    for row, step in zip(rows, run.steps):
        assert int(row["epoch"]) == step.epoch and int(row["iteration"]) == step.ni
        got = [float(row[c]) for c in cols]
        assert got == pytest.approx([step.lr["weight"][0], step.lr["bn"][0], step.lr["bias"][0]], rel=1e-12)
        assert float(row["momentum"]) == pytest.approx(step.momentum, rel=1e-12)
    assert [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1))
    results = read_csv(run.save_dir / "results.csv")
    for e, res in enumerate(results):
        last = [s for s in run.steps if s.epoch == e][-1]
        # results.csv keeps 6 significant digits
        assert float(res["lr/pg0"]) == pytest.approx(last.lr["weight"][0], rel=1e-5)
        assert float(res["lr/pg2"]) == pytest.approx(last.lr["bias"][0], rel=1e-5)


# ------------------------------------------------------------------------------------- plateau on a metric that moves
def _torch_factors(values: list[float], mode: str, **kw) -> tuple[list[float], object]:
    """factors[e]: the plateau factor in force during epoch e (decided after epoch e-1), from torch's scheduler fed
    the same metric values; also returns the scheduler (its counters)."""
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, **kw)
    factors = [1.0]
    for v in values:
        ref.step(v)
        factors.append(opt.param_groups[0]["lr"])
    return factors, ref


def _plot_marks(png) -> tuple[list[int], list[int]]:
    """x pixel columns of the vertical lines drawn on lr.png: every epoch line (grey, or red where a plateau line is
    drawn over it), and the red dashed plateau lines alone."""
    import matplotlib.image

    img = (matplotlib.image.imread(str(png))[..., :3] * 255).round().astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    grey = np.abs(img - 217).max(axis=2) <= 3  # matplotlib colour "0.85"
    red = (r > 150) & (r - g > 60) & (r - b > 60)  # tab:red, antialiased or blended over a grey line

    def columns(mask, min_frac):
        cols = np.flatnonzero(mask.sum(axis=0) >= min_frac * img.shape[0])
        runs: list[list[int]] = []
        for c in cols:  # a line may be 1-2 pixels wide: one mark per run of adjacent columns
            if runs and c - runs[-1][-1] <= 1:
                runs[-1].append(int(c))
            else:
                runs.append([int(c)])
        return [round(sum(r) / len(r)) for r in runs]

    return columns(grey | red, 0.4), columns(red, 0.2)


@pytest.mark.parametrize(
    ("policy", "metric", "extra"),
    [
        ("plateau", "train/box_loss", {"plots": True}),
        ("cosine", "val/cls_loss", {"lr_plateau_threshold": 0.01, "lr_plateau_threshold_mode": "abs"}),
    ],
    ids=["plateau-train-loss", "cosine-val-loss"],
)
def test_plateau_decisions_follow_the_metric_epoch_by_epoch(train, policy, metric, extra):
    """A loss that really moves drives the plateau (mode min, inferred from the name); the factor in force at every
    step is torch's ReduceLROnPlateau fed the same per-epoch values (results.csv); with a policy underneath, the
    reduction multiplies it but never goes below the floor lr0*lrf. The plateau run also checks lr.png's marks."""
    epochs, lrf = 5, 0.01
    run = train(
        epochs=epochs,
        optimizer="SGD",
        lr0=LR0,
        lrf=lrf,
        warmup_epochs=0,
        lr_policy=policy,
        lr_plateau=True,
        lr_plateau_metric=metric,
        lr_plateau_patience=0,
        lr_plateau_factor=0.5,
        **extra,
    )
    values = [float(r[metric]) for r in read_csv(run.save_dir / "results.csv")]
    assert len(values) == epochs and len(set(values)) == epochs, f"{metric} did not move: {values}"
    torch_kw = {"threshold": extra.get("lr_plateau_threshold", 1e-4)}
    torch_kw["threshold_mode"] = extra.get("lr_plateau_threshold_mode", "rel")
    factors, _ = _torch_factors(values, "min", factor=0.5, patience=0, min_lr=lrf, **torch_kw)
    reductions = [e for e in range(epochs - 1) if factors[e + 1] < factors[e]]  # those that change a later LR
    improved = [e for e in range(1, epochs) if factors[e + 1] == factors[e]]
    assert reductions and improved, f"the metric {values} must both improve and stall for this test to mean anything"
    for s in run.steps:
        t, h = step_time(s, run.nb, epochs)
        base = 1.0 if policy == "plateau" else cosine_mult(t, h, lrf)
        want = LR0 * max(base * factors[s.epoch], min(base, lrf))
        assert s.lr["weight"][0] == pytest.approx(want, rel=1e-9), (s.epoch, values, factors)
    # the plateau state the checkpoint carries lists every epoch that reduced, the last one included
    assert run.trainer.yolo_lr.plateau.reductions == [e for e in range(epochs) if factors[e + 1] < factors[e]]
    if extra.get("plots"):
        lines, reds = _plot_marks(run.save_dir / "lr.png")
        assert len(lines) == epochs - 1, lines  # one line per epoch start after the first, evenly spaced
        scale = (lines[-1] - lines[0]) / ((epochs - 2) * run.nb)  # pixels per iteration; lines at nb, 2nb, ...
        assert [round((x - lines[0]) / scale) + run.nb for x in lines] == [e * run.nb for e in range(1, epochs)]
        # a red dashed line at the first iteration of each epoch that runs with a reduced LR
        assert [round((x - lines[0]) / scale) + run.nb for x in reds] == [(e + 1) * run.nb for e in reductions]


# ------------------------------------------------------------------------------------------------ native equivalence
@pytest.mark.compat
def test_no_lr_key_is_native(train):
    """With the plugin registered but no lr_* key, every step's LR equals a run without the plugin's callbacks."""
    kw = {"epochs": 2, "optimizer": "SGD", "lr0": LR0, "warmup_epochs": 1}
    plugin = train(**kw)
    native = train(strip_plugin=True, name="native", **kw)
    assert not (plugin.save_dir / "lr.csv").exists()
    for a, b in zip(plugin.steps, native.steps, strict=True):
        assert a.lr == b.lr and a.momentum == b.momentum


@pytest.mark.parametrize(
    ("plugin_kw", "native_kw"),
    [
        ({"lr_policy": "linear", "lr_interval": "epoch"}, {}),
        ({"lr_policy": "cosine", "lr_interval": "epoch"}, {"cos_lr": True}),
    ],
    ids=["linear", "cosine"],
)
@pytest.mark.compat
def test_epoch_interval_reproduces_native(train, plugin_kw, native_kw):
    """lr_interval=epoch + the native curve reproduces Ultralytics' LRs at every step, warmup included."""
    kw = {
        "epochs": 3,
        "optimizer": "SGD",
        "lr0": LR0,
        "lrf": LRF,
        "warmup_epochs": 3,
    }  # warmup spans 2 epochs (8 batches)
    ours = train(**kw, **plugin_kw)
    native = train(strip_plugin=True, name="native", **kw, **native_kw)
    for a, b in zip(ours.steps, native.steps, strict=True):  # by position: releases before 8.4.100 name no group
        assert sum(a.lr.values(), []) == pytest.approx(sum(b.lr.values(), []), rel=1e-12, abs=1e-18), a.ni
        assert a.momentum == pytest.approx(b.momentum, rel=1e-12)


def test_optimizer_auto_uses_effective_lr(train, ultralytics_log):
    """optimizer=auto replaces lr0: the plugin says so and scales the policy from the LR Ultralytics chose."""
    run = train(epochs=2, optimizer="auto", lr0=LR0, lrf=LRF, warmup_epochs=0, lr_policy="cosine")
    peak = run.trainer.optimizer.param_groups[0]["initial_lr"]
    assert type(run.trainer.optimizer).__name__ == "AdamW" and peak != LR0
    for s in run.steps:
        want = peak * cosine_mult(*step_time(s, run.nb, 2))
        assert s.lr["weight"][0] == pytest.approx(want, rel=1e-9)
    text = "\n".join(ultralytics_log)
    assert "optimizer=auto replaced lr0=0.02 with AdamW" in text
    assert "policy=cosine" in text  # the one-line summary


# ------------------------------------------------------------------------------------------------------------- resume
# The plateau watches lr/pg0 (the epoch's last LR, a results.csv column): it is deterministic, so an interrupted run
# sees exactly the values the uninterrupted one saw (losses would not: Ultralytics does not restore the RNG on
# resume). Under cosine it falls every epoch, so in mode max every epoch after the first is a bad epoch:
#   e0 best | e1 bad (num_bad 1: cut here, mid-patience) | e2 bad -> reduce, cooldown 1 (cut here, mid-cooldown)
#   e3 cooldown | e4 bad | e5 bad -> reduce (after the last epoch).
# Resetting num_bad on load moves the first reduction to e3; resetting the cooldown moves the second to e4: both change
# the LR of later epochs.
RESUME_KW = {
    "epochs": 6,
    "batch": 2,
    "nbs": 2,
    "optimizer": "SGD",
    "lr0": LR0,
    "lrf": 0.01,
    "warmup_epochs": 0,
    "lr_policy": "cosine",
    "lr_plateau": True,
    "lr_plateau_metric": "lr/pg0",
    "lr_plateau_mode": "max",
    "lr_plateau_patience": 1,
    "lr_plateau_cooldown": 1,
    "lr_plateau_factor": 0.5,
}


def _assert_same_steps(got, want):
    assert [s.ni for s in got] == [s.ni for s in want]
    for a, b in zip(got, want, strict=True):
        assert a.lr.keys() == b.lr.keys()
        for g in a.lr:
            assert a.lr[g] == pytest.approx(b.lr[g], rel=1e-12), (a.epoch, a.ni, g)


@pytest.mark.compat
def test_resume_mid_patience_then_mid_cooldown_gives_the_uninterrupted_lr_trace(train, tmp_path):
    full = train(name="full", **RESUME_KW)
    values = [float(r["lr/pg0"]) for r in read_csv(full.save_dir / "results.csv")]
    # the setup really is mid-patience after e1 and mid-cooldown after e2 (torch's own counters say so)
    _, after_e1 = _torch_factors(values[:2], "max", factor=0.5, patience=1, cooldown=1, min_lr=0.01)
    factors, after_e2 = _torch_factors(values[:3], "max", factor=0.5, patience=1, cooldown=1, min_lr=0.01)
    assert after_e1.num_bad_epochs == 1 and after_e2.cooldown_counter == 1 and factors[3] == 0.5
    full_factors, _ = _torch_factors(values, "max", factor=0.5, patience=1, cooldown=1, min_lr=0.01)
    assert full_factors[:6] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5] and full_factors[6] == 0.25
    for s in full.steps:
        base = cosine_mult(*step_time(s, full.nb, 6), lrf=0.01)
        assert s.lr["weight"][0] == pytest.approx(LR0 * max(base * full_factors[s.epoch], min(base, 0.01)), rel=1e-9)

    with pytest.raises(Interrupt):
        train(name="cut", callbacks=interrupt_after(1), **RESUME_KW)  # checkpoint after e1: mid-patience
    last = tmp_path / "runs" / "cut" / "weights" / "last.pt"
    middle = Run()
    with pytest.raises(Interrupt):
        resume(last, callbacks=interrupt_after(2), run=middle)  # checkpoint after e2: mid-cooldown
    final = resume(last)
    _assert_same_steps(middle.steps, [s for s in full.steps if s.epoch == 2])
    _assert_same_steps(final.steps, [s for s in full.steps if s.epoch >= 3])
    full_rows, cut_rows = read_csv(full.save_dir / "lr.csv"), read_csv(tmp_path / "runs" / "cut" / "lr.csv")
    assert len(cut_rows) == len(full_rows) == 6 * full.nb
    for a, b in zip(full_rows, cut_rows):
        assert {k: float(v) for k, v in a.items()} == pytest.approx({k: float(v) for k, v in b.items()}, rel=1e-12)


# ---------------------------------------------------------------------------------------------------- time=, OOM retry
def test_time_mode_rebuilds_do_not_override_the_policy(train):
    """time= re-estimates `epochs` after every epoch and rebuilds Ultralytics' scheduler: the policy follows the new
    length and no native LR leaks in."""
    seen = []

    def on_train_batch_start(trainer):
        seen.append(trainer.epochs)

    run = train(
        epochs=50,
        time=0.0015,
        optimizer="SGD",
        lr0=LR0,
        lrf=LRF,
        warmup_epochs=0,
        lr_policy="cosine",
        callbacks={"on_train_batch_start": on_train_batch_start},
    )
    epochs_at_step = seen[: len(run.steps)]
    assert len(set(epochs_at_step)) > 1, f"time= never changed epochs: {set(epochs_at_step)}"
    for s, total in zip(run.steps, epochs_at_step):
        t = s.epoch + (s.ni - run.nb * s.epoch) / run.nb
        assert s.lr["weight"][0] == pytest.approx(LR0 * cosine_mult(t, total - 1 / run.nb), rel=1e-9), (s.ni, total)


def test_oom_retry_keeps_the_policy(train):
    """A (simulated) out-of-memory error in the first epoch makes Ultralytics halve the batch and rebuild the loader:
    the policy picks up the new batches-per-epoch and the retried epoch starts from scratch."""
    state, callbacks = oom_once()

    run = train(
        epochs=2,
        batch=2,
        nbs=1,
        optimizer="SGD",
        lr0=LR0,
        lrf=LRF,
        warmup_epochs=0,
        lr_policy="cosine",
        callbacks=callbacks,
    )
    assert state["raised"] and run.trainer.batch_size == 1
    nb = len(run.trainer.train_loader)
    assert nb == 4 and len(run.steps) == 2 * nb  # every step after the retry, at the new epoch length
    for s in run.steps:
        t = s.epoch + (s.ni - nb * s.epoch) / nb
        assert s.lr["weight"][0] == pytest.approx(LR0 * cosine_mult(t, 2 - 1 / nb), rel=1e-9)


def test_paused_lets_a_caller_step_with_its_own_lr(train):
    """Inside LRController.paused() (an LR range test run on the trainer, say) a step keeps the caller's LR; the
    policy owns the steps before and after."""

    def on_train_epoch_start(trainer):
        if trainer.epoch == 1:
            with trainer.yolo_lr.paused():
                for g in trainer.optimizer.param_groups:
                    g["lr"] = 0.123
                trainer.optimizer.step()  # no gradients yet: SGD skips every parameter, the hooks still run

    run = train(
        epochs=2,
        optimizer="SGD",
        lr0=LR0,
        lrf=LRF,
        warmup_epochs=0,
        lr_policy="cosine",
        callbacks={"on_train_epoch_start": on_train_epoch_start},
    )
    manual = [s for s in run.steps if s.lr["weight"][0] == 0.123]
    assert len(manual) == 1 and len(run.steps) == 2 * run.nb + 1
    policy = [s for s in run.steps if s is not manual[0]]
    for s in policy:
        t = s.epoch + (s.ni - run.nb * s.epoch) / run.nb
        assert s.lr["weight"][0] == pytest.approx(LR0 * cosine_mult(t, 2 - 1 / run.nb), rel=1e-9)
