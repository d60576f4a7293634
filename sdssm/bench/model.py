"""Speed of the fast SD-SSM against the per-step reference, in the paper's parity setting, on this CPU.

Setting (PAPER.md): N = 64, k = 8, p = 1.2, alphabet 2 + query token (vocabulary 3), 2 classes.
  training   one step = the trainer's `optimisation_step`: forward + cross-entropy on the final output +
             backward + clipping at norm 1.0 + Adam (sdssm/optim.py); batch 128, a length uniform in
             1..40 per step.
             Fast: rounds of 40 steps whose lengths are a random permutation of 1..40 (each step's length is
             uniform, and every round has exactly the expected mean length); the median round is reported.
             Reference: the lengths 3, 8, ..., 38 (mean 20.5, the expectation of U{1..40}), one step each.
  evaluation every length 1..500, 512 strings each, argmax accuracy per length.
             Fast: one `prefix_logits` over [512, 500] tokens. Reference: one forward per length; only a few
             lengths are timed and the sum over 1..500 is *extrapolated* from a linear fit in L.
Tokens and labels are random (a seeded torch.Generator): speed does not depend on the task.
Timings are wall-clock with torch.set_num_threads(1); `*_cpu_*` figures are this thread's CPU time,
which is less disturbed when other processes share the machine (see `load_average`).

Run: python -m sdssm.bench.model
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from sdssm.models.base import SequenceModel
from sdssm.models.sdssm import SDSSM
from sdssm.models.sdssm_reference import ReferenceSDSSM
from sdssm.optim import FlatAdam
from sdssm.train import optimisation_step

SETTING: dict[str, Any] = dict(k=8, p=1.2, alphabet_size=2, num_classes=2, query_token=True, state_size=64,
                               readout="linear")
BATCH, TRAIN_MAX_LENGTH = 128, 40
EVAL_SAMPLES, EVAL_MAX_LENGTH = 512, 500


def make_optimizer(model: SequenceModel, lr: float = 1e-4) -> FlatAdam:
    """The trainer's optimizer: Adam with clipping at norm 1.0 over the model's flattened parameters."""
    return FlatAdam(model, lr=lr, grad_clip=1.0)


def training_step(model: SequenceModel, optimizer: FlatAdam, tokens: torch.Tensor,
                  labels: torch.Tensor) -> torch.Tensor:
    """One full optimisation step with the paper's loss on the final output, exactly as a trial runs it
    (`sdssm.train.optimisation_step`); labels [B] are the whole strings' labels."""
    prefix_labels = labels[:, None].expand(tokens.shape)  # only the last column is read with `last`
    mask = torch.ones(tokens.shape, dtype=torch.bool)
    return optimisation_step(model, optimizer, tokens, prefix_labels, mask, "last")[0]


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


def time_training(model: SequenceModel, optimizer: torch.optim.Optimizer, lengths: Sequence[int],
                  gen: torch.Generator) -> tuple[float, float]:
    """Mean (wall, cpu) seconds per training step over the given lengths (data generation excluded)."""
    data = [(torch.randint(0, model.alphabet_size, (BATCH, length), generator=gen),
             torch.randint(0, model.num_classes, (BATCH,), generator=gen)) for length in lengths]
    wall, cpu = time.perf_counter(), time.thread_time()
    for tokens, labels in data:
        training_step(model, optimizer, tokens, labels)
    return (time.perf_counter() - wall) / len(data), (time.thread_time() - cpu) / len(data)


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == labels).float().mean(0)


def bench_training(repeats: int, gen: torch.Generator) -> dict[str, Any]:
    torch.manual_seed(0)
    fast = SDSSM(**SETTING)
    optimizer = make_optimizer(fast)
    time_training(fast, optimizer, range(1, TRAIN_MAX_LENGTH + 1), gen)  # warm-up round
    rounds = [time_training(fast, optimizer, (torch.randperm(TRAIN_MAX_LENGTH, generator=gen) + 1).tolist(), gen)
              for _ in range(repeats)]
    reference = ReferenceSDSSM(**SETTING)
    reference.load_state_dict(fast.state_dict())
    ref_optimizer = make_optimizer(reference)
    ref_lengths = list(range(3, TRAIN_MAX_LENGTH + 1, 5))  # 3, 8, ..., 38: mean 20.5
    time_training(reference, ref_optimizer, [2], gen)  # warm-up
    ref_wall, ref_cpu = time_training(reference, ref_optimizer, ref_lengths, gen)
    fast_wall = statistics.median(r[0] for r in rounds)
    return {
        "train_step_ms_fast": 1e3 * fast_wall,
        "train_step_cpu_ms_fast": 1e3 * statistics.median(r[1] for r in rounds),
        "train_step_ms_fast_rounds": [round(1e3 * r[0], 3) for r in rounds],
        "train_step_ms_reference": 1e3 * ref_wall,
        "train_step_cpu_ms_reference": 1e3 * ref_cpu,
        "train_reference_lengths": ref_lengths,
        "train_speedup": ref_wall / fast_wall,
    }


