"""Model families, keyed by the names the YAML uses; the registry is sdssm/models/registry.py.

Importing this package does not import torch: `SequenceModel` is imported on first use, so a config or
sweep file can consult the registry without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sdssm.models.registry import FAMILIES, family

if TYPE_CHECKING:
    from sdssm.config import TrialConfig
    from sdssm.models.base import SequenceModel


def names() -> list[str]:
    return list(FAMILIES)


def build_model(config: TrialConfig, alphabet_size: int, num_classes: int) -> SequenceModel:
    """The model a trial config asks for, for a task with this alphabet and number of classes."""
    return family(config.model).build(config, alphabet_size, num_classes)


def __getattr__(name: str) -> Any:
    if name == "SequenceModel":
        from sdssm.models.base import SequenceModel

        return SequenceModel
    raise AttributeError(f"module 'sdssm.models' has no attribute {name!r}")


__all__ = ["SequenceModel", "build_model", "names"]
