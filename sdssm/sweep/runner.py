"""Run a sweep with Ray Tune: embedded local Ray by default, or an existing cluster by address.

Resumability lives in the store, not in Ray's experiment folder: every run registers the sweep's
trials, skips those already done, and starts each unfinished trial from the last checkpoint the
store recorded for it. So rerunning the same command after Ctrl-C, a killed driver or a reboot
finishes the sweep, and editing the YAML (adding seeds, say) runs only the new trials.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.spec import SweepSpec
from sdssm.sweep.store import DONE_STATUSES, Store

DEFAULT_STORAGE = "results/ray"


class ClusterError(Exception):
    """The cluster cannot run this sweep as asked (no GPUs, too few CPUs, unreachable address)."""


@dataclass
class RunOptions:
    db_url: str
    storage_path: str = DEFAULT_STORAGE  # Ray's trial folders and checkpoints; shared storage on a cluster
    address: str | None = None  # None: RAY_ADDRESS if set, else a new embedded local Ray
    cpu_only: bool = False  # run a GPU sweep on CPUs instead of refusing
    num_cpus: int | None = None  # CPUs of the embedded local Ray (default: all)
    dashboard: bool = True


@dataclass
class RunSummary:
    total: int
    skipped: int
    ran: int
    counts: dict[str, int]
    wall_time_s: float
    interrupted: bool = False


def plan(spec: SweepSpec, store: Store) -> tuple[list[TrialConfig], dict[str, str]]:
    """Register the sweep and return (trials still to run, recorded checkpoint per key)."""
    configs = list(spec.trials)
    store.register_sweep(spec.name, configs, description=spec.description,
                         spec_path=str(spec.source_path), spec_text=spec.source_text)
    statuses = store.statuses([c.key for c in configs])
    todo = [c for c in configs if statuses.get(c.key) not in DONE_STATUSES]
    store.reset_interrupted([c.key for c in todo])
    return todo, store.checkpoint_paths([c.key for c in todo])


def trial_resources(spec: SweepSpec, cpu_only: bool) -> dict[str, float]:
    cpu = float(spec.resources.cpu)
    gpu = 0.0 if cpu_only else float(spec.resources.gpu)
    return {"cpu": cpu, "gpu": gpu} if gpu else {"cpu": cpu}


def check_cluster(resources: dict[str, float], spec: SweepSpec) -> dict[str, float]:
    """Fail fast, before any trial starts, when the cluster can never place one trial."""
    import ray

    available = ray.cluster_resources()
    gpus, cpus = available.get("GPU", 0.0), available.get("CPU", 0.0)
    if resources.get("gpu", 0) > 0 and gpus <= 0:
        raise ClusterError(
            f"{spec.source_path}: resources.gpu is {spec.resources.gpu} but this Ray cluster has no GPUs. "
            "Run on a cluster with GPUs, set resources.gpu: 0, or pass --cpu-only to train on CPUs.")
    if resources.get("gpu", 0) > gpus > 0:
        raise ClusterError(f"{spec.source_path}: resources.gpu is {resources['gpu']} per trial but the "
                           f"cluster has {gpus:g} GPU(s) in all")
    if resources["cpu"] > cpus:
        raise ClusterError(f"{spec.source_path}: resources.cpu is {resources['cpu']:g} per trial but the "
                           f"cluster has {cpus:g} CPU(s) in all; lower resources.cpu")
    return available


def trial_params(config: TrialConfig, resources: dict[str, float], checkpoint: str | None,
                 options: RunOptions) -> dict[str, Any]:
    device = "cuda" if resources.get("gpu", 0) > 0 else "cpu"
    threads = max(1, int(resources["cpu"]))
    config = config.replace(device=device, threads=threads)
    return {"trial": config.to_dict(), "key": config.key, "resume_from": checkpoint}


def connect(options: RunOptions, console: Console) -> None:
    """ray.init for an existing cluster (address) or an embedded local one; prints the dashboard URL."""
    import ray

    address = options.address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    if address is None:
        kwargs.update(num_cpus=options.num_cpus, include_dashboard=options.dashboard,
                      dashboard_host="127.0.0.1")
    try:
        context = ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot connect to Ray at {address!r}: {str(exc).splitlines()[0]}") from exc
    where = f"Ray cluster at {address}" if address else "embedded local Ray"
    cpus = ray.cluster_resources().get("CPU", 0)
    gpus = ray.cluster_resources().get("GPU", 0)
    console.print(f"[bold]{where}[/]: {cpus:g} CPU(s), {gpus:g} GPU(s)")
    if getattr(context, "dashboard_url", None):
        console.print(f"Ray dashboard: http://{context.dashboard_url}{_dashboard_token_hint()}")


def _dashboard_token_hint() -> str:
    """New Ray clusters require a token (Ray's token auth); the dashboard asks for it in the browser."""
    token = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    if os.environ.get("RAY_AUTH_MODE", "token") == "token" and token.exists():
        return f" (it asks for the token in {token})"
    return ""


def run_sweep(spec: SweepSpec, options: RunOptions, console: Console | None = None, *,
              trainable: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Run every unfinished trial of `spec`; results stream into the store at options.db_url.

    `trainable` is the Ray Tune function each trial runs (default `sdssm.sweep.trainable.run_trial`);
    tests pass a wrapper of it that injects a fault, as Ray's own restore tests pass their trainables."""
    import ray
    from ray import tune

    from sdssm.sweep.callback import StoreCallback
    from sdssm.sweep.progress import SweepProgress
    from sdssm.sweep.trainable import run_trial

    trainable = trainable or run_trial
    console = console or Console()
    # Our own live progress replaces Tune's; the legacy reporter at verbose=0 prints nothing.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = time.monotonic()
    store = Store(options.db_url)
    todo, checkpoints = plan(spec, store)
    total = len(spec.trials)
    skipped = total - len(todo)
    if not todo:
        console.print(f"sweep {spec.name}: all {total} trials are already done (see `sdssm-sweep report`)")
        return RunSummary(total, skipped, 0, _counts(store, spec), time.monotonic() - started)

    resources = trial_resources(spec, options.cpu_only)
    we_started_ray = not ray.is_initialized()
    if we_started_ray:
        connect(options, console)
    try:
        available = check_cluster(resources, spec)
        per_trial = max(resources["cpu"], 1e-9)
        concurrency = int(available.get("CPU", 1) // per_trial) or 1
        if spec.max_concurrent:
            concurrency = min(concurrency, spec.max_concurrent)
        storage = Path(options.storage_path).expanduser().resolve()
        storage.mkdir(parents=True, exist_ok=True)
        console.print(f"sweep {spec.name}: {total} trials, {skipped} already done, {len(todo)} to run, "
                      f"up to {concurrency} at a time; checkpoints under {storage}")
        progress = SweepProgress(spec.name, todo, already_done=skipped, concurrency=concurrency,
                                 console=console)
        scheduler = _scheduler(spec)
        callback = StoreCallback(store.url, progress, scheduler_stops_trials=scheduler is not None)
        tuner = tune.Tuner(
            tune.with_resources(trainable, resources),
            param_space={"trial": tune.grid_search(
                [trial_params(c, resources, checkpoints.get(c.key), options) for c in todo])},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=spec.max_concurrent, scheduler=scheduler, reuse_actors=True,
                trial_dirname_creator=lambda trial: trial.config["trial"]["key"],
                trial_name_creator=lambda trial: trial.config["trial"]["key"]),
            run_config=tune.RunConfig(
                name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(storage),
                callbacks=[callback], verbose=0,
                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
        )
        interrupted = False
        with progress:
            try:
                tuner.fit()
            except KeyboardInterrupt:
                interrupted = True
        console.print()
        if interrupted:
            console.print("[yellow]interrupted[/]: rerun the same command to finish the sweep; finished "
                          "trials are kept and unfinished ones continue from their last checkpoint")
        return RunSummary(total, skipped, len(todo), _counts(store, spec), time.monotonic() - started,
                          interrupted)
    finally:
        if we_started_ray:
            ray.shutdown()


def _scheduler(spec: SweepSpec) -> Any:
    """ASHA compares trials on their periodic evaluations (time unit: one evaluation)."""
    if spec.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(metric="beyond_accuracy", mode="max", time_attr="training_iteration",
                         grace_period=spec.asha.grace_period, reduction_factor=spec.asha.reduction_factor,
                         max_t=10**9)


def _counts(store: Store, spec: SweepSpec) -> dict[str, int]:
    statuses = store.statuses([c.key for c in spec.trials])
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts
