"""Claims as data: a paper's claims as predicates over the results store, checked by `sdssm-sweep check`.

A claims file (claims/*.yaml) holds one paper's claims::

    paper: "Terzić et al., AAAI 2025 (arXiv 2412.19350)"
    sweeps: [table1]                   # default evidence for every claim: these sweeps' trials
    claims:
      - id: sdssm_all_tasks            # letters, digits, _ . -
        claim: "SD-SSM with a linear readout generalizes (> 99.9%) on all seven tasks"
        source: "Table 1"
        trials: {model: sdssm, readout: linear}     # trial fields; a list means any of
        tasks: [parity_check, D4]                    # each task is checked on its own; all must hold
        metric: beyond                 # beyond (lengths past training) | in_range; final evaluation, in %
        over: seeds                    # best: the best trial | mean: mean over seeds of each seed's best |
                                       # seeds: each seed's best trial, at least `min_seeds` must hold
        min_seeds: 2
        expect: ">= 99.9"              # comparison and threshold in percentage points
      - id: mlp_hurts
        trials: {model: sdssm, readout: linear}
        minus: {model: sdssm, readout: mlp}          # the value is trials' minus minus' (per seed: paired)
        tasks: [modular_arithmetic]
        expect: ">= 10"

Values are shown with two decimals (four where two would round onto the threshold), so that 99.86 or
99.896 never reads as 99.9 next to a threshold of 99.9.
A task is named as the report's columns name it (the trial's task label, e.g. C2xC4, D7) or by its
registry name. Only trials that ended with a result count; trials still pending or running are listed in
the evidence. A task whose selection has no result (or fewer seeds than `min_seeds`) is "not enough data".
A claim holds when every task holds; it fails when any task fails; otherwise it lacks data.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sdssm.config import LATER_FIELD_DEFAULTS, field_names
from sdssm.sweep.spec import NAME_PATTERN, SpecError, read_yaml

HOLDS, FAILS, NO_DATA = "holds", "fails", "not enough data"
MARKS = {HOLDS: "✓", FAILS: "✗", NO_DATA: "?"}
METRICS = {"beyond": "beyond_pct", "in_range": "in_range_pct"}
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_EXPECT = re.compile(r"^\s*(>=|<=|>|<)\s*(-?[0-9]+(?:\.[0-9]*)?)\s*$")
SELECTABLE = tuple(f for f in field_names() if f not in ("task", "task_params", "threads", "device"))


class ClaimsError(SpecError):
    """A claims file that cannot be used (exit code 2): one line per problem, naming file and key."""


_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class Claim(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=NAME_PATTERN, max_length=100, description="letters, digits, '_', '.', '-'")
    claim: str = Field(min_length=1, description="the claim as the paper states it")
    source: str = Field("", description="where the paper makes it (table, section)")
    sweeps: list[str] | None = Field(None, min_length=1, description="sweep names whose trials are evidence")
    trials: dict[str, Any] = Field(description="a mapping of trial fields to a value or a list of values")
    minus: dict[str, Any] | None = Field(None, description="a second selection (the claim is a difference)")
    tasks: list[str] = Field(min_length=1, description="a list of task names")
    metric: Literal["beyond", "in_range"] = Field("beyond", description="one of: beyond, in_range")
    over: Literal["best", "mean", "seeds"] = Field("best", description="one of: best, mean, seeds")
    min_seeds: int = Field(1, ge=1, description="an integer >= 1")
    expect: str = Field(description="a comparison and a number, e.g. '>= 99.9' (one of >=, >, <=, <)")

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: str) -> str:
        if not _EXPECT.match(value):
            raise ValueError("must be a comparison and a number, e.g. '>= 99.9' (one of >=, >, <=, <)")
        return value

    @field_validator("trials", "minus")
    @classmethod
    def _selection(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            if key not in SELECTABLE:
                raise ValueError(f"unknown trial field {key!r} (known: {', '.join(SELECTABLE)})")
        return value

    def comparison(self) -> tuple[str, float]:
        match = _EXPECT.match(self.expect)
        assert match is not None
        return match.group(1), float(match.group(2))


class ClaimsFile(BaseModel):
    model_config = _STRICT
    paper: str = Field(min_length=1, description="the paper these claims come from")
    sweeps: list[str] = Field(default_factory=list, description="a list of sweep names")
    claims: list[Claim] = Field(min_length=1, description="a list of claims")


@dataclass(frozen=True)
class LoadedClaims:
    path: Path
    paper: str
    claims: list[Claim]
    sweeps: list[str]  # the file's default evidence


def load_claims(path: str | Path) -> LoadedClaims:
    """Read and validate one claims file; every problem raises ClaimsError (file, key path, what is allowed)."""
    source = str(path)
    try:
        data, _ = read_yaml(path, "a YAML claims file, e.g. claims/sdssm_paper.yaml")
    except SpecError as err:
        raise ClaimsError(source, err.problems) from None
    if not isinstance(data, dict):
        raise ClaimsError(source, ["the top level must be a mapping with keys paper, sweeps, claims"])
    try:
        parsed = ClaimsFile.model_validate(data)
    except ValidationError as err:
        raise ClaimsError(source, [_problem(e) for e in err.errors()]) from None
    ids = [c.id for c in parsed.claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ClaimsError(source, [f"claims: duplicate id(s) {', '.join(duplicates)}"])
    missing = [f"claims[{i}] ({c.id}): no sweeps (give `sweeps` here or at the top of the file)"
               for i, c in enumerate(parsed.claims) if not (c.sweeps or parsed.sweeps)]
    if missing:
        raise ClaimsError(source, missing)
    return LoadedClaims(Path(path), parsed.paper, list(parsed.claims), list(parsed.sweeps))


def claims_files(paths: Sequence[str | Path]) -> list[Path]:
    """The claims files named (a folder stands for its *.yaml files, sorted); ClaimsError if none."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
            if not inside:
                raise ClaimsError(str(path), ["holds no claims files (*.yaml)"])
            found += inside
        else:
            found.append(path)
    return found


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required"
    return f"{where}: {message}"


