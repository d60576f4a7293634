"""The trainer: bit-identical restore, early stopping, divergence as a status, a real solve."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
import torch

from sdssm.config import TrialConfig
from sdssm.results import FinalResult, PeriodicResult, Result, finite_or_none, parse_report
from sdssm.train import DIVERGED, FINISHED, SOLVED, Trainer, train

SMALL = dict(task="parity_check", state_size=16, k=4, batch_size=32, max_steps=60, eval_interval=20,
             eval_samples=32, final_eval_samples=32, train_max_length=10, test_max_length=40, lr=1e-3,
             device="cpu", early_stop=False)


class Crash(Exception):
    pass


@pytest.mark.parametrize("model, changes", [
    ("sdssm", {}), ("diagonal", {}), ("lstm", {}),
    ("sdssm", {"supervision": "prefixes", "task": "modular_arithmetic", "k": 3}),  # unlabelled prefixes too
])
def test_restored_trial_continues_bit_identically(model: str, changes: dict[str, Any]) -> None:
    config = TrialConfig(**{**SMALL, "model": model, **changes})
    uninterrupted = Trainer(config)
    uninterrupted.run()

    saved: dict[str, Any] = {}

    def crash_at_step_20(result: Result, checkpoint: Any) -> None:
        saved["state"] = checkpoint()
        raise Crash

    first = Trainer(config)
    with pytest.raises(Crash):
        first.run(crash_at_step_20)
    # Through serialisation, as the sweep layer does.
    restored = Trainer(config, checkpoint=_roundtrip(saved["state"]))
    assert restored.step == 20
    reports: list[Result] = []
    restored.run(lambda result, _: reports.append(result))

    for a, b in zip(uninterrupted.model.state_dict().values(), restored.model.state_dict().values()):
        assert torch.equal(a, b)
    assert _without_clock(restored.final) == _without_clock(uninterrupted.final)
    assert restored.history[1:] == [r for r in reports if isinstance(r, PeriodicResult)]
    assert [r.step for r in restored.history] == [r.step for r in uninterrupted.history] == [20, 40, 60]
    assert [r.step for r in reports] == [40, 60, 60]
    assert isinstance(reports[0], PeriodicResult) and reports[0].attempt_start_step == 20
    assert reports[-1] == restored.final


def test_early_stop_when_solved_and_status() -> None:
    # A threshold every model meets at once: solved at the first evaluation, training stops there.
    outcome = train(TrialConfig(**{**SMALL, "early_stop": True, "solve_threshold": 0.01}))
    assert outcome.status == SOLVED
    assert outcome.steps == outcome.solved_step == 20
    assert outcome.final is not None and len(outcome.final.accuracy_by_length) == 40
    # Without early stopping it runs to max_steps but still records when it was solved.
    outcome = train(TrialConfig(**{**SMALL, "solve_threshold": 0.01}))
    assert (outcome.status, outcome.steps, outcome.solved_step) == (SOLVED, 60, 20)
    # Never solved: finished.
    outcome = train(TrialConfig(**{**SMALL, "solve_threshold": 1.0, "max_steps": 20}))
    assert (outcome.status, outcome.solved_step) == (FINISHED, None)


def test_solve_patience_needs_consecutive_evaluations() -> None:
    outcome = train(TrialConfig(**{**SMALL, "early_stop": True, "solve_threshold": 0.01, "solve_patience": 2}))
    assert outcome.steps == outcome.solved_step == 40


def test_nan_loss_ends_the_trial_as_diverged_not_a_crash() -> None:
    trainer = Trainer(TrialConfig(**SMALL))
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(math.nan)  # a model that has blown up
    reports: list[dict[str, Any]] = []
    outcome = trainer.run(lambda metrics, _: reports.append(metrics))
    assert outcome.status == DIVERGED
    assert outcome.steps == 1
    # No accuracy is claimed for a NaN model, and the NaN loss of its window is no value, not NaN.
    assert outcome.final.accuracy_by_length is None and outcome.final.beyond_accuracy is None
    assert isinstance(reports[-1], FinalResult) and reports[-1].status == DIVERGED
    assert parse_report(json.loads(json.dumps(reports[-1].to_report()))) == reports[-1]


def test_evaluation_masks_unlabelled_lengths() -> None:
    trainer = Trainer(TrialConfig(**{**SMALL, "task": "modular_arithmetic", "k": 4}))
    evaluation = trainer.evaluate(16)
    accuracy = evaluation.accuracy_by_length
    assert all(math.isnan(a) for a in accuracy[1::2])  # even lengths have no label
    assert all(0.0 <= a <= 1.0 for a in accuracy[0::2])
    assert not math.isnan(evaluation.beyond_accuracy)


def test_checkpoint_of_another_trial_is_refused() -> None:
    state = Trainer(TrialConfig(**SMALL)).state_dict()
    with pytest.raises(ValueError, match="belongs to trial"):
        Trainer(TrialConfig(**{**SMALL, "seed": 1}), checkpoint=state)


def test_sdssm_learns_parity_and_generalizes_to_length_500() -> None:
    """A short real run on this CPU: SD-SSM solves parity beyond its training lengths (41..500)."""
    config = TrialConfig(task="parity_check", model="sdssm", state_size=64, k=8, p=1.2, lr=3e-4, seed=0,
                         max_steps=20_000, eval_interval=500, early_stop=True, solve_threshold=0.99,
                         final_eval_samples=512, device="cpu")
    outcome = train(config)
    assert outcome.status == SOLVED, outcome.history[-3:]
    assert outcome.final is not None and outcome.final.beyond_accuracy >= 0.99


def _without_clock(final: FinalResult | None) -> FinalResult:
    assert final is not None
    return dataclasses.replace(final, wall_time_s=0.0, solved_wall_time_s=None)


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("model", ["sdssm", "diagonal", "rnn", "lstm"])
@pytest.mark.parametrize("query_token", [True, False])
def test_prefixes_loss_is_the_mean_over_labelled_prefixes(model: str, query_token: bool) -> None:
    """Every family: the `prefixes` loss equals the mean cross-entropy of the model run on each labelled
    prefix separately (its `forward`, as `last` reads a whole string), in float64; unlabelled prefixes
    (even lengths of modular arithmetic) do not count."""
    from sdssm.models import build_model
    from sdssm.train import training_loss
    import tasks

    task = tasks.get("modular_arithmetic")
    config = TrialConfig(model=model, state_size=8, k=3, query_token=query_token)
    torch.manual_seed(0)
    net = build_model(config, task.alphabet_size, task.num_classes).double()
    batch = task.sample(5, 9, torch.Generator().manual_seed(1))
    assert not batch.mask.all() and batch.mask[:, -1].all()
    loss, last = training_loss(net, batch.tokens, batch.labels, batch.mask, "prefixes")
    per_prefix = [torch.nn.functional.cross_entropy(net(batch.tokens[:, :t + 1]), batch.labels[:, t],
                                                    reduction="sum")
                  for t in range(batch.tokens.shape[1]) if batch.mask[:, t].all()]
    expected = torch.stack(per_prefix).sum() / batch.mask.sum()
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(last, net(batch.tokens), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("value, expected", [
    (0.5, 0.5), (0, 0.0), (None, None), (math.nan, None), (math.inf, None), (-math.inf, None),
    (torch.tensor(0.25).item(), 0.25)])
def test_the_non_finite_rule(value: float | None, expected: float | None) -> None:
    assert finite_or_none(value) == expected


def test_results_round_trip_through_a_report_without_non_finite_numbers() -> None:
    """A record never holds NaN or inf; its report leaves numbers without a value out (Ray's ASHA skips a
    result without its metric and fails on None), and parsing the report gives the record back."""
    periodic = PeriodicResult(step=20, loss=math.inf, train_accuracy=0.5, in_range_accuracy=math.nan,
                              beyond_accuracy=None, wall_time_s=1.5, attempt_start_step=0)
    assert (periodic.loss, periodic.in_range_accuracy) == (None, None)
    report = periodic.to_report()
    assert report == {"step": 20, "train_accuracy": 0.5, "wall_time_s": 1.5, "attempt_start_step": 0,
                      "final": False}
    assert parse_report(json.loads(json.dumps(report, allow_nan=False))) == periodic
    final = FinalResult(status=SOLVED, steps=60, wall_time_s=3.0, solved_step=40, solved_wall_time_s=2.0,
                        in_range_accuracy=1.0, beyond_accuracy=0.9, accuracy_by_length=[1.0, math.nan, 0.8])
    assert final.accuracy_by_length == [1.0, None, 0.8]
    report = final.to_report()
    assert report["final"] is True and report["step"] == 60
    assert parse_report({**json.loads(json.dumps(report, allow_nan=False)), "training_iteration": 3}) == final
    with pytest.raises(ValueError, match="lacks wall_time_s"):
        FinalResult.from_report({"final": True, "status": SOLVED, "steps": 3})
    with pytest.raises(ValueError, match="not a PeriodicResult report"):
        PeriodicResult.from_report(report)


def test_a_format_2_checkpoint_with_result_dicts_still_restores() -> None:
    """Checkpoints written before the typed records held the results as dicts with NaN in them."""
    config = TrialConfig(**{**SMALL, "max_steps": 20})
    trainer = Trainer(config)
    trainer.run()
    state = trainer.state_dict()
    old_history = [{**entry, "loss": math.nan} for entry in state["history"]]
    old_final = {**state["final"], "beyond_accuracy": math.nan}
    restored = Trainer(config, _roundtrip({**state, "history": old_history, "final": old_final}))
    assert restored.history[0].loss is None and restored.final is not None
    assert restored.final.beyond_accuracy is None
