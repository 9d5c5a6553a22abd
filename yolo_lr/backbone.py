"""Fine-tuning rules on a real model: the backbone's own param groups, and freezing it until ``lr_unfreeze_epoch``.

The LR a backbone group gets at each step is :meth:`yolo_lr.config.FineTune.factor` times its head group's LR
(applied by :mod:`yolo_lr.schedule`); this module only builds the groups and sets ``requires_grad``.
"""

from __future__ import annotations

import re
from pathlib import Path

from yolo_lr.config import FineTune

BACKBONE = "yolo_lr_backbone"  # param-group key marking the backbone part of a split group
_LAYER = re.compile(r"(?:^|\.)model\.(\d+)\.")


def backbone_layer_count(model, finetune: FineTune) -> int:
    """How many leading ``model.N`` layers form the backbone: lr_backbone_layers, else the YAML's backbone section."""
    if finetune.backbone_layers:
        return finetune.backbone_layers
    inner = getattr(model, "module", model)  # DDP
    yaml = getattr(inner, "yaml", None) or {}
    if not yaml.get("backbone"):
        raise ValueError("yolo_lr: this model has no YAML 'backbone' section; set lr_backbone_layers=N")
    return len(yaml["backbone"])


def split_backbone_groups(optimizer, model, finetune: FineTune) -> int:
    """Split every param group into its head part (kept in place) and a backbone part (appended, marked BACKBONE).

    Runs right after Ultralytics builds the optimizer, on every rank and on resume alike, so the group structure
    saved in checkpoints is the structure a resumed run rebuilds. Returns the number of backbone tensors.
    """
    n = backbone_layer_count(model, finetune)
    backbone = set()
    for name, p in model.named_parameters():
        m = _LAYER.search(name)
        if m and int(m.group(1)) < n:
            backbone.add(id(p))
    parts = []
    for g in optimizer.param_groups:
        head = [p for p in g["params"] if id(p) not in backbone]
        bb = [p for p in g["params"] if id(p) in backbone]
        g["params"] = head
        parts.append({**{k: v for k, v in g.items() if k != "params"}, "params": bb, BACKBONE: True})
    for part in parts:
        optimizer.add_param_group(part)
    return len(backbone)


def is_backbone(group: dict) -> bool:
    """True for a backbone part made by :func:`split_backbone_groups`."""
    return bool(group.get(BACKBONE))


def has_pretrained_weights(model_arg, pretrained_arg) -> bool:
    """True when training starts from a checkpoint (``model=*.pt`` or ``pretrained=*.pt``)."""

    def is_weights(v) -> bool:
        return isinstance(v, (str, Path)) and str(v).endswith((".pt", ".pth"))

    return is_weights(model_arg) or is_weights(pretrained_arg)


class BackboneFreeze:
    """Keeps the backbone frozen (``requires_grad=False``) before ``lr_unfreeze_epoch``, then unfreezes it.

    Frozen state is derived from the epoch alone, so a resumed run freezes exactly when an uninterrupted one would.
    """

    def __init__(self, finetune: FineTune):
        self.finetune = finetune
        self.frozen: list = []  # the tensors this plugin froze

    def start(self, optimizer, start_epoch: int) -> int:
        """Freeze the backbone groups' trainable tensors if the run starts before the unfreeze epoch; returns how
        many were frozen."""
        unfreeze = self.finetune.unfreeze_epoch
        if unfreeze and start_epoch < unfreeze:
            self.frozen = [p for g in optimizer.param_groups if is_backbone(g) for p in g["params"] if p.requires_grad]
            for p in self.frozen:
                p.requires_grad_(False)
        return len(self.frozen)

    def epoch_start(self, epoch: int) -> int:
        """Unfreeze at the unfreeze epoch; returns how many tensors were unfrozen now (0 otherwise)."""
        unfreeze = self.finetune.unfreeze_epoch
        if not self.frozen or unfreeze is None or epoch < unfreeze:
            return 0
        for p in self.frozen:
            p.requires_grad_(True)
        n, self.frozen = len(self.frozen), []
        return n
