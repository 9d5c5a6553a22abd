"""Fast tests of the integration layer's helpers, written against the mutants that survived the integration mutation
run (scripts/mutation_integration.sh, BENCHMARKS.md): what a plateau metric error says, what lr.png draws, how lr.csv
is kept on resume and what the stepper records. No training: fake trainers and optimizers, real files."""

from __future__ import annotations

import types

import pytest

from yolo_lr.config import LRConfigError, resolve


# ------------------------------------------------------------------------------------------------ plateau_watch
def fake_trainer(metrics: dict, groups: int = 3) -> types.SimpleNamespace:
    """What PlateauWatch.check_metric reads of a detect trainer whose validator has named its metrics."""
    optimizer = types.SimpleNamespace(param_groups=[{} for _ in range(groups)])
    return types.SimpleNamespace(args=types.SimpleNamespace(task="detect"), metrics=metrics, optimizer=optimizer)


DETECT = {"metrics/precision(B)": 0.1, "metrics/recall(B)": 0.2, "metrics/mAP50(B)": 0.3, "metrics/mAP50-95(B)": 0.2}


def watch(metric: str, **kw):
    from yolo_lr.plateau_watch import PlateauWatch

    cfg = {"lr_plateau": True, "lr_plateau_metric": metric, "lr_plateau_mode": "max", **kw}
    return PlateauWatch(resolve(cfg).plateau)


def test_a_misspelt_plateau_metric_names_the_closest_one_and_every_choice():
    with pytest.raises(LRConfigError) as e:
        watch("metrics/mAP50-95").check_metric(fake_trainer(DETECT))
    assert e.value.key == "lr_plateau_metric"
    assert str(e.value) == (
        "yolo_lr: lr_plateau_metric='metrics/mAP50-95' is not produced by this task. Did you mean "
        "'metrics/mAP50-95(B)'? Available: fitness, metrics/precision(B), metrics/recall(B), metrics/mAP50(B), "
        "metrics/mAP50-95(B), lr/pg0, lr/pg1, lr/pg2."
    )


def test_a_plateau_metric_like_nothing_gets_no_guess():
    with pytest.raises(LRConfigError) as e:
        watch("zzz").check_metric(fake_trainer(DETECT, groups=1))
    assert str(e.value) == (
        "yolo_lr: lr_plateau_metric='zzz' is not produced by this task. Available: fitness, metrics/precision(B), "
        "metrics/recall(B), metrics/mAP50(B), metrics/mAP50-95(B), lr/pg0."
    )


def test_a_produced_plateau_metric_passes():
    for metric in ("metrics/mAP50(B)", "lr/pg2", "fitness", "train/box_loss"):
        watch(metric).check_metric(fake_trainer(DETECT))


# ------------------------------------------------------------------------------------------------ lr.png
HEADER = ["epoch", "iteration", "step", "lr/pg0(weight)", "lr/pg1(bn)", "lr/pg2(bias)", "momentum"]