# --- evaluation --------------------------------------------------------------------------------------
@dataclass
class TaskVerdict:
    task: str
    verdict: str
    value: float  # the compared number (NaN without data)
    evidence: str  # what it rests on: trials, seeds, values


@dataclass
class ClaimResult:
    claim: Claim
    paper: str
    path: Path
    sweeps: list[str]
    tasks: list[TaskVerdict] = field(default_factory=list)
    missing_sweeps: list[str] = field(default_factory=list)  # named as evidence, absent from the store

    @property
    def verdict(self) -> str:
        verdicts = {t.verdict for t in self.tasks}
        if FAILS in verdicts:
            return FAILS
        return NO_DATA if NO_DATA in verdicts or not verdicts else HOLDS


def check_claims(loaded: LoadedClaims, trials: pd.DataFrame, memberships: pd.DataFrame,
                 sweeps: Sequence[str] | None = None) -> list[ClaimResult]:
    """Every claim of a file against `trials` (ReportData.trials) and `memberships` (sweep, key).
    `sweeps` replaces each claim's own evidence sweeps when given."""
    configs = trials["config"].map(_config)
    results = []
    for claim in loaded.claims:
        names = list(sweeps) if sweeps else (claim.sweeps or loaded.sweeps)
        keys = set(memberships.loc[memberships["sweep"].isin(names), "key"])
        in_sweeps = trials["key"].isin(keys)
        result = ClaimResult(claim, loaded.paper, loaded.path, names)
        for task in claim.tasks:
            of_task = in_sweeps & ((trials["task_label"] == task) | (trials["task"] == task))
            selected = trials[of_task & _matches(configs, claim.trials)]
            minus = trials[of_task & _matches(configs, claim.minus)] if claim.minus is not None else None
            result.tasks.append(_judge(claim, task, selected, minus))
        results.append(result)
    return results


