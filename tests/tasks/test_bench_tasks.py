"""Smoke test of the sampling benchmark (tiny sizes; the timing itself is not asserted)."""

from __future__ import annotations

from sdssm.bench.tasks import bench_tasks


def test_bench_rows() -> None:
    rows = bench_tasks(batch_size=4, length=10, repeats=2)
    names = [row["task"] for row in rows]
    assert "A5" in names and "modular_arithmetic" in names and "automaton" not in names and "Dn" not in names
    assert {"flip_flop", "tomita3", "Dyck(8,10)", "S5"} <= set(names) and "dyck" not in names and "group" not in names
    assert all(isinstance(row["ms"], float) and row["ms"] > 0 for row in rows)
