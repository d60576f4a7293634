from __future__ import annotations

import pytest

from sdssm.config import MAX_TRIAL_MEMORY_BYTES, TrialConfig, TrialConfigError, trial_problems


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
    ({"model": "transformer"}, "model: must be one of sdssm, diagonal, rnn, lstm, pdssm, gated, got 'transformer'"),
    ({"model": "lstn"}, "did you mean 'lstm'?"),
    ({"readout": "deep"}, "readout"),
    ({"lr": 0}, "lr: must be a finite number > 0, got 0"),
    ({"lr": float("nan")}, "lr: must be a finite number > 0, got nan"),
    ({"k": 0}, "k: must be an integer in 1..256, got 0"),
    ({"k": 8.0}, "k: must be an integer in 1..256, got 8.0"),
    ({"use_b": 1}, "use_b: must be true or false, got 1"),
    ({"seed": 2**64}, "seed: must be an integer in 0..2,147,483,647, got 18446744073709551616"),
    ({"state_size": 10**9}, "state_size: must be an integer in 1..4,096, got 1000000000"),
    ({"test_max_length": 10**9}, "test_max_length: must be an integer in 1..100,000, got 1000000000"),
    ({"batch_size": 10**6}, "batch_size: must be an integer in 1..65,536"),
    ({"max_steps": 10**9}, "max_steps: must be an integer in 1..100,000,000"),
    ({"test_max_length": 100_000, "state_size": 4096}, "above the cap of 16 GiB (MAX_TRIAL_MEMORY_BYTES"),
    ({"task_params": {"a": {0: 1, "b": 2}}}, "task_params: must be a mapping of parameter names"),
    ({"seeds": 1}, "seeds: unknown trial field; did you mean 'seed'?"),
    ({"p": 0.5}, "p: must be a finite number in [1, 16], got 0.5"),
    ({"train_min_length": 50}, "train_min_length (50) must be <= train_max_length"),
    ({"test_max_length": 10}, "test_max_length (10) must be >= train_max_length"),
    ({"seed": -1}, "seed"),
    ({"supervision": "all"}, "supervision: must be one of last, prefixes, got 'all'"),
])
def test_invalid_values_are_named(changes: dict, message: str) -> None:
    with pytest.raises(TrialConfigError) as info:
        TrialConfig(**changes)
    assert message in str(info.value) and "pydantic" not in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(TrialConfigError):  # replace validates too
        TrialConfig().replace(**changes)


def test_unknown_fields_are_named() -> None:
    with pytest.raises(ValueError, match="unknown trial field.*lerning_rate"):
        TrialConfig.from_dict({"lerning_rate": 0.1})


# Keys computed before TrialConfig moved from a hand-written problems() to pydantic: the store's identity
# of a trial must not change with how its config is validated.
FIXED_KEYS = [
    ({}, "4d59201d8a5fbb18"),
    ({"task": "D4", "model": "lstm", "lr": 1e-3, "seed": 2}, "82b22db102fffdfb"),
    ({"task": "Dn", "task_params": {"n": 7}, "model": "diagonal", "use_b": False, "lr": 1, "seed": 3},
     "baa3ccf342f6f4c3"),
    ({"task": "automaton", "task_params": {"spec": {"states": ["a", "b"], "labels": {"a": 0, "b": 1}}},
      "model": "sdssm", "k": 4, "p": 1.5, "readout": "mlp", "mlp_hidden": 32, "supervision": "prefixes",
      "weight_decay": 0.01, "batch_size": 16, "grad_clip": 0.5, "max_steps": 3000, "train_min_length": 2,
      "train_max_length": 20, "test_max_length": 100, "eval_interval": 100, "eval_samples": 8,
      "final_eval_samples": 16, "early_stop": False, "solve_threshold": 0.99, "solve_patience": 3,
      "query_token": False, "state_size": 32, "device": "cpu", "threads": 2}, "35e5350be4c0908a"),
    ({"model": "rnn", "state_size": 128, "seed": 2**31 - 1}, "eb693af76e747627"),
]


@pytest.mark.parametrize("values, key", FIXED_KEYS)
def test_keys_are_unchanged_by_the_pydantic_validation(values: dict, key: str) -> None:
    config = TrialConfig(**values)
    assert config.key == key
    assert TrialConfig.from_dict(config.to_dict()).key == key


def test_frozen_hashable_and_problems_without_raising() -> None:
    config = TrialConfig(task="Dn", task_params={"n": 5})
    with pytest.raises(AttributeError):
        config.k = 3  # type: ignore[misc]
    assert len({config, TrialConfig(task="Dn", task_params={"n": 5})}) == 1
    assert trial_problems({"seed": 1}) == []
    (problem,) = trial_problems({"k": 0})
    assert (problem.field, problem.message) == ("k", "must be an integer in 1..256, got 0")


def test_the_memory_estimate_of_the_paper_protocol_is_far_below_the_cap() -> None:
    assert TrialConfig().memory_estimate_bytes() < MAX_TRIAL_MEMORY_BYTES / 100
