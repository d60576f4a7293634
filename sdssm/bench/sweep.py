"""The time the sweep layer adds per trial: N tiny trials through the runner (embedded local Ray,
one trial at a time, SQLite store, a checkpoint at every report) against the same trials called
directly with `sdssm.train.train`. Ray's start-up is measured and reported apart."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.spec import parse_spec


def tiny_spec_data(trials: int) -> dict:
    return {
        "name": "bench-overhead",
        "train": {"max_steps": 40, "eval_interval": 20, "eval_samples": 16, "final_eval_samples": 16,
                  "test_max_length": 60, "state_size": 16, "batch_size": 32, "early_stop": False},
        "grid": {"task": "parity_check", "model": "sdssm", "seed": list(range(trials))},
        "max_concurrent": 1,
    }


def bench_sweep(trials: int = 8) -> dict[str, float]:
    import ray

    from sdssm.sweep.runner import RunOptions, connect, run_sweep
    from sdssm.train import train

    spec = parse_spec(tiny_spec_data(trials), source="<bench>")
    t0 = time.perf_counter()
    for config in spec.trials:
        train(TrialConfig.from_dict({**config.to_dict(), "device": "cpu"}))
    direct = time.perf_counter() - t0
    quiet = Console(quiet=True)
    with tempfile.TemporaryDirectory(prefix="sdssm-bench-") as folder:
        options = RunOptions(db_url=str(Path(folder) / "bench.db"), storage_path=str(Path(folder) / "ray"),
                             dashboard=False)
        t0 = time.perf_counter()
        connect(options, quiet)
        startup = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            run_sweep(spec, options, quiet)
            swept = time.perf_counter() - t0
        finally:
            ray.shutdown()
    return {"trials": trials, "direct_s": direct, "sweep_s": swept, "ray_startup_s": startup,
            "overhead_per_trial_s": (swept - direct) / trials,
            "overhead_per_trial_with_startup_s": (swept + startup - direct) / trials}
