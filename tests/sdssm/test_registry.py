"""The model registry: every family builds and trains one real step through the trainer, reads only its
own fields (the trial key ignores the rest), is labelled the same way by the store and the reports, and
the registry is consulted without importing torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from analysis.labels import FAMILIES as REPORT_LABELS
from sdssm.config import MODEL_FIELDS, TrialConfig
from sdssm.models import build_model, names
from sdssm.models.registry import FAMILIES, family, variant_of
from sdssm.sweep.store import variant_of as store_variant_of
from sdssm.train import Trainer


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_builds_and_trains_a_step(name: str) -> None:
    config = TrialConfig(task="parity_check", model=name, state_size=8, k=3, batch_size=16, train_max_length=6,
                         test_max_length=8, lr=1e-3, device="cpu")
    trainer = Trainer(config)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    loss = trainer.train_step()
    assert torch.isfinite(torch.tensor(loss))
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.model.parameters()))  # it learned
    model = build_model(config, alphabet_size=2, num_classes=2)
    assert type(model) is type(trainer.model)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_family_reads_only_its_fields(name: str) -> None:
    base = TrialConfig(model=name)
    for field, other in (("k", 5), ("p", 1.7), ("use_b", False), ("negative_eigenvalues", True)):
        changed = base.replace(**{field: other})
        assert (changed.key != base.key) == (field in MODEL_FIELDS[name]), field


def test_labels_agree_between_the_store_and_the_reports() -> None:
    for name in names():
        for config in (TrialConfig(model=name), TrialConfig(model=name, use_b=False, negative_eigenvalues=True)):
            variant = variant_of(config)
            assert store_variant_of(config) == variant
            assert variant in REPORT_LABELS, variant
    assert REPORT_LABELS["gated[-1,1]"] == "Gated [-1,1]" and REPORT_LABELS["pdssm"] == "PD-SSM"


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown model 'mamba' .known: sdssm, diagonal, rnn, lstm, pdssm, gated"):
        family("mamba")


def test_the_registry_and_configs_do_not_import_torch() -> None:
    code = ("import sys; import sdssm.config, sdssm.models, sdssm.models.registry; "
            "sdssm.config.TrialConfig(model='gated').key; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
