"""Checkpoint files are data, never code: a planted pickle is refused, a real trainer state loads."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from sdssm.config import TrialConfig
from sdssm.sweep.trainable import CHECKPOINT_FILE, load_checkpoint_dir
from sdssm.train import Trainer


class _Planted:
    def __reduce__(self):  # what a hostile checkpoint would carry: a command run on unpickling
        return (os.system, ("touch planted-marker",))


def test_a_real_trainer_state_round_trips(tmp_path: Path) -> None:
    config = TrialConfig(state_size=8, k=2, max_steps=4, eval_interval=2, eval_samples=4, final_eval_samples=4,
                         test_max_length=45, device="cpu")
    trainer = Trainer(config)
    trainer.run()
    torch.save(trainer.state_dict(), tmp_path / CHECKPOINT_FILE)
    restored = Trainer(config, load_checkpoint_dir(tmp_path))
    assert restored.step == 4 and restored.final == trainer.final


def test_a_planted_pickle_is_refused_without_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / CHECKPOINT_FILE).write_bytes(pickle.dumps({"model": _Planted()}))
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint_dir(tmp_path)
    assert not (tmp_path / "planted-marker").exists()
