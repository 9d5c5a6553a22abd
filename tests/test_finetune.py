"""Fine-tuning rules in real training: backbone frozen then unfrozen, layer-wise LR, warnings."""

from __future__ import annotations

import pytest
from conftest import read_csv

FT = dict(
    optimizer="SGD", lr0=0.001, lrf=0.1, warmup_epochs=0, warmup_bias_lr=0.0, lr_policy="cosine", lr_backbone_scale=0.1
)


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


def test_backbone_frozen_then_unfrozen_with_exact_lr_ratio(train, pretrained):
    snaps: list = []
    callbacks, changed = _backbone_tracker(snaps)
    run = train(model=pretrained, epochs=3, lr_unfreeze_epoch=1, callbacks=callbacks, **FT)
    groups = run.trainer.optimizer.param_groups
    assert len(groups) == 6 and [bool(g.get("yolo_lr_backbone")) for g in groups] == [False] * 3 + [True] * 3
    by_epoch = {(kind, e): (bb, head) for kind, e, bb, head in snaps}
    for e in range(3):
        (bb0, head0), (bb1, head1) = by_epoch[("start", e)], by_epoch[("end", e)]
        assert changed(head0, head1), f"head did not train in epoch {e}"
        assert changed(bb0, bb1) == (e >= 1), f"backbone frozen state wrong in epoch {e}"
    for s in run.steps:
        for name in ("weight", "bn", "bias"):
            head, backbone = s.lr[name]
            if s.epoch < 1:
                assert backbone == 0.0
            else:
                assert backbone == pytest.approx(0.1 * head, rel=1e-12)
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
    from conftest import Run, attach_recorder
    from test_training import Interrupt, _interrupt_after
    from ultralytics import YOLO

    with pytest.raises(Interrupt):
        train(model=pretrained, epochs=3, lr_unfreeze_epoch=2, callbacks=_interrupt_after(0), name="ft", **FT)
    snaps: list = []
    callbacks, changed = _backbone_tracker(snaps)
    resumed = Run()
    model = YOLO(str(tmp_path / "runs" / "ft" / "weights" / "last.pt"))
    attach_recorder(model, resumed)
    for event, fn in callbacks.items():
        model.add_callback(event, fn)
    model.train(resume=True)
    by_epoch = {(kind, e): bb for kind, e, bb, _ in snaps}
    assert not changed(by_epoch[("start", 1)], by_epoch[("end", 1)])
    assert changed(by_epoch[("start", 2)], by_epoch[("end", 2)])
    assert [s.lr["weight"][1] == 0.0 for s in resumed.steps] == [s.epoch < 2 for s in resumed.steps]


def test_finetune_from_yaml_warns(train, ultralytics_log):
    train(epochs=2, **FT)
    assert any("no pretrained weights" in m for m in ultralytics_log)
