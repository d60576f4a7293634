"""TensorBoard runs written from the database (`sdssm-sweep export --tensorboard DIR`).

Ray's own TensorBoard files name folders by hash, nest hyperparameters as `config/trial/trial/lr`, put
Ray's iteration on the x-axis and split a resumed trial in two. Written from the store instead, each trial
is one run:
- one folder per trial, named by what tells it apart: task, model variant, supervision where it is not the
  paper's, lr, k and p where the family reads them, seed, and the key's first 8 characters (unique);
- its periodic evaluations as scalars (loss, train/in-range/beyond accuracy, in %) at the training step;
- its flat hyperparameters and final results in TensorBoard's HParams tab;
- one continuous run across resumes: the store keeps one row per (trial, step), so a resumed trial's steps
  simply continue. Rewriting a run replaces its folder, so an export can be repeated as a sweep goes on.
Files are written with tensorboardX (installed with Ray); the viewer is the optional `tensorboard` package
(`pip install sdssm-sweep[tensorboard]`, then `tensorboard --logdir DIR`).
"""

from __future__ import annotations

import math
import numbers
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from sdssm.config import MODEL_FIELDS

# Tags are [A-Za-z0-9_./-] (TensorBoard rewrites anything else); accuracies are in % (pct), as in the tables.
SCALARS = {"loss": "loss", "train_accuracy": "accuracy/train_pct", "in_range_accuracy": "accuracy/in_range_pct",
           "beyond_accuracy": "accuracy/beyond_pct"}
HPARAMS = ("task_label", "variant", "model", "readout", "supervision", "lr", "weight_decay", "k", "p",
           "state_size", "batch_size", "seed", "query_token", "max_steps", "train_max_length", "test_max_length")
RESULTS = {"beyond_accuracy": "final/beyond_pct", "in_range_accuracy": "final/in_range_pct",
           "peak_beyond_accuracy": "final/peak_beyond_pct", "steps": "final/steps", "solved_step": "final/solved_step"}


def run_name(trial: pd.Series) -> str:
    """e.g. parity_check-sdssm-lr0.0001-k8-p1.2-seed0-4d59201d (file-name safe)."""
    parts = [str(trial["task_label"]), str(trial["variant"])]
    if trial.get("supervision") not in (None, "last") and not _missing(trial.get("supervision")):
        parts.append(str(trial["supervision"]))
    parts.append(f"lr{trial['lr']:g}")
    for name in ("k", "p"):
        if not _missing(trial.get(name)) and name in MODEL_FIELDS.get(str(trial["model"]), ()):
            parts.append(f"{name}{trial[name]:g}")
    parts += [f"seed{int(trial['seed'])}", str(trial["key"])[:8]]
    return re.sub(r"[^\w.+=-]", "_", "-".join(parts))


def write_runs(tables: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """One TensorBoard run per trial of `tables` (analysis.trials.history_tables) under out_dir."""
    from tensorboardX import SummaryWriter
    from tensorboardX.summary import hparams

    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = tables["metrics"].groupby("trial_key")
    written = []
    for _, trial in tables["trials"].iterrows():
        folder = out_dir / run_name(trial)
        if folder.exists():
            shutil.rmtree(folder)
        with SummaryWriter(logdir=str(folder), flush_secs=3600) as writer:
            if trial["key"] in metrics.groups:
                for _, row in metrics.get_group(trial["key"]).sort_values("step").iterrows():
                    for column, tag in SCALARS.items():
                        if not _missing(row.get(column)):
                            scale = 1.0 if column == "loss" else 100.0
                            writer.add_scalar(tag, scale * float(row[column]), int(row["step"]))
            # hparams in the run's own folder (add_hparams would open a second run beside it)
            results = {tag: _result(column, trial[column]) for column, tag in RESULTS.items()
                       if not _missing(trial.get(column))}
            for summary in hparams(_hparam_values(trial), results):
                writer.file_writer.add_summary(summary)
            for tag, value in results.items():
                writer.add_scalar(tag, value, int(trial["steps"]) if not _missing(trial.get("steps")) else 0)
        written.append(folder)
    return written


def _hparam_values(trial: pd.Series) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in (*HPARAMS, *[c for c in trial.index if c.startswith("task.")]):
        value = trial.get(name)
        if _missing(value):
            continue
        if isinstance(value, (bool, str)):
            values[name] = value
        elif isinstance(value, numbers.Integral):
            values[name] = int(value)
        elif isinstance(value, numbers.Real):
            values[name] = float(value)
        else:
            values[name] = str(value)
    return values


def _result(column: str, value: Any) -> float:
    return 100.0 * float(value) if column.endswith("accuracy") else float(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
