"""Deterministic finite automata: the data structure, its validation from a spec, its properties.

A spec (a dict, or a YAML file with the same keys) describes a complete DFA with a class per state::

    states: [even, odd]                      # state names (strings; YAML scalars are turned into strings)
    alphabet: ["0", "1"]                     # symbol names; symbol i is token id i
    transitions:                             # every state maps every symbol to a state
      even: {"0": even, "1": odd}
      odd:  {"0": odd,  "1": even}
    start: even
    labels: {even: 0, odd: 1}                # the class of a string is the label of the state it ends in
    num_classes: 2                           # optional, default max(labels) + 1
    symbol_weights: {"0": 1, "1": 3}         # optional sampling weights, unlisted symbols weigh 1
    name: my_parity                          # optional, default "automaton"
    description: parity of the number of 1s  # optional, one line

Every problem (a missing key, an unknown or missing transition, an unknown start state, a label outside
the classes, an empty alphabet, ...) raises ValueError naming the source, the key and the problem.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from tasks.bounded_yaml import BoundedYamlError, read_bounded

REQUIRED_KEYS = ("states", "alphabet", "transitions", "start", "labels")
# Caps on a user automaton, checked before its table is built: states as many as the largest group
# (tasks.groups.MAX_ORDER), symbols as many as a token vocabulary of a few hundred.
MAX_STATES = 10_000
MAX_SYMBOLS = 256
OPTIONAL_KEYS = ("num_classes", "symbol_weights", "name", "description")


@dataclass(frozen=True, eq=False)
class Automaton:
    """A complete DFA over token ids ``0..len(alphabet)-1`` with a class label per state."""

    states: tuple[str, ...]  # state names; state i is row i of `transitions`
    alphabet: tuple[str, ...]  # symbol names; symbol i is token id i
    transitions: np.ndarray  # int64 [num_states, alphabet_size]: next state id
    start: int  # start state id
    labels: np.ndarray  # int64 [num_states]: class of each state
    num_classes: int
    symbol_weights: np.ndarray | None = None  # float64 [alphabet_size], sums to 1; None = uniform
    name: str = "automaton"
    description: str = ""

    @property
    def num_states(self) -> int:
        return len(self.states)

    @property
    def alphabet_size(self) -> int:
        return len(self.alphabet)

    def reachable(self) -> np.ndarray:
        """Bool [num_states]: the states reachable from `start` (breadth-first over the table)."""
        seen = np.zeros(self.num_states, dtype=bool)
        seen[self.start] = True
        frontier = np.array([self.start])
        while frontier.size:
            successors = np.unique(self.transitions[frontier].ravel())
            frontier = successors[~seen[successors]]
            seen[frontier] = True
        return seen

    def is_commutative(self) -> bool:
        """Whether reading `a` then `b` equals reading `b` then `a` from every reachable state.

        Then the state after any string depends only on how often each symbol occurs in it (swapping
        adjacent symbols never changes the state reached), which is what a diagonal SSM can track.
        """
        table = self.transitions
        successors = table[self.reachable()]  # [R, A]: T[r, b] for reachable r
        for a in range(self.alphabet_size):  # one symbol at a time keeps memory at R x A
            a_then_b = table[successors[:, a]]  # [R, A]: T[T[r, a], b]
            b_then_a = table[successors, a]  # [R, A]: T[T[r, b], a]
            if not np.array_equal(a_then_b, b_then_a):
                return False
        return True

    def run(self, tokens: np.ndarray) -> np.ndarray:
        """Reference: the state after every prefix, one position at a time. tokens [B, L] -> [B, L].

        Kept small and obviously correct; `tasks.scan.ChunkedScanner` is the fast path tested against it.
        """
        tokens = np.asarray(tokens, dtype=np.int64)
        states = np.empty(tokens.shape, dtype=np.int64)
        current = np.full(tokens.shape[0], self.start, dtype=np.int64)
        for t in range(tokens.shape[1]):
            current = self.transitions[current, tokens[:, t]]
            states[:, t] = current
        return states


def read_automaton_file(path: str | os.PathLike[str]) -> Any:
    """The parsed (not yet validated) YAML of an automaton file, within the caps of tasks.bounded_yaml
    (file size, nesting, alias expansion); ValueError naming the file otherwise."""
    source = f"automaton file {os.fspath(path)!r}"
    try:
        return read_bounded(path)[0]
    except BoundedYamlError as error:
        raise ValueError(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{source}: not valid YAML ({error})") from None


def load_automaton(path: str | os.PathLike[str]) -> Automaton:
    """Read and validate a YAML automaton spec (see the module docstring)."""
    return automaton_from_spec(read_automaton_file(path), source=f"automaton file {os.fspath(path)!r}")


def automaton_from_spec(spec: Any, source: str = "automaton spec") -> Automaton:
    """Validate a spec mapping (see the module docstring) and build its Automaton."""

    def fail(message: str) -> ValueError:
        return ValueError(f"{source}: {message}")

    if not isinstance(spec, Mapping):
        raise fail(f"expected a mapping with keys {', '.join(REQUIRED_KEYS)}, got {type(spec).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in spec]
    if missing:
        raise fail(f"missing required key(s) {', '.join(missing)}")
    unknown = [str(key) for key in spec if key not in REQUIRED_KEYS + OPTIONAL_KEYS]
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}")

    states = _names(spec["states"], "states", fail, MAX_STATES, "MAX_STATES")
    alphabet = _names(spec["alphabet"], "alphabet", fail, MAX_SYMBOLS, "MAX_SYMBOLS")
    state_id = {name: i for i, name in enumerate(states)}
    symbol_id = {name: i for i, name in enumerate(alphabet)}

    start = str(spec["start"])
    if start not in state_id:
        raise fail(f"start: unknown state {start!r}; states are {_listing(states)}")

    transitions = _transitions(spec["transitions"], state_id, symbol_id, fail)
    labels, num_classes = _labels(spec["labels"], spec.get("num_classes"), state_id, fail)
    weights = None if spec.get("symbol_weights") is None else _weights(spec["symbol_weights"], symbol_id, fail)

    name = str(spec.get("name", "automaton"))
    description = spec.get("description") or (
        f"user automaton: {len(states)} states, {len(alphabet)} symbols, {num_classes} classes"
    )
    return Automaton(
        states=states,
        alphabet=alphabet,
        transitions=transitions,
        start=state_id[start],
        labels=labels,
        num_classes=num_classes,
        symbol_weights=weights,
        name=name,
        description=" ".join(str(description).split()),  # one line
    )


def _listing(names: tuple[str, ...] | list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _names(value: Any, key: str, fail: Any, cap: int, cap_name: str) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise fail(f"{key}: expected a list of names, got {type(value).__name__}")
    if not value:
        raise fail(f"{key}: must not be empty")
    if len(value) > cap:
        raise fail(f"{key}: {len(value):,} names, above the cap of {cap:,} ({cap_name})")
    names = tuple(str(v) for v in value)
    counts = collections.Counter(names)
    duplicates = sorted(n for n, c in counts.items() if c > 1)
    if duplicates:
        raise fail(f"{key}: duplicate name(s) {_listing(duplicates)}")
    return names


def _transitions(value: Any, state_id: dict[str, int], symbol_id: dict[str, int], fail: Any) -> np.ndarray:
    if not isinstance(value, Mapping):
        raise fail("transitions: expected a mapping {state: {symbol: next_state}}")
    rows = {str(k): v for k, v in value.items()}
    unknown = [s for s in rows if s not in state_id]
    if unknown:
        raise fail(f"transitions: unknown state(s) {_listing(unknown)}; states are {_listing(list(state_id))}")
    table = np.empty((len(state_id), len(symbol_id)), dtype=np.int64)
    for state, i in state_id.items():
        if state not in rows:
            raise fail(f"transitions: missing transitions for state {state!r}")
        row = rows[state]
        if not isinstance(row, Mapping):
            raise fail(f"transitions.{state}: expected a mapping {{symbol: next_state}}")
        row = {str(k): str(v) for k, v in row.items()}
        unknown = [s for s in row if s not in symbol_id]
        if unknown:
            raise fail(
                f"transitions.{state}: unknown symbol(s) {_listing(unknown)}; alphabet is {_listing(list(symbol_id))}"
            )
        for symbol, j in symbol_id.items():
            if symbol not in row:
                raise fail(f"transitions.{state}: missing transition for symbol {symbol!r}")
            target = row[symbol]
            if target not in state_id:
                raise fail(f"transitions.{state}.{symbol}: unknown target state {target!r}")
            table[i, j] = state_id[target]
    return table


def _labels(value: Any, num_classes: Any, state_id: dict[str, int], fail: Any) -> tuple[np.ndarray, int]:
    if not isinstance(value, Mapping):
        raise fail("labels: expected a mapping {state: class}")
    given = {str(k): v for k, v in value.items()}
    unknown = [s for s in given if s not in state_id]
    if unknown:
        raise fail(f"labels: unknown state(s) {_listing(unknown)}")
    missing = [s for s in state_id if s not in given]
    if missing:
        raise fail(f"labels: missing a label for state(s) {_listing(missing)}")
    for state, label in given.items():
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise fail(f"labels.{state}: a class must be an integer >= 0, got {label!r}")
    labels = np.array([given[s] for s in state_id], dtype=np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise fail(f"num_classes: expected an integer, got {num_classes!r}")
    if num_classes < 2:
        raise fail(f"num_classes: a classification task needs at least 2 classes, got {num_classes}")
    outside = [s for s in state_id if given[s] >= num_classes]
    if outside:
        raise fail(
            f"labels: class of state(s) {_listing(outside)} outside 0..{num_classes - 1} (num_classes={num_classes})"
        )
    return labels, num_classes


def _weights(value: Any, symbol_id: dict[str, int], fail: Any) -> np.ndarray:
    if not isinstance(value, Mapping):
        raise fail("symbol_weights: expected a mapping {symbol: weight}")
    weights = np.ones(len(symbol_id), dtype=np.float64)  # unlisted symbols weigh 1
    for symbol, weight in value.items():
        symbol = str(symbol)
        if symbol not in symbol_id:
            raise fail(f"symbol_weights: unknown symbol {symbol!r}; alphabet is {_listing(list(symbol_id))}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight) or weight < 0:
            raise fail(f"symbol_weights.{symbol}: a weight must be a finite number >= 0, got {weight!r}")
        weights[symbol_id[symbol]] = weight
    if weights.sum() <= 0:
        raise fail("symbol_weights: at least one symbol needs a positive weight")
    return weights / weights.sum()
