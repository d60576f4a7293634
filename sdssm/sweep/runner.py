"""Run a sweep with Ray Tune: embedded local Ray by default, or an existing cluster by address.

Resumability lives in the store, not in Ray's experiment folder: every run registers the sweep's
trials, skips those already done, and starts each unfinished trial from the last checkpoint the
store recorded for it. So rerunning the same command after Ctrl-C, a killed driver or a reboot
finishes the sweep, and editing the YAML (adding seeds, say) runs only the new trials.

One driver per sweep and database: a run first takes the sweep's lease (sdssm/sweep/driver.py) and
heartbeats it; a second driver is refused, and a driver whose heartbeat stopped is taken over (its
trials resume). Then, in this order, each step able to refuse the run before any trial is registered:
the storage folder, Ray (started or reached) and whether it can place a trial; only then are the
sweep and its trials registered and run (a TPE search registers each proposal's trials when it is
proposed, and a rerun resumes the search from the store: sdssm/sweep/search.py). When the run ends,
however it ends (done, Ctrl-C, SIGTERM, an error), the trials it left running are marked interrupted,
never left running.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from sdssm.config import TrialConfig
from sdssm.sweep.driver import LEASE_STALE_AFTER_S, LeaseKeeper, StopRequested, StopSignals, exit_code
from sdssm.sweep.spec import SweepSpec
from sdssm.sweep.store import DONE_STATUSES, Store

DEFAULT_STORAGE = "results/ray"
LOOPBACK = "127.0.0.1"
_LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RunError(Exception):
    """This run cannot start as asked (bad storage folder, cluster); refused before any trial is registered."""


class ClusterError(RunError):
    """The cluster cannot run this sweep as asked (no GPUs, too few CPUs, unreachable address)."""


@dataclass
class RunOptions:
    db_url: str
    storage_path: str = DEFAULT_STORAGE  # Ray's trial folders and checkpoints; shared storage on a cluster
    address: str | None = None  # None: RAY_ADDRESS if set, else a new embedded local Ray
    cpu_only: bool = False  # run a GPU sweep on CPUs instead of refusing
    num_cpus: int | None = None  # CPUs of the embedded local Ray (default: all)
    dashboard: bool = True
    progress_interval_s: float = 30.0  # plain progress lines this often when output is not a terminal


@dataclass
class RunSummary:
    total: int
    skipped: int
    ran: int
    counts: dict[str, int]
    wall_time_s: float
    stopped_by: signal.Signals | None = None  # the signal (SIGINT, SIGTERM) that stopped the run early
    interrupted: int = 0  # trials this run left unfinished: marked interrupted, resumed by a rerun
    took_over_from: str | None = None  # the dead driver whose lease this run took over

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal's number when a signal stopped the run (130 SIGINT, 143 SIGTERM)."""
        return exit_code(self.stopped_by) if self.stopped_by is not None else 0


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


def check_machine(resources: dict[str, float], spec: SweepSpec, options: RunOptions) -> None:
    """Refuse, before Ray starts and before anything is registered, a sweep the embedded local Ray could
    never place one trial of: GPUs per trial on a machine where PyTorch sees none (the trials train with
    PyTorch), or more CPUs per trial than the embedded Ray gets (--num-cpus, else the CPUs this process may
    use). A cluster (--address, RAY_ADDRESS) is only known once connected: `check_cluster` checks it then,
    still before registering; it also stays the embedded Ray's last word (a container's CPU quota, which
    Ray counts and this check does not)."""
    if not _embedded(options):
        return
    if resources.get("gpu", 0) > 0:
        import torch

        if not torch.cuda.is_available():
            raise ClusterError(
                f"{spec.source_path}: resources.gpu is {resources['gpu']:g} per trial but this machine has no GPUs "
                "that PyTorch can use. Pass --cpu-only to train on CPUs, set resources.gpu: 0, or run on a "
                "machine or cluster (--address) with GPUs.")
    cpus = options.num_cpus or _usable_cpus()
    if resources["cpu"] > cpus:
        given = f"--num-cpus {options.num_cpus}" if options.num_cpus else f"this machine's {cpus} CPU(s)"
        raise ClusterError(
            f"{spec.source_path}: resources.cpu is {resources['cpu']:g} per trial but the local Ray gets "
            f"{given}; lower resources.cpu to at most {cpus}"
            + ("" if options.num_cpus is None or options.num_cpus >= _usable_cpus() else
               f" or raise --num-cpus (this machine has {_usable_cpus()})") + ".")


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def trial_params(config: TrialConfig, resources: dict[str, float], checkpoint: str | None,
                 options: RunOptions) -> dict[str, Any]:
    device = "cuda" if resources.get("gpu", 0) > 0 else "cpu"
    threads = max(1, int(resources["cpu"]))
    config = config.replace(device=device, threads=threads)
    return {"trial": config.to_dict(), "key": config.key, "resume_from": checkpoint}


