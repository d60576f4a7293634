"""Search spaces: distributions on grid axes, and the seeded random draws of them.

In a sweep file with `search: {method: random | tpe, num_samples: N, seed: S}`, a grid axis may be a
distribution instead of a list of values::

    lr: {loguniform: [1.0e-4, 3.0e-3]}   # log-uniform on [low, high], 0 < low < high (a float field)
    p: {uniform: [1, 3]}                  # uniform on [low, high], low < high (a float field)
    k: {int: [2, 8]}                      # a uniform integer in low..high, both included (an integer field)
    readout: {choice: [linear, mlp]}      # one of the values, each equally likely (any field but seed)

Each is one of Ray Tune's search-space objects (`Distribution.domain`: tune.loguniform, tune.uniform,
tune.randint, tune.choice); random draws `num_samples` configurations through Tune's variant generator
(the one its BasicVariantGenerator runs) from a NumPy generator seeded with S, so the same file always
draws the same configurations; tpe hands the same objects to OptunaSearch (sdssm/sweep/search.py).
Drawn numbers keep SIGNIFICANT digits, so the trials' configs (and keys) read as plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DISTRIBUTIONS", "Distribution", "MAX_SAMPLES", "METHODS", "SIGNIFICANT", "sample"]

METHODS = ("grid", "random", "tpe")
DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
MAX_SAMPLES = 1000  # configurations one random or TPE search may draw (each runs once per seed)
SIGNIFICANT = 6  # significant digits a drawn float keeps


@dataclass(frozen=True)
class Distribution:
    """One searched axis: `kind` (one of DISTRIBUTIONS) over `values` ((low, high), or the choices),
    written at `path` in the sweep file (e.g. 'grid.lr')."""

    field: str
    kind: str
    values: tuple[Any, ...]
    path: str

    def domain(self) -> Any:
        """Ray Tune's search-space object for this axis (`int` includes high: randint excludes its upper)."""
        from ray import tune

        if self.kind == "loguniform":
            return tune.loguniform(*self.values)
        if self.kind == "uniform":
            return tune.uniform(*self.values)
        if self.kind == "int":
            return tune.randint(self.values[0], self.values[1] + 1)
        return tune.choice(list(self.values))

    def round(self, value: Any) -> Any:
        """A drawn value as the trial gets it: floats to SIGNIFICANT digits (kept inside [low, high]),
        integers as int, choices as they are."""
        if self.kind in ("loguniform", "uniform"):
            low, high = self.values
            return min(max(float(f"{float(value):.{SIGNIFICANT}g}"), float(low)), float(high))
        if self.kind == "int":
            return int(value)
        return value

    def contains(self, value: Any) -> bool:
        """Whether a value lies in this axis (a trial of an earlier run still belongs to the search)."""
        if self.kind == "choice":
            return value in self.values
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.values[0] <= value <= self.values[1]

    def describe(self) -> str:
        """'loguniform [0.0001, 0.003]', 'choice [linear, mlp]'."""
        return f"{self.kind} [{', '.join(f'{v:g}' if isinstance(v, float) else str(v) for v in self.values)}]"


def sample(distributions: tuple[Distribution, ...], num_samples: int, seed: int) -> list[dict[str, Any]]:
    """`num_samples` configurations (field -> value) of the distributions, drawn by Ray Tune's variant
    generator from numpy.random.default_rng(seed): the same arguments always give the same list."""
    import numpy as np
    from ray.tune.search.variant_generator import generate_variants

    space = {d.field: d.domain() for d in distributions}
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(num_samples):
        for _, config in generate_variants(space, random_state=rng):  # one variant: no grid_search inside
            points.append({d.field: d.round(config[d.field]) for d in distributions})
    return points