def _config(value: Any) -> dict[str, Any]:
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _matches(configs: pd.Series, selection: dict[str, Any] | None) -> pd.Series:
    """Which stored configs have every selected field at one of its values. A config stored before a field
    existed (LATER_FIELD_DEFAULTS: supervision, layers) had that field's default."""
    wanted = {key: value if isinstance(value, list) else [value] for key, value in (selection or {}).items()}

    def one(config: dict[str, Any]) -> bool:
        config = {**LATER_FIELD_DEFAULTS, **config}
        return all(key in config and any(_same(config[key], v) for v in values) for key, values in wanted.items())

    return configs.map(one).astype(bool)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    return a == b


def _per_seed(rows: pd.DataFrame, metric: str) -> pd.Series:
    """Each seed's best value (index: seed)."""
    results = rows[rows["has_result"] & rows[metric].notna()]
    return results.groupby("seed")[metric].max()


def _judge(claim: Claim, task: str, rows: pd.DataFrame, minus: pd.DataFrame | None) -> TaskVerdict:
    metric = METRICS[claim.metric]
    op, threshold = claim.comparison()
    seeds = _per_seed(rows, metric)
    if minus is not None:
        other = _per_seed(minus, metric)
        if claim.over == "seeds":
            seeds = (seeds - other).dropna()  # paired by seed
        elif len(seeds) and len(other):
            value = (seeds.max() - other.max()) if claim.over == "best" else (seeds.mean() - other.mean())
            return _verdict(task, value, op, threshold,
                            f"{_describe(rows, metric)} minus {_describe(minus, metric)}")
        else:
            return TaskVerdict(task, NO_DATA, math.nan, f"{_describe(rows, metric)}; minus {_describe(minus, metric)}")
    evidence = _describe(rows, metric)
    if claim.over == "seeds":
        meeting = [seed for seed, value in seeds.items() if _COMPARISONS[op](value, threshold)]
        shown = ", ".join(f"seed {int(s)}: {v:.2f}" for s, v in seeds.items())
        text = f"{len(meeting)} of {len(seeds)} seed(s) {op} {threshold:g} ({shown or 'no results'}); {evidence}"
        if len(meeting) >= claim.min_seeds:
            return TaskVerdict(task, HOLDS, float(len(meeting)), text)
        if len(seeds) < claim.min_seeds:
            return TaskVerdict(task, NO_DATA, float(len(meeting)), text)
        return TaskVerdict(task, FAILS, float(len(meeting)), text)
    if seeds.empty:
        return TaskVerdict(task, NO_DATA, math.nan, evidence)
    value = float(seeds.max()) if claim.over == "best" else float(seeds.mean())
    return _verdict(task, value, op, threshold, evidence)


def _verdict(task: str, value: float, op: str, threshold: float, evidence: str) -> TaskVerdict:
    verdict = HOLDS if _COMPARISONS[op](value, threshold) else FAILS
    return TaskVerdict(task, verdict, value, f"{_value(value, threshold)} {op} {threshold:g}? {evidence}")


def _value(value: float, threshold: float) -> str:
    """Two decimals, or four where two would round onto the threshold (99.896 beside 99.9)."""
    text = f"{value:.2f}"
    return f"{value:.4f}" if text == f"{threshold:.2f}" and value != threshold else text


def _describe(rows: pd.DataFrame, metric: str) -> str:
    """'best 99.9 (seed 2, lr 0.0003, key ab12…); 3 trial(s), seeds 0-2, 1 running'."""
    results = rows[rows["has_result"] & rows[metric].notna()]
    active = int(rows["active"].sum()) if "active" in rows else 0
    parts = []
    if not results.empty:
        best = results.loc[results[metric].idxmax()]
        parts.append(f"best {best[metric]:.2f} (seed {int(best['seed'])}, lr {best['lr']:g}, trial {best['key']})")
    seeds = sorted(int(s) for s in results["seed"].dropna().unique())
    parts.append(f"{len(results)} trial(s) with a result" + (f", seeds {', '.join(map(str, seeds))}" if seeds else ""))
    if active:
        parts.append(f"{active} still pending or running")
    return "; ".join(parts)


def default_claims_dir() -> Path:
    """claims/ in the working directory, else the one shipped beside this package."""
    here = Path("claims")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "claims"


