"""The explicit Python entry point: ``attach(model, policy)``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from yolo_lr.config import validate
from yolo_lr.presets import load_policy


def attach(model, policy: str | Path | dict | None = None, **overrides: Any):
    """Give an Ultralytics model a learning-rate policy for its next ``train()`` calls.

    The policy's arguments (``lr_*`` keys and any Ultralytics keys a preset sets, such as ``lr0`` or ``optimizer``)
    become defaults of ``model.train``: keyword arguments passed to ``train`` still win. The plugin's callbacks are
    added to the model if it was created before ``import yolo_lr``. The policy is validated here, so a bad value
    fails now, naming the key and the file; warnings about legal but odd settings are printed once, when training
    starts.

    Args:
        model: an ``ultralytics.YOLO`` (or any ``ultralytics.engine.model.Model``).
        policy: a preset name (``"warmup_cosine"``), a YAML path, or a dict of arguments.
        **overrides: arguments that take precedence over the policy's.

    Returns:
        The same model, for chaining.

    Examples:
        >>> from ultralytics import YOLO
        >>> import yolo_lr
        >>> model = yolo_lr.attach(YOLO("yolo26n.yaml"), "plateau", lr_plateau_patience=3)
        >>> model.train(data=str(yolo_lr.coco8_yaml()), epochs=10)
    """
    from ultralytics.utils import DEFAULT_CFG_DICT

    from yolo_lr.adapter import callbacks
    from yolo_lr.loggers import callbacks as logger_callbacks

    args, source = load_policy(policy)
    args.update(overrides)
    validate({**DEFAULT_CFG_DICT, **args}, source)  # raises now; its warnings are printed at train start
    for event, fn in [*callbacks.items(), *logger_callbacks.items()]:
        if fn not in model.callbacks.get(event, []):
            model.add_callback(event, fn)
    train = getattr(model.train, "_yolo_lr_original", model.train)

    @functools.wraps(train)
    def train_with_policy(*a, **kwargs):
        return train(*a, **{**args, **kwargs})

    train_with_policy._yolo_lr_original = train
    model.train = train_with_policy
    return model