def draw(tmp_path, monkeypatch, rows, reductions=None, note=None):
    """Draw lr.png from these lr.csv rows with plot_lr_csv; return the axes it saved."""
    import csv

    from matplotlib.figure import Figure

    from yolo_lr.lr_log import plot_lr_csv

    saved = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (saved.append(fig), save(fig, *a, **k))[1])
    run = tmp_path / "run7"
    run.mkdir()
    with open(run / "lr.csv", "w", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    png = plot_lr_csv(run / "lr.csv", run / "lr.png", reductions, note=note)
    assert png == run / "lr.png" and png.stat().st_size > 0
    (fig,) = saved
    (ax,) = fig.axes
    return ax


def two_steps_per_epoch(epochs: int) -> list[list]:
    """4 batches per epoch, accumulate 2: steps at iterations 1 and 3 of each epoch (iteration != step number); the
    bias group warms up from 0.1, far above the others."""
    rows = []
    for e in range(epochs):
        for k, ni in enumerate((4 * e + 1, 4 * e + 3)):
            lr = 0.01 / (1 + 2 * e + k)
            rows.append([e, ni, 2 * e + k + 1, lr, lr, 0.1 if e == 0 else lr, 0.9])
    return rows


def test_lr_png_draws_each_curve_once_at_its_iterations_with_epochs_plateaus_and_note(tmp_path, monkeypatch):
    from matplotlib.colors import to_rgba

    RED = to_rgba("tab:red")  # noqa: N806
    ax = draw(tmp_path, monkeypatch, two_steps_per_epoch(3), reductions=[0], note="lr0=0.01 found by lr_find")
    curves = [ln for ln in ax.lines if not ln.get_label().startswith("_")]
    assert [ln.get_label() for ln in curves] == ["lr/pg0(weight), lr/pg1(bn)", "lr/pg2(bias)"]
    for ln in curves:
        assert list(ln.get_xdata()) == [1, 3, 5, 7, 9, 11]  # the iteration column, not the step
        assert (ln.get_marker(), ln.get_markersize(), ln.get_linewidth()) == ("o", 3, 1.2)
    assert list(curves[0].get_ydata()) == [0.01 / n for n in range(1, 7)]
    grey = [ln.get_xdata()[0] for ln in ax.lines if ln.get_color() == "0.85"]
    assert grey == [5, 9]  # epochs 1 and 2 start there; epoch 0 gets no line
    red = [ln for ln in ax.lines if to_rgba(ln.get_color()) == RED]
    assert [(ln.get_xdata()[0], ln.get_linestyle(), ln.get_linewidth()) for ln in red] == [(5, "--", 1.0)]
    # the bias warmup (0.1) would flatten the rest: the axis is clipped to 1.25x the others' peak, and says so
    assert ax.get_ylim() == pytest.approx((0, 1.25 * 0.01))
    texts = {t.get_text(): t for t in ax.texts}
    assert "bias warmup from 0.1 clipped" in texts
    plateau = texts["plateau"]
    assert plateau.xy == pytest.approx((5, 1.25 * 0.01)) and to_rgba(plateau.get_color()) == RED
    note = texts["lr0=0.01 found by lr_find"]
    assert (note.get_horizontalalignment(), to_rgba(note.get_color()), note.get_fontsize()) == ("right", RED, 8)
    assert ax.get_title() == "yolo_lr: LR per optimizer step (run7)\nlr0=0.01 found by lr_find"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("iteration (batch); grey lines = epoch starts", "learning rate")


def test_lr_png_of_one_step_shows_its_point_on_a_visible_scale(tmp_path, monkeypatch):
    ax = draw(tmp_path, monkeypatch, [[0, 6, 1, 0.02, 0.02, 0.02, 0.9]])
    (curve,) = [ln for ln in ax.lines if not ln.get_label().startswith("_")]
    assert curve.get_marker() == "o" and list(curve.get_xdata()) == [6]
    assert ax.get_ylim() == pytest.approx((0, 1.25 * 0.02)) and ax.get_xlim() == pytest.approx((5, 7))
    assert ax.get_title() == "yolo_lr: LR per optimizer step (run7)"


def test_lr_png_of_a_long_run_has_no_markers_and_no_clipping(tmp_path, monkeypatch):
    rows = [[ni // 8, ni, ni + 1, 0.01 * (1 - ni / 40), 0.01 * (1 - ni / 40), 0.01, 0.9] for ni in range(31)]
    ax = draw(tmp_path, monkeypatch, rows)
    curves = [ln for ln in ax.lines if not ln.get_label().startswith("_")]
    assert [ln.get_marker() for ln in curves] == ["None", "None"]
    assert [t.get_text() for t in ax.texts] == []
    assert ax.get_ylim()[1] > 0.01  # autoscaled around the curves, not clipped


def test_lr_png_without_steps_says_so(tmp_path, monkeypatch):
    ax = draw(tmp_path, monkeypatch, [])
    (text,) = ax.texts
    assert text.get_text() == "no optimizer step was taken" and text.get_horizontalalignment() == "center"


# ------------------------------------------------------------------------------------------------ lr.csv
def test_lr_csv_on_resume_keeps_the_whole_rows_of_the_checkpointed_epochs(tmp_path):
    from yolo_lr.lr_log import LRLog

    header = ["epoch", "iteration", "step", "lr/pg0(weight)", "momentum"]
    (tmp_path / "lr.csv").write_text(
        "epoch,iteration,step,lr/pg0(weight),momentum\n"
        "0,0,1,0.01,0.9\n"
        "0,1,2,0.009,0.9\n"
        "1,2,3,0.008\n"  # torn by a crash: a column short
        "1,3,4,0.007,0.9\n"
        "1,4,5,oops,0.9\n"  # garbled
        "2,5,6,0.006,0.9\n"  # an epoch the checkpoint does not hold
        "0,6,7\n"
    )
    log = LRLog(tmp_path, header)
    log.start(1)
    assert (tmp_path / "lr.csv").read_text().splitlines() == [
        "epoch,iteration,step,lr/pg0(weight),momentum",
        "0,0,1,0.01,0.9",
        "0,1,2,0.009,0.9",
        "1,3,4,0.007,0.9",
    ]
    log.append([(2, 5, 5, 0.005, 0.9)])
    assert (tmp_path / "lr.csv").read_text().splitlines()[-1] == "2,5,5,0.005,0.9"
    log.start(0)
    assert len((tmp_path / "lr.csv").read_text().splitlines()) == 3


def test_lr_csv_of_another_layout_or_a_new_run_starts_over(tmp_path):
    from yolo_lr.lr_log import LRLog

    path = tmp_path / "lr.csv"
    path.write_text("epoch,iteration,step,lr/pg0(weight),lr/pg1(bias),momentum\n0,0,1,0.01,0.1,0.9\n")
    LRLog(tmp_path, ["epoch", "iteration", "step", "lr/pg0(weight)", "momentum"]).start(3)
    assert path.read_bytes() == b"epoch,iteration,step,lr/pg0(weight),momentum\r\n"
    log = LRLog(tmp_path, ["epoch", "iteration", "step", "lr/pg0(weight)", "momentum"])
    log.start(None)
    assert not path.exists()
    log.append([])
    assert not path.exists()  # no row, no file
    log.append([(0, 0, 1, 0.01, 0.9)])
    log.append([(0, 1, 2, 0.02, 0.9)])
    assert path.read_bytes() == b"epoch,iteration,step,lr/pg0(weight),momentum\r\n0,0,1,0.01,0.9\r\n0,1,2,0.02,0.9\r\n"


# ------------------------------------------------------------------------------------------------ find_in_training
def test_lr_find_refuses_several_devices_on_rank_0_too():
    """Rank 0 of a DDP run passes the rank test; the world size alone must stop the range test (the config check
    refuses it earlier in a normal run: this is the guard behind it)."""
    import ultralytics.utils  # noqa: F401  (the plugin reads its RANK)

    from yolo_lr.find_in_training import run

    trainer = types.SimpleNamespace(start_epoch=0, world_size=2, args=types.SimpleNamespace(device="0,1", lr0=0.01))
    with pytest.raises(LRConfigError, match=r"^yolo_lr: lr_find runs on one device; got device='0,1'$") as e:
        run(trainer, resolve({"lr_find": True}))
    assert e.value.key == "lr_find"


def test_plateau_state_reaches_every_rank_in_ddp(tmp_path, monkeypatch):
    """PlateauWatch.sync broadcasts rank 0's state (a one-process gloo group stands in for DDP) and stores it where
    the checkpoint carries it."""
    import torch.distributed as dist
    import ultralytics.utils

    from yolo_lr import ultralytics_compat as compat

    monkeypatch.setattr(ultralytics.utils, "RANK", 0)
    plateau = watch("fitness", lr_plateau_patience=1)
    for epoch, value in enumerate((0.5, 0.4, 0.4)):  # no better than 0.5 twice: one reduction, after epoch 2
        plateau.decide(epoch, value, types.SimpleNamespace(param_groups=[{}]))
    before = plateau.state()
    assert before["reductions"] == [2] and plateau.factor == pytest.approx(0.1)
    optimizer = types.SimpleNamespace(param_groups=[{}])
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        plateau.sync(types.SimpleNamespace(world_size=2, optimizer=optimizer))
    finally:
        dist.destroy_process_group()
    assert plateau.state() == before and compat.load_state(optimizer) == before
    assert plateau.factor == pytest.approx(0.1)


# ------------------------------------------------------------------------------------------------ backbone
def test_backbone_rules_without_a_backbone_section_ask_for_lr_backbone_layers():
    from yolo_lr.backbone import backbone_layer_count

    finetune = resolve({"lr_backbone_scale": 0.5, "lr_unfreeze_epoch": 2, "epochs": 5}).finetune
    with pytest.raises(LRConfigError) as e:
        backbone_layer_count(types.SimpleNamespace(yaml={"head": [[-1, 1, "Conv", [16]]]}), finetune)
    assert e.value.key == "lr_backbone_layers"
    assert str(e.value) == (
        "yolo_lr: lr_backbone_scale/lr_unfreeze_epoch need the backbone's layers, and this model's YAML has no "
        "'backbone' section: set lr_backbone_layers=N"
    )
    assert backbone_layer_count(types.SimpleNamespace(yaml={"backbone": [1, 2, 3]}), finetune) == 3


def test_a_frozen_backbone_names_the_first_backbone_key():
    import torch

    from yolo_lr.backbone import check_backbone

    frozen = torch.nn.Parameter(torch.zeros(2), requires_grad=False)
    finetune = resolve({"lr_backbone_scale": 0.5, "lr_unfreeze_epoch": 2, "epochs": 5}).finetune
    with pytest.raises(LRConfigError, match=r"all 1 of its tensors are frozen already") as e:
        check_backbone({0: [frozen], 3: [torch.nn.Parameter(torch.zeros(2))]}, 2, finetune)
    assert e.value.key == "lr_backbone_scale"
    assert "lr_backbone_scale/lr_unfreeze_epoch is set" in str(e.value) and "model.0-model.1 " in str(e.value)
    with pytest.raises(LRConfigError, match=r"no parameter is named model\.N\.\* with N < 2") as e:
        check_backbone({}, 2, resolve({"lr_unfreeze_epoch": 2, "epochs": 5}).finetune)
    assert e.value.key == "lr_unfreeze_epoch"


# ------------------------------------------------------------------------------------------------ stepper
def fake_optimizer(peaks: list[float], adam: bool = False) -> types.SimpleNamespace:
    groups = []
    for name, peak in zip(("weight", "bn", "bias"), peaks):
        g = {"param_group": name, "initial_lr": peak, "lr": 0.0, "params": []}
        g.update({"betas": (0.9, 0.999)} if adam else {"momentum": 0.9})
        groups.append(g)
    return types.SimpleNamespace(param_groups=groups)


def test_the_step_hook_writes_each_steps_lrs_and_records_the_steps_taken():
    """Linear decay without warmup (closed form below), batch factor 2, 4 batches per epoch, a step every 2nd batch."""
    from yolo_lr.stepper import StepLR

    stepper = StepLR(resolve({"lr_policy": "linear", "lrf": 0.1, "warmup_epochs": 0}), 0.1, 0.937)
    opt = fake_optimizer([0.01, 0.01, 0.02])
    assert stepper.last_lrs() is None and stepper.rows() == []

    def lr(peak, epoch, i):  # from peak (t=0) to peak*lrf at the run's last step (t = 2 - 1/4)
        t = epoch + i / 4
        return 2.0 * peak * ((1 - t / 1.75) * 0.9 + 0.1)

    stepper.begin_epoch(opt, epoch=1, nb=4, nw=0, epochs=2, plateau_factor=1.0, steps_before=3, batch_factor=2.0)
    for i in range(4):
        stepper.count_batch(i)
        if i % 2:
            stepper.hook(opt, (), {})
            assert [g["lr"] for g in opt.param_groups] == pytest.approx([lr(p, 1, i) for p in (0.01, 0.01, 0.02)])
            assert [g["momentum"] for g in opt.param_groups] == [0.9] * 3  # linear leaves momentum alone
    assert stepper.taken == [(1, 0.9), (3, 0.9)]
    rows = stepper.rows()
    assert [r[:3] for r in rows] == [(1, 5, 4), (1, 7, 5)] and [r[-1] for r in rows] == [0.9, 0.9]
    assert rows[1][3:6] == pytest.approx((lr(0.01, 1, 3), lr(0.01, 1, 3), lr(0.02, 1, 3)))
    last = stepper.last_lrs()
    assert last == pytest.approx([lr(p, 1, 3) for p in (0.01, 0.01, 0.02)])
    stepper.paused = True  # a caller's own steps: its LRs stay, nothing is recorded
    for g in opt.param_groups:
        g["lr"] = 0.5
    stepper.hook(opt, (), {})
    assert [g["lr"] for g in opt.param_groups] == [0.5] * 3 and len(stepper.taken) == 2
    stepper.begin_epoch(opt, epoch=1, nb=4, nw=0, epochs=2, plateau_factor=1.0, steps_before=5)
    assert stepper.taken == [] and stepper.last_lrs() == last  # an epoch without a step reports the last one


@pytest.mark.parametrize("adam", [False, True])
def test_the_step_hook_cycles_momentum_or_adams_beta1_with_onecycle(adam):
    from yolo_lr.stepper import StepLR

    stepper = StepLR(resolve({"lr_policy": "onecycle", "warmup_epochs": 0}), 0.1, 0.95)
    opt = fake_optimizer([0.01, 0.01, 0.01], adam=adam)
    calls = []
    stepper.on_first_step = lambda: calls.append(len(stepper.taken))
    stepper.begin_epoch(opt, epoch=0, nb=4, nw=0, epochs=2, plateau_factor=1.0, steps_before=0)
    moms = []
    for i in range(4):
        stepper.count_batch(i)
        stepper.hook(opt, (), {})
        if adam:
            assert len({g["betas"] for g in opt.param_groups}) == 1 and opt.param_groups[0]["betas"][1] == 0.999
            moms.append(opt.param_groups[0]["betas"][0])
        else:
            assert len({g["momentum"] for g in opt.param_groups}) == 1
            moms.append(opt.param_groups[0]["momentum"])
    assert calls == [1] and stepper.on_first_step is None  # called once, at the first step, then dropped
    assert moms[0] == 0.95 and all(0.85 <= m < 0.95 for m in moms[1:]) and len(set(moms)) == 4
    assert stepper.taken == list(enumerate(moms))


# ------------------------------------------------------------------------------------------------ adapter
def test_lr_csv_columns_name_each_group_its_part_and_an_unexpected_scale():
    from yolo_lr.adapter import _csv_header
    from yolo_lr.backbone import BACKBONE, LR_SCALE

    groups = [
        {"param_group": "weight"},
        {"param_group": "bn", BACKBONE: True, LR_SCALE: 0.5},  # the backbone at lr_backbone_scale: no tag
        {"param_group": "weight", BACKBONE: True, LR_SCALE: 0.125},  # a per-layer rule on top
        {"param_group": "bias", LR_SCALE: 0.25},
        {},  # a group an optimizer of one's own made, without a name
    ]
    assert _csv_header(types.SimpleNamespace(param_groups=groups), 0.5) == [
        "epoch",
        "iteration",
        "step",
        "lr/pg0(weight)",
        "lr/pg1(bn/backbone)",
        "lr/pg2(weight/backbone x0.125)",
        "lr/pg3(bias x0.25)",
        "lr/pg4(4)",
        "momentum",
    ]


def few_steps(nb, epochs, batch, nbs, nw, images, start_epoch=0):
    from yolo_lr.adapter import _few_steps

    trainer = types.SimpleNamespace(
        accumulate=max(round(nbs / batch), 1),
        epochs=epochs,
        start_epoch=start_epoch,
        batch_size=batch,
        args=types.SimpleNamespace(nbs=nbs),
        train_loader=types.SimpleNamespace(dataset=[None] * images),
        _get_warmup_iterations=lambda n: nw,
    )
    return _few_steps(trainer, nb)


def test_few_optimizer_steps_are_said_with_their_numbers_and_fixes():
    assert few_steps(4, 2, batch=4, nbs=16, nw=0, images=16) == (
        "yolo_lr: this run takes only 2 optimizer steps in 2 epochs (1 per epoch): 16 images, batch=4, 4 batches per "
        "epoch, accumulate=4 (nbs=16 / batch), so the per-step schedule has only those points. For more: nbs=4 (one "
        "step per batch: 8 steps)."
    )
    assert few_steps(1, 1, batch=2, nbs=2, nw=2, images=2) == (
        "yolo_lr: this run takes only 1 optimizer step in 1 epoch (1 per epoch), 1 of them in warmup: 2 images, "
        "batch=2, 1 batches per epoch, accumulate=1 (nbs=2 / batch), so the per-step schedule has only those points. "
        "For more: a smaller batch (more batches per epoch); warmup_epochs=0, or a warmup of more steps."
    )
    assert few_steps(8, 2, batch=1, nbs=1, nw=0, images=8) is None
    assert few_steps(8, 3, batch=1, nbs=1, nw=4, images=8) is None  # 5 warmup steps
    many_but_warm = few_steps(8, 3, batch=1, nbs=1, nw=1, images=8)  # 24 steps, 2 of them in warmup
    assert many_but_warm.endswith("For more: warmup_epochs=0, or a warmup of more steps.")


@pytest.mark.parametrize("find", [False, True])
def test_lr_png_carries_the_lr_find_note_only_for_a_run_that_found_its_lr0(tmp_path, monkeypatch, find):
    from matplotlib.figure import Figure

    from yolo_lr.adapter import LRController
    from yolo_lr.lr_log import LRLog

    titles = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: (titles.append(fig.axes[0].get_title()), save(fig, *a, **k))[1]
    )
    ctl = LRController(resolve({"lr_policy": "linear", **({"lr_find": True} if find else {})}))
    ctl.log = LRLog(tmp_path, HEADER)
    ctl.log.append(two_steps_per_epoch(1))
    plotted = []
    ctl.finish(types.SimpleNamespace(args=types.SimpleNamespace(plots=True, lr0=0.0123), on_plot=plotted.append))
    note = "\nlr0=0.0123 found by lr_find" if find else ""
    assert titles == [f"yolo_lr: LR per optimizer step ({tmp_path.name}){note}"]
    assert plotted == [tmp_path / "lr.png"]


# ------------------------------------------------------------------------------------------------ loggers
def test_a_tracker_that_raises_is_given_up_once_with_its_name(monkeypatch, ultralytics_log):
    from yolo_lr.loggers import TRACKERS, _each_live

    def broken(trainer):
        raise RuntimeError("no connection")

    for key, (_, write) in list(TRACKERS.items()):
        monkeypatch.setitem(TRACKERS, key, (broken if key == "wandb" else (lambda trainer: None), write))
    trainer = types.SimpleNamespace()
    for _ in range(3):  # three epochs
        assert list(_each_live(trainer)) == []
    warned = [m for m in ultralytics_log if "per-step LR logging" in m]
    assert len(warned) == 1 and warned[0].endswith(
        "yolo_lr: per-step LR logging to wandb failed and is off for this run: no connection"
    )


def test_a_plugin_callback_that_is_itself_wrapped_is_added_once(monkeypatch):
    """hook_trainer compares callbacks unwrapped on both sides: the plugin's own callbacks wrapped (a profiler, the
    mutation tool's trampolines) are found in a callbacks dict that holds them, and one wrapped by someone else counts
    as present; nothing is added twice however often the hook runs."""
    import functools
    import inspect
    from types import SimpleNamespace

    from yolo_lr import registration

    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            return fn(*a, **k)

        return wrapper

    own = [(event, wrap(fn)) for event, fn in registration.plugin_callbacks()]
    monkeypatch.setattr(registration, "plugin_callbacks", lambda: own)
    first_event, first_fn = own[0]
    trainer = SimpleNamespace(args=SimpleNamespace(lr_policy="cosine"), callbacks={first_event: [wrap(first_fn)]})
    for _ in range(2):
        registration.hook_trainer(trainer)
    for event, fn in own:
        mine = [f for f in trainer.callbacks[event] if getattr(f, "__wrapped__", None) is not None]
        assert sum(inspect.unwrap(f) is inspect.unwrap(fn) for f in mine) == 1, event
