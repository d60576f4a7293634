"""Benchmark: time `Task.sample` for every named task (the issue's target: < 5 ms for 512 x 500).

Run ``python -m sdssm.bench.tasks``. Timings use one torch thread (as trials do) and report the median
of `repeats` calls after a warm-up call; on a shared machine, re-run when it is quiet.
"""

from __future__ import annotations

import statistics
import time

import torch

import tasks

TARGET_MS = 5.0  # per sample() call of 512 strings of length 500, all prefix labels
GENERIC = {"C2xCn", "Dn", "automaton", "tomita", "dyck", "group"}  # parametric entries: instances timed instead
INSTANCES = [  # (registry name, parameters) of the parametric entries worth timing
    ("tomita", {"n": 3}),
    ("tomita", {"n": 5}),
    ("dyck", {"k": 8, "m": 10}),  # Sarrof et al.'s Dyck(8, 10)
    ("group", {"name": "S5"}),
    ("group", {"name": "A5", "generators": 12, "seed": 0}),  # PD-SSM's largest generating sets
    ("group", {"name": "S5", "generators": 8, "seed": 0}),
]


def bench_tasks(batch_size: int = 512, length: int = 500, repeats: int = 20) -> list[dict]:
    """Median milliseconds per ``sample(batch_size, length)`` call, one row {"task", "ms"} per named task
    and per instance in INSTANCES (named by `Task.name`, e.g. "Dyck(8,10)")."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = []
        cases = [(name, {}) for name in tasks.names() if name not in GENERIC] + INSTANCES
        for name, params in cases:
            task = tasks.get(name, **params)
            generator = torch.Generator().manual_seed(0)
            task.sample(batch_size, length, generator)  # warm-up: first-touch allocations, caches
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                task.sample(batch_size, length, generator)
                times.append(time.perf_counter() - start)
            rows.append({"task": name if not params else task.name, "ms": statistics.median(times) * 1e3})
        return rows
    finally:
        torch.set_num_threads(previous_threads)


def main() -> None:
    rows = bench_tasks()
    print(f"sampling 512 strings x length 500 with all prefix labels (median, 1 thread); target < {TARGET_MS:g} ms")
    print(f"{'task':<30} {'ms':>8}  result")
    for row in rows:
        verdict = "pass" if row["ms"] < TARGET_MS else "FAIL"
        print(f"{row['task']:<30} {row['ms']:>8.3f}  {verdict}")
    failed = [row["task"] for row in rows if row["ms"] >= TARGET_MS]
    print("all under target" if not failed else f"over target: {', '.join(failed)}")


if __name__ == "__main__":
    main()
