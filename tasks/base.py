"""The task interface: what a regular-language task exposes to models, trainers and sweeps.

A task is a labelled language over the symbols ``0..alphabet_size-1``. `Task.sample` draws a batch of
random strings and labels *every prefix* of each string, so that one forward pass of a causal model
over length-L strings is scored at every length 1..L at once (see PAPER.md, "the prefix trick").

Worked example::

    >>> import torch, tasks
    >>> task = tasks.get("parity_check")
    >>> batch = task.sample(batch_size=2, length=4, generator=torch.Generator().manual_seed(0))
    >>> batch.tokens.shape, batch.labels.shape, batch.mask.shape
    (torch.Size([2, 4]), torch.Size([2, 4]), torch.Size([2, 4]))

``batch.labels[b, t]`` is the class of the prefix ``tokens[b, :t+1]``; ``batch.mask[b, t]`` is False
where that prefix has no label (e.g. even-length prefixes in modular arithmetic), and the label there
is an arbitrary valid class id that must be ignored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch


class Batch(NamedTuple):
    """A batch of strings with the label of every prefix. All tensors are on the CPU, contiguous."""

    tokens: torch.Tensor  # int64 [B, L], symbols in 0..alphabet_size-1
    labels: torch.Tensor  # int64 [B, L], labels[b, t] = class of tokens[b, :t+1] (any class where masked)
    mask: torch.Tensor  # bool [B, L], False where the prefix tokens[b, :t+1] carries no label


def check_sample_args(batch_size: int, length: int) -> None:
    """Raise ValueError unless batch_size and length are integers >= 1."""
    for what, value in (("batch_size", batch_size), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be an integer >= 1, got {value!r}")


class Task(ABC):
    """A regular-language classification task.

    Attributes (set by subclasses):
        name: the registry name (``tasks.get(task.name)`` rebuilds an equal task for the built-ins).
        alphabet_size: symbols are ``0..alphabet_size-1``.
        num_classes: labels are ``0..num_classes-1``.
        commutative: whether the task's automaton is commutative, i.e. on every state reachable from the
            start, reading ``a`` then ``b`` leads to the same state as ``b`` then ``a``. Computed from the
            transition table, never declared. Single-layer diagonal SSMs can only emulate such automata.
        description: one line for humans (CLI listings, reports).
    """

    name: str
    alphabet_size: int
    num_classes: int
    commutative: bool
    description: str

    @abstractmethod
    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> Batch:
        """Draw `batch_size` random strings of exactly `length` symbols and label every prefix.

        Vectorised over the batch; deterministic given the generator's state (which it advances).
        Raises ValueError unless batch_size >= 1 and length >= 1.
        """

    def labelled_length(self, length: int) -> int:
        """The largest L' <= length (and >= 1) whose full-length prefix carries a label.

        The identity for tasks that label every prefix; overridden where some prefixes are unlabelled.
        """
        check_sample_args(1, length)
        return length

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: alphabet {self.alphabet_size}, "
            f"{self.num_classes} classes, commutative={self.commutative}>"
        )
