"""Flip-flop (Liu et al. 2023, "Exposing attention glitches"; Sarrof et al. 2024): remember the last write.

Registry entry ``flip_flop``, parameters ``p_write`` (in (0, 1], default 0.1) and ``p_read`` (in [0, 1],
default 0.1), with p_write + p_read <= 1; in a sweep: ``{task: flip_flop, task_params: {p_write: 0.02}}``.

Token conventions: 0 = write 0, 1 = write 1, 2 = ignore, 3 = read (the alphabet has 4 symbols). The
label of every prefix is the last bit written in it (2 classes); a prefix without any write is
labelled 0, as if the flip-flop were initialised to 0 (so every prefix has a label, and the mask is
all True). Read and ignore leave the memory unchanged; they differ only in what they mean to a
reader (in the original language a read must be followed by the remembered bit).

Symbols are i.i.d.: write 0 and write 1 with probability p_write / 2 each, read with p_read, ignore
with the rest. The defaults p_write = p_read = 0.1 (ignore 0.8) are Liu et al.'s FFL(0.8); sparse
writes (small p_write) are the hard case, since the bit must be kept over long stretches.

Worked example::

    tokens  2   1   2   3   0   3   2   1
    labels  0   1   1   1   0   0   0   1

As an automaton: two states (the remembered bit), start 0; not commutative (write 0 then write 1
differs from write 1 then write 0), as computed from the table.
"""

from __future__ import annotations

from tasks.automaton import Automaton, automaton_from_spec

SYMBOLS = ["write0", "write1", "ignore", "read"]  # token ids 0..3


def flip_flop(p_write: float, p_read: float) -> Automaton:
    """The flip-flop automaton with the sampling weights of the module docstring (validated by the caller)."""
    transitions = {bit: {"write0": "0", "write1": "1", "ignore": bit, "read": bit} for bit in ("0", "1")}
    return automaton_from_spec(
        {
            "states": ["0", "1"],
            "alphabet": SYMBOLS,
            "transitions": transitions,
            "start": "0",
            "labels": {"0": 0, "1": 1},
            "symbol_weights": {
                "write0": p_write / 2,
                "write1": p_write / 2,
                "read": p_read,
                "ignore": max(0.0, 1.0 - p_write - p_read),  # max: rounding when they sum to 1
            },
            "name": "flip_flop",
            "description": (
                f"flip-flop: the last written bit; writes {p_write:g}, reads {p_read:g}, "
                f"ignores {max(0.0, 1.0 - p_write - p_read):g} of the symbols (2 classes)"
            ),
        },
        source="built-in task 'flip_flop'",
    )
