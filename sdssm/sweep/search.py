"""TPE at run time: OptunaSearch proposes points, every point runs once per seed, the store keeps identity.

A *point* is one value per distribution of the sweep (lr and p, say); its trials are `search.expand(point)`,
one per seed of the grid's seed axis (repeats), each an ordinary trial whose key is its config hash. The
objective TPE maximises is METRIC (accuracy beyond the training lengths, the number the report ranks
by), averaged over the point's seeds: per trial, its final evaluation, or its best periodic evaluation
when it has none (a trial ASHA stopped early, or one that failed after some evaluations).

How a proposal is answered (`SeedRepeats.suggest`):
  * it is registered in the store as a member of the sweep when proposed (nothing is registered before);
  * a trial already done in the store (this sweep's earlier run, or any sweep sharing the trial) is
    answered from the store and not trained again; a trial of this run still in flight is waited for;
  * the rest become Tune trials, resumed from a recorded checkpoint where the store has one.

A rerun resumes the search instead of starting a new one (`plan_tpe`): the sweep's points already in the
store are told to Optuna as completed trials (`OptunaSearch.add_evaluated_point`), points left unfinished
by a stopped run are proposed again first (`points_to_evaluate`, so their trials keep their keys and
checkpoints), and only the rest of the `num_samples` budget is drawn anew.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from sdssm.config import TrialConfig
from sdssm.sweep.spec import Search, SweepSpec
from sdssm.sweep.store import DONE_STATUSES, Store

MAX_REPEATS = 10  # proposals per point of the budget before a search that only repeats itself is ended
METRIC = "beyond_accuracy"  # what the report ranks trials by; maximised
MODE = "max"

Point = dict[str, Any]


def _point_id(point: Point) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(point.items()))


@dataclass
class TpePlan:
    """Where a TPE sweep stands in the store: its members, the points done (with their objective, None
    when every trial of the point failed), the points started but unfinished, and the points left to draw."""

    members: list[TrialConfig]
    evaluated: list[tuple[Point, float | None]]
    unfinished: list[Point]
    remaining: int  # points to propose in this run (the unfinished ones first)


def stored_value(store: Store, keys: list[str]) -> dict[str, float | None]:
    """Per trial key, its objective from the store: the final evaluation, else the best periodic one."""
    final = {t.key: t.beyond_accuracy for t in store.trials_by_key(keys)}
    peaks = store.peak_accuracies([k for k in keys if final.get(k) is None])
    return {k: final[k] if final.get(k) is not None else peaks.get(k) for k in keys}


def objective(values: list[float | None]) -> float | None:
    """The point's objective: the mean over its seeds that have a value (None when none has)."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    return sum(known) / len(known) if known else None


def plan_tpe(spec: SweepSpec, store: Store) -> TpePlan:
    """The sweep's earlier trials grouped into points. A member that no longer fits the spec (its point
    lies outside an edited range, or its config is not what the spec builds for that point) is dropped."""
    search = spec.search
    assert search.expand is not None and search.num_samples is not None
    points: dict[tuple[tuple[str, Any], ...], tuple[Point, tuple[TrialConfig, ...]]] = {}
    for config in store.sweep_configs(spec.name):
        point = search.point(config)
        if _point_id(point) in points or not all(d.contains(point[d.field]) for d in search.distributions):
            continue
        configs = search.expand(point)
        if config.key in {c.key for c in configs}:
            points[_point_id(point)] = (point, configs)
    members = [c for _, configs in points.values() for c in configs]
    statuses = store.statuses([c.key for c in members])
    evaluated: list[tuple[Point, float | None]] = []
    unfinished: list[Point] = []
    for point, configs in points.values():
        keys = [c.key for c in configs]
        if all(statuses.get(k) in DONE_STATUSES for k in keys):
            evaluated.append((point, objective(list(stored_value(store, keys).values()))))
        else:
            unfinished.append(point)
    return TpePlan(members, evaluated, unfinished, max(0, search.num_samples - len(evaluated)))


def optuna_searcher(search: Search, plan: TpePlan) -> OptunaSearch:
    """OptunaSearch (a TPE sampler) over the sweep's distributions, told the points already evaluated and
    proposing the unfinished ones first. The sampler's seed is search.seed plus the number of points
    already evaluated: a fresh search is seeded with search.seed, and a resumed one does not draw its
    first (random start-up) proposals again, which would all be points the sweep already has."""
    import optuna as ot

    ot.logging.set_verbosity(ot.logging.WARNING)  # not a line per study and per trial on the driver's output
    space = OptunaSearch.convert_search_space({d.field: d.domain() for d in search.distributions})
    optuna = OptunaSearch(space=space, metric=METRIC, mode=MODE, seed=search.seed + len(plan.evaluated),
                          points_to_evaluate=[dict(p) for p in plan.unfinished] or None)
    for point, value in plan.evaluated:
        optuna.add_evaluated_point(dict(point), value if value is not None else 0.0, error=value is None)
    return optuna


