"""Sweep specs: a YAML file -> validated, frozen settings -> a deterministic tuple of TrialConfig.

A spec is what a researcher writes (see sweeps/*.yaml)::

    name: table1                      # required; letters, digits, '_', '.', '-' (used in file paths)
    description: "SD-SSM, Table 1"
    train: {max_steps: 30000}         # one value per TrialConfig field: defaults for every trial
    grid:                             # axes crossed as a Cartesian product (a scalar is a 1-value axis)
      task: [parity_check, D4, Dn]
      task_params: {n: 30}            # a mapping, or a list of mappings (an axis)
      model: sdssm
      seed: [0, 1, 2]
      lr: [1.0e-4, 3.0e-4]
    model_overrides:                  # per model name: fields for that model's trials (a list is an axis)
      lstm: {lr: 1.0e-3}
    overrides:                        # per task name: fields for that task's trials (a list is an axis)
      parity_check: {k: 8, p: 1.2}
    include:                          # extra trials beside the grid; a list in an entry is an axis of it
      - {task: A5, model: lstm, lr: 1.0e-3, seed: [0, 1]}
    exclude:                          # drop grid trials matching ALL fields of an entry (a list = any of)
      - {task: A5, model: diagonal}
    resources: {cpu: 1, gpu: 0}       # reserved per trial; fractions allowed
    max_concurrent: 2                 # or null: as many as the resources allow
    scheduler: none                   # none | asha (asha: {grace_period, reduction_factor})
    max_failures: 2                   # retries of a failing trial (from its checkpoint)
    search: {method: grid}            # grid | random | tpe (random, tpe: num_samples, seed; see below)

Precedence for one trial: TrialConfig defaults < train < grid combination < model_overrides[model] <
overrides[task]; an include entry (crossed over its own lists) replaces the grid combination and wins
over both override sections.
`exclude` filters the grid trials only (include entries are always kept); a field the trial's model does
not read (k for an LSTM) never matches. Trials come in grid order (first axis outermost, then the
override axes, then the include entries) and are deduplicated by `TrialConfig.key`, first one kept.
`1e-4` (no dot) reads as a number, unlike plain YAML 1.1, and duplicate keys are an error.

Search beyond the grid: with `search: {method: random | tpe, num_samples: N, seed: S}` a grid axis may be a
distribution (`lr: {loguniform: [1.0e-4, 3.0e-3]}`, `uniform`, `int`, `choice`; sdssm/sweep/space.py), and
distributions are allowed nowhere else. random draws N configurations of the distributions from seed S
(the same file always draws the same ones) and crosses each with the list axes (seed: repeats), so its
trials are concrete here like a grid's, first sample outermost. tpe leaves the drawing to OptunaSearch at
run time (sdssm/sweep/search.py): its trials are not known here (`trials` is empty), `search.expand` turns
one proposed point into its trials (one per seed), and seed is the only list axis it allows.
include and exclude are grid-only.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import json
import math
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sdssm.config import (ALL_MODEL_FIELDS, MAX_SEED, MODEL_FIELDS, TrialConfig, TrialConfigError, field_names,
                          suggest, trial_problems)
from sdssm.sweep.space import DISTRIBUTIONS, MAX_SAMPLES, Distribution, sample

__all__ = ["AshaConfig", "MAX_TRIALS", "Resources", "Search", "SearchConfig", "SpecError", "SweepSpec",
           "TOP_LEVEL_KEYS", "load_spec", "parse_spec", "read_yaml"]

MAX_TRIALS = 100_000  # candidates (before exclude and dedup) a spec may expand to
MAX_LISTED = 10  # problems shown in one SpecError message
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

Located = tuple[Any, str]  # a value and the key path it came from, e.g. (0.0003, "grid.lr[1]")
Layer = dict[str, Located]  # field name -> located value


class SpecError(Exception):
    """A spec that cannot be used. `str(err)` lists the problems (at most MAX_LISTED), one per line,
    each as '<file>: <key path>: <what is wrong and what is allowed>'; `.problems` holds all of them."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {p}" for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"{source}: ... and {len(self.problems) - MAX_LISTED} more problem(s)")
        super().__init__("\n".join(lines))