def connect(options: RunOptions, console: Console) -> bool:
    """ray.init: an existing cluster when --address or RAY_ADDRESS names one, else a new embedded local
    Ray (`address="local"`), never a leftover or other running instance (Ray's default address lookup
    would attach to whatever /tmp/ray/ray_current_cluster names, even a dead cluster). The embedded Ray
    listens on the loopback only (see `embedded_on_loopback`). Prints the dashboard URL; returns whether
    the Ray it started is embedded."""
    import ray

    address = options.address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    if address is None:
        kwargs.update(num_cpus=options.num_cpus, include_dashboard=options.dashboard, dashboard_host=LOOPBACK)
    try:
        context = ray.init(address=address or "local", **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"Ray at {address!r}" if address else "an embedded local Ray"
        raise ClusterError(f"cannot start or connect to {where}: {str(exc).splitlines()[0]}") from exc
    where = f"Ray cluster at {address}" if address else "embedded local Ray"
    cpus = ray.cluster_resources().get("CPU", 0)
    gpus = ray.cluster_resources().get("GPU", 0)
    console.print(f"[bold]{escape(where)}[/]: {cpus:g} CPU(s), {gpus:g} GPU(s)")
    node_ip = context.address_info.get("node_ip_address")
    if address is None and node_ip != LOOPBACK:
        console.print(f"[yellow]warning[/]: the embedded Ray listens on {escape(str(node_ip))}, not only on "
                      f"{LOOPBACK}; other machines on this network may reach it")
    if getattr(context, "dashboard_url", None):
        console.print(f"Ray dashboard: http://{escape(context.dashboard_url)}{escape(_dashboard_token_hint())}")
    return address is None


@contextmanager
def embedded_on_loopback() -> Iterator[None]:
    """While active, a Ray started by this process takes 127.0.0.1 as its node address, so GCS, the
    raylet, the object manager, the workers, the agents and their metrics ports all listen on the
    loopback only. This is Ray's own switch for a single-machine Ray (its default on macOS and Windows):
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which Ray reads into `ray_constants.ENABLE_RAY_CLUSTER` on
    import, so it is set there too (Ray is imported by now) and in the environment every Ray process
    inherits. Only for the embedded Ray: a driver attached to a cluster must advertise an address the
    cluster can reach, so both are restored on exit."""
    from ray._private import ray_constants

    previous_env, previous_flag = os.environ.get(_LOOPBACK_SWITCH), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_LOOPBACK_SWITCH] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous_flag
        if previous_env is None:
            os.environ.pop(_LOOPBACK_SWITCH, None)
        else:
            os.environ[_LOOPBACK_SWITCH] = previous_env


def _dashboard_token_hint() -> str:
    """New Ray clusters require a token (Ray's token auth); the dashboard asks for it in the browser."""
    token = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    if os.environ.get("RAY_AUTH_MODE", "token") == "token" and token.exists():
        return f" (it asks for the token in {token})"
    return ""


