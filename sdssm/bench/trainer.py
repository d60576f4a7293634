"""The trainer's real step on the paper's parity setting: task sampling, forward, loss, backward,
clipping, fused Adam and the step's bookkeeping, exactly as a trial runs it (one thread)."""

from __future__ import annotations

import statistics
import time

import torch

from sdssm.config import TrialConfig
from sdssm.train import Trainer

PARITY = TrialConfig(task="parity_check", model="sdssm", state_size=64, k=8, p=1.2, batch_size=128,
                     train_min_length=1, train_max_length=40, query_token=True, device="cpu", threads=1)


def bench_trainer_step(rounds: int = 15, steps_per_round: int = 40) -> dict[str, float]:
    threads = torch.get_num_threads()
    trainer = Trainer(PARITY)
    try:
        for _ in range(steps_per_round):  # warm-up: allocator, Adam state
            trainer.train_step()
        per_step = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(steps_per_round):
                trainer.train_step()
            per_step.append((time.perf_counter() - started) / steps_per_round * 1e3)
        started = time.perf_counter()
        trainer.evaluate(512)
        evaluation = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    return {"trainer_step_ms": statistics.median(per_step), "trainer_full_eval_s": evaluation}
