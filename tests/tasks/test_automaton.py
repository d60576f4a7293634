"""User automata from dicts and YAML files: labels, sampling weights, computed commutativity, bad specs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

import tasks
from tasks.automaton import MAX_STATES
from tasks.bounded_yaml import MAX_FILE_BYTES

# Counts a's mod 3 (b is a no-op); the class is the count mod 3.
MOD3: dict[str, Any] = {
    "states": ["q0", "q1", "q2"],
    "alphabet": ["a", "b"],
    "transitions": {"q0": {"a": "q1", "b": "q0"}, "q1": {"a": "q2", "b": "q1"}, "q2": {"a": "q0", "b": "q2"}},
    "start": "q0",
    "labels": {"q0": 0, "q1": 1, "q2": 2},
}

MOD3_YAML = """
name: mod3
description: number of a's mod 3
states: [q0, q1, q2]
alphabet: [a, b]
transitions:
  q0: {a: q1, b: q0}
  q1: {a: q2, b: q1}
  q2: {a: q0, b: q2}
start: q0
labels: {q0: 0, q1: 1, q2: 2}
num_classes: 4
symbol_weights: {a: 3}
"""


def mod3_labels(tokens: list[int]) -> list[int]:
    return [tokens[: t + 1].count(0) % 3 for t in range(len(tokens))]


def test_dict_spec() -> None:
    task = tasks.get("automaton", spec=MOD3)
    assert (task.name, task.alphabet_size, task.num_classes, task.commutative) == ("automaton", 2, 3, True)
    batch = task.sample(16, 50, torch.Generator().manual_seed(0))
    assert batch.mask.all()
    assert [mod3_labels(row) for row in batch.tokens.tolist()] == batch.labels.tolist()


def test_yaml_file_with_weights(tmp_path: Path) -> None:
    path = tmp_path / "mod3.yaml"
    path.write_text(MOD3_YAML)
    task = tasks.get("automaton", path=str(path))
    assert (task.name, task.description, task.num_classes) == ("mod3", "number of a's mod 3", 4)
    assert tasks.get("automaton", path=path).num_classes == 4  # a Path works too
    batch = task.sample(256, 100, torch.Generator().manual_seed(0))
    assert [mod3_labels(row) for row in batch.tokens.tolist()] == batch.labels.tolist()
    share_of_a = float((batch.tokens == 0).double().mean())  # weights a: 3, b: 1 (unlisted)
    assert abs(share_of_a - 0.75) < 0.01


def test_zero_weight_symbols_are_never_drawn() -> None:
    spec = {**MOD3, "alphabet": ["a", "b", "c"], "symbol_weights": {"a": 0, "c": 0}}
    spec["transitions"] = {s: {**row, "c": s} for s, row in MOD3["transitions"].items()}
    tokens = tasks.get("automaton", spec=spec).sample(64, 64, torch.Generator().manual_seed(0)).tokens
    assert set(tokens.unique().tolist()) == {1}


def test_integer_names_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "parity.yaml"
    path.write_text(
        "states: [0, 1]\nalphabet: [0, 1]\nstart: 0\nlabels: {0: 0, 1: 1}\n"
        "transitions: {0: {0: 0, 1: 1}, 1: {0: 1, 1: 0}}\n"
    )
    batch = tasks.get("automaton", path=path).sample(8, 20, torch.Generator().manual_seed(0))
    assert torch.equal(batch.labels, batch.tokens.cumsum(dim=1) % 2)


def test_commutativity_is_computed_on_reachable_states() -> None:
    # 'a' then 'b' differs from 'b' then 'a' only from state x, which cannot be reached: still commutative.
    spec = {
        "states": ["s", "x", "y", "z"],
        "alphabet": ["a", "b"],
        "transitions": {
            "s": {"a": "s", "b": "s"},
            "x": {"a": "y", "b": "z"},
            "y": {"a": "y", "b": "y"},
            "z": {"a": "z", "b": "z"},
        },
        "start": "s",
        "labels": {"s": 0, "x": 0, "y": 1, "z": 0},
    }
    assert tasks.get("automaton", spec=spec).commutative
    assert not tasks.get("automaton", spec={**spec, "start": "x"}).commutative


def broken(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MOD3)
    for key, value in changes.items():
        if value is None:
            del spec[key]
        else:
            spec[key] = value
    return spec


def with_transitions(**rows: Any) -> dict[str, Any]:
    transitions = copy.deepcopy(MOD3["transitions"])
    for state, row in rows.items():
        if row is None:
            del transitions[state]
        else:
            transitions[state] = row
    return broken(transitions=transitions)


@pytest.mark.parametrize(
    "spec, message",
    [
        ([1, 2], "expected a mapping"),
        (broken(transitions=None), "missing required key.*transitions"),
        (broken(colour="red"), "unknown key.*colour"),
        (broken(alphabet=[]), "alphabet: must not be empty"),
        (broken(states=[]), "states: must not be empty"),
        (broken(alphabet="ab"), "alphabet: expected a list"),
        (broken(states=["q0", "q1", "q1"]), "states: duplicate.*'q1'"),
        (broken(start="q9"), "start: unknown state 'q9'"),
        (with_transitions(q1=None), "missing transitions for state 'q1'"),
        (with_transitions(q1={"a": "q2"}), r"transitions\.q1: missing transition for symbol 'b'"),
        (with_transitions(q1={"a": "q2", "b": "q1", "c": "q0"}), r"transitions\.q1: unknown symbol.*'c'"),
        (with_transitions(q1={"a": "q7", "b": "q1"}), r"transitions\.q1\.a: unknown target state 'q7'"),
        (with_transitions(q9={"a": "q0", "b": "q0"}), r"transitions: unknown state.*'q9'"),
        (with_transitions(q1="q2"), r"transitions\.q1: expected a mapping"),
        (broken(labels={"q0": 0, "q1": 1}), "missing a label for state.*'q2'"),
        (broken(labels={"q0": 0, "q1": 1, "q2": 2, "q3": 0}), "labels: unknown state.*'q3'"),
        (broken(labels={"q0": 0, "q1": -1, "q2": 2}), r"labels\.q1: a class must be an integer >= 0"),
        (broken(labels={"q0": 0, "q1": "one", "q2": 2}), r"labels\.q1: a class must be an integer"),
        (broken(num_classes=2), r"labels: class of state.*'q2'.*outside 0\.\.1"),
        (broken(num_classes=1, labels={"q0": 0, "q1": 0, "q2": 0}), "at least 2 classes"),
        (broken(labels={"q0": 0, "q1": 0, "q2": 0}), "at least 2 classes"),
        (broken(num_classes="3"), "num_classes: expected an integer"),
        (broken(symbol_weights={"z": 1}), "symbol_weights: unknown symbol 'z'"),
        (broken(symbol_weights={"a": -1}), r"symbol_weights\.a: a weight must be a finite number >= 0"),
        (broken(symbol_weights={"a": 0, "b": 0}), "at least one symbol needs a positive weight"),
    ],
)
def test_malformed_spec(spec: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        tasks.get("automaton", spec=spec)
    assert str(error.value).startswith("automaton spec: ")


def test_spec_or_path_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of the parameters spec"):
        tasks.get("automaton")
    with pytest.raises(ValueError, match="exactly one of the parameters spec"):
        tasks.get("automaton", spec=MOD3, path=str(tmp_path / "x.yaml"))
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) file; it accepts spec, path"):
        tasks.get("automaton", file="x.yaml")


def test_too_many_states_are_refused_before_the_table_is_built() -> None:
    n = MAX_STATES + 1
    spec = {"states": list(range(n)), "alphabet": ["a"], "start": 0, "labels": {}, "transitions": {}}
    with pytest.raises(ValueError, match=r"states: 10,001 names, above the cap of 10,000 \(MAX_STATES\)"):
        tasks.get("automaton", spec=spec)


def test_bad_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ValueError, match=r"automaton file '.*missing\.yaml': cannot be read"):
        tasks.get("automaton", path=missing)
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"automaton file '.*zero\.yaml': is not a regular file"):
        tasks.get("automaton", path=tmp_path / "zero.yaml")
    (tmp_path / "big.yaml").write_text("#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ValueError, match=r"larger than the cap of 1,048,576 bytes \(MAX_FILE_BYTES"):
        tasks.get("automaton", path=tmp_path / "big.yaml")
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("states: [a, b\n")
    with pytest.raises(ValueError, match=r"automaton file '.*invalid\.yaml': not valid YAML"):
        tasks.get("automaton", path=invalid)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match=r"automaton file '.*list\.yaml': expected a mapping"):
        tasks.get("automaton", path=listing)
    bad = tmp_path / "bad.yaml"
    bad.write_text(MOD3_YAML.replace("start: q0", "start: q5"))
    with pytest.raises(ValueError, match=r"automaton file '.*bad\.yaml': start: unknown state 'q5'"):
        tasks.get("automaton", path=bad)
