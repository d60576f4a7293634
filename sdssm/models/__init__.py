"""Model registry, keyed by the names the YAML uses (see sdssm/config.py MODEL_FIELDS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdssm.models.base import SequenceModel

if TYPE_CHECKING:
    from sdssm.config import TrialConfig


def names() -> list[str]:
    return ["sdssm", "diagonal", "rnn", "lstm"]


def build_model(config: TrialConfig, alphabet_size: int, num_classes: int) -> SequenceModel:
    """The model a trial config asks for, for a task with this alphabet and number of classes."""
    common = dict(alphabet_size=alphabet_size, num_classes=num_classes, query_token=config.query_token,
                  state_size=config.state_size, readout=config.readout, mlp_hidden=config.mlp_hidden)
    if config.model == "sdssm":
        from sdssm.models.sdssm import SDSSM

        return SDSSM(k=config.k, p=config.p, **common)
    if config.model == "diagonal":
        from sdssm.models.diagonal import DiagonalSSM

        return DiagonalSSM(use_b=config.use_b, **common)
    if config.model in ("rnn", "lstm"):
        from sdssm.models.recurrent import ElmanRNN, LSTMModel

        return (ElmanRNN if config.model == "rnn" else LSTMModel)(**common)
    raise ValueError(f"model: unknown model {config.model!r} (known: {', '.join(names())})")


__all__ = ["SequenceModel", "build_model", "names"]
