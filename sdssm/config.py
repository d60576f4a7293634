"""One trial's complete, frozen configuration and its stable identity.

A `TrialConfig` holds every hyperparameter of one training run. Its `key` (a hash of the
normalised config) is the trial's identity in the results store: the same trial in two runs of a
sweep, or in two different sweeps, has the same key and is trained once.

Normalisation drops the fields a model does not use (k and p mean nothing to an LSTM), so a grid
that crosses `k` with `model: lstm` yields one LSTM trial, not one per k.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from sdssm.models.registry import MAX_LAYERS, all_model_fields, family, model_fields

# Which model fields each model family reads (sdssm/models/registry.py, the one home of a family);
# everything else about the model is ignored (and left out of the key).
MODEL_FIELDS: dict[str, tuple[str, ...]] = model_fields()
ALL_MODEL_FIELDS = all_model_fields()
READOUTS = ("linear", "mlp")
SUPERVISIONS = ("last", "prefixes")
DEVICES = ("cpu", "cuda", "auto")
# Fields added after trial keys were first issued, with the value every earlier trial implicitly had. At
# that value they are left out of the key, so a database written before the field existed still
# recognises its trials (a rerun resumes them instead of training them again).
LATER_FIELD_DEFAULTS: dict[str, Any] = {"supervision": "last", "layers": 1}


# --- bounds: each refused above with a message naming the bound and the value ------------------------
MAX_SEED = 2**31 - 1  # the largest value a 32-bit SQL INTEGER column holds (PostgreSQL's INTEGER)
MAX_STATE_SIZE = 4096  # N: SD-SSM keeps k N x N matrices; the paper uses 64
MAX_K = 256  # SD-SSM dictionary size; the paper uses 4..8
MAX_MLP_HIDDEN = 4096  # h of the MLP readout
MAX_BATCH_SIZE = 65_536  # strings per training batch
MAX_STEPS = 100_000_000  # training steps (the paper's 1,000,000 times 100); also bounds eval_interval
MAX_LENGTH = 100_000  # train_min_length, train_max_length, test_max_length (the paper tests to 500)
MAX_EVAL_SAMPLES = 65_536  # strings per length in an evaluation
MAX_PATIENCE = 1000  # solve_patience, in periodic evaluations
MAX_THREADS = 1024  # torch intra-op threads
MAX_PARAM_DEPTH = 32  # nesting of task_params (mappings and lists inside each other)
# Per-trial memory cap for `TrialConfig.memory_estimate_bytes` (the largest tensors of training and
# evaluation); 16 GiB fits one trial beside others on a 128 GiB node or on one data-centre GPU.
MAX_TRIAL_MEMORY_BYTES = 16 * 2**30
EVAL_CHUNK = 256  # strings per evaluation scan (sdssm.train.Trainer.evaluate's `chunk`)


def _plain(value: Any, depth: int = 0, top: bool = True) -> bool:
    """Task params: a mapping with string keys (nested: any scalar keys) of finite scalars, lists and
    mappings, at most MAX_PARAM_DEPTH deep, that the trial key can hash (canonical JSON)."""
    if depth > MAX_PARAM_DEPTH:
        return False
    if isinstance(value, dict):
        keys = (str,) if top else (str, int, float, bool)
        if not all(isinstance(k, keys) and _plain(v, depth + 1, False) for k, v in value.items()):
            return False
        if top:
            try:
                json.dumps(value, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError):  # e.g. keys 0 and "a" side by side cannot be sorted
                return False
        return True
    if isinstance(value, list):
        return all(_plain(v, depth + 1, False) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


def _check_params(value: dict[str, Any]) -> dict[str, Any]:
    if not _plain(value):
        raise ValueError("not plain")
    return value


def _one_of(options: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in options:
            raise ValueError("not an option")
        return value
    return Annotated[str, AfterValidator(check), Field(description=f"one of {', '.join(options)}")]


def _integer(low: int, high: int) -> Any:
    return Annotated[int, Field(ge=low, le=high, description=f"an integer in {low}..{high:,}")]


def _number(description: str, **bounds: float) -> Any:
    return Annotated[float, Field(allow_inf_nan=False, description=f"a finite number {description}", **bounds)]


_BOOL = Annotated[bool, Field(description="true or false")]
_PARAMS = Annotated[dict[str, Any], AfterValidator(_check_params), Field(description=(
    "a mapping of parameter names (strings) to plain values (numbers, strings, booleans, lists, mappings; "
    f"nested keys of one type, at most {MAX_PARAM_DEPTH} levels deep)"))]
_CHOICES: dict[str, tuple[str, ...]] = {"model": tuple(MODEL_FIELDS), "readout": READOUTS,
                                        "supervision": SUPERVISIONS, "device": DEVICES}


@dataclasses.dataclass(frozen=True)
class Problem:
    """One invalid value: `field` ('' for a rule across fields) and what is wrong and what is allowed."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class TrialConfigError(ValueError):
    """Invalid TrialConfig values; `.problems` lists each one, `str()` joins them with '; '."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def suggest(word: Any, known: list[str] | tuple[str, ...]) -> str:
    """'did you mean ...? ' for a close match (case-insensitive), else ''."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean {lowered[close[0]]!r}? " if close else ""