def evaluate_files(store: Any, paths: Sequence[str | Path], sweeps: Sequence[str] | None = None
                   ) -> list[ClaimResult]:
    """Load every claims file named (all validated before anything is read from the store) and check
    each against the store; a claim's sweep that the store does not hold leaves it without data."""
    from analysis.load import load

    loaded = [load_claims(path) for path in claims_files(paths)]
    wanted = list(sweeps) if sweeps else sorted({name for file in loaded for claim in file.claims
                                                 for name in (claim.sweeps or file.sweeps)})
    existing = set(store.sweep_names())
    present = [name for name in wanted if name in existing]
    if present:
        data = load(store, present)
        trials, memberships = data.trials, data.memberships
    else:
        trials = pd.DataFrame(columns=["key", "config", "task", "task_label", "seed", "lr", "has_result",
                                       "active", "beyond_pct", "in_range_pct"])
        memberships = pd.DataFrame(columns=["sweep", "key"])
    results = [result for file in loaded for result in check_claims(file, trials, memberships, sweeps)]
    for result in results:
        result.missing_sweeps = [name for name in result.sweeps if name not in existing]
    return results


def claims_markdown(results: Sequence[ClaimResult]) -> str:
    """The Claims section: one line per claim with its verdict, then its evidence per task."""
    lines = []
    for result in results:
        claim = result.claim
        source = f" ({result.paper}{', ' + claim.source if claim.source else ''})"
        lines.append(f"- {MARKS[result.verdict]} **{claim.id}** — {claim.claim}{source}. "
                     f"Evidence: sweep(s) {', '.join(result.sweeps)}; {claim.metric} accuracy, "
                     f"{_over_text(claim)}, expect {claim.expect}"
                     + (f" (minus {json.dumps(claim.minus)})" if claim.minus else "") + "."
                     + (f" Not read: sweep(s) {', '.join(result.missing_sweeps)}."
                        if result.missing_sweeps else ""))
        for task in result.tasks:
            lines.append(f"    - {MARKS[task.verdict]} {task.task}: {task.evidence}")
    counts = {v: sum(r.verdict == v for r in results) for v in (HOLDS, FAILS, NO_DATA)}
    lines.append("")
    lines.append(f"{counts[HOLDS]} hold, {counts[FAILS]} fail, {counts[NO_DATA]} without enough data "
                 "(✓ holds, ✗ fails, ? not enough data).")
    return "\n".join(lines)


def _over_text(claim: Claim) -> str:
    if claim.over == "seeds":
        return f"each seed's best trial, at least {claim.min_seeds} seed(s)"
    return "the best trial" if claim.over == "best" else "mean over seeds of each seed's best trial"


def report_section(data: Any, claims_dir: Path | None = None) -> tuple[str, list[ClaimResult]]:
    """The report's opening Claims section: every claim (claims/*.yaml) whose evidence sweeps include one
    of the report's sweeps, checked on the report's data (`data`: analysis.load.ReportData)."""
    folder = claims_dir or default_claims_dir()
    header = ["## Claims", ""]
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        return "\n".join(header + [f"_No claims files in {folder}._"]) + "\n", []
    results = []
    for path in claims_files([folder]):
        loaded = load_claims(path)
        applicable = [c for c in loaded.claims if set(c.sweeps or loaded.sweeps) & set(data.sweeps)]
        if applicable:
            subset = LoadedClaims(loaded.path, loaded.paper, applicable, loaded.sweeps)
            results += check_claims(subset, data.trials, data.memberships)
    for result in results:
        result.missing_sweeps = [name for name in result.sweeps if name not in data.sweeps]
    if not results:
        return "\n".join(header + [f"_No claim in {folder} rests on these sweeps; `sdssm-sweep check` checks "
                                   "every claim against the whole database._"]) + "\n", []
    intro = ("Each paper's claims (claims/*.yaml) as predicates over this report's trials, checked as "
             "`sdssm-sweep check` checks them (final evaluation, accuracy beyond training unless said). A "
             "claim whose evidence sweeps are not all in this report says so.")
    return "\n".join(header + [intro, "", claims_markdown(results)]) + "\n", results
