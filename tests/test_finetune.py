"""Fine-tuning and per-layer LR rules in real training: backbone frozen (requires_grad=False, not merely LR 0) then
unfrozen (BatchNorm statistics too, if asked), resume during the frozen phase, per-layer scales and layer-wise decay
through one lr_scale mechanism, distillation, warnings and errors."""

from __future__ import annotations

import pytest
from conftest import COCO8, FAST, MODEL, Interrupt, interrupt_after, read_csv, resume

pytestmark = pytest.mark.training

FT = {
    "optimizer": "SGD",
    "lr0": 0.001,
    "lrf": 0.1,
    "warmup_epochs": 0,
    "warmup_bias_lr": 0.0,
    "lr_policy": "cosine",
    "lr_backbone_scale": 0.1,
}


def _backbone_tracker(snapshots: list):
    """Callbacks that snapshot backbone and head weights at the start and end of every epoch."""
    import torch

    def grab(trainer):
        n = len(trainer.model.yaml["backbone"])
        bb, head = {}, {}
        for name, p in trainer.model.named_parameters():
            layer = int(name.split(".")[1])
            (bb if layer < n else head)[name] = p.detach().clone()
        return bb, head

    def start(trainer):
        snapshots.append(("start", trainer.epoch, *grab(trainer)))

    def end(trainer):
        snapshots.append(("end", trainer.epoch, *grab(trainer)))

    def changed(a: dict, b: dict) -> bool:
        return any(not torch.equal(a[k], b[k]) for k in a)

    return {"on_train_epoch_start": start, "on_train_epoch_end": end}, changed


def _split(trainer):
    """Backbone and head parameters of the training model, by name (the YAML's backbone section = leading layers)."""
    n = len(trainer.model.yaml["backbone"])
    bb, head = {}, {}
    for name, p in trainer.model.named_parameters():
        (bb if int(name.split(".")[1]) < n else head)[name] = p
    return bb, head


@pytest.mark.compat
def test_frozen_backbone_is_frozen_not_just_lr_zero(train, pretrained, monkeypatch):
    """Epoch 0 (before lr_unfreeze_epoch=1): backbone parameters have requires_grad=False, get no gradient, are left
    out of Ultralytics' gradient-clipping norm, keep bit-identical weights and get no optimizer state. An LR of 0 alone
    would give them gradients, a share of the clipping norm and momentum buffers. Epoch 1: all of that flips, and the
    backbone LR is lr_backbone_scale x the head's at every step."""
    import torch

    probes, states, trainer_box = [], {}, {}
    clip_grad_norm = torch.nn.utils.clip_grad_norm_

    def clip(parameters, *args, **kwargs):  # what Ultralytics' optimizer_step calls before every step
        trainer = trainer_box["t"]
        bb, head = _split(trainer)
        norm2 = [float(torch.linalg.vector_norm(p.grad)) ** 2 for p in head.values() if p.grad is not None]
        total = clip_grad_norm(parameters, *args, **kwargs)
        probes.append(
            {
                "epoch": trainer.epoch,
                "requires_grad": {p.requires_grad for p in bb.values()},
                "backbone_grads": sum(p.grad is not None for p in bb.values()),
                "norm": float(total),
                "head_norm": sum(norm2) ** 0.5,
            }
        )
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    snaps: list = []
    callbacks, changed = _backbone_tracker(snaps)

    def on_train_epoch_end(trainer):
        callbacks["on_train_epoch_end"](trainer)
        bb, _ = _split(trainer)
        states[trainer.epoch] = sum(bool(trainer.optimizer.state.get(p)) for p in bb.values())

    hooks = {**callbacks, "on_train_start": lambda t: trainer_box.update(t=t), "on_train_epoch_end": on_train_epoch_end}
    run = train(model=pretrained, epochs=2, lr_unfreeze_epoch=1, callbacks=hooks, **FT)
    n_bb = len(_split(run.trainer)[0])
    assert len(probes) == len(run.steps) == 8 and n_bb > 50
    for pr in probes:
        if pr["epoch"] == 0:
            assert pr["requires_grad"] == {False}, "backbone not frozen (requires_grad) in epoch 0"
            assert pr["backbone_grads"] == 0, f"{pr['backbone_grads']} backbone tensors got a gradient while frozen"
            assert pr["norm"] == pytest.approx(pr["head_norm"], rel=1e-5)  # the clipping norm is the head's alone
        else:
            assert pr["requires_grad"] == {True} and pr["backbone_grads"] == n_bb
            assert pr["norm"] > pr["head_norm"] * (1 + 1e-6)  # the backbone's gradients now count
    assert states == {0: 0, 1: n_bb}, "optimizer state (momentum buffers) for backbone tensors while frozen"
    groups = run.trainer.optimizer.param_groups  # weight, bn, bias: each split into head and backbone
    assert len(groups) == 6 and [bool(g.get("yolo_lr_backbone")) for g in groups] == [False] * 3 + [True] * 3
    assert [g["lr_scale"] for g in groups] == [1.0] * 3 + [0.1] * 3  # lr_backbone_scale is a per-group lr_scale
    by_epoch = {(kind, e): (bb, head) for kind, e, bb, head in snaps}
    for e in range(2):
        (bb0, head0), (bb1, head1) = by_epoch[("start", e)], by_epoch[("end", e)]
        assert changed(head0, head1), f"head did not train in epoch {e}"
        assert changed(bb0, bb1) == (e >= 1), f"backbone frozen state wrong in epoch {e}"
    for s in run.steps:
        for name in ("weight", "bn", "bias"):
            head, backbone = s.lr[name]
            assert backbone == (0.0 if s.epoch < 1 else pytest.approx(0.1 * head, rel=1e-12))
    header = list(read_csv(run.save_dir / "lr.csv")[0])
    assert "lr/pg3(weight/backbone)" in header and "lr/pg5(bias/backbone)" in header


