"""The Ray Tune function trainable: runs one trial of the pure trainer inside a Ray worker.

Where a trial starts from: the newest usable checkpoint among, in order,
  1. the checkpoint Ray hands back after a crash in this run (`tune.get_checkpoint()`), then the older
     checkpoints Ray kept beside it (`checkpoint_00000N` folders of the trial, newest first; the runner
     keeps two);
  2. the checkpoint an earlier run of the sweep recorded in the store (`resume_from`, an absolute path
     under the sweep's storage), then the older ones kept beside it;
  3. else a fresh start.
A checkpoint is unusable when its file is missing, truncated or garbled, belongs to another trial, or is
not weights-only: it is read with `torch.load(..., weights_only=True)`, so a pickled object (which would
run code on load) is refused as untrusted and never executed. When the first candidate is unusable, the
trial says so (a note on its stderr, and in every result of this attempt as `restore_note`, which the
driver records in the store), e.g. "checkpoint .../checkpoint_000003 unreadable (...); resumed from
checkpoint_000002 at step 1500" or "...; started fresh".

`run_trial` is composed of `start_trainer` and `ray_reporter`; tests compose them with a fault of their
own (tests/sweep/faults.py) and pass that trainable to `run_sweep`.
"""

from __future__ import annotations

import pickle
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from sdssm.config import TrialConfig
from sdssm.results import Result, parse_report
from sdssm.train import ReportFn, Trainer

CHECKPOINT_FILE = "trainer.pt"
_CHECKPOINT_DIR = re.compile(r"checkpoint_(\d+)")


class CheckpointError(Exception):
    """A checkpoint that cannot be used: unreadable, untrusted, or not this trial's. The message says which."""


def load_checkpoint_dir(path: str | Path) -> dict[str, Any]:
    """The trainer state saved in a checkpoint folder. Read with `weights_only=True`: a checkpoint holds
    tensors, numbers, strings, lists and dicts only. Raises CheckpointError: "untrusted (...)" when the
    file holds anything else (torch's weights-only unpickler refuses it before running any of it; a
    garbled pickle stream is refused the same way), "unreadable (...)" when it is missing, empty,
    truncated or not a torch file."""
    file = Path(path) / CHECKPOINT_FILE
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"untrusted (not a weights-only file: {_reason(exc)})") from exc
    except (OSError, EOFError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"unreadable ({_reason(exc)})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"unreadable (holds a {type(state).__name__}, not a trainer state)")
    return state


@dataclass(frozen=True)
class Restored:
    """Where a trial starts: its trainer, and a note when a checkpoint had to be passed over."""

    trainer: Trainer
    note: str | None


def start_trainer(params: dict[str, Any]) -> Restored:
    """The trial's Trainer from the newest usable checkpoint (see the module docstring), or fresh.
    `params` is tune_config["trial"]: {"trial": TrialConfig dict, "key": str, "resume_from": str | None}."""
    config = TrialConfig.from_dict(params["trial"])
    passed_over: list[str] = []
    for folder in _candidates(params.get("resume_from")):
        try:
            trainer = _restore(config, folder)
        except CheckpointError as error:
            passed_over.append(f"checkpoint {folder} {error}")
            continue
        if not passed_over:
            return Restored(trainer, None)
        return Restored(trainer, _note(passed_over, f"resumed from {folder.name} at step {trainer.step}"))
    trainer = Trainer(config)
    return Restored(trainer, _note(passed_over, "started fresh") if passed_over else None)


def ray_reporter(config: TrialConfig, restore_note: str | None = None) -> ReportFn:
    """The trainer's `report` inside a Ray worker: every result goes to Ray Tune with its checkpoint
    (a folder holding CHECKPOINT_FILE), and with the trial key, Ray's node id and the restore note."""
    node_id = ray.get_runtime_context().get_node_id()
    envelope: dict[str, Any] = {"trial_key": config.key, "node_id": node_id}
    if restore_note is not None:
        envelope["restore_note"] = restore_note

    def report(result: Result, checkpoint: Callable[[], dict[str, Any]] | None) -> None:
        payload = {**result.to_report(), **envelope}
        if checkpoint is None:
            tune.report(payload)
            return
        with tempfile.TemporaryDirectory(prefix="sdssm-ckpt-") as folder:
            torch.save(checkpoint(), Path(folder) / CHECKPOINT_FILE)
            tune.report(payload, checkpoint=tune.Checkpoint.from_directory(folder))

    return report


def run_trial(tune_config: dict[str, Any]) -> None:
    """Ray Tune entry point: tune_config["trial"] is what runner.trial_params built."""
    start = start_trainer(tune_config["trial"])
    start.trainer.run(ray_reporter(start.trainer.config, start.note))


@dataclass(frozen=True)
class TrialReport:
    """One Ray result as the driver reads it: the typed result, and what `ray_reporter` added to it."""

    result: Result
    trial_key: str | None
    node_id: str | None  # Ray's node id of the worker
    restore_note: str | None  # set in every result of an attempt that passed over a checkpoint

    @classmethod
    def from_report(cls, payload: dict[str, Any]) -> TrialReport:
        return cls(parse_report(payload), payload.get("trial_key"), payload.get("node_id"),
                   payload.get("restore_note"))


def _restore(config: TrialConfig, folder: Path) -> Trainer:
    state = load_checkpoint_dir(folder)
    try:
        return Trainer(config, state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # wrong trial, format, shapes, keys
        raise CheckpointError(f"unusable ({_reason(exc)})") from exc


def _candidates(resume_from: str | None) -> Iterator[Path]:
    """Checkpoint folders to try, newest first, each newest checkpoint followed by the older ones Ray
    kept beside it; each folder once."""
    seen: set[Path] = set()
    newest: list[Path] = []
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        newest.append(Path(checkpoint.path))
    if resume_from:
        newest.append(Path(resume_from))
    for first in newest:
        for folder in [first, *_older_siblings(first)]:
            resolved = folder.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield folder


def _older_siblings(folder: Path) -> list[Path]:
    match = _CHECKPOINT_DIR.fullmatch(folder.name)
    if match is None or not folder.parent.is_dir():
        return []
    index = int(match.group(1))
    older = [(int(m.group(1)), p) for p in folder.parent.iterdir()
             if p.is_dir() and (m := _CHECKPOINT_DIR.fullmatch(p.name)) and int(m.group(1)) < index]
    return [p for _, p in sorted(older, reverse=True)]


def _note(passed_over: list[str], outcome: str) -> str:
    note = "; ".join([*passed_over, outcome])
    print(f"sdssm trial: {note}", file=sys.stderr, flush=True)
    return note


def _reason(exc: BaseException) -> str:
    """One line of an exception's message: torch's long ones name the cause on a later line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if any(word in line for word in ("Unsupported", "GLOBAL", "central directory", "invalid header",
                                         "No such file")):
            return line[:200]
    return (lines[0][:200] if lines else type(exc).__name__)
