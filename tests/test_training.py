"""Real Ultralytics training on the bundled coco8 (CPU): the LR the optimizer used at every step is the policy's."""

from __future__ import annotations

import math

import pytest
from conftest import read_csv

LR0, LRF = 0.02, 0.05


def cosine_mult(t: float, horizon: float, lrf: float = LRF) -> float:
    return lrf + (1 - lrf) * (1 + math.cos(math.pi * min(t, horizon) / horizon)) / 2


def expected_with_warmup(run, target_mult, *, warmup_epochs, epochs, lr0=LR0, bias_start=0.1, group="weight"):
    """Closed form of warmup (linear, Ultralytics' nw and bias rule) followed by the policy, per recorded step."""
    nb = run.nb
    nw = round(min(warmup_epochs, epochs - 1) * nb)
    out = []
    for s in run.steps:
        i = s.ni - nb * s.epoch
        target = lr0 * target_mult(s.epoch, i, nb)
        if nw and s.ni <= nw:
            start = bias_start if group == "bias" else 0.0
            out.append(start + (target - start) * s.ni / nw)
        else:
            out.append(target)
    return out


def test_warmup_cosine_per_step(train):
    """Fractional warmup (1.5 epochs = 6 batches) up to lr0, then a per-step cosine over the rest of the run; the bias
    group warms down from 0.1."""
    epochs = 3
    run = train(epochs=epochs, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=1.5, lr_policy="cosine")
    assert run.nb == 4 and len(run.steps) == epochs * run.nb  # one optimizer step per batch
    start = 6 / 4  # the policy's clock starts when warmup ends

    def mult(e, i, nb):
        return cosine_mult(max(e + i / nb - start, 0.0), epochs - 1 / nb - start)

    for group in ("weight", "bn", "bias"):
        want = expected_with_warmup(run, mult, warmup_epochs=1.5, epochs=epochs, group=group)
        assert run.lrs(group) == pytest.approx(want, rel=1e-9, abs=1e-15), group
    # starts at 0, peaks at exactly lr0 where warmup ends, ends exactly at lr0*lrf on the last step
    assert run.lrs()[0] == 0.0
    assert max(run.lrs()) == run.lrs()[6] == pytest.approx(LR0, rel=1e-15)
    assert run.lrs()[-1] == pytest.approx(LR0 * LRF, rel=1e-12)
    # native momentum warmup kept: 0.8 -> 0.937 over the same 6 batches, then 0.937
    nw = 6
    for s in run.steps:
        want = 0.8 + (0.937 - 0.8) * min(s.ni, nw) / nw
        assert s.momentum == pytest.approx(want, rel=1e-9)


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


def test_warmup_overlay_is_opt_in(train):
    """lr_warmup_overlay=True: Ultralytics' way, warmup blends into a cosine that started at step 0 (peak < lr0)."""
    epochs = 4
    run = train(
        epochs=epochs, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=1, lr_policy="cosine", lr_warmup_overlay=True
    )

    def mult(e, i, nb):
        return cosine_mult(e + i / nb, epochs - 1 / nb)

    assert run.lrs() == pytest.approx(expected_with_warmup(run, mult, warmup_epochs=1, epochs=epochs), rel=1e-9)
    assert max(run.lrs()) == pytest.approx(LR0 * cosine_mult(1.0, epochs - 1 / run.nb), rel=1e-12)
    assert max(run.lrs()) < 0.85 * LR0


def test_lr_csv_matches_optimizer_and_results_csv(train):
    """lr.csv holds exactly the LRs the optimizer used; results.csv lr/pg* is the epoch's last step; lr.png drawn."""
    run = train(epochs=2, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=1, lr_policy="cosine", plots=True)
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
    assert (run.save_dir / "lr.png").stat().st_size > 5000


def test_plots_false_skips_lr_png(train):
    run = train(epochs=2, lr_policy="cosine", plots=False)
    assert (run.save_dir / "lr.csv").exists() and not (run.save_dir / "lr.png").exists()


