from __future__ import annotations

import pytest

from sdssm.config import TrialConfig


def test_key_is_stable_and_ignores_fields_the_model_does_not_read() -> None:
    assert TrialConfig().key == TrialConfig().key
    assert TrialConfig(seed=1).key != TrialConfig(seed=0).key
    # k and p mean nothing to an LSTM: same trial.
    assert TrialConfig(model="lstm", k=3, p=1.1).key == TrialConfig(model="lstm", k=5, p=1.3).key
    # ... but they do to SD-SSM.
    assert TrialConfig(k=3).key != TrialConfig(k=5).key
    # Where a trial runs is not what it is.
    assert TrialConfig(device="cpu", threads=2).key == TrialConfig(device="auto").key
    # 1 and 1.0 are the same learning rate.
    assert TrialConfig(lr=1).key == TrialConfig(lr=1.0).key


def test_fields_added_later_keep_the_keys_issued_before_them() -> None:
    """`supervision` came after databases held trials: at its default (the paper's `last`) it is left
    out of the key, so these keys, computed before the field existed, still name the same trials."""
    assert TrialConfig().key == "4d59201d8a5fbb18"
    assert TrialConfig(task="D4", model="lstm", lr=1e-3, seed=2).key == "82b22db102fffdfb"
    assert TrialConfig(supervision="prefixes").key != TrialConfig().key
    assert "supervision" not in TrialConfig().normalized()


def test_round_trip_through_dict() -> None:
    config = TrialConfig(task="D4", task_params={"n": 4}, model="diagonal", use_b=False)
    assert TrialConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("changes, message", [
    ({"model": "transformer"}, "unknown model 'transformer'"),
    ({"readout": "deep"}, "readout"),
    ({"lr": 0}, "lr: must be a number > 0"),
    ({"k": 0}, "k: must be an integer >= 1"),
    ({"p": 0.5}, "p: must be a number in [1, 16]"),
    ({"train_min_length": 50}, "train_min_length (50) must be <= train_max_length"),
    ({"test_max_length": 10}, "test_max_length (10) must be >= train_max_length"),
    ({"seed": -1}, "seed"),
    ({"supervision": "all"}, "supervision: 'all' is not one of last, prefixes"),
])
def test_invalid_values_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        TrialConfig(**changes)


def test_unknown_fields_are_named() -> None:
    with pytest.raises(ValueError, match="unknown trial field.*lerning_rate"):
        TrialConfig.from_dict({"lerning_rate": 0.1})