@dataclass(frozen=True, config=ConfigDict(strict=True, extra="forbid"))
class TrialConfig:
    """Every hyperparameter of one trial. Defaults follow the paper's protocol (PAPER.md).

    Validated by pydantic on construction (and by `replace`); an invalid value raises TrialConfigError
    (a ValueError) listing every problem as 'field: must be <what is allowed>, got <value>'. Each
    resource-sized field has an upper bound (the MAX_* constants above) and the whole trial a memory
    estimate capped by MAX_TRIAL_MEMORY_BYTES.
    """

    # --- task -------------------------------------------------------------------------------
    task: Annotated[str, Field(description="a task name (a string)")] = "parity_check"  # tasks.names()
    task_params: _PARAMS = dataclasses.field(default_factory=dict)  # e.g. {"n": 30} for C2xCn / Dn

    # --- model ------------------------------------------------------------------------------
    model: _one_of(tuple(MODEL_FIELDS)) = "sdssm"  # sdssm | diagonal | rnn | lstm | pdssm | gated
    state_size: _integer(1, MAX_STATE_SIZE) = 64  # N; 64 in every paper run
    k: _integer(1, MAX_K) = 8  # sdssm, pdssm: dictionary size (number of dense transition matrices)
    p: _number("in [1, 16]", ge=1.0, le=16.0) = 1.2  # sdssm: order of the column-wise Lp normalisation
    readout: _one_of(READOUTS) = "linear"  # linear (the paper's) | mlp (Linear(N, h) -> ReLU -> Linear(h, C))
    mlp_hidden: _integer(1, MAX_MLP_HIDDEN) = 64  # h of the MLP readout
    use_b: _BOOL = True  # diagonal: include the input term B u_t
    negative_eigenvalues: _BOOL = False  # gated: gates in (-1, 1) (Grazzi et al.) instead of (0, 1)
    query_token: _BOOL = True  # append a query token and read the prediction there
    # stacked blocks (pre-norm, residual; sdssm/models/stack.py); 1 is the family's own one-layer model
    layers: _integer(1, MAX_LAYERS) = 1

    # --- optimisation -----------------------------------------------------------------------
    seed: _integer(0, MAX_SEED) = 0
    lr: _number("> 0", gt=0.0) = 1e-4
    weight_decay: _number(">= 0", ge=0.0) = 0.0  # Adam's L2 term, 0 as in the reference
    batch_size: _integer(1, MAX_BATCH_SIZE) = 128
    grad_clip: _number("> 0", gt=0.0) = 1.0  # global-norm clipping
    max_steps: _integer(1, MAX_STEPS) = 100_000  # the paper trains 1,000,000 steps; solved trials stop early
    # last (the paper's): cross-entropy on the output after the whole string (after the query token).
    # prefixes: the mean cross-entropy over every labelled prefix of the training string, each read as the
    # evaluation reads it (with the query step applied to that prefix's state); the usual protocol for
    # group word problems (Liu et al. 2023, Grazzi et al., PD-SSM).
    supervision: _one_of(SUPERVISIONS) = "last"

    # --- lengths ----------------------------------------------------------------------------
    train_min_length: _integer(1, MAX_LENGTH) = 1  # one length per batch, uniform in [min, max]
    train_max_length: _integer(1, MAX_LENGTH) = 40
    test_max_length: _integer(1, MAX_LENGTH) = 500  # evaluation over every length 1..test_max_length

    # --- evaluation and stopping ------------------------------------------------------------
    eval_interval: _integer(1, MAX_STEPS) = 500  # steps between periodic evaluations
    eval_samples: _integer(1, MAX_EVAL_SAMPLES) = 128  # strings per length in periodic evaluations
    final_eval_samples: _integer(1, MAX_EVAL_SAMPLES) = 512  # ... in the final evaluation (the paper's 512)
    early_stop: _BOOL = True  # stop once solved (see solve_threshold, solve_patience)
    solve_threshold: _number("in (0, 1]", gt=0.0, le=1.0) = 0.999  # solved: mean accuracy beyond training >= this
    solve_patience: _integer(1, MAX_PATIENCE) = 1  # ... in this many consecutive periodic evaluations

    # --- execution --------------------------------------------------------------------------
    device: _one_of(DEVICES) = "auto"  # cpu | cuda | auto (cuda when available and the trial was given a GPU)
    threads: _integer(1, MAX_THREADS) = 1  # torch intra-op threads; one thread per trial uses 2 cores best

    @model_validator(mode="after")
    def _across_fields(self) -> TrialConfig:
        """Rules across fields: the lengths' order and the memory estimate."""
        if self.train_min_length > self.train_max_length:
            raise ValueError(f"train_min_length ({self.train_min_length}) must be <= train_max_length "
                             f"({self.train_max_length})")
        if self.test_max_length < self.train_max_length:
            raise ValueError(f"test_max_length ({self.test_max_length}) must be >= train_max_length "
                             f"({self.train_max_length})")
        estimate = self.memory_estimate_bytes()
        if estimate > MAX_TRIAL_MEMORY_BYTES:
            raise ValueError(
                f"memory estimate per trial {estimate / 2**30:,.1f} GiB is above the cap of "
                f"{MAX_TRIAL_MEMORY_BYTES / 2**30:g} GiB (MAX_TRIAL_MEMORY_BYTES; evaluation scans "
                f"min(eval samples, {EVAL_CHUNK}) x test_max_length ({self.test_max_length:,}) x state_size "
                f"({self.state_size:,}) x 4 bytes twice, training batch_size ({self.batch_size:,}) x "
                f"train_max_length ({self.train_max_length:,}) x state_size x 8 bytes"
                + (f"; each of {self.layers} layers holds its own, and a stacked SD-SSM or PD-SSM layer "
                   f"an N x N matrix per position" if self.layers > 1 else "") + "); lower one of them")
        return self

    def memory_estimate_bytes(self) -> int:
        """An estimate of one trial's largest tensors, in bytes (float32 states, int64 tokens and labels):

        evaluation: the states of one scan chunk and their query steps, 2 x min(samples, EVAL_CHUNK) x
        test_max_length x state_size x 4, plus the sampled strings, samples x test_max_length x 17;
        training: states and their gradients, batch_size x train_max_length x state_size x 8;
        parameters with gradients and Adam's two moments: 16 x (the family's N x N matrices, k for SD-SSM)
        x state_size^2. A stack of `layers` blocks holds each of these per layer, and in training the N x N
        matrices its layers keep per position (the family's position_matrices) x batch_size x
        train_max_length x state_size^2 x 4 per layer.
        """
        n = self.state_size
        entry = family(self.model)
        samples = max(self.eval_samples, self.final_eval_samples)
        evaluation = 2 * min(samples, EVAL_CHUNK) * self.test_max_length * n * 4 * self.layers
        evaluation += samples * self.test_max_length * 17
        training = self.batch_size * self.train_max_length * n * 8 * self.layers
        if self.layers > 1:
            training += entry.position_matrices * self.batch_size * self.train_max_length * n * n * 4 * self.layers
        matrices = entry.dense_matrices(self) * self.layers
        return evaluation + training + 16 * matrices * n * n

    def __hash__(self) -> int:
        return hash(self.key)

    # --- identity ---------------------------------------------------------------------------
    def normalized(self) -> dict[str, Any]:
        """The config as a plain dict without the model fields this model does not read.

        `threads` and `device` are left out too: they change where a trial runs, not what it is; so are
        the LATER_FIELD_DEFAULTS fields while at their default (keys issued before them stay valid).
        """
        used = set(MODEL_FIELDS.get(self.model, ALL_MODEL_FIELDS))
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in ("threads", "device"):
                continue
            if f.name in ALL_MODEL_FIELDS and f.name not in used:
                continue
            value = getattr(self, f.name)
            if f.name in LATER_FIELD_DEFAULTS and value == LATER_FIELD_DEFAULTS[f.name]:
                continue
            out[f.name] = float(value) if f.name in _FLOAT_FIELDS else value
        return out

    @property
    def key(self) -> str:
        """Stable 16-hex-digit identity: sha256 of the normalised config as canonical JSON."""
        blob = json.dumps(self.normalized(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialConfig:
        """Build from a mapping; unknown keys raise ValueError naming them and the known fields."""
        unknown = sorted(set(data) - set(field_names()))
        if unknown:
            raise ValueError(f"unknown trial field(s) {', '.join(unknown)} "
                             f"(known: {', '.join(field_names())})")
        return cls(**data)

    def replace(self, **changes: Any) -> TrialConfig:
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """Short human label, e.g. 'sdssm/linear parity_check k=8 p=1.2 lr=0.0001 seed=0' (with '2 layers'
        after the model's own fields for a stack)."""
        parts = [f"{self.model}/{self.readout}", self.task]
        if self.task_params:
            parts.append(",".join(f"{k}={v}" for k, v in sorted(self.task_params.items())
                                  if not isinstance(v, (dict, list))))
        parts += family(self.model).describe(self)
        if self.layers != 1:
            parts.append(f"{self.layers} layers")
        parts += [f"lr={self.lr:g}", f"seed={self.seed}"]
        if self.supervision != "last":
            parts.append(f"supervision={self.supervision}")
        return " ".join(p for p in parts if p)


_FLOAT_FIELDS = {"p", "lr", "weight_decay", "grad_clip", "solve_threshold"}


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrialConfig)]


