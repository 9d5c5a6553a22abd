"""A test probe for `yolo` subprocesses: put this folder on PYTHONPATH and Python imports it at start-up.

Environment variables (all optional):
- LR_PROBE_TRACE=FILE: append one JSON line per optimizer step with the LR of every param group and the momentum the
  optimizer is about to use (a step pre-hook registered at on_train_start, so it runs after the plugin's), and the
  trainer's lr0/lrf/lr_* arguments (what args.yaml holds; model.tune deletes the folders of its other iterations).
- LR_PROBE_FITNESS=a,b,c,...: the fitness each epoch reports (the real validation still runs). The tiny test models
  score mAP 0, and a resumed Ultralytics run never trains bit-identically (it restarts from the checkpoint's fp16 EMA
  weights), so a scripted metric is what makes an uninterrupted and a resumed run see the same plateau inputs.
- LR_PROBE_GRAD=1: each trace row also counts the parameters with ``requires_grad=False`` (a frozen backbone).
- LR_PROBE_FINAL=FILE: at the end of training, write the plugin's plateau reductions (what lr.png marks) as JSON.
- LR_PROBE_KILL=WHERE:EPOCH[:BATCH]: SIGKILL this process at that point of that epoch. WHERE is ``batch`` (after that
  batch), ``val`` (after the first validation batch), ``presave`` (inside save_model, before the checkpoint is
  written) or ``saved`` (on_model_save, right after the checkpoint was written).
"""

import json
import os
import signal

_TRACE, _FITNESS, _KILL = (os.environ.get(k) for k in ("LR_PROBE_TRACE", "LR_PROBE_FITNESS", "LR_PROBE_KILL"))
_GRAD, _FINAL = os.environ.get("LR_PROBE_GRAD"), os.environ.get("LR_PROBE_FINAL")

if _TRACE or _FITNESS or _KILL or _FINAL:
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.utils.callbacks.base import default_callbacks

    where, kill_epoch, kill_batch = ((_KILL or "none:-1").split(":") + ["-1"])[:3]
    kill_epoch, kill_batch = int(kill_epoch), int(kill_batch)
    now = {"epoch": -1, "batch": -1}

    def _die(point):
        if where == point and now["epoch"] == kill_epoch and (point != "batch" or now["batch"] == kill_batch):
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_epoch_start(trainer):
        now["epoch"], now["batch"] = trainer.epoch, -1

    def record(optimizer, args, kwargs, trainer):
        g0 = optimizer.param_groups[0]
        row = {
            "pid": os.getpid(),
            "epoch": trainer.epoch,
            "ni": now["batch"] + len(trainer.train_loader) * trainer.epoch,
            "lr": [g["lr"] for g in optimizer.param_groups],
            "momentum": g0.get("momentum", (g0.get("betas") or (None,))[0]),
            "args": {k: v for k, v in vars(trainer.args).items() if k.startswith("lr")},
        }
        if _GRAD:
            row["frozen"] = sum(not p.requires_grad for p in trainer.model.parameters())
        fd = os.open(_TRACE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # unbuffered: survives SIGKILL
        os.write(fd, (json.dumps(row) + "\n").encode())
        os.close(fd)

    def on_train_start(trainer):
        if _TRACE:
            trainer.optimizer.register_step_pre_hook(lambda o, a, k: record(o, a, k, trainer))

    def on_train_batch_start(trainer):
        now["batch"] += 1

    def on_train_batch_end(trainer):
        _die("batch")

    def on_val_batch_end(validator):
        if now["epoch"] >= 0:  # a validation inside training (final_eval's comes after the last epoch)
            _die("val")

    def on_model_save(trainer):
        _die("saved")

    def on_train_end(trainer):
        if _FINAL:
            ctl = trainer.__dict__.get("yolo_lr")
            plateau = getattr(ctl, "plateau", None)
            with open(_FINAL, "w") as f:
                json.dump({"reductions": list(plateau.reductions) if plateau is not None else None}, f)

    for event, fn in (
        ("on_train_epoch_start", on_train_epoch_start),
        ("on_train_start", on_train_start),
        ("on_train_batch_start", on_train_batch_start),
        ("on_train_batch_end", on_train_batch_end),
        ("on_val_batch_end", on_val_batch_end),
        ("on_model_save", on_model_save),
        ("on_train_end", on_train_end),
    ):
        default_callbacks[event].append(fn)

    save, validate = BaseTrainer.save_model, BaseTrainer.validate

    def save_model(self):
        _die("presave")
        return save(self)

    def scripted_validate(self):
        metrics, fitness = validate(self)
        if _FITNESS:
            fitness = [float(x) for x in _FITNESS.split(",")][self.epoch]
        return metrics, fitness

    BaseTrainer.save_model, BaseTrainer.validate = save_model, scripted_validate
