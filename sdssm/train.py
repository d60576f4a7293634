"""One trial: the training loop, evaluation over every test length, early stopping and checkpoints.

No Ray and no SQL in here: the sweep layer passes a `report` callback and stores what it receives (typed
records, sdssm/results.py).

Protocol (PAPER.md): one length per batch drawn uniformly from train_min..train_max, fresh strings
every step, cross-entropy on the final output (`supervision: last`, the paper's) or on every labelled
prefix (`supervision: prefixes`), Adam with global-norm gradient clipping. Evaluation
scores every length 1..test_max_length from one scan of length-test_max_length strings.

Determinism: training batches come from one `torch.Generator` seeded by the trial seed and saved in
every checkpoint; evaluation strings come from generators seeded by (seed, step), so evaluating never
moves the training stream. A trial restored from a checkpoint therefore continues bit-identically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

import tasks
from sdssm.config import TrialConfig
from sdssm.models import SequenceModel, build_model
from sdssm.optim import FlatAdam
from sdssm.results import FinalResult, PeriodicResult, Result
from sdssm.trial_status import TRAINING_OUTCOMES, TrialStatus

SOLVED, FINISHED, DIVERGED = TRAINING_OUTCOMES  # how a training run ends (sdssm/trial_status.py)
CHECKPOINT_FORMAT = 2  # 2: one flat Adam state (sdssm/optim.py); 1 (per-parameter Adam state) still loads
READABLE_CHECKPOINT_FORMATS = (1, 2)

# report(result, checkpoint): called with a PeriodicResult after every periodic evaluation and once with
# the FinalResult. `checkpoint()` returns the trainer state to save, or the argument is None.
ReportFn = Callable[[Result, Callable[[], dict[str, Any]] | None], None]


@dataclass
class Evaluation:
    """Accuracy at every test length (index 0 is length 1; NaN where no prefix of that length has a label)."""

    step: int
    accuracy_by_length: list[float]
    in_range_accuracy: float  # mean over labelled lengths 1..train_max_length
    beyond_accuracy: float  # mean over labelled lengths train_max_length+1..test_max_length


@dataclass(frozen=True)
class TrialOutcome:
    """What `train` returns: the final result and every periodic one."""

    final: FinalResult
    history: list[PeriodicResult]

    @property
    def status(self) -> TrialStatus:  # solved | finished | diverged
        return self.final.status

    @property
    def steps(self) -> int:
        return self.final.steps

    @property
    def solved_step(self) -> int | None:
        return self.final.solved_step


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was asked for but no CUDA device is visible to this trial")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def make_optimizer(model: SequenceModel, config: TrialConfig) -> FlatAdam:
    """Adam with gradient clipping over the model's (flattened) parameters; see sdssm/optim.py."""
    return FlatAdam(model, lr=config.lr, weight_decay=config.weight_decay, grad_clip=config.grad_clip)


