"""The trainer's real step for every registered model family, in the paper's parity setting (N = 64,
batch 128, lengths 1..40, query token, one thread; k = 8 where a family has a dictionary), at 1 layer and as
a 2-layer stack (`layers: 2`): one table, so a new family's cost sits beside SD-SSM's, and depth's beside
one layer's. Rounds of each family are interleaved, so a drift of the machine's
speed hits all alike; the median round is reported, with this thread's CPU time beside the wall time.
"""

from __future__ import annotations

import statistics
import time

import torch

from sdssm.bench.trainer import PARITY
from sdssm.models.registry import FAMILIES, with_depth
from sdssm.train import Trainer


def bench_families(rounds: int = 7, steps_per_round: int = 20) -> list[dict[str, float | str]]:
    """Per family and depth (1, 2): name ('sdssm', 'sdssm 2 layers'), median wall ms per step, median CPU ms
    per step."""
    threads = torch.get_num_threads()
    try:
        trainers = {with_depth(name, layers): Trainer(PARITY.replace(model=name, lr=1e-3, layers=layers))
                    for name in FAMILIES for layers in (1, 2)}
        for trainer in trainers.values():  # warm-up: allocator, Adam state
            for _ in range(steps_per_round):
                trainer.train_step()
        wall: dict[str, list[float]] = {name: [] for name in trainers}
        cpu: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(rounds):
            for name, trainer in trainers.items():
                started, started_cpu = time.perf_counter(), time.thread_time()
                for _ in range(steps_per_round):
                    trainer.train_step()
                wall[name].append((time.perf_counter() - started) / steps_per_round * 1e3)
                cpu[name].append((time.thread_time() - started_cpu) / steps_per_round * 1e3)
    finally:
        torch.set_num_threads(threads)
    return [{"model": name, "step_ms": statistics.median(wall[name]), "cpu_ms": statistics.median(cpu[name])}
            for name in trainers]
