"""One home per model family: the name a sweep file uses -> how to build it, which config fields it reads,
and how reports name it. The trial identity (config.MODEL_FIELDS), the builder (sdssm.models.build_model),
the store's variant column, the sweep summary and the report labels all read this table, so a new family
is one model file plus one entry here (and its tests).

This module imports neither torch nor the model files: configs and sweep files are validated without
them, and `build` imports its model lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdssm.config import TrialConfig
    from sdssm.models.base import SequenceModel

# Fields every family reads: the state size, the readout head, the query token and the depth.
COMMON_FIELDS = ("state_size", "readout", "mlp_hidden", "query_token", "layers")
MAX_LAYERS = 16  # `layers`: stacked blocks of one family (sdssm/models/stack.py); the paper's models have 1


def with_depth(name: str, layers: int) -> str:
    """A variant or label at a depth: itself at 1 layer (every trial before `layers` existed), else
    e.g. 'diagonal+B 2 layers': 1-layer and 2-layer trials are never one row, column or selection."""
    return name if layers == 1 else f"{name} {layers} layers"


@dataclass(frozen=True)
class ModelFamily:
    """A model family as sweeps, the store and reports know it.

    name: the `model:` value in a sweep file. fields: the TrialConfig fields it reads (others are left out
    of the trial's key). label: its name in reports. builder: "module:Class" whose constructor takes
    alphabet_size, num_classes, the common fields and `extra(config)`. variants: how a config maps to its
    report row (e.g. diagonal with or without B) and each row's label, in report order. describe: the
    family's own hyperparameters for one-line descriptions. dense_matrices: N x N parameter matrices it
    holds (for the memory estimate). readout_in_label: its report label always names the readout (the
    families the paper runs with both readouts). layer: "module:Class" of the family's continuous-input
    layer (constructor: d_model, state_size and `extra(config)`), stacked when `layers` > 1.
    position_matrices: N x N tensors that layer keeps per position and string for its backward (SD-SSM's
    and PD-SSM's transitions differ at every position of a stack; for the memory estimate).
    """

    name: str
    fields: tuple[str, ...]
    label: str
    builder: str
    extra: Callable[[TrialConfig], dict[str, Any]] = lambda config: {}
    variant: Callable[[TrialConfig], str] | None = None
    variant_labels: tuple[tuple[str, str], ...] = ()
    describe: Callable[[TrialConfig], list[str]] = lambda config: []
    dense_matrices: Callable[[TrialConfig], int] = lambda config: 4
    readout_in_label: bool = False
    layer: str = ""
    position_matrices: int = 0

    def variant_of(self, config: TrialConfig) -> str:
        variant = self.variant(config) if self.variant is not None else self.name
        return with_depth(variant, config.layers)

    def labels(self) -> tuple[tuple[str, str], ...]:
        """(variant, label) pairs of this family, in report order: each one-layer variant followed by
        its deeper versions (2..MAX_LAYERS layers)."""
        one_layer = self.variant_labels or ((self.name, self.label),)
        return tuple((with_depth(variant, n), with_depth(label, n))
                     for variant, label in one_layer for n in range(1, MAX_LAYERS + 1))

    def build(self, config: TrialConfig, alphabet_size: int, num_classes: int) -> SequenceModel:
        """One layer: the family's own token model (the paper's). More: `StackedModel` of its layer."""
        import importlib

        common = {name: getattr(config, name) for name in COMMON_FIELDS if name != "layers"}
        if config.layers == 1:
            module, cls = self.builder.split(":")
            model_class = getattr(importlib.import_module(module), cls)
            return model_class(alphabet_size=alphabet_size, num_classes=num_classes, **common,
                               **self.extra(config))
        from sdssm.models.stack import StackedModel

        module, cls = self.layer.split(":")
        layer_class = getattr(importlib.import_module(module), cls)
        return StackedModel(alphabet_size=alphabet_size, num_classes=num_classes, **common, layers=config.layers,
                            layer=layer_class, layer_options=self.extra(config))


FAMILIES: dict[str, ModelFamily] = {family.name: family for family in (
    ModelFamily(
        name="sdssm", fields=(*COMMON_FIELDS, "k", "p"), label="SD-SSM", builder="sdssm.models.sdssm:SDSSM",
        layer="sdssm.models.sdssm:SDSSMLayer", position_matrices=3,  # the mixture, |.|^p, the normalised
        extra=lambda c: {"k": c.k, "p": c.p}, describe=lambda c: [f"k={c.k}", f"p={c.p:g}"],
        dense_matrices=lambda c: c.k, readout_in_label=True),
    ModelFamily(
        name="diagonal", fields=(*COMMON_FIELDS, "use_b"), label="Diagonal",
        builder="sdssm.models.diagonal:DiagonalSSM", extra=lambda c: {"use_b": c.use_b},
        layer="sdssm.models.diagonal:DiagonalLayer",
        variant=lambda c: "diagonal+B" if c.use_b else "diagonal",
        variant_labels=(("diagonal+B", "Diagonal+B"), ("diagonal", "Diagonal")),
        describe=lambda c: ["B" if c.use_b else "noB"], readout_in_label=True),
    ModelFamily(name="rnn", fields=COMMON_FIELDS, label="RNN", builder="sdssm.models.recurrent:ElmanRNN",
                layer="sdssm.models.recurrent:RNNLayer"),
    ModelFamily(name="lstm", fields=COMMON_FIELDS, label="LSTM", builder="sdssm.models.recurrent:LSTMModel",
                layer="sdssm.models.recurrent:LSTMLayer"),
    ModelFamily(
        name="pdssm", fields=(*COMMON_FIELDS, "k"), label="PD-SSM", builder="sdssm.models.pdssm:PDSSM",
        layer="sdssm.models.pdssm:PDLayer", position_matrices=2,  # the mixture and its softmax
        extra=lambda c: {"k": c.k}, describe=lambda c: [f"k={c.k}"], dense_matrices=lambda c: c.k),
    ModelFamily(
        name="gated", fields=(*COMMON_FIELDS, "negative_eigenvalues"), label="Gated",
        builder="sdssm.models.gated:GatedSSM", extra=lambda c: {"negative_eigenvalues": c.negative_eigenvalues},
        layer="sdssm.models.gated:GatedLayer",
        variant=lambda c: "gated[-1,1]" if c.negative_eigenvalues else "gated[0,1]",
        variant_labels=(("gated[0,1]", "Gated [0,1]"), ("gated[-1,1]", "Gated [-1,1]")),
        describe=lambda c: ["[-1,1]" if c.negative_eigenvalues else "[0,1]"], dense_matrices=lambda c: 1),
)}


def family(name: str) -> ModelFamily:
    """The family registered under `name`; ValueError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"model: unknown model {name!r} (known: {', '.join(FAMILIES)})") from None


def model_fields() -> dict[str, tuple[str, ...]]:
    """Family name -> the TrialConfig fields it reads."""
    return {name: f.fields for name, f in FAMILIES.items()}


def all_model_fields() -> tuple[str, ...]:
    """Every model field some family reads, in first-seen order."""
    return tuple(dict.fromkeys(name for f in FAMILIES.values() for name in f.fields))


def variant_labels() -> dict[str, str]:
    """Every family's report rows: variant -> label, in report order."""
    return {variant: label for f in FAMILIES.values() for variant, label in f.labels()}


def variant_of(config: TrialConfig) -> str:
    """The report row of a config: sdssm, diagonal+B, diagonal, rnn, lstm, pdssm, gated[0,1], gated[-1,1]."""
    return family(config.model).variant_of(config)
