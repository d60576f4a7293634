"""How many metric rows per second the store takes, on a fresh SQLite file.

Two paths: `batched` (many rows in one transaction) and `per_result` (one row per transaction, which
is what the sweep callback does for every periodic evaluation a trial reports).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sdssm.config import TrialConfig
from sdssm.sweep.store import Store


def bench_store(rows: int = 20_000, per_result_rows: int = 2_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sdssm-bench-") as folder:
        store = Store(str(Path(folder) / "bench.db"))
        configs = [TrialConfig(seed=seed) for seed in range(2)]
        store.register_sweep("bench", configs)
        batch = [{"step": step, "loss": 0.5, "train_accuracy": 0.9, "in_range_accuracy": 0.99,
                  "beyond_accuracy": 0.5, "wall_time_s": step / 100} for step in range(rows)]
        t0 = time.perf_counter()
        store.record_metrics(configs[0].key, batch)
        batched = rows / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for row in batch[:per_result_rows]:
            store.record_metrics(configs[1].key, [row])
        per_result = per_result_rows / (time.perf_counter() - t0)
        store.dispose()
    return {"batched_rows_per_s": batched, "per_result_rows_per_s": per_result}