def test_unfreeze_ramp(train, pretrained):
    run = train(model=pretrained, epochs=3, lr_unfreeze_epoch=1, lr_unfreeze_warmup=1.0, **FT)
    nb = run.nb
    for s in run.steps:
        head, backbone = s.lr["weight"]
        t = s.epoch + (s.ni - nb * s.epoch) / nb
        want = 0.0 if s.epoch < 1 else 0.1 * min(1.0, t - 1.0)
        assert backbone == pytest.approx(want * head, rel=1e-12, abs=1e-18)


@pytest.mark.compat
def test_finetune_resume_keeps_the_freeze(train, pretrained, tmp_path):
    """Interrupted during the frozen phase and resumed: split groups load from the checkpoint, backbone still frozen."""
    with pytest.raises(Interrupt):
        train(model=pretrained, epochs=3, lr_unfreeze_epoch=2, callbacks=interrupt_after(0), name="ft", **FT)
    snaps: list = []
    callbacks, changed = _backbone_tracker(snaps)
    resumed = resume(tmp_path / "runs" / "ft" / "weights" / "last.pt", callbacks=callbacks)
    by_epoch = {(kind, e): bb for kind, e, bb, _ in snaps}
    assert not changed(by_epoch[("start", 1)], by_epoch[("end", 1)])
    assert changed(by_epoch[("start", 2)], by_epoch[("end", 2)])
    assert [s.lr["weight"][1] == 0.0 for s in resumed.steps] == [s.epoch < 2 for s in resumed.steps]


def test_finetune_from_yaml_warns(train, ultralytics_log):
    train(epochs=2, **FT)
    assert any("no pretrained weights" in m for m in ultralytics_log)


# ------------------------------------------------------------------------------------------------ per-layer LR rules
def _layer_of(model, param) -> int | None:
    for name, p in model.named_parameters():
        if p is param:
            parts = name.split(".")
            return int(parts[1]) if parts[0] == "model" and parts[1].isdigit() else None
    raise AssertionError("parameter not in the model")


def _expected_scale(layer: int, backbone: int, last: int) -> float:
    """lr_backbone_scale=0.5 (backbone layers) x lr_layer_decay=0.8 ** (last - layer) x lr_layer_scales {22: 10}."""
    return (0.5 if layer < backbone else 1.0) * 0.8 ** (last - layer) * (10.0 if layer == 22 else 1.0)


