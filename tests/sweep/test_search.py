"""Search beyond the grid in the spec: distributions, seeded random draws, TPE's points (no Ray runtime).
The bad inputs of `search` are cases of tests/sweep/bad_inputs.yaml; real searches: test_search_runs.py."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from sdssm.cli import main
from sdssm.config import TrialConfig
from sdssm.sweep.search import SeedRepeats, TpePlan, optuna_searcher, plan_tpe
from sdssm.sweep.space import Distribution, sample
from sdssm.sweep.spec import SpecError, parse_spec
from sdssm.sweep.store import Store, TrialStatus
from sdssm.sweep.summary import search_table, summary_table

BASE: dict[str, Any] = {"name": "s", "train": {"max_steps": 10, "state_size": 4, "k": 2}}
SPACE = {"lr": {"loguniform": [1.0e-4, 3.0e-3]}, "p": {"uniform": [1, 3]}}


def spec_of(method: str, samples: int = 6, seed: int = 0, seeds: list[int] | None = None, **grid: Any) -> Any:
    return parse_spec({**BASE, "grid": {"task": "parity_check", "seed": seeds or [0], **SPACE, **grid},
                       "search": {"method": method, "num_samples": samples, "seed": seed}})


def test_grid_is_the_default_and_its_trials_are_unchanged() -> None:
    data = {**BASE, "grid": {"task": ["parity_check", "D4"], "seed": [0, 1], "lr": [1e-4, 3e-4]}}
    plain = parse_spec(data)
    explicit = parse_spec({**data, "search": {"method": "grid"}})
    assert plain.search.method == "grid" and explicit.search == plain.search
    assert [t.key for t in plain.trials] == [t.key for t in explicit.trials] and len(plain.trials) == 8


def test_random_draws_are_deterministic_in_the_seed_and_seeds_are_repeats() -> None:
    one, again, other = spec_of("random", seed=3, seeds=[0, 1]), spec_of("random", seed=3, seeds=[0, 1]), \
        spec_of("random", seed=4, seeds=[0, 1])
    assert [t.key for t in one.trials] == [t.key for t in again.trials]
    assert {t.key for t in one.trials}.isdisjoint(t.key for t in other.trials)
    assert len(one.trials) == 12  # 6 draws x 2 seeds, first draw outermost
    for first, second in zip(one.trials[::2], one.trials[1::2]):
        assert (first.lr, first.p, first.seed, second.seed) == (second.lr, second.p, 0, 1)
    points = {(t.lr, t.p) for t in one.trials}
    assert len(points) == 6
    assert all(1e-4 <= lr <= 3e-3 and 1 <= p <= 3 for lr, p in points)
    assert all(float(f"{lr:.6g}") == lr for lr, _ in points)  # drawn numbers keep 6 significant digits


def test_sample_uses_tune_domains_with_inclusive_int_and_choice() -> None:
    dists = (Distribution("k", "int", (2, 3), "grid.k"), Distribution("readout", "choice", ("linear", "mlp"), "r"),
             Distribution("lr", "loguniform", (1e-4, 1e-2), "grid.lr"))
    points = sample(dists, 200, seed=0)
    assert points == sample(dists, 200, seed=0)
    assert {p["k"] for p in points} == {2, 3} and {p["readout"] for p in points} == {"linear", "mlp"}
    logs = [math.log10(p["lr"]) for p in points]
    assert min(logs) >= -4 and max(logs) <= -2 and min(logs) < -3.5 and max(logs) > -2.5  # spread on a log scale


def test_sampled_fields_follow_the_precedence_of_a_grid_value() -> None:
    spec = parse_spec({**BASE, "grid": {"task": "parity_check", "model": ["sdssm", "lstm"], "seed": 0,
                                        "p": {"uniform": [1, 3]}},
                       "search": {"method": "random", "num_samples": 3}})
    lstm = [t for t in spec.trials if t.model == "lstm"]
    assert len(lstm) == 1  # p means nothing to an LSTM: its three draws are one trial (deduplicated by key)
    assert len([t for t in spec.trials if t.model == "sdssm"]) == 3


def test_tpe_has_no_trials_up_front_and_expands_a_point_once_per_seed() -> None:
    spec = spec_of("tpe", samples=20, seeds=[0, 1, 2])
    assert spec.trials == () and spec.search.num_samples == 20 and spec.search.seeds == (0, 1, 2)
    assert [d.field for d in spec.search.distributions] == ["lr", "p"]
    assert spec.search.expand is not None
    trials = spec.search.expand({"lr": 1e-3, "p": 2.0})
    assert [(t.lr, t.p, t.seed) for t in trials] == [(1e-3, 2.0, s) for s in (0, 1, 2)]
    assert spec.search.point(trials[0]) == {"lr": 1e-3, "p": 2.0}


def test_override_of_a_searched_field_is_refused() -> None:
    with pytest.raises(SpecError, match="overrides.parity_check.lr: sets lr, which the search draws"):
        parse_spec({**BASE, "grid": {"task": "parity_check", "lr": {"loguniform": [1e-4, 1e-3]}},
                    "overrides": {"parity_check": {"lr": 1e-3}}, "search": {"method": "random", "num_samples": 2}})


def test_validate_tables_show_the_draws_and_tpe_budget() -> None:
    console = Console(width=200, record=True)
    random = spec_of("random", samples=3, seeds=[0, 1])
    console.print(summary_table(random), search_table(random))
    tpe = spec_of("tpe", samples=5, seeds=[0, 1])
    console.print(summary_table(tpe), search_table(tpe))
    text = " ".join(console.export_text().split())  # wrapped titles joined back
    assert "search: random, 3 draw(s) from seed 0, each on seed(s) 0, 1: 6 trial(s)" in text
    for trial in random.trials:
        assert f"{trial.lr:g}" in text and f"{trial.p:g}" in text
    assert "sweep s: up to 10 trial(s)" in text
    assert "up to 10 trial(s), proposed while the sweep runs" in text
    assert "loguniform [0.0001, 0.003]" in text and "uniform [1, 3]" in text
    assert search_table(parse_spec({**BASE, "grid": {"seed": 0}})) is None


def test_a_tpe_proposal_done_in_the_store_is_answered_from_it(tmp_path: Path) -> None:
    """The searcher without Ray: a point whose trial another sweep finished is told to Optuna with the
    stored accuracy and not handed to Tune; the next proposal is."""
    spec = spec_of("tpe", samples=2)
    store = Store(str(tmp_path / "r.db"))
    (done,) = spec.search.expand({"lr": 1e-3, "p": 2.0})
    store.register_sweep("other", [done])
    store.record_final(done.key, status=TrialStatus.FINISHED, accuracy_by_length=[0.5],
                       summary={"beyond_accuracy": 0.75, "steps": 10})
    plan = TpePlan(members=[], evaluated=[], unfinished=[{"lr": 1e-3, "p": 2.0}], remaining=2)
    registered: list[TrialConfig] = []

    def register(configs: tuple[TrialConfig, ...]) -> int:
        registered.extend(configs)
        return len(configs)

    searcher = SeedRepeats(spec.search, optuna_searcher(spec.search, plan), 2, store, register,
                           lambda c: {"key": c.key})
    suggestion = searcher.suggest("tune_1")
    assert [c.key for c in registered][0] == done.key and len(registered) == 2
    assert suggestion == {"trial": {"key": registered[1].key}} and registered[1].key != done.key
    told = searcher.optuna._ot_study.trials  # noqa: SLF001 - what Optuna was told
    assert told[0].params == {"lr": 1e-3, "p": 2.0} and told[0].value == pytest.approx(0.75)
    assert searcher.suggest("tune_2") == "FINISHED"  # the budget of two points is used


def test_validate_lists_the_draws_and_a_bad_search_registers_nothing(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({**BASE, "grid": {"seed": [0, 1], **SPACE},
                                    "search": {"method": "random", "num_samples": 3, "seed": 1}}))
    assert main(["validate", str(good)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "search: random, 3 draw(s) from seed 1" in out and "is valid: 6 trials" in out
    for trial in parse_spec(yaml.safe_load(good.read_text())).trials:
        assert f"{trial.lr:g}" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**BASE, "grid": {"seed": 0, **SPACE}, "search": {"method": "tpe"}}))
    db = tmp_path / "r.db"
    assert main(["run", str(bad), "--db", str(db), "--storage", str(tmp_path / "ray")]) == 2
    assert "search.num_samples: missing" in capsys.readouterr().err
    assert not db.exists() and not (tmp_path / "ray").exists()  # refused before the store or Ray is touched


def test_a_rerun_plan_tells_the_done_points_and_proposes_the_unfinished_first(tmp_path: Path) -> None:
    """plan_tpe on what a stopped run left: point A done on both seeds, point B done on one seed and
    interrupted on the other, and a member that no longer fits the spec (lr outside the range)."""
    spec = spec_of("tpe", samples=5, seeds=[0, 1])
    assert spec.search.expand is not None
    a = spec.search.expand({"lr": 1e-3, "p": 2.0})
    b = spec.search.expand({"lr": 2e-4, "p": 1.5})
    (stray,) = spec_of("tpe", samples=5).search.expand({"lr": 1e-3, "p": 2.0})
    stray = stray.replace(lr=0.5)
    store = Store(str(tmp_path / "r.db"))
    store.register_sweep("s", [*a, *b, stray])
    for trial, accuracy in ((a[0], 0.6), (a[1], 0.8), (b[0], 0.9)):
        store.record_final(trial.key, status=TrialStatus.FINISHED, accuracy_by_length=None,
                           summary={"beyond_accuracy": accuracy})
    store.mark_running(b[1].key)
    store.mark_interrupted([b[1].key])
    plan = plan_tpe(spec, store)
    assert [c.key for c in plan.members] == [c.key for c in (*a, *b)]  # the stray member is dropped
    assert plan.evaluated == [({"lr": 1e-3, "p": 2.0}, pytest.approx(0.7))]  # mean over the seeds
    assert plan.unfinished == [{"lr": 2e-4, "p": 1.5}] and plan.remaining == 4
    optuna = optuna_searcher(spec.search, plan)
    assert optuna.suggest("first") == {"lr": 2e-4, "p": 1.5}  # the unfinished point again: same keys
    assert len(optuna._ot_study.trials) == 2  # noqa: SLF001 - the told point and the one just asked