def run_sweep(spec: SweepSpec, options: RunOptions, console: Console | None = None, *,
              trainable: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Run every unfinished trial of `spec`; results stream into the store at options.db_url.

    Raises LeaseHeldError when another driver runs the sweep (or took it over from this one), RunError
    when the storage folder or Ray cannot run it; a refused run registers nothing. SIGINT and SIGTERM stop
    the run gracefully: the summary's `stopped_by` says which, and the trials it stopped are left
    interrupted (see the module docstring).

    `trainable` is the Ray Tune function each trial runs (default `sdssm.sweep.trainable.run_trial`);
    tests pass a wrapper of it that injects a fault, as Ray's own restore tests pass their trainables."""
    console = console or Console()
    started = time.monotonic()
    resources = trial_resources(spec, options.cpu_only)
    check_machine(resources, spec, options)  # before Ray starts, before the store is touched
    storage = storage_folder(options.storage_path)
    store = Store(options.db_url)
    keys = [c.key for c in spec.trials]  # a TPE search's: its members in the store, read when it ends
    registered: list[str] = []  # the trials this run registered to train
    skipped = interrupted = 0
    with StopSignals() as signals:
        try:
            lease = store.acquire_lease(spec.name, stale_after_s=LEASE_STALE_AFTER_S)
        except StopRequested:
            return RunSummary(len(keys), 0, 0, _counts(store, keys), time.monotonic() - started,
                              signals.received)
        keeper = LeaseKeeper(store, lease, on_lost=signals.request_stop).start()
        try:
            if lease.took_over_from:
                console.print(f"[yellow]took over[/] sweep {escape(spec.name)} from a driver that is gone "
                              f"({escape(lease.took_over_from)}); its unfinished trials resume from their "
                              "checkpoints")
            if spec.search.method == "tpe":
                skipped = _run_tpe(spec, options, store, registered, resources, storage, console, signals,
                                   trainable, keeper)
            else:
                statuses = store.statuses(keys)
                todo = [c for c in spec.trials if statuses.get(c.key) not in DONE_STATUSES]
                skipped = len(keys) - len(todo)
                if not todo:
                    plan(spec, store)  # the sweep's members follow its spec
                    console.print(f"sweep {escape(spec.name)}: all {len(keys)} trials are already done "
                                  "(see `sdssm-sweep report`)")
                else:
                    with _ray(options, console, signals):
                        available = check_cluster(resources, spec)
                        keeper.check()
                        todo, checkpoints = plan(spec, store)
                        registered.extend(c.key for c in todo)
                        _fit(spec, options, store, todo, checkpoints, resources, available, storage, console,
                             signals, trainable)
        except StopRequested:
            pass  # a signal outside Tune's loop (or a second one): `signals.received` says which
        finally:
            signals.record_only()
            keeper.stop()
            if keeper.lost is None:
                interrupted = store.mark_interrupted(registered)
                store.release_lease(lease)
        keeper.check()
    if spec.search.method == "tpe":
        keys = [c.key for c in store.sweep_configs(spec.name)]
    return RunSummary(len(keys), skipped, len(registered), _counts(store, keys), time.monotonic() - started,
                      signals.received, interrupted, lease.took_over_from)


@contextmanager
def _ray(options: RunOptions, console: Console, signals: StopSignals) -> Iterator[None]:
    """Ray for the run: started or reached here (and shut down on exit), unless this process already
    runs one (an in-process caller's)."""
    import ray

    if ray.is_initialized():
        yield
        return
    try:
        with embedded_on_loopback() if _embedded(options) else _nothing():
            connect(options, console)
        signals.install()  # ray.init replaced the SIGTERM handler (one that aborts the process)
        yield
    finally:
        signals.record_only()
        ray.shutdown()


def _fit(spec: SweepSpec, options: RunOptions, store: Store, todo: list[TrialConfig],
         checkpoints: dict[str, str], resources: dict[str, float], available: dict[str, float], storage: Path,
         console: Console, signals: StopSignals, trainable: Callable[[dict[str, Any]], None] | None) -> None:
    """Tune's run of the registered trials `todo`, with the live progress display."""
    from ray import tune

    from sdssm.sweep.callback import StoreCallback
    from sdssm.sweep.progress import SweepProgress

    # Our own live progress replaces Tune's; the legacy reporter at verbose=0 prints nothing.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    total, skipped = len(spec.trials), len(spec.trials) - len(todo)
    per_trial = max(resources["cpu"], 1e-9)
    concurrency = int(available.get("CPU", 1) // per_trial) or 1
    if spec.max_concurrent:
        concurrency = min(concurrency, spec.max_concurrent)
    console.print(f"sweep {escape(spec.name)}: {total} trials, {skipped} already done, {len(todo)} to run, "
                  f"up to {concurrency} at a time; checkpoints under {escape(str(storage))}")
    progress = SweepProgress(spec.name, todo, already_done=skipped, concurrency=concurrency, console=console,
                             interval_s=options.progress_interval_s)
    scheduler = _scheduler(spec)
    callback = StoreCallback(store.url, progress, scheduler_stops_trials=scheduler is not None)
    tuner = _tuner(spec, storage, callback, trainable, resources, scheduler=scheduler,
                   param_space={"trial": tune.grid_search(
                       [trial_params(c, resources, checkpoints.get(c.key), options) for c in todo])})
    with progress:
        try:
            tuner.fit()
        finally:
            signals.record_only()
    console.print()


def _tuner(spec: SweepSpec, storage: Path, callback: Any, trainable: Callable[[dict[str, Any]], None] | None,
           resources: dict[str, float], *, param_space: dict[str, Any], **tune_config: Any) -> Any:
    """The sweep's Tuner: one Tune trial per trial config (named by its key), results to `callback`."""
    from ray import tune

    from sdssm.sweep.trainable import run_trial

    return tune.Tuner(
        tune.with_resources(trainable or run_trial, resources),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            max_concurrent_trials=spec.max_concurrent, reuse_actors=True,
            trial_dirname_creator=lambda trial: trial.config["trial"]["key"],
            trial_name_creator=lambda trial: trial.config["trial"]["key"], **tune_config),
        run_config=tune.RunConfig(
            name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(storage),
            callbacks=[callback], verbose=0,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    )


def _run_tpe(spec: SweepSpec, options: RunOptions, store: Store, registered: list[str],
             resources: dict[str, float], storage: Path, console: Console, signals: StopSignals,
             trainable: Callable[[dict[str, Any]], None] | None, keeper: LeaseKeeper) -> int:
    """A TPE search (sdssm/sweep/search.py): resumed from the store, each proposal registered when it is
    proposed (its keys appended to `registered` when they are to run). Returns the trials already done
    when the run began."""
    from sdssm.sweep.callback import StoreCallback
    from sdssm.sweep.progress import SweepProgress
    from sdssm.sweep.search import SeedRepeats, optuna_searcher, plan_tpe

    search = spec.search
    assert search.num_samples is not None
    tpe = plan_tpe(spec, store)
    statuses = store.statuses([c.key for c in tpe.members])
    done = sum(statuses.get(c.key) in DONE_STATUSES for c in tpe.members)
    register_args = {"description": spec.description, "spec_path": str(spec.source_path),
                     "spec_text": spec.source_text}
    if tpe.remaining == 0:
        store.register_sweep(spec.name, tpe.members, **register_args)
        console.print(f"sweep {escape(spec.name)}: all {search.num_samples} TPE points are already done "
                      f"({len(tpe.members)} trials; see `sdssm-sweep report`)")
        return done
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with _ray(options, console, signals):
        available = check_cluster(resources, spec)
        keeper.check()
        members = list(tpe.members)
        store.register_sweep(spec.name, members, **register_args)
        concurrency = int(available.get("CPU", 1) // max(resources["cpu"], 1e-9)) or 1
        if spec.max_concurrent:
            concurrency = min(concurrency, spec.max_concurrent)
        console.print(f"sweep {escape(spec.name)}: TPE, {search.num_samples} points x {len(search.seeds)} "
                      f"seed(s); {len(tpe.evaluated)} point(s) already done, {tpe.remaining} to propose "
                      f"({len(tpe.unfinished)} of them resumed), up to {concurrency} trials at a time; "
                      f"checkpoints under {escape(str(storage))}")
        progress = SweepProgress(spec.name, [], already_done=done, concurrency=concurrency, console=console,
                                 interval_s=options.progress_interval_s)

        def register(configs: tuple[TrialConfig, ...]) -> int:
            known = {c.key for c in members}
            joined = [c for c in configs if c.key not in known]
            members.extend(joined)
            if joined:
                store.register_sweep(spec.name, members, **register_args)
            statuses = store.statuses([c.key for c in configs])
            todo = [c for c in configs if statuses.get(c.key) not in DONE_STATUSES and c.key not in registered]
            store.reset_interrupted([c.key for c in todo])
            registered.extend(c.key for c in todo)
            progress.add(todo)
            return len(joined)

        def params(config: TrialConfig) -> dict[str, Any]:
            return trial_params(config, resources, store.checkpoint_paths([config.key]).get(config.key), options)

        searcher = SeedRepeats(search, optuna_searcher(search, tpe), tpe.remaining, store, register, params)
        scheduler = _scheduler(spec)
        callback = StoreCallback(store.url, progress, scheduler_stops_trials=scheduler is not None)
        tuner = _tuner(spec, storage, callback, trainable, resources, param_space={}, scheduler=scheduler,
                       search_alg=searcher, num_samples=tpe.remaining * len(search.seeds))
        with progress:
            try:
                tuner.fit()
            finally:
                signals.record_only()
        console.print()
    return done


def storage_folder(path: str) -> Path:
    """The local folder for Ray's trial folders and checkpoints, created if missing; RunError when it
    cannot be (a file in the way, no permission) or is not writable."""
    folder = Path(path).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"--storage {path}: cannot create the folder ({exc.strerror or exc}); "
                       "give a folder this user can write") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunError(f"--storage {path}: the folder {folder} is not writable by this user; "
                       "give a folder this user can write")
    return folder


def _embedded(options: RunOptions) -> bool:
    return not (options.address or os.environ.get("RAY_ADDRESS"))


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _scheduler(spec: SweepSpec) -> Any:
    """ASHA compares trials on their periodic evaluations (time unit: one evaluation)."""
    if spec.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(metric="beyond_accuracy", mode="max", time_attr="training_iteration",
                         grace_period=spec.asha.grace_period, reduction_factor=spec.asha.reduction_factor,
                         max_t=10**9)


def _counts(store: Store, keys: list[str]) -> dict[str, int]:
    statuses = store.statuses(keys)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts
