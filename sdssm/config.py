"""One trial's complete, frozen configuration and its stable identity.

A `TrialConfig` holds every hyperparameter of one training run. Its `key` (a hash of the
normalised config) is the trial's identity in the results store: the same trial in two runs of a
sweep, or in two different sweeps, has the same key and is trained once.

Normalisation drops the fields a model does not use (k and p mean nothing to an LSTM), so a grid
that crosses `k` with `model: lstm` yields one LSTM trial, not one per k.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

# Which model fields each model family reads; everything else about the model is ignored
# (and left out of the key). Keep in sync with sdssm/models/__init__.py.
MODEL_FIELDS: dict[str, tuple[str, ...]] = {
    "sdssm": ("state_size", "k", "p", "readout", "mlp_hidden", "query_token"),
    "diagonal": ("state_size", "use_b", "readout", "mlp_hidden", "query_token"),
    "rnn": ("state_size", "readout", "mlp_hidden", "query_token"),
    "lstm": ("state_size", "readout", "mlp_hidden", "query_token"),
}
ALL_MODEL_FIELDS = ("state_size", "k", "p", "readout", "mlp_hidden", "use_b", "query_token")
READOUTS = ("linear", "mlp")
SUPERVISIONS = ("last", "prefixes")
DEVICES = ("cpu", "cuda", "auto")
# Fields added after trial keys were first issued, with the value every earlier trial implicitly had. At
# that value they are left out of the key, so a database written before the field existed still
# recognises its trials (a rerun resumes them instead of training them again).
LATER_FIELD_DEFAULTS: dict[str, Any] = {"supervision": "last"}


@dataclass(frozen=True)
class TrialConfig:
    """Every hyperparameter of one trial. Defaults follow the paper's protocol (PAPER.md)."""

    # --- task -------------------------------------------------------------------------------
    task: str = "parity_check"  # a name from tasks.names()
    task_params: dict[str, Any] = field(default_factory=dict)  # e.g. {"n": 30} for C2xCn / Dn

    # --- model ------------------------------------------------------------------------------
    model: str = "sdssm"  # sdssm | diagonal | rnn | lstm
    state_size: int = 64  # N; 64 in every paper run
    k: int = 8  # sdssm: dictionary size (number of dense transition matrices)
    p: float = 1.2  # sdssm: order of the column-wise Lp normalisation
    readout: str = "linear"  # linear (the paper's) | mlp (Linear(N, h) -> ReLU -> Linear(h, C))
    mlp_hidden: int = 64  # h of the MLP readout
    use_b: bool = True  # diagonal: include the input term B u_t
    query_token: bool = True  # append a query token and read the prediction there

    # --- optimisation -----------------------------------------------------------------------
    seed: int = 0
    lr: float = 1e-4
    weight_decay: float = 0.0  # Adam's L2 term, 0 as in the reference
    batch_size: int = 128
    grad_clip: float = 1.0  # global-norm clipping
    max_steps: int = 100_000  # the paper trains 1,000,000 steps; solved trials stop early
    # last (the paper's): cross-entropy on the output after the whole string (after the query token).
    # prefixes: the mean cross-entropy over every labelled prefix of the training string, each read as the
    # evaluation reads it (with the query step applied to that prefix's state); the usual protocol for
    # group word problems (Liu et al. 2023, Grazzi et al., PD-SSM).
    supervision: str = "last"

    # --- lengths ----------------------------------------------------------------------------
    train_min_length: int = 1  # one length per batch, uniform in [min, max]
    train_max_length: int = 40
    test_max_length: int = 500  # evaluation over every length 1..test_max_length

    # --- evaluation and stopping ------------------------------------------------------------
    eval_interval: int = 500  # steps between periodic evaluations
    eval_samples: int = 128  # strings per length in periodic evaluations
    final_eval_samples: int = 512  # strings per length in the final evaluation (the paper's 512)
    early_stop: bool = True  # stop once solved (see solve_threshold, solve_patience)
    solve_threshold: float = 0.999  # solved: mean accuracy over lengths beyond training >= this
    solve_patience: int = 1  # ... in this many consecutive periodic evaluations

    # --- execution --------------------------------------------------------------------------
    device: str = "auto"  # cpu | cuda | auto (cuda when available and the trial was given a GPU)
    threads: int = 1  # torch intra-op threads; one thread per trial uses 2 cores best (PAPER.md)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Every invalid value, as 'field: what is wrong (what is allowed)'."""
        out: list[str] = []
        if self.model not in MODEL_FIELDS:
            out.append(f"model: unknown model {self.model!r} (known: {', '.join(MODEL_FIELDS)})")
        if self.readout not in READOUTS:
            out.append(f"readout: {self.readout!r} is not one of {', '.join(READOUTS)}")
        if self.supervision not in SUPERVISIONS:
            out.append(f"supervision: {self.supervision!r} is not one of {', '.join(SUPERVISIONS)}")
        if self.device not in DEVICES:
            out.append(f"device: {self.device!r} is not one of {', '.join(DEVICES)}")
        positive_ints = ("state_size", "k", "mlp_hidden", "batch_size", "max_steps", "train_min_length",
                         "train_max_length", "test_max_length", "eval_interval", "eval_samples",
                         "final_eval_samples", "solve_patience", "threads")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                out.append(f"{name}: must be an integer >= 1, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            out.append(f"seed: must be an integer >= 0, got {self.seed!r}")
        for name, low in (("lr", 0.0), ("grad_clip", 0.0)):
            value = getattr(self, name)
            if not _is_number(value) or not value > low:
                out.append(f"{name}: must be a number > {low:g}, got {value!r}")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            out.append(f"weight_decay: must be a number >= 0, got {self.weight_decay!r}")
        if not _is_number(self.p) or not 1.0 <= self.p <= 16.0:
            out.append(f"p: must be a number in [1, 16], got {self.p!r}")
        if not _is_number(self.solve_threshold) or not 0.0 < self.solve_threshold <= 1.0:
            out.append(f"solve_threshold: must be in (0, 1], got {self.solve_threshold!r}")
        if (isinstance(self.train_min_length, int) and isinstance(self.train_max_length, int)
                and isinstance(self.test_max_length, int)):
            if self.train_min_length > self.train_max_length:
                out.append(f"train_min_length ({self.train_min_length}) must be <= train_max_length "
                           f"({self.train_max_length})")
            if self.test_max_length < self.train_max_length:
                out.append(f"test_max_length ({self.test_max_length}) must be >= train_max_length "
                           f"({self.train_max_length})")
        for name in ("use_b", "query_token", "early_stop"):
            if not isinstance(getattr(self, name), bool):
                out.append(f"{name}: must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.task_params, dict):
            out.append(f"task_params: must be a mapping, got {type(self.task_params).__name__}")
        return out

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
        """Short human label, e.g. 'sdssm/linear parity_check k=8 p=1.2 lr=0.0001 seed=0'."""
        parts = [f"{self.model}/{self.readout}", self.task]
        if self.task_params:
            parts.append(",".join(f"{k}={v}" for k, v in sorted(self.task_params.items())
                                  if not isinstance(v, (dict, list))))
        if self.model == "sdssm":
            parts += [f"k={self.k}", f"p={self.p:g}"]
        if self.model == "diagonal":
            parts.append("B" if self.use_b else "noB")
        parts += [f"lr={self.lr:g}", f"seed={self.seed}"]
        if self.supervision != "last":
            parts.append(f"supervision={self.supervision}")
        return " ".join(p for p in parts if p)


_FLOAT_FIELDS = {"p", "lr", "weight_decay", "grad_clip", "solve_threshold"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrialConfig)]