def training_loss(model: SequenceModel, tokens: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                  supervision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits of the whole strings [B, C]) for one batch: tokens, labels and mask are [B, L].

    `last`: cross-entropy on the output after each whole string (the last label is always present: the
    trainer draws labelled lengths only). `prefixes`: the mean cross-entropy over every labelled prefix,
    read from one scan exactly as the evaluation reads them (`prefix_logits`); each prefix counts once,
    so a batch's loss is an average over B * (labelled prefixes per string) predictions.
    """
    if supervision == "last":
        logits = model(tokens)
        return F.cross_entropy(logits, labels[:, -1]), logits
    if supervision != "prefixes":
        raise ValueError(f"supervision: {supervision!r} is not one of last, prefixes")
    logits = model.prefix_logits(tokens)  # [B, L, C]
    # Time-major rows: free for SD-SSM, whose prefix logits are a [B, L, C] view of [L, B, C] ones.
    # Unlabelled prefixes (mask off) weigh zero; no boolean indexing, so no host sync on a GPU.
    per_prefix = F.cross_entropy(logits.transpose(0, 1).reshape(-1, logits.shape[2]), labels.t().reshape(-1),
                                 reduction="none")
    weights = mask.t().reshape(-1).to(per_prefix.dtype)
    return (per_prefix * weights).sum() / weights.sum(), logits[:, -1]


def optimisation_step(model: SequenceModel, optimizer: FlatAdam, tokens: torch.Tensor, labels: torch.Tensor,
                      mask: torch.Tensor, supervision: str = "last") -> tuple[torch.Tensor, torch.Tensor]:
    """`training_loss`, backward, clip, Adam. Returns (loss, logits of the whole strings), detached: one
    training step as a trial runs it (the speed benchmark times exactly this)."""
    loss, logits = training_loss(model, tokens, labels, mask, supervision)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


class Trainer:
    """Holds one trial's model, optimizer and data stream; `run` trains it to the end."""

    def __init__(self, config: TrialConfig, checkpoint: dict[str, Any] | None = None) -> None:
        self.config = config
        torch.set_num_threads(config.threads)
        self.device = resolve_device(config.device)
        self.task = tasks.get(config.task, **config.task_params)
        torch.manual_seed(config.seed)  # model initialisation
        self.model = build_model(config, self.task.alphabet_size, self.task.num_classes).to(self.device)
        self.optimizer = make_optimizer(self.model, config)
        self.data_generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.elapsed_s = 0.0  # training wall time, carried across restores
        self.solved_streak = 0
        self.solved_step: int | None = None
        self.solved_wall_time_s: float | None = None
        self.history: list[PeriodicResult] = []
        self.final: FinalResult | None = None  # once the trial has ended
        self.attempt_start_step = 0
        self._window_loss = 0.0
        self._window_correct = 0.0
        self._window_steps = 0
        if checkpoint is not None:
            self.load_state_dict(checkpoint)

    # --- one optimisation step ----------------------------------------------------------------
    def train_step(self) -> float:
        """Sample a batch at one length, one Adam step. Returns the loss (a Python float)."""
        config = self.config
        low, high = config.train_min_length, config.train_max_length
        length = int(torch.randint(low, high + 1, (1,), generator=self.data_generator))
        length = self.task.labelled_length(length)
        batch = self.task.sample(config.batch_size, length, self.data_generator)
        tokens = batch.tokens.to(self.device, non_blocking=True)
        labels = batch.labels.to(self.device, non_blocking=True)
        mask = batch.mask.to(self.device, non_blocking=True)
        loss, logits = optimisation_step(self.model, self.optimizer, tokens, labels, mask, config.supervision)
        labels = labels[:, -1]
        self.step += 1
        loss_value = float(loss)
        self._window_loss += loss_value
        self._window_correct += float((logits.argmax(-1) == labels).float().mean())
        self._window_steps += 1
        return loss_value

    # --- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, samples: int, *, salt: int = 0, chunk: int = 256) -> Evaluation:
        """Accuracy at every length 1..test_max_length from `samples` fresh strings of the full length.

        The prefixes of a uniformly drawn string are uniformly drawn strings of every shorter length,
        so one scan scores all lengths (PAPER.md); `chunk` bounds the memory of one scan.
        """
        config = self.config
        generator = torch.Generator().manual_seed(_eval_seed(config.seed, self.step, salt))
        batch = self.task.sample(samples, config.test_max_length, generator)
        correct = torch.zeros(config.test_max_length, dtype=torch.float64)
        was_training = self.model.training
        self.model.eval()
        for start in range(0, samples, chunk):
            tokens = batch.tokens[start:start + chunk].to(self.device)
            predictions = self.model.prefix_logits(tokens).argmax(-1).cpu()
            hits = (predictions == batch.labels[start:start + chunk]) & batch.mask[start:start + chunk]
            correct += hits.sum(0, dtype=torch.float64)
        self.model.train(was_training)
        labelled = batch.mask.sum(0, dtype=torch.float64)
        accuracy = torch.where(labelled > 0, correct / labelled.clamp_min(1), torch.nan)
        return Evaluation(
            step=self.step,
            accuracy_by_length=accuracy.tolist(),
            in_range_accuracy=_nanmean(accuracy[: config.train_max_length]),
            beyond_accuracy=_nanmean(accuracy[config.train_max_length:]),
        )

    # --- the loop -----------------------------------------------------------------------------
    def run(self, report: ReportFn | None = None) -> TrialOutcome:
        """Train until solved (with early stopping), diverged, or max_steps; then the final evaluation."""
        config = self.config
        if self.final is not None:  # restored after the trial had already ended: say it again
            if report is not None:
                report(self.final, self.state_dict)
            return self._outcome()
        status = FINISHED
        self.attempt_start_step = self.step  # > 0 when this run continues from a checkpoint
        started = time.perf_counter() - self.elapsed_s
        while self.step < config.max_steps:
            loss = self.train_step()
            if not math.isfinite(loss):
                status = DIVERGED
                self.elapsed_s = time.perf_counter() - started
                break
            if self.step % config.eval_interval == 0 or self.step == config.max_steps:
                self.elapsed_s = time.perf_counter() - started
                metrics = self._periodic_evaluation()
                stop = config.early_stop and self.solved_streak >= config.solve_patience
                if report is not None:
                    report(metrics, self.state_dict)
                started = time.perf_counter() - self.elapsed_s  # reporting time is not training time
                if stop:
                    break
        self.elapsed_s = time.perf_counter() - started
        if self.solved_step is not None and status != DIVERGED:
            status = SOLVED
        final = self._final_evaluation(status)
        if report is not None:
            report(final, self.state_dict)
        return self._outcome()

    def _periodic_evaluation(self) -> PeriodicResult:
        evaluation = self.evaluate(self.config.eval_samples)
        if evaluation.beyond_accuracy >= self.config.solve_threshold:
            self.solved_streak += 1
            if self.solved_streak >= self.config.solve_patience and self.solved_step is None:
                self.solved_step, self.solved_wall_time_s = self.step, self.elapsed_s
        else:
            self.solved_streak = 0
        steps = max(self._window_steps, 1)
        result = PeriodicResult(
            step=self.step,
            loss=self._window_loss / steps,
            train_accuracy=self._window_correct / steps,
            in_range_accuracy=evaluation.in_range_accuracy,
            beyond_accuracy=evaluation.beyond_accuracy,
            wall_time_s=self.elapsed_s,
            attempt_start_step=self.attempt_start_step,
        )
        self._window_loss = self._window_correct = 0.0
        self._window_steps = 0
        self.history.append(result)
        return result

    def _final_evaluation(self, status: TrialStatus) -> FinalResult:
        params_finite = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        evaluation = self.evaluate(self.config.final_eval_samples, salt=1) if params_finite else None
        self.final = FinalResult(
            status=status,
            steps=self.step,
            wall_time_s=self.elapsed_s,
            solved_step=self.solved_step,
            solved_wall_time_s=self.solved_wall_time_s,
            in_range_accuracy=evaluation.in_range_accuracy if evaluation else None,
            beyond_accuracy=evaluation.beyond_accuracy if evaluation else None,
            accuracy_by_length=evaluation.accuracy_by_length if evaluation else None,
        )
        return self.final

    def _outcome(self) -> TrialOutcome:
        assert self.final is not None
        return TrialOutcome(self.final, list(self.history))

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: model, optimizer, RNG streams, counters."""
        return {
            "format": CHECKPOINT_FORMAT,
            "trial_key": self.config.key,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data_generator": self.data_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "solved_streak": self.solved_streak,
            "solved_step": self.solved_step,
            "solved_wall_time_s": self.solved_wall_time_s,
            "history": [result.to_report() for result in self.history],
            "window": (self._window_loss, self._window_correct, self._window_steps),
            "final": self.final.to_report() if self.final is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") not in READABLE_CHECKPOINT_FORMATS:
            raise ValueError(f"checkpoint format {state.get('format')!r} is not one of {READABLE_CHECKPOINT_FORMATS}")
        if state.get("trial_key") != self.config.key:
            raise ValueError(f"checkpoint belongs to trial {state.get('trial_key')}, not {self.config.key}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.data_generator.set_state(state["data_generator"])
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]
        self.elapsed_s = state["elapsed_s"]
        self.solved_streak = state["solved_streak"]
        self.solved_step = state["solved_step"]
        self.solved_wall_time_s = state["solved_wall_time_s"]
        self.history = [PeriodicResult.from_report(entry) for entry in state["history"]]
        self._window_loss, self._window_correct, self._window_steps = state["window"]
        self.final = FinalResult.from_report(state["final"]) if state["final"] is not None else None


def train(config: TrialConfig, checkpoint: dict[str, Any] | None = None,
          report: ReportFn | None = None) -> TrialOutcome:
    """Train one trial from scratch, or from `checkpoint` (a `Trainer.state_dict()`), to its end."""
    return Trainer(config, checkpoint).run(report)


def _eval_seed(seed: int, step: int, salt: int) -> int:
    # A fixed odd multiplier spreads (seed, step) pairs over the 63-bit seed space.
    return (seed * 1_000_003 + step * 7919 + salt * 104_729 + 12_345) % (2**63 - 1)


def _nanmean(values: torch.Tensor) -> float:
    finite = values[~torch.isnan(values)]
    return float(finite.mean()) if finite.numel() else float("nan")
