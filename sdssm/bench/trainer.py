"""The trainer's real step on the paper's parity setting: task sampling, forward, loss, backward,
clipping, fused Adam and the step's bookkeeping, exactly as a trial runs it (one thread).

Both supervisions are timed, their rounds interleaved so that a drift of the machine's speed (this
project's VM moves by +-30%) hits both alike: the ratio prefixes / last is the figure the target names
(a `prefixes` step costs <= 1.5x a `last` step).
"""

from __future__ import annotations

import statistics
import time

import torch

from sdssm.config import TrialConfig
from sdssm.train import Trainer

PARITY = TrialConfig(task="parity_check", model="sdssm", state_size=64, k=8, p=1.2, batch_size=128,
                     train_min_length=1, train_max_length=40, query_token=True, device="cpu", threads=1)
PREFIXES_TARGET_RATIO = 1.5


def _round_ms(trainer: Trainer, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - started) / steps * 1e3


def bench_trainer_step(rounds: int = 15, steps_per_round: int = 40) -> dict[str, float]:
    threads = torch.get_num_threads()
    trainers = {name: Trainer(PARITY.replace(supervision=name)) for name in ("last", "prefixes")}
    try:
        for trainer in trainers.values():  # warm-up: allocator, Adam state
            _round_ms(trainer, steps_per_round)
        per_step: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(rounds):
            for name, trainer in trainers.items():
                per_step[name].append(_round_ms(trainer, steps_per_round))
        started = time.perf_counter()
        trainers["last"].evaluate(512)
        evaluation = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    ratios = [p / last for p, last in zip(per_step["prefixes"], per_step["last"])]
    return {"trainer_step_ms": statistics.median(per_step["last"]),
            "trainer_prefixes_step_ms": statistics.median(per_step["prefixes"]),
            "prefixes_over_last": statistics.median(ratios),
            "trainer_full_eval_s": evaluation}
