"""`layers: n` (sdssm/models/stack.py, the registry, the config): every family with a layer builds a stack,
trains a real step under both supervisions with every parameter used, evaluates every prefix as forward()
does, checkpoints and resumes exactly; depth is in the trial key (but not at 1 layer), in every label, and
bad values are refused with one message."""

from __future__ import annotations

import copy

import pytest
import torch

from analysis.labels import model_label
from sdssm.config import TrialConfig, TrialConfigError
from sdssm.models import build_model
from sdssm.models.registry import FAMILIES, family, variant_of
from sdssm.models.stack import StackedModel
from sdssm.sweep.summary import variant_label
from sdssm.train import Trainer
from tests.sdssm.checks import assert_prefix_logits_match_forward, fit_briefly

STACKED = [name for name, entry in FAMILIES.items() if entry.layer]


def test_every_family_has_a_layer() -> None:
    assert STACKED == list(FAMILIES)


def small(name: str, **changes: object) -> TrialConfig:
    values = dict(task="parity_check", model=name, state_size=8, k=3, batch_size=8, train_max_length=6,
                  test_max_length=8, eval_samples=4, final_eval_samples=4, lr=1e-3, device="cpu", layers=2)
    return TrialConfig(**{**values, **changes})


@pytest.mark.parametrize("name", STACKED)
def test_layers_2_builds_a_stack_of_the_familys_layer(name: str) -> None:
    model = build_model(small(name), alphabet_size=2, num_classes=2)
    assert isinstance(model, StackedModel) and len(model.layers) == 2
    assert all(type(block).__name__ == family(name).layer.split(":")[1] for block in model.layers)
    assert not isinstance(build_model(small(name, layers=1), alphabet_size=2, num_classes=2), StackedModel)


@pytest.mark.parametrize("supervision", ["last", "prefixes"])
@pytest.mark.parametrize("name", STACKED)
def test_a_stack_trains_a_real_step_using_every_parameter(name: str, supervision: str) -> None:
    trainer = Trainer(small(name, supervision=supervision))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    assert torch.isfinite(torch.tensor(trainer.train_step()))
    unchanged = [n for n, p in trainer.model.named_parameters() if torch.equal(before[n], p)]
    assert unchanged == []  # Adam moves every parameter that received a gradient: none is unused


@pytest.mark.parametrize("query_token", [True, False])
@pytest.mark.parametrize("name", STACKED)
def test_prefix_logits_equal_forward_on_each_prefix_at_2_layers(name: str, query_token: bool) -> None:
    torch.manual_seed(0)
    model = build_model(small(name, query_token=query_token), alphabet_size=3, num_classes=4).double()
    assert_prefix_logits_match_forward(model, torch.randint(0, 3, (3, 8), generator=torch.Generator().manual_seed(1)))


def test_a_stacked_trial_resumes_from_its_checkpoint_exactly() -> None:
    config = small(STACKED[0], supervision="prefixes")
    straight = Trainer(config)
    for _ in range(3):
        straight.train_step()
    checkpoint = copy.deepcopy(straight.state_dict())  # as saved to disk, not views of live tensors
    losses = [straight.train_step() for _ in range(2)]
    resumed = Trainer(config, checkpoint)
    assert [resumed.train_step() for _ in range(2)] == losses
    # evaluation in chunks scores the same as in one scan
    assert resumed.evaluate(6, chunk=4).accuracy_by_length == resumed.evaluate(6, chunk=64).accuracy_by_length


def test_depth_is_in_the_key_except_at_one_layer() -> None:
    assert "layers" not in TrialConfig().normalized()
    assert TrialConfig(layers=1).key == TrialConfig().key == "4d59201d8a5fbb18"  # issued before `layers`
    assert TrialConfig(model="diagonal", layers=2).key != TrialConfig(model="diagonal").key
    assert TrialConfig(model="diagonal", layers=2).normalized()["layers"] == 2


def test_depth_shows_in_every_label() -> None:
    one, two = TrialConfig(model="diagonal"), TrialConfig(model="diagonal", layers=2)
    assert (variant_of(one), variant_of(two)) == ("diagonal+B", "diagonal+B 2 layers")
    assert model_label(variant_of(two), "linear") == "Diagonal+B 2 layers (linear)"
    assert model_label(variant_of(one), "linear") == "Diagonal+B (linear)"
    assert variant_label(one) == "diagonal/linear" and variant_label(two) == "diagonal/linear 2 layers"
    assert variant_label(two.replace(use_b=False)) == "diagonal/linear noB 2 layers"
    assert "2 layers" in two.describe() and "layers" not in one.describe()


@pytest.mark.parametrize("value, shown", [(0, "0"), (17, "17"), (2.0, "2.0"), (True, "True")])
def test_bad_layers_are_refused_with_one_message(value: object, shown: str) -> None:
    with pytest.raises(TrialConfigError) as info:
        TrialConfig(layers=value)
    assert str(info.value) == f"layers: must be an integer in 1..16, got {shown}"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", STACKED)
def test_a_stack_on_cuda_matches_cpu(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(small(name), alphabet_size=3, num_classes=4).double()
    x = torch.randint(0, 3, (4, 12), generator=torch.Generator().manual_seed(1))
    cpu = model.prefix_logits(x)
    torch.testing.assert_close(model.cuda().prefix_logits(x.cuda()).cpu(), cpu)


def test_the_memory_estimate_counts_a_dense_stacks_matrices_per_position() -> None:
    # SD-SSM's stacked layer keeps batch x length N x N matrices for its backward; one layer keeps V of them.
    big = dict(model="sdssm", state_size=128, batch_size=256, train_max_length=64, test_max_length=64)
    assert TrialConfig(**big).memory_estimate_bytes() < 2**30
    assert TrialConfig(**big, layers=2).memory_estimate_bytes() > 2 * 3 * 256 * 64 * 128 * 128 * 4
    with pytest.raises(TrialConfigError, match="is above the cap .* an N x N matrix per position"):
        TrialConfig(**{**big, "batch_size": 1024}, layers=2)
    # a diagonal stack holds no N x N matrix per position
    assert TrialConfig(**{**big, "model": "diagonal"}, layers=2).memory_estimate_bytes() < 2**30


@pytest.mark.parametrize("name", ["diagonal", "gated"])
def test_a_two_layer_stack_learns_a_small_task(name: str) -> None:
    # The last symbol of a length-5 string, read at the query token.
    torch.manual_seed(0)
    model = build_model(small(name, state_size=16), alphabet_size=3, num_classes=3)
    early, late = fit_briefly(model, lambda x: x[:, -1], symbols=3)
    assert late < 0.1 and late < 0.2 * early, (early, late)