def _problems(err: ValidationError) -> list[Problem]:
    """Pydantic's errors as Problems: 'must be <the field's description>, got <value>' for a field, the
    rule's own message for a rule across fields."""
    out: list[Problem] = []
    names = field_names()
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        if e["type"] == "unexpected_keyword_argument":
            out.append(Problem(name, f"unknown trial field; {suggest(name, names)}allowed: {', '.join(names)}"))
        elif name not in names:  # a rule across fields (model_validator) raised ValueError
            out.append(Problem("", str(e["ctx"]["error"]) if "ctx" in e else e["msg"]))
        else:
            allowed = TrialConfig.__pydantic_fields__[name].description
            hint = suggest(e["input"], _CHOICES[name]).strip() if name in _CHOICES else ""
            out.append(Problem(name, f"must be {allowed}, got {_show(e['input'])}" + (f"; {hint}" if hint else "")))
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _readable(init: Any) -> Any:
    """Pydantic's generated __init__, raising TrialConfigError (one line per problem) instead of
    pydantic's ValidationError."""
    @functools.wraps(init)
    def __init__(self: TrialConfig, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except ValidationError as err:
            raise TrialConfigError(_problems(err)) from None
    return __init__


TrialConfig.__init__ = _readable(TrialConfig.__init__)  # type: ignore[method-assign]


def trial_problems(values: dict[str, Any]) -> list[Problem]:
    """The problems of a TrialConfig with these values over the defaults ([] when it is valid)."""
    try:
        TrialConfig(**values)
    except TrialConfigError as err:
        return err.problems
    return []
