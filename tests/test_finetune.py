"""Fine-tuning rules in real training: backbone frozen (requires_grad=False, not merely LR 0) then unfrozen,
layer-wise LR, resume during the frozen phase, warnings."""

from __future__ import annotations

import pytest
from conftest import Interrupt, interrupt_after, read_csv, resume

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
    assert len(run.trainer.optimizer.param_groups) == 6  # weight, bn, bias: each split into head and backbone
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
