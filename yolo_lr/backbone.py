"""Per-layer LR rules on a real model: param groups split by layer scale, the backbone frozen until
``lr_unfreeze_epoch`` (optionally with its BatchNorm statistics).

One mechanism serves every rule that gives layers their own LR (``lr_backbone_scale``, ``lr_layer_scales``,
``lr_layer_decay``): when the optimizer is built, each of Ultralytics' param groups is split by the scale of its
parameters' layer (:meth:`yolo_lr.config.FineTune.scale`), and every part carries that scale as ``group["lr_scale"]``.
The schedule multiplies a group's LR by its ``lr_scale`` at every step (:mod:`yolo_lr.schedule`), and by the freeze
factor for backbone parts. The split is made inside ``build_optimizer``, so the structure saved in checkpoints (with
each group's ``lr_scale``) is the one a resumed run rebuilds and loads.

Layers are the ``model.N`` modules of the model being trained: the student of a distillation
(:func:`yolo_lr.ultralytics_compat.student_of`), never its teacher or projector.
"""

from __future__ import annotations

import re
from pathlib import Path

from yolo_lr.config import FineTune, LRConfigError

BACKBONE = "yolo_lr_backbone"  # param-group key marking a part made of backbone layers
LR_SCALE = "lr_scale"  # param-group key: the group's LR is the schedule's value times this
_LAYER = re.compile(r"^model\.(\d+)\.")


def _backbone_keys(finetune: FineTune) -> str:
    """The backbone keys a config sets, for messages (``lr_backbone_scale/lr_unfreeze_epoch``)."""
    rules = (("lr_backbone_scale", finetune.backbone_scale != 1.0), ("lr_unfreeze_epoch", finetune.unfreeze_epoch))
    return "/".join(k for k, on in rules if on) or "lr_backbone_scale"


def backbone_layer_count(model, finetune: FineTune) -> int:
    """How many leading ``model.N`` layers form the backbone: lr_backbone_layers, else the YAML's backbone section."""
    if finetune.backbone_layers:
        return finetune.backbone_layers
    yaml = getattr(model, "yaml", None) or {}
    if not yaml.get("backbone"):
        raise LRConfigError(
            f"yolo_lr: {_backbone_keys(finetune)} need the backbone's layers, and this model's YAML has no 'backbone' "
            "section: set lr_backbone_layers=N",
            key="lr_backbone_layers",
        )
    return len(yaml["backbone"])


def model_layers(model) -> dict[int, list]:
    """Parameters of each ``model.N`` layer, by N (parameters outside ``model.N`` modules are left out)."""
    layers: dict[int, list] = {}
    for name, p in model.named_parameters():
        if m := _LAYER.match(name):
            layers.setdefault(int(m.group(1)), []).append(p)
    return layers


def check_backbone(layers: dict[int, list], n: int, finetune: FineTune) -> None:
    """Fail before training when backbone rules are set but no trainable backbone parameter exists."""
    backbone = [p for layer, ps in layers.items() if layer < n for p in ps]
    if any(p.requires_grad for p in backbone):
        return
    why = (
        f"all {len(backbone)} of its tensors are frozen already (by freeze=, which freezes them for the whole run)"
        if backbone
        else f"no parameter is named model.N.* with N < {n}"
    )
    raise LRConfigError(
        f"yolo_lr: {_backbone_keys(finetune)} is set, but no trainable backbone parameter was found in layers "
        f"model.0-model.{n - 1} of the model being trained: {why}. Drop the backbone rules, or set "
        "lr_backbone_layers to the layers you mean.",
        key=_backbone_keys(finetune).split("/")[0],
    )


