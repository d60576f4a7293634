"""Random and TPE searches through the real runner: a 2-CPU local Ray, real tiny trials, a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sdssm.sweep.runner import RunOptions, run_sweep
from sdssm.sweep.spec import load_spec
from sdssm.sweep.store import DONE_STATUSES, Store, TrialStatus
from tests.sweep.conftest import write_spec

pytestmark = pytest.mark.timeout(300)

SPACE = {"lr": {"loguniform": [1.0e-3, 3.0e-2]}, "p": {"uniform": [1, 3]}}
ASHA = {"scheduler": "asha", "asha": {"grace_period": 1, "reduction_factor": 2}}


def _spec(folder: Path, method: str, samples: int, seeds: list[int], **top: Any) -> Path:
    grid = {"task": "parity_check", "model": "sdssm", "seed": seeds, **SPACE}  # the drawn lr beats TINY_TRAIN's
    return write_spec(folder, name=method, grid=grid, search={"method": method, "num_samples": samples, "seed": 0},
                      **top)


def _run(folder: Path, spec_path: Path) -> Any:
    options = RunOptions(db_url=str(folder / "results.db"), storage_path=str(folder / "ray"), num_cpus=2,
                         dashboard=False)
    return run_sweep(load_spec(spec_path), options, Console(quiet=True))


def _trials(folder: Path, sweep: str) -> dict[str, Any]:
    return {t.key: t for t in Store(str(folder / "results.db"), create=False).trials([sweep])}


def test_random_search_with_asha_runs_its_draws_and_a_rerun_trains_nothing(tmp_path: Path) -> None:
    path = _spec(tmp_path, "random", samples=4, seeds=[0], train={"max_steps": 200}, **ASHA)
    spec = load_spec(path)
    assert spec.search.method == "random" and len(spec.trials) == 4
    _run(tmp_path, path)
    trials = _trials(tmp_path, "random")
    assert set(trials) == {t.key for t in spec.trials}  # the drawn trials, registered like a grid's
    statuses = [t.status for t in trials.values()]
    assert set(statuses) <= DONE_STATUSES and TrialStatus.STOPPED in statuses, statuses  # ASHA stopped some
    assert any(s != TrialStatus.STOPPED for s in statuses)
    before = {k: (t.finished_at, t.attempts) for k, t in trials.items()}
    summary = _run(tmp_path, path)  # the same file draws the same configurations: nothing to run
    assert summary.ran == 0 and summary.skipped == 4
    assert {k: (t.finished_at, t.attempts) for k, t in _trials(tmp_path, "random").items()} == before


def test_tpe_runs_each_point_once_per_seed_and_a_rerun_resumes_the_search(tmp_path: Path) -> None:
    path = _spec(tmp_path, "tpe", samples=2, seeds=[0, 1])
    spec = load_spec(path)
    summary = _run(tmp_path, path)
    trials = _trials(tmp_path, "tpe")
    assert summary.ran == 4 and len(trials) == 4
    assert {t.status for t in trials.values()} <= DONE_STATUSES
    points = {(t.lr, t.p) for t in trials.values()}
    assert len(points) == 2  # two points, each on seeds 0 and 1
    for lr, p in points:
        assert sorted(t.seed for t in trials.values() if (t.lr, t.p) == (lr, p)) == [0, 1]
        assert 1e-3 <= lr <= 3e-2 and 1 <= p <= 3
        assert spec.search.expand is not None
        assert {c.key for c in spec.search.expand({"lr": lr, "p": p})} <= set(trials)  # keys: the config hash

    before = {k: (t.finished_at, t.attempts) for k, t in trials.items()}
    summary = _run(tmp_path, path)  # the whole budget is in the store: nothing is proposed or trained
    assert summary.ran == 0 and summary.total == 4
    assert {k: (t.finished_at, t.attempts) for k, t in _trials(tmp_path, "tpe").items()} == before

    path.write_text(path.read_text().replace("num_samples: 2", "num_samples: 3"))
    summary = _run(tmp_path, path)  # one more point: its two trials, and the earlier four untouched
    after = _trials(tmp_path, "tpe")
    assert summary.ran == 2 and len(after) == 6
    assert {k: (t.finished_at, t.attempts) for k, t in after.items() if k in before} == before
    assert len({(t.lr, t.p) for t in after.values()}) == 3


def test_tpe_with_asha_completes_and_stops_weak_trials(tmp_path: Path) -> None:
    path = _spec(tmp_path, "tpe", samples=4, seeds=[0], train={"max_steps": 200}, **ASHA)
    _run(tmp_path, path)
    trials = _trials(tmp_path, "tpe")
    statuses = [t.status for t in trials.values()]
    assert len(trials) == 4 and set(statuses) <= DONE_STATUSES, statuses
    assert TrialStatus.STOPPED in statuses and any(s != TrialStatus.STOPPED for s in statuses), statuses
