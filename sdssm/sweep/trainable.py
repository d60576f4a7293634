"""The Ray Tune function trainable: runs one trial of the pure trainer inside a Ray worker.

Where a trial starts from, in order: the checkpoint Ray hands back after a crash in this run
(`tune.get_checkpoint()`), else the checkpoint an earlier run of the sweep recorded in the store
(`resume_from`, an absolute path under the sweep's storage), else from scratch.

Fault injection for tests (real failures, no mocks): when the trial parameters carry
`fail_once_at_step` and `fail_marker` (an absolute path), the trial raises once at that step and
leaves the marker so its retry does not raise again.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from sdssm.config import TrialConfig
from sdssm.train import Trainer

CHECKPOINT_FILE = "trainer.pt"


class InjectedFault(RuntimeError):
    """Raised on purpose by the fault-injection hook."""


def load_checkpoint_dir(path: str | Path) -> dict[str, Any]:
    """The trainer state saved in a checkpoint folder. Read with `weights_only=True`: a checkpoint holds
    tensors, numbers, strings, lists and dicts only, and anything else in the file (a pickled object,
    which would run code on load) is refused with torch's UnpicklingError."""
    return torch.load(Path(path) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)


def run_trial(tune_config: dict[str, Any]) -> None:
    """Ray Tune entry point. tune_config["trial"] holds {"trial": TrialConfig dict, "key": str,
    "resume_from": str | None, optional fault-injection keys} (see runner.trial_params)."""
    params = tune_config["trial"]
    config = TrialConfig.from_dict(params["trial"])
    node_id = ray.get_runtime_context().get_node_id()
    state = _starting_state(params)
    fail_at = params.get("fail_once_at_step")
    marker = Path(params["fail_marker"]) if params.get("fail_marker") else None

    def report(metrics: dict[str, Any], checkpoint: Any) -> None:
        payload = {name: _plain(value) for name, value in metrics.items()}
        payload["trial_key"] = config.key
        payload["node_id"] = node_id
        with tempfile.TemporaryDirectory(prefix="sdssm-ckpt-") as folder:
            torch.save(checkpoint(), Path(folder) / CHECKPOINT_FILE)
            tune.report(payload, checkpoint=tune.Checkpoint.from_directory(folder))
        if (fail_at is not None and marker is not None and not metrics.get("final")
                and metrics["step"] >= fail_at and not marker.exists()):
            marker.write_text(f"failed once at step {metrics['step']}\n")
            raise InjectedFault(f"injected failure at step {metrics['step']} (test hook)")

    Trainer(config, state).run(report)


def _starting_state(params: dict[str, Any]) -> dict[str, Any] | None:
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            return load_checkpoint_dir(folder)
    resume_from = params.get("resume_from")
    if resume_from and (Path(resume_from) / CHECKPOINT_FILE).exists():
        return load_checkpoint_dir(resume_from)
    return None


def _plain(value: Any) -> Any:
    """Results travel as JSON-like values; NaN stays NaN (Ray logs it), None stays None."""
    if isinstance(value, float) and math.isinf(value):
        return float("nan")
    return value