def split_param_groups(optimizer, model, finetune: FineTune) -> int:
    """Split every param group by the scale (and backbone membership) of its parameters' layers.

    The part at scale 1 outside the backbone stays in place (with everything that is not in a ``model.N`` layer);
    the other parts are appended, ordered by their first layer and then by the original group order, each marked with
    ``lr_scale`` and, for backbone layers, ``BACKBONE``. Deterministic for a given model and config, so every rank and
    every resume builds the same structure. Returns the number of groups added.

    Args:
        optimizer: the optimizer Ultralytics just built.
        model: the model being trained (the student when distilling), not wrapped by DDP.
        finetune: the per-layer rules.

    Raises:
        LRConfigError: naming the key, when a rule finds nothing to act on (no backbone parameter, a layer the model
            does not have).
    """
    layers = model_layers(model)
    if not layers:
        raise LRConfigError(
            "yolo_lr: per-layer LR rules need model.N layers, and this model has no parameter named model.N.*",
            key="lr_layer_scales" if finetune.layer_scales else "lr_backbone_scale",
        )
    last = max(layers)
    for first, _, _ in finetune.layer_scales or ():
        if first > last:
            raise LRConfigError(
                f"yolo_lr: lr_layer_scales names layer {first}, but the model's layers with parameters are 0-{last}",
                key="lr_layer_scales",
            )
    n = backbone_layer_count(model, finetune) if finetune.backbone_rules else 0
    if finetune.backbone_rules:
        check_backbone(layers, n, finetune)
    key_of = {}  # id(param) -> (is backbone, scale); missing: stays in place at scale 1
    first_layer = {}  # part key -> the lowest layer it holds (orders the appended parts)
    for layer in sorted(layers):
        key = (layer < n, finetune.scale(layer, n, last))
        first_layer.setdefault(key, layer)
        for p in layers[layer]:
            key_of[id(p)] = key
    kept = (False, 1.0)
    parts: dict[tuple[bool, float], list[dict]] = {k: [] for k in sorted(first_layer, key=first_layer.get)}
    for g in optimizer.param_groups:
        moved: dict[tuple[bool, float], list] = {}
        stay = []
        for p in g["params"]:
            key = key_of.get(id(p), kept)
            (stay if key == kept else moved.setdefault(key, [])).append(p)
        g["params"] = stay
        g[LR_SCALE] = 1.0
        for key, ps in moved.items():
            part = {**{k: v for k, v in g.items() if k != "params"}, "params": ps, LR_SCALE: key[1]}
            parts[key].append({**part, BACKBONE: True} if key[0] else part)
    added = 0
    for group_parts in parts.values():
        for part in group_parts:
            optimizer.add_param_group(part)
            added += 1
    return added


def is_backbone(group: dict) -> bool:
    """True for a backbone part made by :func:`split_param_groups`."""
    return bool(group.get(BACKBONE))


def lr_scale(group: dict) -> float:
    """The group's LR multiplier (1 for a group that was never split)."""
    return group.get(LR_SCALE, 1.0)


def has_pretrained_weights(model_arg, pretrained_arg) -> bool:
    """True when training starts from a checkpoint (``model=*.pt`` or ``pretrained=*.pt``)."""

    def is_weights(v) -> bool:
        return isinstance(v, (str, Path)) and str(v).endswith((".pt", ".pth"))

    return is_weights(model_arg) or is_weights(pretrained_arg)


class BackboneFreeze:
    """Keeps the backbone frozen (``requires_grad=False``) before ``lr_unfreeze_epoch``, then unfreezes it.

    With ``lr_freeze_bn`` its BatchNorm layers also stay in eval mode while frozen (running statistics neither used
    from the batch nor updated): :meth:`hold_bn` runs after every ``model.train()`` of the trainer.
    Frozen state is derived from the epoch alone, so a resumed run freezes exactly when an uninterrupted one would.
    """

    def __init__(self, finetune: FineTune):
        self.finetune = finetune
        self.frozen: list = []  # the tensors this plugin froze
        self.bn: list = []  # the backbone's BatchNorm modules held in eval mode while frozen

    def start(self, optimizer, start_epoch: int, model=None) -> int:
        """Freeze the backbone groups' trainable tensors if the run starts before the unfreeze epoch; returns how
        many were frozen. ``model`` (the model being trained) is needed for ``lr_freeze_bn``."""
        unfreeze = self.finetune.unfreeze_epoch
        if unfreeze and start_epoch < unfreeze:
            self.frozen = [p for g in optimizer.param_groups if is_backbone(g) for p in g["params"] if p.requires_grad]
            for p in self.frozen:
                p.requires_grad_(False)
            if self.finetune.freeze_bn and model is not None:
                self.bn = backbone_batchnorms(model, backbone_layer_count(model, self.finetune))
                self.hold_bn()
        return len(self.frozen)

    def hold_bn(self) -> None:
        """While frozen: put the backbone's BatchNorm layers (back) in eval mode."""
        for m in self.bn:
            m.eval()

    def epoch_start(self, epoch: int) -> int:
        """Unfreeze at the unfreeze epoch; returns how many tensors were unfrozen now (0 otherwise)."""
        unfreeze = self.finetune.unfreeze_epoch
        if not self.frozen or not unfreeze or epoch < unfreeze:
            return 0
        for p in self.frozen:
            p.requires_grad_(True)
        n, self.frozen, self.bn = len(self.frozen), [], []  # BN layers follow model.train() from now on
        return n


def backbone_batchnorms(model, n: int) -> list:
    """The BatchNorm modules of layers ``model.0`` .. ``model.{n-1}``."""
    from torch.nn.modules.batchnorm import _BatchNorm

    out = []
    for name, m in model.named_modules():
        if isinstance(m, _BatchNorm) and (hit := re.match(r"^model\.(\d+)\.", name + ".")) and int(hit.group(1)) < n:
            out.append(m)
    return out