LAYERS = dict(
    optimizer="SGD",
    lr0=0.01,
    warmup_epochs=0,
    lr_policy="constant",
    lr_layer_scales={22: 10.0},
    lr_layer_decay=0.8,
    lr_backbone_scale=0.5,
)


def test_layer_scales_decay_and_backbone_scale_are_one_mechanism(train, pretrained, tmp_path):
    """Every parameter sits in a group whose lr_scale is its layer's scale, and the optimizer used lr0 x that scale
    at every step; interrupted and resumed, the groups and LRs come back the same."""
    with pytest.raises(Interrupt):
        train(model=pretrained, epochs=2, callbacks=interrupt_after(0), name="layers", **LAYERS)
    resumed = resume(tmp_path / "runs" / "layers" / "weights" / "last.pt")

    trainer = resumed.trainer
    net = trainer.model
    backbone, last = len(net.yaml["backbone"]), len(net.model) - 1
    groups = trainer.optimizer.param_groups
    scales = set()
    for g in groups:
        layers = {_layer_of(net, p) for p in g["params"]}
        want = {1.0 if layer is None else _expected_scale(layer, backbone, last) for layer in layers}
        assert len(want) == 1 and g["lr_scale"] == pytest.approx(want.pop(), rel=1e-12), layers
        assert bool(g.get("yolo_lr_backbone")) == (max(layers - {None}, default=last) < backbone)
        scales.add(g["lr_scale"])
    assert len(groups) > 20 and any(s == pytest.approx(10.0 * 0.8) for s in scales)  # layer 22: x10, one decay step
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    # resume rebuilt the same split and loaded it: epoch 1's LRs are lr0 x each group's scale
    assert resumed.steps and all(s.epoch == 1 for s in resumed.steps)
    for s in resumed.steps:
        for name in ("weight", "bn", "bias"):
            want = [0.01 * g["lr_scale"] for g in groups if g["param_group"] == name]
            assert s.lr[name] == pytest.approx(want, rel=1e-12), name
    header = list(read_csv(resumed.save_dir / "lr.csv")[0])
    assert len(header) == 3 + len(groups) + 1 and any(h.endswith("(weight x8)") for h in header)


def _bn_tracker(snapshots: list):
    """Snapshot the BatchNorm running statistics of backbone and head at each epoch's start and end, and whether any
    backbone BatchNorm was in train mode during the epoch's batches."""
    import torch

    def grab(trainer):
        n = len(trainer.model.yaml["backbone"])
        bb, head = {}, {}
        for name, m in trainer.model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                (bb if int(name.split(".")[1]) < n else head)[name] = (m.running_mean.clone(), m.running_var.clone())
        return bb, head

    def backbone_bn_training(trainer):
        n = len(trainer.model.yaml["backbone"])
        return any(
            m.training
            for name, m in trainer.model.named_modules()
            if isinstance(m, torch.nn.BatchNorm2d) and int(name.split(".")[1]) < n
        )

    def start(trainer):
        snapshots.append(("start", trainer.epoch, *grab(trainer), None))

    def batch(trainer):
        snapshots.append(("batch", trainer.epoch, None, None, backbone_bn_training(trainer)))

    def end(trainer):
        snapshots.append(("end", trainer.epoch, *grab(trainer), None))

    def changed(a: dict, b: dict) -> bool:
        return any(not (torch.equal(a[k][0], b[k][0]) and torch.equal(a[k][1], b[k][1])) for k in a)

    return {"on_train_epoch_start": start, "on_train_batch_start": batch, "on_train_epoch_end": end}, changed


@pytest.mark.parametrize("freeze_bn", [True, False])
def test_freeze_bn_keeps_backbone_statistics_while_frozen(train, pretrained, freeze_bn):
    snaps: list = []
    callbacks, changed = _bn_tracker(snaps)
    train(model=pretrained, epochs=2, lr_unfreeze_epoch=1, lr_freeze_bn=freeze_bn, callbacks=callbacks, **FT)
    by = {(kind, e): (bb, head) for kind, e, bb, head, _ in snaps if kind != "batch"}
    training = {e: {t for kind, ep, _, _, t in snaps if kind == "batch" and ep == e} for e in (0, 1)}
    (bb0, head0), (bb1, head1) = by[("start", 0)], by[("end", 0)]
    assert changed(head0, head1)  # the head's BatchNorm always learns statistics
    assert changed(bb0, bb1) != freeze_bn  # frozen backbone: statistics frozen too only with lr_freeze_bn
    assert training[0] == {not freeze_bn}
    assert changed(*[by[(kind, 1)][0] for kind in ("start", "end")]) and training[1] == {True}  # unfrozen


