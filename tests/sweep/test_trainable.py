"""Checkpoints are data, never code, and a bad one costs at most the steps since the one before it.

Real files throughout: checkpoints written by a real trainer (and by a real Ray sweep), then truncated,
garbled or replaced by a planted pickle whose unpickling would create a marker file."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.runner import RunOptions, run_sweep
from sdssm.sweep.spec import load_spec
from sdssm.sweep.store import Store
from sdssm.sweep.trainable import CHECKPOINT_FILE, CheckpointError, load_checkpoint_dir, start_trainer
from sdssm.train import Trainer, train
from tests.sweep.conftest import write_spec
from tests.sweep.faults import fail_once_at_step

CONFIG = TrialConfig(state_size=8, k=2, max_steps=60, eval_interval=20, eval_samples=4, final_eval_samples=4,
                     test_max_length=45, device="cpu", early_stop=False)


class _Planted:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:  # what a hostile checkpoint would carry: a command run on unpickling
        return (os.system, (f"touch {self.marker}",))


def _damage(file: Path, how: str, marker: Path) -> None:
    data = file.read_bytes()
    if how == "truncated":
        file.write_bytes(data[: len(data) // 2])
    elif how == "garbled":
        middle = len(data) // 2
        file.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 4096]) + data[middle + 4096:])
    elif how == "planted zip":  # a torch file (zip) holding the object
        torch.save({"format": 2, "model": _Planted(marker)}, file)
    elif how == "planted pickle":  # a bare pickle stream
        file.write_bytes(pickle.dumps({"model": _Planted(marker)}))
    elif how == "missing":
        file.unlink()
    else:
        raise ValueError(how)


def _trial_folders(tmp_path: Path) -> list[Path]:
    """A trial folder as Ray keeps it: checkpoint_000000 (step 20), checkpoint_000001 (step 40)."""
    folders: list[Path] = []

    def save(result: Any, checkpoint: Any) -> None:
        if len(folders) < 2:
            folder = tmp_path / "trial" / f"checkpoint_{len(folders):06d}"
            folder.mkdir(parents=True)
            torch.save(checkpoint(), folder / CHECKPOINT_FILE)
            folders.append(folder)

    Trainer(CONFIG).run(save)
    return folders


def _start(resume_from: Path) -> Any:
    with warnings.catch_warnings():  # tune.get_checkpoint() outside Ray: None, with a warning
        warnings.simplefilter("ignore")
        return start_trainer({"trial": CONFIG.to_dict(), "key": CONFIG.key, "resume_from": str(resume_from)})


def test_a_real_trainer_state_round_trips(tmp_path: Path) -> None:
    older, newest = _trial_folders(tmp_path)
    start = _start(newest)
    assert start.trainer.step == 40 and start.note is None
    assert Trainer(CONFIG, load_checkpoint_dir(older)).step == 20


@pytest.mark.parametrize("how", ["planted zip", "planted pickle"])
def test_a_planted_pickle_is_refused_as_untrusted_without_running(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "planted-marker"
    (tmp_path / "checkpoint_000000").mkdir()
    torch.save(Trainer(CONFIG).state_dict(), tmp_path / "checkpoint_000000" / CHECKPOINT_FILE)
    _damage(tmp_path / "checkpoint_000000" / CHECKPOINT_FILE, how, marker)
    with pytest.raises(CheckpointError, match="untrusted"):
        load_checkpoint_dir(tmp_path / "checkpoint_000000")
    assert not marker.exists()


@pytest.mark.parametrize("how, word", [("truncated", "unreadable"), ("garbled", "unreadable"),
                                       ("missing", "unreadable"), ("planted zip", "untrusted"),
                                       ("planted pickle", "untrusted")])
def test_a_bad_newest_checkpoint_falls_back_to_the_one_before(tmp_path: Path, how: str, word: str) -> None:
    marker = tmp_path / "planted-marker"
    older, newest = _trial_folders(tmp_path)
    _damage(newest / CHECKPOINT_FILE, how, marker)
    start = _start(newest)
    assert start.trainer.step == 20
    assert start.note.startswith(f"checkpoint {newest} {word} (")
    assert start.note.endswith("; resumed from checkpoint_000000 at step 20")
    assert not marker.exists()
    # ... and the trial then ends exactly as an uninterrupted one.
    assert start.trainer.run().final.accuracy_by_length == train(CONFIG).final.accuracy_by_length


def test_no_usable_checkpoint_starts_fresh_and_says_so(tmp_path: Path) -> None:
    older, newest = _trial_folders(tmp_path)
    _damage(newest / CHECKPOINT_FILE, "truncated", tmp_path / "m")
    _damage(older / CHECKPOINT_FILE, "garbled", tmp_path / "m")
    start = _start(newest)
    assert start.trainer.step == 0
    assert f"checkpoint {newest} unreadable" in start.note and f"checkpoint {older} unreadable" in start.note
    assert start.note.endswith("; started fresh")


def test_a_checkpoint_of_another_trial_is_passed_over(tmp_path: Path) -> None:
    older, newest = _trial_folders(tmp_path)
    torch.save(Trainer(CONFIG.replace(seed=1)).state_dict(), newest / CHECKPOINT_FILE)
    start = _start(newest)
    assert start.trainer.step == 20 and "unusable (checkpoint belongs to trial" in start.note


@pytest.mark.timeout(300)
@pytest.mark.parametrize("damage", ["truncated", "planted"])
def test_a_sweep_trial_resumes_from_the_older_checkpoint_when_the_newest_is_bad(tmp_path: Path,
                                                                                damage: str) -> None:
    """A real tiny trial on a real Ray: it fails once after its step-40 checkpoint; its retry finds that
    checkpoint damaged, resumes from the step-20 one Ray kept, says so in the store, and ends exactly as an
    uninterrupted run. A planted object is never run."""
    spec = load_spec(write_spec(tmp_path, seeds=[0], max_failures=2))
    failed, planted = tmp_path / "failed-once", tmp_path / "planted-marker"
    options = RunOptions(db_url=str(tmp_path / "results.db"), storage_path=str(tmp_path / "ray"), num_cpus=2,
                         dashboard=False)
    run_sweep(spec, options, Console(quiet=True),
              trainable=fail_once_at_step(40, failed, damage=damage, planted_marker=planted))
    assert failed.exists(), "the injected failure never happened"
    assert not planted.exists(), "the planted checkpoint was unpickled"
    (trial,) = Store(options.db_url, create=False).trials(["tiny"])
    assert trial.status == "finished" and trial.attempts == 2
    assert trial.resumed_from_step == 20
    word = "unreadable" if damage == "truncated" else "untrusted"
    assert trial.restore_note is not None
    assert f"/checkpoint_000001 {word} (" in trial.restore_note
    assert trial.restore_note.endswith("resumed from checkpoint_000000 at step 20")
    frames = Store(options.db_url, create=False).frames(["tiny"])
    assert sorted(frames["metrics"]["step"]) == [20, 40, 60]
    direct = train(TrialConfig.from_dict({**spec.trials[0].to_dict(), "device": "cpu"}))
    stored = frames["lengths"].sort_values("length")["accuracy"].tolist()
    assert stored == pytest.approx(direct.final.accuracy_by_length)