class SeedRepeats(Searcher):
    """Tune's searcher for a TPE sweep: each point OptunaSearch proposes becomes one Tune trial per seed
    (see the module docstring); when all of a point's trials have ended, Optuna is told their objective.

    `register(configs)` is called with each proposal's trials before any of them runs (the runner adds
    them to the sweep in the store and to the live progress) and returns how many joined the sweep; `params(config)` is the Tune config of a
    trial to run (runner.trial_params, with its recorded checkpoint)."""

    def __init__(self, search: Search, optuna: OptunaSearch, budget: int, store: Store,
                 register: Callable[[tuple[TrialConfig, ...]], int],
                 params: Callable[[TrialConfig], dict[str, Any]]) -> None:
        super().__init__(metric=METRIC, mode=MODE)
        self.search, self.optuna, self.budget, self.store = search, optuna, budget, store
        self.register, self.params = register, params
        self.asked = 0  # points of the budget proposed so far
        self.proposed = 0  # proposals, with the repeats of points this sweep already has
        self.queue: list[TrialConfig] = []  # trials of proposed points, waiting for Tune to ask
        self.waiting: dict[str, list[str]] = {}  # trial key -> the points (ids) waiting for its value
        self.values: dict[str, dict[str, float | None]] = {}  # point id -> trial key -> objective
        self.expected: dict[str, set[str]] = {}  # point id -> its trial keys
        self.points: dict[str, Point] = {}  # point id -> the point
        self.key_of: dict[str, str] = {}  # Tune trial id -> trial key
        self.peaks: dict[str, float] = {}  # Tune trial id -> best periodic METRIC so far

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # the space and the metric are set: the sweep's distributions, METRIC

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        while not self.queue:
            if self.asked >= self.budget or self.proposed >= MAX_REPEATS * max(self.budget, 1):
                return Searcher.FINISHED
            self._propose()
        config = self.queue.pop(0)
        self.key_of[trial_id] = config.key
        return {"trial": self.params(config)}

    def _propose(self) -> None:
        """Ask Optuna for a point and queue its trials. A point whose trials are all members of the sweep
        already (TPE proposing one of the search's own points again) is answered and told, but does not
        use the budget: the budget counts the sweep's distinct points."""
        point_id = f"point_{self.proposed:04d}"
        self.proposed += 1
        drawn = self.optuna.suggest(point_id)
        point = {d.field: d.round(drawn[d.field]) for d in self.search.distributions}
        assert self.search.expand is not None
        configs = self.search.expand(point)
        joined = self.register(configs)
        if joined:
            self.asked += 1
        self.points[point_id], self.values[point_id] = point, {}
        self.expected[point_id] = {c.key for c in configs}
        statuses = self.store.statuses([c.key for c in configs])
        done = [c.key for c in configs if statuses.get(c.key) in DONE_STATUSES]
        self.values[point_id].update(stored_value(self.store, done) if done else {})
        for config in configs:
            if config.key in done:
                continue
            if config.key not in self.waiting:  # not yet in flight in this run: run it
                self.waiting[config.key] = []
                self.queue.append(config)
            self.waiting[config.key].append(point_id)
        self._tell_if_complete(point_id)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        value = result.get(METRIC)
        if not result.get("final") and isinstance(value, float) and math.isfinite(value):
            self.peaks[trial_id] = max(self.peaks.get(trial_id, value), value)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        key = self.key_of.pop(trial_id, None)
        if key is None:
            return
        final = (result or {}).get(METRIC) if (result or {}).get("final") else None
        value = final if final is not None else self.peaks.pop(trial_id, None)
        for point_id in self.waiting.pop(key, []):
            self.values[point_id][key] = value
            self._tell_if_complete(point_id)

    def _tell_if_complete(self, point_id: str) -> None:
        if set(self.values[point_id]) != self.expected[point_id]:
            return
        value = objective(list(self.values[point_id].values()))
        if value is None:
            self.optuna.on_trial_complete(point_id, None, error=True)
        else:
            self.optuna.on_trial_complete(point_id, {METRIC: value})

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its Tuner (with this searcher) into the experiment folder, for Tuner.restore, which
        # the sweep never uses: a rerun rebuilds the search from the store. The driver-side hooks stay out.
        return {**self.__dict__, "store": None, "register": None, "params": None}

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: a rerun rebuilds the search from the store (plan_tpe)."""

    def restore(self, checkpoint_path: str) -> None:
        """See `save`."""