# --- settings of the sweep itself (pydantic: the `description` of a field says what is allowed) --------
_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class Resources(BaseModel):
    """What Ray reserves for each trial."""

    model_config = _STRICT
    cpu: float = Field(1.0, gt=0, allow_inf_nan=False, description="a number > 0 (CPUs per trial)")
    gpu: float = Field(0.0, ge=0, allow_inf_nan=False, description="a number >= 0 (GPUs per trial): a fraction "
                       "of at most 1 (trials share a GPU) or a whole number (Ray refuses fractions above 1)")

    @field_validator("gpu")
    @classmethod
    def _whole_above_one(cls, gpu: float) -> float:
        if gpu > 1 and not float(gpu).is_integer():
            raise ValueError("a fraction above 1")
        return gpu


class AshaConfig(BaseModel):
    """Ray Tune's ASHA early stopping; time is counted in periodic evaluations."""

    model_config = _STRICT
    grace_period: int = Field(10, ge=1, description="an integer >= 1 (evaluations before a stop)")
    reduction_factor: float = Field(4.0, gt=1, allow_inf_nan=False, description="a number > 1")


class SearchConfig(BaseModel):
    """How the sweep picks its configurations: the grid's product, seeded random draws, or TPE."""

    model_config = _STRICT
    method: Literal["grid", "random", "tpe"] = Field("grid", description="one of: grid, random, tpe")
    num_samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description=(
        f"an integer in 1..{MAX_SAMPLES} (configurations drawn; each runs once per seed), required with "
        "method random or tpe"))
    seed: int = Field(0, ge=0, le=MAX_SEED, description=f"an integer in 0..{MAX_SEED} (the sampler's seed)")


class _Settings(BaseModel):
    model_config = _STRICT
    name: str = Field(pattern=NAME_PATTERN, max_length=100,
                      description="a string of letters, digits, '_', '.', '-' (at most 100, not starting "
                                  "with '_', '.' or '-')")
    description: str = Field("", description="a string")
    resources: Resources = Field(default_factory=Resources, description="a mapping with keys cpu, gpu")
    max_concurrent: int | None = Field(None, ge=1, description="an integer >= 1, or null for no limit")
    scheduler: Literal["none", "asha"] = Field("none", description="one of: none, asha")
    asha: AshaConfig = Field(default_factory=AshaConfig,
                             description="a mapping with keys grace_period, reduction_factor")
    max_failures: int = Field(2, ge=0, description="an integer >= 0")
    search: SearchConfig = Field(default_factory=SearchConfig,
                                 description="a mapping with keys method, num_samples, seed")


_TRIAL_SECTIONS = ("train", "grid", "overrides", "model_overrides", "include", "exclude")
TOP_LEVEL_KEYS = ("name", "description", *_TRIAL_SECTIONS, "resources", "max_concurrent", "scheduler",
                  "asha", "max_failures", "search")


@dataclass(frozen=True)
class Search:
    """The sweep's search: `method`, and for random / tpe the distributions, `num_samples`, `seed`, the
    seeds every configuration runs with (`seeds`), and `expand`: a point (distribution field -> value) ->
    its trials, one per seed in `seeds` order (TPE builds its proposals' trials with it)."""

    method: Literal["grid", "random", "tpe"] = "grid"
    num_samples: int | None = None
    seed: int = 0
    distributions: tuple[Distribution, ...] = ()
    seeds: tuple[int, ...] = ()
    expand: Callable[[dict[str, Any]], tuple[TrialConfig, ...]] | None = dataclasses.field(
        default=None, compare=False, repr=False)

    def point(self, config: TrialConfig) -> dict[str, Any]:
        """The searched values of a trial (distribution field -> value)."""
        return {d.field: getattr(config, d.field) for d in self.distributions}


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: its settings and its trials (deterministic order, unique keys)."""

    name: str
    description: str = ""
    trials: tuple[TrialConfig, ...] = ()
    resources: Resources = Resources()
    max_concurrent: int | None = None
    scheduler: Literal["none", "asha"] = "none"
    asha: AshaConfig = AshaConfig()
    max_failures: int = 2
    source_path: str = ""
    source_text: str = ""
    search: Search = Search()


# --- public entry points ------------------------------------------------------------------------------
def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a YAML spec; every problem with the file or its content raises SpecError."""
    data, text = read_yaml(path, "a YAML sweep spec, e.g. sweeps/quickstart.yaml")
    return parse_spec(data, str(path), text)


