"""Trainables with real faults, for crash/restore tests (as Ray's own Tune tests pass their trainables in).

Each is the product trainable (`sdssm.sweep.trainable.run_trial`) composed from the same parts, plus a
fault; `run_sweep(..., trainable=...)` runs it. Everything a trainable uses is defined inside its
factory, so Ray pickles it by value and its workers need not import this module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

DAMAGES = ("truncated", "garbled", "planted")  # what `fail_once_at_step` can do to the newest checkpoint


def fail_once_at_step(step: int, marker: Path, *, damage: str | None = None,
                      planted_marker: Path | None = None) -> Callable[[dict[str, Any]], None]:
    """A trainable that raises once, right after reporting (and checkpointing) its first periodic result
    at or past `step`, and leaves `marker` so that its retry runs through.

    With `damage`, the retry first damages the newest checkpoint Ray hands it (its trainer.pt):
    "truncated" (half its bytes), "garbled" (bytes in the middle inverted) or "planted" (replaced by a
    torch file holding an object whose unpickling would create `planted_marker`)."""
    if damage is not None and damage not in DAMAGES:
        raise ValueError(f"damage {damage!r} is not one of {DAMAGES}")

    def trainable(tune_config: dict[str, Any]) -> None:
        import os

        import torch
        from ray import tune

        from sdssm.results import PeriodicResult, Result
        from sdssm.sweep.trainable import CHECKPOINT_FILE, ray_reporter, start_trainer

        class Planted:
            def __reduce__(self) -> Any:  # what a hostile checkpoint carries: code run on unpickling
                return (os.system, (f"touch {planted_marker}",))

        checkpoint = tune.get_checkpoint()
        if damage is not None and checkpoint is not None and marker.exists():
            file = Path(checkpoint.path) / CHECKPOINT_FILE
            data = file.read_bytes()
            if damage == "truncated":
                file.write_bytes(data[: len(data) // 2])
            elif damage == "garbled":
                middle = len(data) // 2
                file.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 4096])
                                 + data[middle + 4096:])
            else:
                torch.save({"format": 2, "model": Planted()}, file)

        start = start_trainer(tune_config["trial"])
        report = ray_reporter(start.trainer.config, start.note)

        def report_then_fail(result: Result, save: Any) -> None:
            report(result, save)
            if isinstance(result, PeriodicResult) and result.step >= step and not marker.exists():
                marker.write_text(f"failed once at step {result.step}\n")
                raise RuntimeError(f"injected failure at step {result.step} (test trainable)")

        start.trainer.run(report_then_fail)

    return trainable
