"""Shared helpers for the sweep tests: tiny real sweeps on a 2-CPU local Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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