def read_yaml(path: str | Path, expected: str) -> tuple[Any, str]:
    """(parsed data, text) of a YAML file read safely (numbers like 1e-4, no duplicate keys) within the
    bounds of tasks.bounded_yaml (file size, nesting depth, alias expansion); any problem with the file
    raises SpecError naming it and `expected` (what the file should be)."""
    source = str(path)
    file = Path(path)
    if not file.exists():
        raise SpecError(source, [f"no such file (expected {expected})"])
    if file.is_dir():
        raise SpecError(source, [f"is a directory (expected {expected})"])
    from tasks.bounded_yaml import BoundedYamlError, read_text

    try:
        text = read_text(file)  # at most MAX_FILE_BYTES, a regular file
    except BoundedYamlError as err:
        raise SpecError(source, [f"{err} (expected {expected})"]) from None
    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(str(s) for s in (err.context, err.problem) if s)
        raise SpecError(source, [f"{where}not valid YAML ({what})"]) from None
    except yaml.YAMLError as err:
        raise SpecError(source, [f"not valid YAML ({err})"]) from None
    return data, text


def parse_spec(data: Any, source: str = "<spec>", text: str | None = None) -> SweepSpec:
    """Validate an already-parsed spec (a mapping) and expand its trials; SpecError lists the problems."""
    if text is None:
        text = yaml.safe_dump(data, sort_keys=False) if isinstance(data, dict) else ""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else _kind(data)
        raise SpecError(source, [f"the top level must be a mapping with keys {', '.join(TOP_LEVEL_KEYS)} "
                                 f"(name is required); got {got}"])
    return _Parser(source).parse(data, text)


# --- YAML: the bounds of tasks.bounded_yaml, numbers like 1e-4, no duplicate keys -------------------------
@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """The spec's loader, built on first use (importing `tasks` loads torch; `sdssm.sweep` imports without)."""
    from tasks.bounded_yaml import BoundedLoader

    class Loader(BoundedLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first given on line {seen[key]})",
                            key_node.start_mark)
                    seen[key] = key_node.start_mark.line + 1
                except TypeError:  # an unhashable key; the parser reports it later
                    pass
            return super().construct_mapping(node, deep=deep)

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))
    return Loader


