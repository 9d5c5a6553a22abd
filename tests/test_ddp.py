"""DDP on CPU: two processes joined by torch.distributed (gloo). Only rank 0 has validation metrics, so only rank 0
decides plateaus; the plugin broadcasts its plateau state at every on_fit_epoch_end and every rank must then apply the
same LR at every optimizer step.

Ultralytics runs DDP on GPUs only, so each rank drives a minimal stand-in trainer through Ultralytics' own callback
registry (``get_default_callbacks()``, where ``import yolo_lr`` put the plugin's callbacks) in Ultralytics' event
order, with ``RANK`` set before Ultralytics is imported and ``world_size=2``. The broadcast, the plateau decision and
the LR written into the optimizer are the package's real code; the stand-in is the only part of the suite that knows
which trainer attributes the plugin reads (keep it here).

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

EPOCHS, NB, LR0, LRF = 4, 3, 0.02, 0.05
# Rank 0's validation fitness per epoch: best at e1, then worse -> with patience 0 a reduction after e2 (LR halved in
# e3) and another after e3. Rank 1 is handed a fitness that keeps improving: if it decided for itself, it would never
# reduce. (Ultralytics gives non-zero ranks fitness=None; any value must be ignored there.)
FITNESS = {0: [0.1, 0.3, 0.25, 0.2], 1: [0.1, 0.2, 0.3, 0.4]}
KEYS = {
    "epochs": EPOCHS,
    "optimizer": "SGD",
    "lr0": LR0,
    "lrf": LRF,
    "warmup_epochs": 0,
    "plots": False,
    "lr_policy": "cosine",
    "lr_plateau": True,
    "lr_plateau_patience": 0,
    "lr_plateau_factor": 0.5,
}


# ------------------------------------------------------------------------------------------------------- the worker
class StandInTrainer:
    """What the plugin's callbacks read from an Ultralytics trainer, and the order in which Ultralytics calls them."""

    def __init__(self, rank: int, save_dir: Path):
        import types

        import torch
        from ultralytics.utils import DEFAULT_CFG_DICT
        from ultralytics.utils.callbacks.base import get_default_callbacks

        self.rank = rank
        self.args = types.SimpleNamespace(**{**DEFAULT_CFG_DICT, **KEYS})
        self.callbacks = get_default_callbacks()  # Ultralytics' registry: the plugin is in it after `import yolo_lr`
        self.save_dir, self.world_size, self.start_epoch = save_dir, 2, 0
        self.epoch, self.epochs = 0, EPOCHS
        self.train_loader = [None] * NB
        self.ema, self.tloss, self.loss_names, self.lr = None, None, ("box_loss",), {}
        self.metrics, self.fitness = {"metrics/mAP50-95(B)": 0.0}, None
        params = {name: torch.nn.Parameter(torch.ones(2)) for name in ("weight", "bn", "bias")}
        groups = [{"params": [p], "param_group": name, "initial_lr": LR0} for name, p in params.items()]
        self.optimizer = torch.optim.SGD(groups, lr=LR0, momentum=self.args.momentum, nesterov=True)
        self.steps: list[dict] = []

    def run_callbacks(self, event: str) -> None:
        for callback in self.callbacks.get(event, []):
            callback(self)

    def optimizer_step(self) -> None:
        """The method the plugin wraps; records what the optimizer is about to use."""
        g = self.optimizer.param_groups
        self.steps.append({"epoch": self.epoch, "lr": [x["lr"] for x in g], "momentum": [x["momentum"] for x in g]})
        self.optimizer.step()
        self.optimizer.zero_grad()

    def train(self) -> None:
        """BaseTrainer's event order (engine/trainer.py): set-up, epochs of batches, validation on rank 0, save on rank
        0, on_fit_epoch_end everywhere; on_train_end on rank 0."""
        if self.rank == 0:
            self.run_callbacks("on_pretrain_routine_start")  # Ultralytics runs it on rank -1/0 only
        self.run_callbacks("on_pretrain_routine_end")
        self.run_callbacks("on_train_start")
        for epoch in range(EPOCHS):
            self.epoch = epoch
            self.run_callbacks("on_train_epoch_start")
            for _ in range(NB):
                self.run_callbacks("on_train_batch_start")
                for g in self.optimizer.param_groups:
                    g["params"][0].grad = g["params"][0].detach() * 0.01
                self.optimizer_step()
                self.run_callbacks("on_train_batch_end")
            self.lr = {f"lr/pg{j}": g["lr"] for j, g in enumerate(self.optimizer.param_groups)}
            self.run_callbacks("on_train_epoch_end")
            self.fitness = FITNESS[self.rank][epoch]
            if self.rank == 0:
                self.run_callbacks("on_model_save")
            self.run_callbacks("on_fit_epoch_end")
        if self.rank == 0:
            self.run_callbacks("on_train_end")


def worker(rank: int, world: int, port: int, out: Path) -> None:
    from datetime import timedelta

    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world, timeout=timedelta(seconds=60)
    )
    try:
        from ultralytics.utils import RANK

        import yolo_lr  # noqa: F401  (registers the keys and the plugin's callbacks with Ultralytics)

        assert RANK == rank, f"ultralytics.utils.RANK={RANK} in the process of rank {rank}"
        trainer = StandInTrainer(rank, out / "run")
        trainer.save_dir.mkdir(parents=True, exist_ok=True)
        trainer.train()
        (out / f"rank{rank}.json").write_text(json.dumps(trainer.steps))
    finally:
        dist.destroy_process_group()


# --------------------------------------------------------------------------------------------------------- the test
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.training
def test_rank0_plateau_decision_is_broadcast_and_both_ranks_apply_the_same_lr(tmp_path):
    from conftest import read_csv, yolo_env

    port = _free_port()
    procs = []
    for rank in range(2):
        env = {**yolo_env(), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"}
        cmd = [sys.executable, __file__, str(rank), "2", str(port), str(tmp_path)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=240)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    for rank, (p, text) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank} failed:\n{text[-4000:]}"
    traces = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert len(traces[0]) == len(traces[1]) == EPOCHS * NB

    # rank 0 decided: fitness 0.1, 0.3 (best), 0.25 -> reduce after e2, 0.2 -> reduce after e3 (no later step)
    factors = [1.0, 1.0, 1.0, 0.5]
    for r, trace in enumerate(traces):
        for k, step in enumerate(trace):
            e, i = divmod(k, NB)
            m = LRF + (1 - LRF) * (1 + math.cos(math.pi * (e + i / NB) / (EPOCHS - 1 / NB))) / 2
            want = LR0 * max(m * factors[e], min(m, LRF))
            assert step["epoch"] == e and step["lr"] == pytest.approx([want] * 3, rel=1e-12), (r, e, i)
    assert traces[0] == traces[1]  # bit-identical LRs (and momentum) on both ranks at every step
    rows = read_csv(tmp_path / "run" / "lr.csv")  # written by rank 0 only
    assert [float(x["lr/pg0(weight)"]) for x in rows] == pytest.approx([s["lr"][0] for s in traces[0]], rel=1e-12)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    os._exit(0)  # skip interpreter teardown of gloo threads