def bench_evaluation(repeats: int, ref_lengths: Sequence[int], gen: torch.Generator) -> dict[str, Any]:
    torch.manual_seed(0)
    fast = SDSSM(**SETTING).eval()
    reference = ReferenceSDSSM(**SETTING).eval()
    reference.load_state_dict(fast.state_dict())
    tokens = torch.randint(0, SETTING["alphabet_size"], (EVAL_SAMPLES, EVAL_MAX_LENGTH), generator=gen)
    labels = torch.randint(0, SETTING["num_classes"], (EVAL_SAMPLES, EVAL_MAX_LENGTH), generator=gen)
    result: dict[str, torch.Tensor] = {}

    def fast_eval() -> None:
        with torch.no_grad():
            result["logits"] = fast.prefix_logits(tokens)
            result["accuracy"] = _accuracy(result["logits"], labels)

    fast_eval()  # warm-up
    fast_times = [_timed(fast_eval) for _ in range(repeats)]

    ref_times: list[float] = []
    max_diff, same_argmax = 0.0, True
    for length in ref_lengths:
        out: dict[str, torch.Tensor] = {}

        def ref_eval() -> None:
            with torch.no_grad():
                out["logits"] = reference(tokens[:, :length])
                out["accuracy"] = _accuracy(out["logits"], labels[:, length - 1])

        ref_times.append(_timed(ref_eval)[0])
        fast_logits = result["logits"][:, length - 1]
        max_diff = max(max_diff, float((fast_logits - out["logits"]).abs().max()))
        same_argmax &= bool((fast_logits.argmax(-1) == out["logits"].argmax(-1)).all())

    # Per-length cost is linear in L (a loop of L identical steps): least-squares a + b L, summed over 1..500.
    xs = torch.tensor([float(x) for x in ref_lengths], dtype=torch.float64)
    ys = torch.tensor(ref_times, dtype=torch.float64)
    slope = float(((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum())
    intercept = float(ys.mean()) - slope * float(xs.mean())
    all_lengths = EVAL_MAX_LENGTH * (EVAL_MAX_LENGTH + 1) / 2
    ref_total = EVAL_MAX_LENGTH * intercept + slope * all_lengths
    fast_wall = statistics.median(t[0] for t in fast_times)
    return {
        "eval_s_fast": fast_wall,
        "eval_cpu_s_fast": statistics.median(t[1] for t in fast_times),
        "eval_s_reference_extrapolated": ref_total,
        "eval_reference_lengths_timed": list(ref_lengths),
        "eval_reference_seconds_timed": [round(t, 4) for t in ref_times],
        "eval_speedup": ref_total / fast_wall,
        "eval_max_abs_logit_diff": max_diff,
        "eval_same_argmax": same_argmax,
    }


def gemm_calibration_us(repeats: int = 2000) -> float:
    """Median time of one [128, 64] x [64, 128] float32 GEMM (the size of a scan step): a yardstick for how
    fast the machine is right now, since a shared machine's speed drifts between runs."""
    a, b = torch.randn(BATCH, 64), torch.randn(64, 128)
    out = torch.empty(BATCH, 128)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def bench_model(repeats: int = 15, eval_reference_lengths: Sequence[int] = (1, 25, 50, 100),
                seed: int = 0) -> dict[str, Any]:
    """Training-step and full-evaluation timings of fast vs reference SD-SSM; see the module docstring.

    `repeats`: timed rounds of 40 training steps, and timed full evaluations (medians are reported).
    `eval_reference_lengths`: the lengths at which the reference evaluation is timed for extrapolation.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(seed)
        load_before = os.getloadavg()[0]
        out: dict[str, Any] = {"threads": 1, "setting": dict(SETTING, batch=BATCH),
                               "gemm_calibration_us": gemm_calibration_us()}
        out.update(bench_training(repeats, gen))
        out["gemm_calibration_us_after_training"] = gemm_calibration_us()
        out.update(bench_evaluation(max(1, repeats // 2), eval_reference_lengths, gen))
        out["load_average"] = (load_before, os.getloadavg()[0])
        out["cpus"] = os.cpu_count()
        return out
    finally:
        torch.set_num_threads(threads)


def format_table(result: dict[str, Any]) -> str:
    rows = [
        ("training step (ms)", result["train_step_ms_fast"], result["train_step_ms_reference"],
         result["train_speedup"]),
        ("  same, thread CPU (ms)", result["train_step_cpu_ms_fast"], result["train_step_cpu_ms_reference"],
         result["train_step_cpu_ms_reference"] / result["train_step_cpu_ms_fast"]),
        ("full evaluation (s)*", result["eval_s_fast"], result["eval_s_reference_extrapolated"],
         result["eval_speedup"]),
    ]
    lines = [f"{'':26}{'fast':>12}{'reference':>14}{'ratio':>10}"]
    lines += [f"{name:26}{a:12.3f}{b:14.3f}{r:9.1f}x" for name, a, b, r in rows]
    lines.append(f"* reference evaluation extrapolated (linear in L) from lengths "
                 f"{result['eval_reference_lengths_timed']}; fast vs reference logits: max |diff| "
                 f"{result['eval_max_abs_logit_diff']:.2e}, same argmax: {result['eval_same_argmax']}")
    lines.append(f"fast step rounds (ms): {result['train_step_ms_fast_rounds']}")
    lines.append(f"1 thread; load average before/after: {result['load_average'][0]:.2f} / "
                 f"{result['load_average'][1]:.2f} on {result['cpus']} CPUs; one 128x64x128 GEMM: "
                 f"{result['gemm_calibration_us']:.1f} us before the training rounds, "
                 f"{result['gemm_calibration_us_after_training']:.1f} us after (a drift between the two means the "
                 f"machine's speed changed during the run)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_table(bench_model()))
