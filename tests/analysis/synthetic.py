"""A results database with known synthetic outcomes, written through the store's own API.

Sweep "main" (the numbers every test checks):

parity_check (commutative), SD-SSM linear, 8 trials:
    lr 1e-4, k 8, p 1.2: seed 0 beyond 1.000 (solved @12000, 60 s) | seed 1 0.950 | seed 2 0.900
    lr 3e-4, k 8, p 1.2: seed 0 0.800 | seed 1 0.999 (solved @8000, 30 s) | seed 2 0.600
    lr 1e-4, k 6, p 1.3: seed 0 0.700 | seed 1 1.000 (solved @20000, 100 s)
  -> best 100.0 (seed 0, lr 1e-4, k 8, p 1.2: first of the ties); per-seed best 100, 100, 90.
parity_check, SD-SSM MLP: seeds 0, 1 (lr 1e-4, k 8, p 1.2): in-range 1.0, beyond 0.60 / 0.65.
parity_check, Diagonal+B linear: seed 0 beyond 0.98; seed 1 failed.
Dn with n=4, labelled D4 (non-commutative), SD-SSM linear: seed 0 solved 0.995; seed 1 running; seed 2 pending.
D4, Diagonal+B linear: seeds 0, 1 failed.   D4, LSTM: seed 0 pending.
modular_arithmetic: SD-SSM linear diverged with beyond 0.55; SD-SSM MLP diverged with no accuracy;
  LSTM finished 0.30. Even lengths are unlabelled (NaN) in its per-length accuracies.
Sweep "extra": RNN on parity_check (finished 0.5) and on toy_task (an unknown task; 0.9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sdssm.config import TrialConfig
from sdssm.sweep.store import Store, TrialStatus

TRACEBACK = ('Traceback (most recent call last):\n  File "train.py", line 3, in step\n'
             "RuntimeError: loss is nan | at step 700")


@dataclass
class Spec:
    config: TrialConfig
    status: TrialStatus  # final status, or pending / running / failed
    beyond: float | None = None
    in_range: float | None = None
    solved_step: int | None = None
    solved_wall: float | None = None
    steps: int = 30000
    error: str | None = None
    nan_even: bool = False  # unlabelled even lengths (modular arithmetic)

    def accuracy_by_length(self) -> list[float]:
        """Training lengths at the in-range accuracy, longer lengths at the beyond accuracy: the means
        over both ranges are then exactly in_range and beyond."""
        assert self.beyond is not None and self.in_range is not None
        values = [self.in_range if n <= self.config.train_max_length else self.beyond for n in range(1, 501)]
        if self.nan_even:
            values = [math.nan if n % 2 == 0 else v for n, v in zip(range(1, 501), values)]
        return values


def cfg(task: str, model: str = "sdssm", *, readout: str = "linear", seed: int = 0, lr: float = 1e-4,
        k: int = 8, p: float = 1.2, **more: Any) -> TrialConfig:
    return TrialConfig(task=task, model=model, readout=readout, seed=seed, lr=lr, k=k, p=p, **more)


def solved(config: TrialConfig, beyond: float, step: int, wall: float, in_range: float = 1.0) -> Spec:
    return Spec(config, TrialStatus.SOLVED, beyond, in_range, solved_step=step, solved_wall=wall, steps=step)


def finished(config: TrialConfig, beyond: float, in_range: float = 1.0,
             status: TrialStatus = TrialStatus.FINISHED) -> Spec:
    return Spec(config, status, beyond, in_range)


P, D4, MOD = "parity_check", "Dn", "modular_arithmetic"
MAIN: list[Spec] = [
    solved(cfg(P, seed=0, lr=1e-4), 1.0, 12000, 60.0),
    finished(cfg(P, seed=1, lr=1e-4), 0.95),
    finished(cfg(P, seed=2, lr=1e-4), 0.90, in_range=0.98),
    finished(cfg(P, seed=0, lr=3e-4), 0.80),
    solved(cfg(P, seed=1, lr=3e-4), 0.999, 8000, 30.0, in_range=0.99),
    finished(cfg(P, seed=2, lr=3e-4), 0.60),
    finished(cfg(P, seed=0, k=6, p=1.3), 0.70),
    solved(cfg(P, seed=1, k=6, p=1.3), 1.0, 20000, 100.0, in_range=0.99),
    finished(cfg(P, readout="mlp", seed=0), 0.60),
    finished(cfg(P, readout="mlp", seed=1), 0.65),
    finished(cfg(P, "diagonal", seed=0, lr=1e-3), 0.98),
    Spec(cfg(P, "diagonal", seed=1, lr=1e-3), TrialStatus.FAILED, error=TRACEBACK),
    solved(cfg(D4, seed=0, task_params={"n": 4}), 0.995, 5000, 25.5),
    Spec(cfg(D4, seed=1, task_params={"n": 4}), TrialStatus.RUNNING),
    Spec(cfg(D4, seed=2, task_params={"n": 4}), TrialStatus.PENDING),
    Spec(cfg(D4, "diagonal", seed=0, task_params={"n": 4}), TrialStatus.FAILED, error="CUDA out of memory\nmore"),
    Spec(cfg(D4, "diagonal", seed=1, task_params={"n": 4}), TrialStatus.FAILED, error="CUDA out of memory"),
    Spec(cfg(D4, "lstm", seed=0, task_params={"n": 4}), TrialStatus.PENDING),
    Spec(cfg(MOD, seed=0), TrialStatus.DIVERGED, 0.55, 0.97, nan_even=True),
    Spec(cfg(MOD, readout="mlp", seed=0), TrialStatus.DIVERGED),
    Spec(cfg(MOD, "lstm", seed=0), TrialStatus.FINISHED, 0.30, 0.90, nan_even=True),
]
EXTRA: list[Spec] = [finished(cfg(P, "rnn", seed=0), 0.50), finished(cfg("toy_task", "rnn", seed=0), 0.90)]


def write(store: Store, name: str, specs: list[Spec]) -> None:
    store.register_sweep(name, [spec.config for spec in specs])
    for spec in specs:
        key = spec.config.key
        if spec.status == TrialStatus.PENDING:
            continue
        store.mark_running(key, node="test-node")
        store.record_metrics(key, [{"step": 500, "loss": 0.5, "beyond_accuracy": 0.5, "wall_time_s": 2.0}])
        if spec.status == TrialStatus.RUNNING:
            continue
        if spec.status == TrialStatus.FAILED:
            store.record_failure(key, spec.error or "")
            continue
        summary: dict[str, Any] = {"steps": spec.steps, "wall_time_s": 123.0}
        if spec.beyond is not None:
            summary |= {"beyond_accuracy": spec.beyond, "in_range_accuracy": spec.in_range}
        if spec.solved_step is not None:
            summary |= {"solved_step": spec.solved_step, "solved_wall_time_s": spec.solved_wall}
        lengths = spec.accuracy_by_length() if spec.beyond is not None else None
        store.record_final(key, status=spec.status, accuracy_by_length=lengths, summary=summary)
