"""A sweep the local machine can never run (GPUs it lacks, more CPUs per trial than the local Ray gets) is
refused before Ray is imported or started and before anything is registered (issue 13, item 7): exit 2,
one message saying what to do, no trial of the sweep in the database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sdssm.sweep.store import Store
from tests.sweep.conftest import write_spec

# `sdssm-sweep run` in a fresh process; prints its exit code and whether Ray was imported.
PROBE = """
import json, sys
from sdssm.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "ray": "ray" in sys.modules}))
"""


def run_probe(tmp_path: Path, *args: str) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, "run", *args, "--db", str(tmp_path / "r.db"),
                           "--storage", str(tmp_path / "ray"), "--no-dashboard"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def no_trials(tmp_path: Path, sweep: str) -> bool:
    store = Store(str(tmp_path / "r.db"), create=False)
    return sweep not in store.sweep_names() and store.trials() == []


def test_more_cpus_per_trial_than_the_local_ray_gets_is_refused_before_ray(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, seeds=[0], resources={"cpu": 2})
    outcome, stderr = run_probe(tmp_path, str(spec), "--num-cpus", "1")
    assert outcome == {"code": 2, "ray": False}
    assert "resources.cpu is 2 per trial but the local Ray gets --num-cpus 1" in stderr
    assert "lower resources.cpu to at most 1" in stderr and "Traceback" not in stderr
    assert no_trials(tmp_path, "tiny")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the sweep would run")
def test_gpus_on_a_machine_without_one_are_refused_before_ray(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, seeds=[0], resources={"cpu": 1, "gpu": 1})
    outcome, stderr = run_probe(tmp_path, str(spec))
    assert outcome == {"code": 2, "ray": False}
    assert "resources.gpu is 1 per trial but this machine has no GPUs" in stderr and "--cpu-only" in stderr
    assert no_trials(tmp_path, "tiny")