# --- trial fields -----------------------------------------------------------------------------------------
def _default(f: dataclasses.Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


_DEFAULTS: dict[str, Any] = {f.name: _default(f) for f in dataclasses.fields(TrialConfig)}
_FIELDS = field_names()


def _kind(value: Any) -> str:
    """'an integer', 'a list', ... for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a mapping", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")


def _described(value: Any) -> str:
    """'an integer 8', 'a list ['seed']', 'null'."""
    return _kind(value) if value is None else f"{_kind(value)} {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _canonical(field: str, value: Any) -> str:
    """A comparable form of a field value (1 and 1.0 are the same learning rate)."""
    if isinstance(_DEFAULTS[field], float) and type(value) in (int, float):
        value = float(value)
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # mixed key types; reported by the value check
        return repr(value)


def _registry() -> Any:
    """The task registry (imported lazily: sdssm.sweep must import without it)."""
    import tasks

    if not (hasattr(tasks, "names") and hasattr(tasks, "get")):
        raise RuntimeError("the task registry (tasks.names / tasks.get) is not available")
    return tasks


# --- the parser -----------------------------------------------------------------------------------------
class _Parser:
    """Collects every problem of one spec (SpecError at the end of each stage), then expands the trials."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self._task_names: list[str] | None = None
        self.distributions: list[Distribution] = []  # the grid's distribution axes, in the order written

    def fail(self, path: str, message: str) -> None:
        line = f"{path}: {message}"
        if line not in self.problems:
            self.problems.append(line)

    def check(self) -> None:
        if self.problems:
            raise SpecError(self.source, self.problems)

    @property
    def task_names(self) -> list[str]:
        if self._task_names is None:
            self._task_names = list(_registry().names())
        return self._task_names

    # --- stage 1: structure and single values -------------------------------------------------------
    def parse(self, data: dict[Any, Any], text: str) -> SweepSpec:
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                self.fail(str(key), f"unknown key; {suggest(key, TOP_LEVEL_KEYS)}"
                                    f"allowed: {', '.join(TOP_LEVEL_KEYS)}")
        settings = self.settings({k: v for k, v in data.items() if k in _Settings.model_fields})
        train = self.single_layer(data.get("train"), "train")
        grid = self.axes(data.get("grid"), "grid")
        model_overrides = self.per_name(data.get("model_overrides"), "model_overrides", "model",
                                        list(MODEL_FIELDS))
        overrides = self.per_name(data.get("overrides"), "overrides", "task", None)
        include = [self.axes(entry, f"include[{i}]", required=True)
                   for i, entry in enumerate(self.sequence(data.get("include"), "include"))]
        exclude = []
        for i, entry in enumerate(self.sequence(data.get("exclude"), "exclude")):
            axes = self.axes(entry, f"exclude[{i}]", required=True)
            if isinstance(entry, dict) and not entry:
                self.fail(f"exclude[{i}]", "an empty entry would exclude every trial; "
                                           "give at least one field")
            exclude.append(dict(axes))
        self.check()
        assert settings is not None
        self.check_search(settings.search, data.get("search"), grid, model_overrides, overrides, include, exclude)
        self.check()
        search, trials = self.expand(settings.search, train, grid, model_overrides, overrides, include, exclude)
        on_cuda = sum(t.device == "cuda" for t in trials)
        if on_cuda and settings.resources.gpu == 0:
            self.fail("resources.gpu", f"{on_cuda} trial(s) ask for device cuda but no GPU is reserved; "
                                       "allowed: a number > 0 here, or device auto / cpu for the trials")
            self.check()
        return SweepSpec(name=settings.name, description=settings.description, trials=trials,
                         resources=settings.resources, max_concurrent=settings.max_concurrent,
                         scheduler=settings.scheduler, asha=settings.asha,
                         max_failures=settings.max_failures, source_path=self.source, source_text=text,
                         search=search)

    # --- search beyond the grid (sdssm/sweep/space.py) ------------------------------------------------
    def distribution(self, name: str, value: dict[Any, Any], path: str) -> None:
        """Parse `{kind: [...]}` on grid axis `name` into self.distributions, or report what is wrong."""
        if len(value) != 1:
            self.fail(path, f"a distribution is a mapping with one key, got {_described(value)}; allowed: "
                            "{loguniform: [low, high]}, {uniform: [low, high]}, {int: [low, high]}, "
                            "{choice: [values]}")
            return
        (kind, args), = value.items()
        where = f"{path}.{kind}"
        if kind not in DISTRIBUTIONS:
            self.fail(where, f"unknown distribution; {suggest(kind, DISTRIBUTIONS)}allowed: "
                             f"{', '.join(DISTRIBUTIONS)}")
            return
        if name in ("seed", "task_params"):
            why = "seeds are repeats: give a list of seeds" if name == "seed" else "give a list of mappings"
            self.fail(where, f"{name} cannot be searched; {why}")
            return
        default = _DEFAULTS[name]
        if kind == "choice":
            if not isinstance(args, list) or not args:
                self.fail(where, f"must be a non-empty list of values, got {_described(args)}")
                return
            located = [(v, f"{where}[{i}]") for i, v in enumerate(args)]
            if not all([self.value_ok(name, v, p) for v, p in located]):
                return
            canon = [_canonical(name, v) for v in args]
            if len(set(canon)) != len(canon):
                self.fail(where, f"duplicate values in {_show(args)}; give each value once")
                return
            values = tuple(float(v) if isinstance(default, float) else v for v in args)
        else:
            numeric = int if kind == "int" else float
            if isinstance(default, bool) or not isinstance(default, numeric):
                fits = (["loguniform", "uniform"] if isinstance(default, float) else
                        ["int"] if isinstance(default, int) and not isinstance(default, bool) else []) + ["choice"]
                self.fail(where, f"{name} is {_kind(default)} field; allowed here: {', '.join(fits)}")
                return
            kinds = (int,) if kind == "int" else (int, float)
            if (not isinstance(args, list) or len(args) != 2
                    or not all(isinstance(v, kinds) and not isinstance(v, bool) for v in args)):
                what = "integers" if kind == "int" else "numbers"
                self.fail(where, f"must be [low, high], two {what}, got {_described(args)}")
                return
            low, high = args
            if kind == "loguniform" and low <= 0:
                self.fail(where, f"low must be > 0 for a log scale, got {low!r}; allowed: 0 < low < high")
                return
            if low >= high:
                self.fail(where, f"low ({low!r}) must be < high ({high!r})")
                return
            if not all([self.value_ok(name, v, f"{where}[{i}]") for i, v in enumerate(args)]):
                return
            values = (numeric(low), numeric(high))
        self.distributions.append(Distribution(name, kind, values, path))

    def check_search(self, search: SearchConfig, given: Any, grid: list[tuple[str, list[Located]]],
                     model_overrides: dict[str, list[tuple[str, list[Located]]]],
                     overrides: dict[str, list[tuple[str, list[Located]]]],
                     include: list[Any], exclude: list[Any]) -> None:
        """The rules between `search` and the trial sections (see the module docstring)."""
        given = given if isinstance(given, dict) else {}
        if search.method == "grid":
            for d in self.distributions:
                self.fail(d.path, "a distribution needs search.method random or tpe (e.g. search: "
                                  "{method: random, num_samples: 20}); with grid give a value or a list")
            for key in ("num_samples", "seed"):
                if key in given:
                    self.fail(f"search.{key}", "only with method random or tpe (grid runs every combination)")
            return
        if search.num_samples is None:
            self.fail("search.num_samples", f"missing; required with method {search.method}: an integer in "
                                            f"1..{MAX_SAMPLES} (configurations drawn; each runs once per seed)")
        if not self.distributions:
            self.fail("grid", f"search.method {search.method} searches distributions on grid axes, but none is "
                              "given; e.g. lr: {loguniform: [1.0e-4, 3.0e-3]} (or use method grid)")
        for section, entries in (("include", include), ("exclude", exclude)):
            if entries:
                self.fail(section, f"only with search.method grid; with {search.method}, put the values "
                                   "in grid (a list, or a distribution)")
        searched = {d.field: d.path for d in self.distributions}
        for section, per_name in (("model_overrides", model_overrides), ("overrides", overrides)):
            for name, axes in per_name.items():
                for field_name, located in axes:
                    if field_name in searched:
                        self.fail(f"{section}.{name}.{field_name}",
                                  f"sets {field_name}, which the search draws ({searched[field_name]}); "
                                  "remove one of them")
                    elif search.method == "tpe" and len(located) > 1:
                        self.fail(located[0][1].rsplit("[", 1)[0], _TPE_LISTS)
        if search.method == "tpe":
            for field_name, located in grid:
                if field_name != "seed" and len(located) > 1:
                    self.fail(located[0][1].rsplit("[", 1)[0], _TPE_LISTS)

    def expand(self, search: SearchConfig, train: Layer, grid: list[tuple[str, list[Located]]],
               model_overrides: dict[str, list[tuple[str, list[Located]]]],
               overrides: dict[str, list[tuple[str, list[Located]]]],
               include: list[list[tuple[str, list[Located]]]], exclude: list[dict[str, list[Located]]]
               ) -> tuple[Search, tuple[TrialConfig, ...]]:
        """The sweep's Search and its concrete trials (none for tpe: they are proposed at run time)."""
        if search.method == "grid":
            return Search(), _Expansion(self, train, grid, model_overrides, overrides, include, exclude).trials()
        distributions = tuple(self.distributions)

        def expand(point: dict[str, Any]) -> tuple[TrialConfig, ...]:
            drawn = [(d.field, [(point[d.field], f"{d.path} (drawn {point[d.field]!r})")]) for d in distributions]
            return _Expansion(self, train, grid + drawn, model_overrides, overrides, [], []).trials()

        seeds = next((tuple(v for v, _ in located) for name, located in grid if name == "seed"),
                     (train.get("seed", (_DEFAULTS["seed"], ""))[0],))
        assert search.num_samples is not None
        made = Search(search.method, search.num_samples, search.seed, distributions, seeds, expand)
        if search.method == "tpe":  # every proposal builds: try the ends of each range
            for corner in (0, -1):
                expand({d.field: d.values[corner] for d in distributions})
            return made, ()
        per_point = len(expand({d.field: d.values[0] for d in distributions}))
        if per_point * search.num_samples > MAX_TRIALS:
            self.fail("search.num_samples", f"{search.num_samples} samples x {per_point} trials each is above "
                                            f"{MAX_TRIALS:,} trials; lower num_samples or the list axes")
            self.check()
        trials: dict[str, TrialConfig] = {}
        for point in sample(distributions, search.num_samples, search.seed):
            for trial in expand(point):
                trials.setdefault(trial.key, trial)
        return made, tuple(trials.values())

    def settings(self, data: dict[str, Any]) -> _Settings | None:
        try:
            return _Settings.model_validate(data)
        except ValidationError as err:
            for e in err.errors():
                loc = [str(x) for x in e["loc"]]
                path, model = ".".join(loc), _model_at(loc[:-1])
                if e["type"] == "extra_forbidden":
                    allowed = list(model.model_fields)
                    self.fail(path, f"unknown key; {suggest(loc[-1], allowed)}"
                                    f"allowed: {', '.join(allowed)}")
                    continue
                allowed = model.model_fields[loc[-1]].description
                if e["type"] == "missing":
                    self.fail(path, f"missing; required: {allowed}")
                else:
                    options = typing.get_args(model.model_fields[loc[-1]].annotation)
                    hint = suggest(e["input"], options) if e["type"] == "literal_error" else ""
                    self.fail(path, f"got {_show(e['input'])}; {hint}allowed: {allowed}")
            return None

    def mapping(self, value: Any, path: str, what: str, required: bool = False) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping of {what}, got {_described(value)}")
            return {}
        out = {}
        for key, item in value.items():
            if isinstance(key, str):
                out[key] = item
            else:
                self.fail(f"{path}.{key}", f"keys must be strings ({what}), got {_kind(key)}")
        return out

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list of mappings of trial fields, got {_described(value)}")
            return []
        return value

    def field_items(self, value: Any, path: str, required: bool = False) -> Iterator[tuple[str, Any, str]]:
        """(field, value, key path) for each known TrialConfig field of a mapping."""
        for key, item in self.mapping(value, path, "trial fields", required).items():
            if key in _DEFAULTS:
                yield key, item, f"{path}.{key}"
            else:
                self.fail(f"{path}.{key}", f"unknown trial field; {suggest(key, _FIELDS)}"
                                           f"allowed: {', '.join(_FIELDS)}")

    def single_layer(self, value: Any, path: str, required: bool = False) -> Layer:
        layer: Layer = {}
        for name, item, where in self.field_items(value, path, required):
            if isinstance(item, list):
                self.fail(where, "must be a single value, got a list (axes go under grid, overrides or "
                                 "model_overrides)")
            elif self.value_ok(name, item, where):
                layer[name] = (item, where)
        return layer

    def axes(self, value: Any, path: str, required: bool = False) -> list[tuple[str, list[Located]]]:
        """Each field with its values (a scalar is a one-value axis), in the order written."""
        out = []
        for name, item, where in self.field_items(value, path, required):
            if isinstance(item, dict) and name != "task_params":
                if path == "grid":
                    self.distribution(name, item, where)
                else:
                    self.fail(where, "a distribution goes on a grid axis only (with search.method random or "
                                     "tpe); here give a value or a list of values")
                continue
            located = ([(v, f"{where}[{i}]") for i, v in enumerate(item)] if isinstance(item, list)
                       else [(item, where)])
            if not located:
                self.fail(where, "empty list; an axis needs at least one value")
                continue
            seen: dict[str, str] = {}
            for v, p in located:
                canon = _canonical(name, v)
                if canon in seen:
                    self.fail(p, f"duplicate value {_show(v)} (also at {seen[canon]}); give each value once")
                seen.setdefault(canon, p)
            if all([self.value_ok(name, v, p) for v, p in located]):
                out.append((name, located))
        return out

    def per_name(self, value: Any, path: str, what: str, known: list[str] | None
                 ) -> dict[str, list[tuple[str, list[Located]]]]:
        """overrides / model_overrides: a task or model name -> axes for that name's trials."""
        out = {}
        for name, fields in self.mapping(value, path, f"{what} names").items():
            names = self.task_names if known is None else known
            if name not in names:
                self.fail(f"{path}.{name}", f"unknown {what}; {suggest(name, names)}"
                                            f"known: {', '.join(names)}")
                continue
            for fixed in ("task", "model"):
                if isinstance(fields, dict) and fixed in fields:
                    self.fail(f"{path}.{name}.{fixed}",
                              f"{path} cannot change the {fixed}; allowed: any other trial field "
                              "(choose tasks and models in grid or include)")
            fields = {k: v for k, v in fields.items() if k not in ("task", "model")} \
                if isinstance(fields, dict) else fields
            out[name] = self.axes(fields, f"{path}.{name}", required=True)
        return out

    def value_ok(self, name: str, value: Any, path: str) -> bool:
        """Check one value of a trial field; report what is allowed if it is wrong."""
        before = len(self.problems)
        for problem in trial_problems({name: value}):  # TrialConfig's own validation, other fields default
            if problem.field == name:
                self.fail(path, problem.message)
        if len(self.problems) > before:
            return False
        if name == "task" and value not in self.task_names:
            self.fail(path, f"unknown task {value!r}; {suggest(value, self.task_names)}"
                            f"known: {', '.join(self.task_names)}")
        return len(self.problems) == before


_TPE_LISTS = ("with search.method tpe, seed is the only list axis (repeats); give one value, or let TPE "
              "pick it with a distribution, e.g. {choice: [...]}")


def _model_at(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = _Settings
    for part in loc:
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return model


# --- stage 2: expansion ----------------------------------------------------------------------------------
@dataclass
class _Expansion:
    parser: _Parser
    train: Layer
    grid: list[tuple[str, list[Located]]]
    model_overrides: dict[str, list[tuple[str, list[Located]]]]
    overrides: dict[str, list[tuple[str, list[Located]]]]
    include: list[list[tuple[str, list[Located]]]]
    exclude: list[dict[str, list[Located]]]

    def trials(self) -> tuple[TrialConfig, ...]:
        count = self.count()
        if count > MAX_TRIALS:
            self.parser.fail("grid", f"expands to {count:,} trials before exclude and deduplication; at most "
                                     f"{MAX_TRIALS:,} allowed (split the sweep into several specs)")
            self.parser.check()
        trials: dict[str, TrialConfig] = {}
        params: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        excluded = 0
        for layer, from_grid in self.candidates():
            trial = self.build(layer)
            if trial is not None and trial.task == "automaton" and "path" in trial.task_params:
                trial = self.inline_automaton_file(trial, layer)
            if trial is None:
                continue
            if from_grid and any(_matches(trial, entry) for entry in self.exclude):
                excluded += 1
                continue
            trials.setdefault(trial.key, trial)
            where = layer.get("task_params", layer.get("task", (None, "task")))[1]
            params.setdefault((trial.task, _canonical("task_params", trial.task_params)),
                              (trial.task_params, where))
        self.parser.check()
        registry = _registry()
        for (task, _), (task_params, where) in params.items():
            try:
                registry.get(task, **task_params)
            except Exception as err:  # noqa: BLE001 - any refusal of the task is a spec problem
                self.parser.fail(where, f"task {task} refuses params {_show(task_params)}: {err}")
        if not trials:
            why = (f"exclude removes all {excluded} grid trials" if excluded
                   else "there is no grid and no include entry")
            self.parser.fail("exclude" if excluded else "grid",
                             f"the sweep has zero trials ({why}); a sweep needs at least one trial")
        self.parser.check()
        return tuple(trials.values())

    def count(self) -> int:
        """Candidates before exclude and dedup, computed without expanding."""
        def size(axes: list[tuple[str, list[Located]]]) -> int:
            return math.prod(len(values) for _, values in axes)

        def values(name: str) -> list[Any]:
            for field, located in self.grid:
                if field == name:
                    return [v for v, _ in located]
            return [self.train.get(name, (_DEFAULTS[name], ""))[0]]

        def per_pair(model: Any, task: Any) -> int:
            return size(self.model_overrides.get(model, [])) * size(self.overrides.get(task, []))

        total = 0
        if self.grid:
            rest = size([(f, v) for f, v in self.grid if f not in ("model", "task")])
            total = rest * sum(per_pair(m, t) for m in values("model") for t in values("task"))
        for axes in self.include:
            for entry in _combinations(axes):
                layer = {**self.train, **entry}
                total += per_pair(*(layer.get(f, (_DEFAULTS[f], ""))[0] for f in ("model", "task")))
        return total

    def candidates(self) -> Iterator[tuple[Layer, bool]]:
        """Merged layers in the documented order, flagged True when they come from the grid."""
        if self.grid:
            names = [name for name, _ in self.grid]
            for combo in itertools.product(*(values for _, values in self.grid)):
                base = {**self.train, **dict(zip(names, combo))}
                for layer in self.overridden(base, {}):
                    yield layer, True
        for axes in self.include:
            for entry in _combinations(axes):
                for layer in self.overridden({**self.train, **entry}, entry):
                    yield layer, False

    def overridden(self, base: Layer, top: Layer) -> Iterator[Layer]:
        model = base.get("model", (_DEFAULTS["model"], ""))[0]
        task = base.get("task", (_DEFAULTS["task"], ""))[0]
        axes = self.model_overrides.get(model, []) + self.overrides.get(task, [])
        names = [name for name, _ in axes]
        for combo in itertools.product(*(values for _, values in axes)):
            yield {**base, **dict(zip(names, combo)), **top}

    def inline_automaton_file(self, trial: TrialConfig, layer: Layer) -> TrialConfig | None:
        """Replace `path: FILE` by `spec: <its content>`: the trial key then follows the automaton
        itself (editing the file makes new trials), and workers on other nodes need no copy of it.
        A relative path is read from the spec file's folder."""
        where = layer.get("task_params", layer.get("task", (None, "task")))[1]
        file = Path(str(trial.task_params["path"])).expanduser()
        if not file.is_absolute() and self.parser.source not in ("", "<spec>"):
            file = Path(self.parser.source).parent / file
        from tasks.automaton import read_automaton_file

        try:
            content = read_automaton_file(file)
        except ValueError as err:
            self.parser.fail(where, str(err))
            return None
        params = {k: v for k, v in trial.task_params.items() if k != "path"}
        params["spec"] = content
        return trial.replace(task_params=params)

    def build(self, layer: Layer) -> TrialConfig | None:
        values = {name: copy.deepcopy(v) if isinstance(v, dict) else
                  float(v) if isinstance(_DEFAULTS[name], float) else v for name, (v, _) in layer.items()}
        try:
            return TrialConfig(**values)
        except TrialConfigError as err:
            for problem in err.problems:  # a rule across fields: reported at the first field it names
                mentioned = [problem.field] if problem.field in layer else \
                    [w for w in re.findall(r"[a-z_]+", problem.message) if w in layer]
                self.parser.fail(layer[mentioned[0]][1] if mentioned else "trial",
                                 problem.message if mentioned and mentioned[0] == problem.field else str(problem))
            return None


def _combinations(axes: list[tuple[str, list[Located]]]) -> Iterator[Layer]:
    """The layers of an include entry: its axes crossed, in the order written."""
    names = [name for name, _ in axes]
    for combo in itertools.product(*(values for _, values in axes)):
        yield dict(zip(names, combo))


def _matches(trial: TrialConfig, entry: dict[str, list[Located]]) -> bool:
    """Whether a trial matches an exclude entry (every field equal to one of the entry's values)."""
    unused = set(ALL_MODEL_FIELDS) - set(MODEL_FIELDS.get(trial.model, ALL_MODEL_FIELDS))
    for name, located in entry.items():
        if name in unused:
            return False
        actual = _canonical(name, getattr(trial, name))
        if all(_canonical(name, v) != actual for v, _ in located):
            return False
    return True