def test_step_decay(train):
    run = train(
        epochs=3, optimizer="SGD", lr0=LR0, lrf=0.01, warmup_epochs=0, lr_policy="step", lr_step_size=1, lr_gamma=0.5
    )
    for s in run.steps:
        for group in ("weight", "bn", "bias"):
            assert s.lr[group][0] == pytest.approx(LR0 * 0.5**s.epoch, rel=1e-12)


def test_cosine_restarts_return_to_peak(train):
    """SGDR with 1-epoch cycles: every epoch starts at the peak and anneals within the epoch."""
    run = train(
        epochs=3, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=0, lr_policy="cosine_restarts", lr_restart_period=1.0
    )
    for s in run.steps:
        i = s.ni - run.nb * s.epoch
        assert s.lr["weight"][0] == pytest.approx(LR0 * cosine_mult(i / run.nb, 1.0), rel=1e-9)
    starts = [s.lr["weight"][0] for s in run.steps if s.ni % run.nb == 0]
    assert starts == pytest.approx([LR0] * 3)


@pytest.mark.parametrize("policy", ["plateau", "cosine"])
def test_plateau_reduces_on_real_metric(train, policy):
    """Plateau decisions match torch's ReduceLROnPlateau fed the metric values this run produced."""
    torch = pytest.importorskip("torch")
    epochs, metric = 4, "metrics/mAP50-95(B)"
    run = train(
        epochs=epochs,
        optimizer="SGD",
        lr0=LR0,
        lrf=0.01,
        warmup_epochs=0,
        lr_policy=policy,
        lr_plateau=True,
        lr_plateau_metric=metric,
        lr_plateau_patience=0,
        lr_plateau_factor=0.5,
    )
    values = [float(r[metric]) for r in read_csv(run.save_dir / "results.csv")]
    assert len(values) == epochs
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, mode="max", factor=0.5, patience=0, min_lr=0.01)
    factors = [1.0]  # factors[e]: the factor in force during epoch e (decided after epoch e-1)
    for v in values:
        ref.step(v)
        factors.append(ref_opt.param_groups[0]["lr"])
    assert min(factors) < 1.0, f"no plateau happened with metric values {values}; the test drove nothing"
    for s in run.steps:
        base = (
            1.0 if policy == "plateau" else cosine_mult(s.epoch + (s.ni % run.nb) / run.nb, epochs - 1 / run.nb, 0.01)
        )
        want = LR0 * max(base * factors[s.epoch], min(base, 0.01))
        assert s.lr["weight"][0] == pytest.approx(want, rel=1e-9), (s.epoch, values)
    assert run.trainer.yolo_lr.plateau.reductions == [e for e in range(epochs) if factors[e + 1] < factors[e]]


def test_no_lr_key_is_native(train):
    """With the plugin registered but no lr_* key, every step's LR equals a run without the plugin's callbacks."""
    kw = dict(epochs=2, optimizer="SGD", lr0=LR0, warmup_epochs=1)
    plugin = train(**kw)
    native = train(strip_plugin=True, name="native", **kw)
    assert "yolo_lr" not in vars(plugin.trainer)
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
def test_epoch_interval_reproduces_native(train, plugin_kw, native_kw):
    """lr_interval=epoch + the native curve reproduces Ultralytics' LRs at every step, warmup included."""
    kw = dict(epochs=3, optimizer="SGD", lr0=LR0, lrf=LRF, warmup_epochs=3)  # warmup spans 2 epochs (8 batches)
    ours = train(**kw, **plugin_kw)
    native = train(strip_plugin=True, name="native", **kw, **native_kw)
    for a, b in zip(ours.steps, native.steps, strict=True):
        for group in a.lr:
            assert a.lr[group] == pytest.approx(b.lr[group], rel=1e-12, abs=1e-18)


