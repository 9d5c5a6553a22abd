"""DDP on CPU: Ultralytics' own trainer in two processes joined by torch.distributed (gloo).

Only rank 0 validates, so only rank 0 has a metric and decides plateaus; the plugin broadcasts its plateau state at
every trained epoch's on_fit_epoch_end, and every rank must then use the same LR at every optimizer step.

Ultralytics launches DDP on GPUs only. Each worker here is what its generated DDP script would run — a trainer with
``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` set before Ultralytics is imported — with two CPU-only substitutions, both in
this file: ``_setup_ddp`` joins a gloo group instead of binding a GPU, and ``DistributedDataParallel`` gets
``device_ids=None`` (a CPU module). Everything else (the distributed sampler, rank-0-only validation and checkpoints,
``fitness=None`` on rank 1, the stop broadcast, the plugin's callbacks and broadcast) is the real code.

Rank 0's validation fitness is scripted (the tiny model scores 0): best at epoch 1, then worse, so with patience 0 the
factor halves for epoch 3. Rank 1 never sees a metric; if it decided for itself it would never reduce.

This file is also the worker: ``python tests/test_ddp.py RANK WORLD_SIZE PORT OUT_DIR``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

EPOCHS, LR0, LRF = 4, 0.02, 0.05
FITNESS = [0.1, 0.3, 0.25, 0.2]  # rank 0's scripted fitness per epoch
KEYS = {
    "epochs": EPOCHS,
    "optimizer": "SGD",
    "lr0": LR0,
    "lrf": LRF,
    "warmup_epochs": 0,
    "lr_policy": "cosine",
    "lr_plateau": True,
    "lr_plateau_patience": 0,
    "lr_plateau_factor": 0.5,
}


# ------------------------------------------------------------------------------------------------------- the worker
def worker(rank: int, world: int, port: int, out: Path) -> None:
    import torch
    import torch.distributed as dist
    from ultralytics import YOLO
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils import RANK

    import yolo_lr  # noqa: F401  (what unpickling the plugin's callbacks does in Ultralytics' DDP script)

    assert RANK == rank, f"ultralytics.utils.RANK={RANK} in the process of rank {rank}"
    ddp_cls = torch.nn.parallel.DistributedDataParallel

    def cpu_ddp(module, device_ids=None, **kw):
        return ddp_cls(module, device_ids=None if device_ids == [None] else device_ids, **kw)

    torch.nn.parallel.DistributedDataParallel = cpu_ddp

    class CPUWorkerTrainer(DetectionTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.world_size = world  # Ultralytics counts a CPU as 0 devices; this process is one of `world` ranks

        def _setup_ddp(self):
            dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)

        def validate(self):
            metrics, fitness = BaseTrainer.validate(self)  # rank 0 only (Ultralytics' own guard)
            return metrics, FITNESS[self.epoch]

    steps: list[dict] = []

    def on_train_start(trainer):
        def record(optimizer, args, kwargs):
            steps.append({"epoch": trainer.epoch, "lr": [g["lr"] for g in optimizer.param_groups]})

        trainer.optimizer.register_step_pre_hook(record)

    state = {}

    def on_train_end_all(trainer):  # teardown runs on every rank
        from yolo_lr import ultralytics_compat as compat

        state.update(compat.load_state(trainer.optimizer) or {})

    model = YOLO("yolo26n.yaml")
    model.add_callback("on_train_start", on_train_start)
    model.add_callback("teardown", on_train_end_all)
    from conftest import COCO8, FAST

    model.train(
        trainer=CPUWorkerTrainer,
        data=str(COCO8),
        project=str(out),
        name="run",
        exist_ok=True,
        **{**FAST, "batch": 2},
        **KEYS,
    )
    (out / f"rank{rank}.json").write_text(json.dumps({"steps": steps, "state": state}))
    if dist.is_initialized():
        dist.destroy_process_group()


# --------------------------------------------------------------------------------------------------------- the test
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.training
def test_rank0_plateau_decision_is_broadcast_and_both_ranks_apply_the_same_lr(tmp_path):
    from conftest import yolo_env

    port = _free_port()
    procs = []
    for rank in range(2):
        env = {
            **yolo_env(),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "PYTHONPATH": str(Path(__file__).parent),
            "OMP_NUM_THREADS": "1",
        }
        cmd = [sys.executable, __file__, str(rank), "2", str(port), str(tmp_path)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=300)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a rank hung (a collective that the other rank never joined?)")
    for rank, (p, text) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank}:\n{text[-4000:]}"
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))

    # coco8's 4 training images, batch 2 over 2 ranks: each rank takes 1 image per batch, 2 batches per epoch;
    # nbs=1 -> an optimizer step every batch
    nb = 2
    assert len(r0["steps"]) == len(r1["steps"]) == EPOCHS * nb
    assert [s["lr"] for s in r0["steps"]] == [s["lr"] for s in r1["steps"]]  # identical, bit for bit
    assert r0["state"]["reductions"] == r1["state"]["reductions"] == [2, 3]
    assert r0["state"] == r1["state"]
    horizon = EPOCHS - 1 / nb
    for k, s in enumerate(r1["steps"]):  # rank 1 applies rank 0's decision: halved in epoch 3
        t = k / nb
        cosine = LRF + (1 - LRF) * (1 + math.cos(math.pi * t / horizon)) / 2
        factor = 0.5 if s["epoch"] == 3 else 1.0
        want = LR0 * max(cosine * factor, min(cosine, LRF))
        assert s["lr"] == pytest.approx([want] * len(s["lr"]), rel=1e-9), (k, s)
    assert "LR factor 1 -> 0.5" in outputs[0]  # rank 0 decided and said so
    assert "LR factor" not in outputs[1]  # rank 1 never decides


if __name__ == "__main__":
    os.environ.setdefault("YOLO_OFFLINE", "1")
    worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
