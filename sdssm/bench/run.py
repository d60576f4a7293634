"""`sdssm-sweep bench`: run the benchmarks and print measured figures against their targets."""

from __future__ import annotations

import platform

import torch
from rich.console import Console
from rich.table import Table


def run_benchmarks(what: str, console: Console) -> None:
    console.print(f"machine: {platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} torch threads available, torch {torch.__version__}")
    if what in ("all", "tasks"):
        from sdssm.bench.tasks import bench_tasks

        table = Table(title="task sampling: 512 strings x length 500, every prefix labelled (target < 5 ms)")
        table.add_column("task")
        table.add_column("ms", justify="right")
        table.add_column("target")
        for row in bench_tasks():
            table.add_row(row["task"], f"{row['ms']:.2f}", "ok" if row["ms"] < 5 else "MISSED")
        console.print(table)
    if what in ("all", "model"):
        from sdssm.bench.model import bench_model, format_table
        from sdssm.bench.trainer import PREFIXES_TARGET_RATIO, bench_trainer_step

        console.print("SD-SSM, the paper's parity setting (N=64, k=8, p=1.2, batch 128, lengths 1..40, query "
                      "token); targets: step <= 4 ms and >= 40x the reference, full evaluation <= 0.3 s")
        console.print(format_table(bench_model()), markup=False, highlight=False)
        trainer = bench_trainer_step()
        console.print(f"trainer's real step (task sampling + bookkeeping included): "
                      f"{trainer['trainer_step_ms']:.2f} ms; trainer's full evaluation (1..500 x 512 strings, "
                      f"parity labels): {trainer['trainer_full_eval_s']:.3f} s")
        ratio = trainer["prefixes_over_last"]
        console.print(f"supervision prefixes (loss on all 1..L prefixes) vs last, the trainer's real step: "
                      f"{trainer['trainer_prefixes_step_ms']:.2f} ms vs {trainer['trainer_step_ms']:.2f} ms, "
                      f"ratio {ratio:.2f} (median of interleaved rounds; target <= {PREFIXES_TARGET_RATIO}: "
                      f"{'ok' if ratio <= PREFIXES_TARGET_RATIO else 'MISSED'})")
    if what in ("all", "model"):
        from sdssm.bench.families import bench_families

        table = Table(title="every model family: the trainer's real step, parity setting (N=64, batch 128, "
                      "lengths 1..40, query token, 1 thread)")
        for column in ("model", "ms / step", "CPU ms / step"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for row in bench_families():
            table.add_row(str(row["model"]), f"{row['step_ms']:.2f}", f"{row['cpu_ms']:.2f}")
        console.print(table)
    if what in ("all", "store"):
        from sdssm.bench.store import bench_store

        result = bench_store()
        table = Table(title="store: metric rows per second into SQLite (target >= 5,000)")
        table.add_column("path")
        table.add_column("rows/s", justify="right")
        table.add_row("batched (one transaction)", f"{result['batched_rows_per_s']:,.0f}")
        table.add_row("per result (one row per transaction, the callback's path)",
                      f"{result['per_result_rows_per_s']:,.0f}")
        console.print(table)
    if what in ("all", "sweep"):
        from sdssm.bench.sweep import bench_sweep

        result = bench_sweep()
        table = Table(title=f"sweep layer overhead, {result['trials']} tiny trials one at a time "
                      "(target <= 1 s per trial)")
        table.add_column("measure")
        table.add_column("seconds", justify="right")
        table.add_row("trials called directly (total)", f"{result['direct_s']:.2f}")
        table.add_row("same trials through the runner (total)", f"{result['sweep_s']:.2f}")
        table.add_row("Ray start-up (once per run)", f"{result['ray_startup_s']:.2f}")
        table.add_row("overhead per trial", f"{result['overhead_per_trial_s']:.2f}")
        table.add_row("overhead per trial, start-up included", f"{result['overhead_per_trial_with_startup_s']:.2f}")
        console.print(table)