def test_optimizer_auto_uses_effective_lr(train, ultralytics_log):
    """optimizer=auto replaces lr0: the plugin says so and scales the policy from the LR Ultralytics chose."""
    run = train(epochs=2, optimizer="auto", lr0=LR0, lrf=LRF, warmup_epochs=0, lr_policy="cosine")
    peak = run.trainer.optimizer.param_groups[0]["initial_lr"]
    assert type(run.trainer.optimizer).__name__ == "AdamW" and peak != LR0
    for s in run.steps:
        want = peak * cosine_mult(s.epoch + (s.ni % run.nb) / run.nb, 2 - 1 / run.nb)
        assert s.lr["weight"][0] == pytest.approx(want, rel=1e-9)
    text = "\n".join(ultralytics_log)
    assert "optimizer=auto replaced lr0=0.02 with AdamW" in text
    assert "policy=cosine" in text  # the one-line summary


class Interrupt(Exception):
    pass


def _interrupt_after(epoch_index):
    def on_fit_epoch_end(trainer):
        if trainer.epoch == epoch_index:
            raise Interrupt

    return {"on_fit_epoch_end": on_fit_epoch_end}


RESUME_KW = dict(
    epochs=4,
    optimizer="SGD",
    lr0=LR0,
    lrf=0.01,
    warmup_epochs=1.5,
    lr_policy="cosine",
    lr_plateau=True,
    lr_plateau_metric="metrics/mAP50-95(B)",
    lr_plateau_patience=1,
    lr_plateau_factor=0.5,
)


def test_resume_gives_same_lr_sequence(train, tmp_path):
    """Interrupted after epoch 2 of 4 mid-patience, then resumed: the same per-step LRs as an uninterrupted run."""
    from conftest import Run, attach_recorder
    from ultralytics import YOLO

    full = train(name="full", **RESUME_KW)
    with pytest.raises(Interrupt):
        train(name="resumed", callbacks=_interrupt_after(1), **RESUME_KW)
    last = tmp_path / "runs" / "resumed" / "weights" / "last.pt"
    resumed = Run()
    model = YOLO(str(last))
    attach_recorder(model, resumed)
    model.train(resume=True)

    metric = "metrics/mAP50-95(B)"
    full_values = [r[metric] for r in read_csv(full.save_dir / "results.csv")]
    assert [r[metric] for r in read_csv(resumed.save_dir / "results.csv")] == full_values  # same metric inputs
    assert full.trainer.yolo_lr.plateau.reductions, "no plateau reduction happened"
    tail = [s for s in full.steps if s.epoch >= 2]
    assert [s.ni for s in resumed.steps] == [s.ni for s in tail]
    for a, b in zip(resumed.steps, tail, strict=True):
        assert a.lr.keys() == b.lr.keys()
        for g in a.lr:
            assert a.lr[g] == pytest.approx(b.lr[g], rel=1e-12), (a.ni, g)
    full_rows, resumed_rows = read_csv(full.save_dir / "lr.csv"), read_csv(resumed.save_dir / "lr.csv")
    assert len(resumed_rows) == len(full_rows) == 4 * full.nb
    for a, b in zip(full_rows, resumed_rows):
        assert {k: float(v) for k, v in a.items()} == pytest.approx({k: float(v) for k, v in b.items()}, rel=1e-12)


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
    state = {"raised": False}

    def on_train_start(trainer):
        inner = trainer.model.forward

        def forward(*args, **kwargs):
            if not state["raised"]:
                state["raised"] = True
                raise RuntimeError("CUDA out of memory (simulated by the test)")
            return inner(*args, **kwargs)

        trainer.model.forward = forward

    run = train(
        epochs=2,
        batch=2,
        nbs=1,
        optimizer="SGD",
        lr0=LR0,
        lrf=LRF,
        warmup_epochs=0,
        lr_policy="cosine",
        callbacks={"on_train_start": on_train_start},
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