def test_distillation_backbone_rules_apply_to_the_student_only(train, pretrained):
    """distill_model=: the teacher's and projector's parameters stay in the head groups; the student's backbone is
    frozen, then trained at 0.1x."""
    snaps: list = []

    def grab(trainer):
        student = trainer.model.student_model
        n = len(student.yaml["backbone"])
        return {k: p.detach().clone() for k, p in student.named_parameters() if int(k.split(".")[1]) < n}

    callbacks = {
        "on_train_epoch_start": lambda t: snaps.append(("start", t.epoch, grab(t))),
        "on_train_epoch_end": lambda t: snaps.append(("end", t.epoch, grab(t))),
    }
    run = train(model=pretrained, distill_model=pretrained, epochs=2, lr_unfreeze_epoch=1, callbacks=callbacks, **FT)
    import torch

    dm = run.trainer.model
    student = dm.student_model
    n = len(student.yaml["backbone"])
    student_backbone = {id(p) for k, p in student.named_parameters() if int(k.split(".")[1]) < n}
    groups = run.trainer.optimizer.param_groups
    in_backbone_groups = {id(p) for g in groups if g.get("yolo_lr_backbone") for p in g["params"]}
    assert in_backbone_groups == student_backbone
    others = {id(p) for p in (*dm.teacher_model.parameters(), *dm.projector.parameters())}
    assert others and not others & in_backbone_groups
    by = {(kind, e): v for kind, e, v in snaps}
    assert all(torch.equal(by[("start", 0)][k], by[("end", 0)][k]) for k in by[("start", 0)])  # frozen
    assert any(not torch.equal(by[("start", 1)][k], by[("end", 1)][k]) for k in by[("start", 1)])  # unfrozen
    for s in run.steps:
        head, backbone = s.lr["weight"]
        assert backbone == (0.0 if s.epoch < 1 else pytest.approx(0.1 * head, rel=1e-12))


@pytest.mark.parametrize(
    ("kwargs", "key", "words"),
    [
        ({"freeze": 11}, "lr_backbone_scale", "frozen already"),
        ({"freeze": 5, "lr_backbone_layers": 5}, "lr_backbone_scale", "layers model.0-model.4"),
        ({"lr_layer_scales": {99: 2.0}}, "lr_layer_scales", "layers with parameters are 0-23"),
    ],
)
def test_rules_that_find_nothing_to_act_on_fail_before_training(train, pretrained, kwargs, key, words):
    from yolo_lr.config import LRConfigError

    steps: list = []
    kw = {**FT, "lr_unfreeze_epoch": 0, **kwargs}
    with pytest.raises(LRConfigError) as e:
        train(model=pretrained, epochs=2, callbacks={"on_train_batch_start": steps.append}, **kw)
    assert e.value.key == key and words in str(e.value), str(e.value)
    assert not steps  # not a single batch


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"lr_layer_scales": {"head": 2.0}}, "lr_layer_scales"),
        ({"lr_layer_scales": {"0-9": 0.5, 9: 2.0}}, "lr_layer_scales"),
        ({"lr_layer_decay": 0.0}, "lr_layer_decay"),
        ({"lr_layer_decay": 1.5}, "lr_layer_decay"),
        ({"lr_freeze_bn": "yes"}, "lr_freeze_bn"),
    ],
)
def test_bad_layer_rules_fail_in_the_config_check(tmp_path, kwargs, key):
    from ultralytics import YOLO

    from yolo_lr.config import LRConfigError

    with pytest.raises(LRConfigError) as e:
        YOLO(MODEL).train(data=str(COCO8), epochs=2, project=str(tmp_path), name="bad", **{**FAST, **kwargs})
    assert e.value.key == key and str(e.value).startswith(f"yolo_lr: {key}=")
    assert not (tmp_path / "bad").exists()
