"""lr_batch_scale: the LR follows the images per optimizer step, by a stated rule that accounts for what Ultralytics'
summed loss already does (pure), and the optimizer really uses that LR in training, also after an OOM retry halves the
batch."""

from __future__ import annotations

import math

import pytest
from conftest import oom_once

from yolo_lr.batch import BatchScaling
from yolo_lr.config import LRConfigError, validate

LR0 = 0.01


@pytest.mark.parametrize(
    ("rule", "optimizer", "images", "ref", "factor"),
    [
        ("linear", "SGD", 256, 64, 1.0),  # the summed loss already makes an SGD step 4x: nothing to add
        ("sqrt", "SGD", 256, 64, 0.5),  # sqrt(4) wanted, 4 given by the sum: lr / 2
        ("linear", "AdamW", 256, 64, 4.0),  # Adam divides the sum away: the LR carries the whole rule
        ("sqrt", "AdamW", 256, 64, 2.0),
        ("auto", "SGD", 16, 64, 1.0),  # auto: linear for SGD
        ("auto", "MuSGD", 128, 64, 1.0),
        ("auto", "Adam", 16, 64, 0.5),  # auto: sqrt for Adam-family, here a quarter of the reference
        ("auto", "RMSProp", 256, None, 2.0),  # reference: nbs
        ("off", "AdamW", 256, 64, 1.0),
    ],
)
def test_factor_follows_the_rule_without_double_counting(rule, optimizer, images, ref, factor):
    f, why = BatchScaling(rule=rule, ref=ref).factor(optimizer, images, nbs=64)
    assert f == pytest.approx(factor, rel=1e-12)
    if rule != "off":
        assert f"{images:g} images per optimizer step" in why and f"lr x{factor:.4g}" in why


def test_bad_values_and_lr_find_fail_before_training():
    for key, value in [("lr_batch_scale", "quadratic"), ("lr_batch_ref", 0)]:
        with pytest.raises(LRConfigError, match=key):
            validate({"lr_policy": "cosine", "epochs": 10, key: value})
    with pytest.raises(LRConfigError, match="lr_batch_scale.*lr_find"):
        validate({"lr_policy": "cosine", "epochs": 10, "lr_batch_scale": "auto", "lr_find": True})


def test_the_preview_applies_it():
    from yolo_lr.tools.cli import load_config, parse_args, simulate

    words = ["lr_policy=constant", "warmup_epochs=0", "optimizer=AdamW", "lr0=0.01", "epochs=2", "batch=16", "nbs=16"]
    cfg, _, _ = load_config(parse_args([*words, "lr_batch_scale=sqrt", "lr_batch_ref=64"]))
    rows = simulate(cfg, batches=4)["rows"]
    assert all(r[3] == pytest.approx(0.01 * 0.5) for r in rows)  # sqrt(16 / 64)


@pytest.mark.training
def test_the_optimizer_uses_the_scaled_lr_and_follows_an_oom_retry(train, ultralytics_log):
    """batch=2, nbs=1: 2 images per step, against a reference of 1. AdamW, auto -> sqrt: lr0 x sqrt(2). A simulated
    out-of-memory error halves the batch to 1 before the first step: the factor follows it (x1) and says so."""
    state, callbacks = oom_once()

    kw = dict(epochs=2, nbs=1, optimizer="AdamW", lr0=LR0, warmup_epochs=0, lr_policy="constant")
    kw |= dict(lr_batch_scale="auto", lr_batch_ref=1)
    plain = train(batch=2, name="plain", **kw)
    assert all(lr == pytest.approx(LR0 * math.sqrt(2), rel=1e-12) for s in plain.steps for lr in s.lr["weight"])
    assert any("lr_batch_scale=sqrt (auto): 2 images per optimizer step / reference 1" in m for m in ultralytics_log)

    retried = train(batch=2, name="oom", callbacks=callbacks, **kw)
    assert state["raised"] and retried.trainer.batch_size == 1
    assert retried.steps and all(lr == pytest.approx(LR0, rel=1e-12) for s in retried.steps for lr in s.lr["weight"])
    sgd = train(batch=2, name="sgd", **{**kw, "optimizer": "SGD", "lr_batch_scale": "sqrt"})
    assert all(lr == pytest.approx(LR0 / math.sqrt(2), rel=1e-12) for s in sgd.steps for lr in s.lr["weight"])
