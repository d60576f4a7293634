"""Shared helpers for the sweep tests: tiny real sweeps on a 2-CPU local Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sweep.postgres import PostgresServer, unavailable_reason

# Tiny but real trials: SD-SSM on parity, a few hundred steps, evaluated up to length 30.
TINY_TRAIN: dict[str, Any] = {
    "max_steps": 60, "eval_interval": 20, "eval_samples": 16, "final_eval_samples": 16,
    "train_max_length": 8, "test_max_length": 30, "state_size": 8, "k": 2, "batch_size": 16,
    "early_stop": False, "lr": 1.0e-3,
}


def write_spec(folder: Path, name: str = "tiny", seeds: list[int] | None = None, **top: Any) -> Path:
    data: dict[str, Any] = {
        "name": name,
        "train": {**TINY_TRAIN, **top.pop("train", {})},
        "grid": {"task": "parity_check", "model": "sdssm", "seed": seeds if seeds is not None else [0, 1]},
        "max_concurrent": 2,
        **top,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cli(*args: str, cwd: Path, timeout: float = 300, **popen: Any) -> subprocess.CompletedProcess[str]:
    """Run `sdssm-sweep ARGS` as a user would (a fresh process), capturing its output."""
    env = {**os.environ, "RAY_DEDUP_LOGS": "0", "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "sdssm.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, **popen)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


# --- PostgreSQL ---------------------------------------------------------------------------------------------
# A real server for the store tests (tests/sweep/postgres.py). Without one they skip, naming why; with
# SDSSM_REQUIRE_POSTGRES=1 (CI, .ci/run) they fail instead, so CI never passes without having run them.

@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("SDSSM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SDSSM_REQUIRE_POSTGRES=1 but no PostgreSQL server can be started: {reason}")
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own for one test (dropped after it)."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store URL per backend: a new SQLite file, and a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.db'}"
    return str(request.getfixturevalue("pg_url"))
