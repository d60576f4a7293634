"""The sweep service end to end on a real 2-CPU local Ray with a real SQLite store (no mocks)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.runner import RunOptions, run_sweep
from sdssm.sweep.spec import load_spec
from sdssm.sweep.store import DONE_STATUSES, Store, StoreError, TrialStatus
from sdssm.train import train
from tests.sweep.conftest import TINY_TRAIN, cli, write_spec
from tests.sweep.faults import fail_once_at_step

pytestmark = pytest.mark.timeout(300)

RUN_FLAGS = ("--num-cpus", "2", "--no-dashboard")


def _run_args(spec: Path, folder: Path) -> list[str]:
    return ["run", str(spec), "--db", str(folder / "results.db"), "--storage", str(folder / "ray"), *RUN_FLAGS]


def _store(folder: Path) -> Store:
    return Store(str(folder / "results.db"), create=False)


def _check_complete(store: Store, sweep: str, expected_steps: list[int]) -> None:
    """Every trial done, with exactly one metric row per evaluation and one accuracy per length."""
    frames = store.frames([sweep])
    trials = frames["trials"]
    assert set(trials["status"]) <= DONE_STATUSES, trials[["key", "status", "error"]]
    for key in trials["key"]:
        steps = sorted(frames["metrics"].loc[frames["metrics"]["trial_key"] == key, "step"])
        assert steps == expected_steps
        lengths = sorted(frames["lengths"].loc[frames["lengths"]["trial_key"] == key, "length"])
        assert lengths == list(range(1, TINY_TRAIN["test_max_length"] + 1))
    assert trials["beyond_accuracy"].notna().all()


def test_tiny_sweep_end_to_end_rerun_and_extension(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, seeds=[0, 1])
    first = cli(*_run_args(spec, tmp_path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "Traceback" not in first.stderr
    store = _store(tmp_path)
    _check_complete(store, "tiny", [20, 40, 60])
    before = {t.key: (t.finished_at, t.attempts) for t in store.trials(["tiny"])}
    assert len(before) == 2

    # The same command again trains nothing.
    again = cli(*_run_args(spec, tmp_path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already done" in again.stdout
    assert {t.key: (t.finished_at, t.attempts) for t in store.trials(["tiny"])} == before

    # Adding a seed to the file runs only the new trial.
    write_spec(tmp_path, seeds=[0, 1, 2])
    extended = cli(*_run_args(spec, tmp_path), cwd=tmp_path)
    assert extended.returncode == 0, extended.stderr
    assert "2 already done, 1 to run" in extended.stdout
    after = {t.key: (t.finished_at, t.attempts) for t in store.trials(["tiny"])}
    assert len(after) == 3
    assert all(after[key] == value for key, value in before.items())
    _check_complete(store, "tiny", [20, 40, 60])

    status = cli("status", "--db", str(tmp_path / "results.db"), cwd=tmp_path)
    assert status.returncode == 0 and "tiny" in status.stdout


def test_trial_that_raises_once_is_retried_from_its_checkpoint(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, seeds=[0], max_failures=2))
    marker = tmp_path / "failed-once"
    options = RunOptions(db_url=str(tmp_path / "results.db"), storage_path=str(tmp_path / "ray"), num_cpus=2,
                         dashboard=False)
    run_sweep(spec, options, Console(quiet=True), trainable=fail_once_at_step(40, marker))
    assert marker.exists(), "the injected failure never happened"
    store = _store(tmp_path)
    (trial,) = store.trials(["tiny"])
    assert trial.attempts == 2
    assert trial.resumed_from_step == 40  # the retry continued from the step-40 checkpoint
    _check_complete(store, "tiny", [20, 40, 60])
    # ... and continued exactly as if never stopped: same result as an uninterrupted run.
    direct = train(TrialConfig.from_dict({**spec.trials[0].to_dict(), "device": "cpu"}))
    assert direct.final is not None
    stored = store.frames(["tiny"])["lengths"].sort_values("length")["accuracy"].tolist()
    assert stored == pytest.approx(direct.final.accuracy_by_length, nan_ok=True)


def test_driver_killed_mid_sweep_then_rerun_records_each_trial_once(tmp_path: Path) -> None:
    train_overrides = {"max_steps": 1500, "eval_interval": 100}
    spec = write_spec(tmp_path, seeds=[0, 1, 2], max_concurrent=1, train=train_overrides)
    driver = subprocess.Popen([sys.executable, "-m", "sdssm.cli", *_run_args(spec, tmp_path)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_before: dict[str, tuple] = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if not (tmp_path / "results.db").exists():
                continue
            try:
                trials = _store(tmp_path).trials(["tiny"])
            except StoreError as error:  # the file exists, the driver has not created the schema yet
                assert "empty" in str(error)
                continue
            done = [t for t in trials if t.status in DONE_STATUSES]
            midway = [t for t in trials
                      if t.status == TrialStatus.RUNNING and t.checkpoint_path and (t.steps or 0) >= 300]
            if done and midway:
                driver.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("the sweep never reached a state with a done and a half-trained trial")
        driver.wait(timeout=30)
        done_before = {t.key: (t.finished_at, t.attempts, t.steps) for t in _store(tmp_path).trials(["tiny"])
                       if t.status in DONE_STATUSES}
    finally:
        if driver.poll() is None:
            driver.kill()
    rerun = cli(*_run_args(spec, tmp_path), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    store = _store(tmp_path)
    trials = {t.key: t for t in store.trials(["tiny"])}
    assert len(trials) == 3
    for key, record in done_before.items():  # finished trials were not retrained
        assert (trials[key].finished_at, trials[key].attempts, trials[key].steps) == record
    resumed = [t for t in trials.values() if t.key not in done_before and (t.resumed_from_step or 0) > 0]
    assert resumed, "the interrupted trial did not continue from its checkpoint"
    _check_complete(store, "tiny", list(range(100, 1501, 100)))


def test_gpus_asked_of_a_cpu_only_cluster_fail_fast_unless_cpu_only(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, seeds=[0], resources={"cpu": 1, "gpu": 0.5})
    started = time.monotonic()
    refused = cli(*_run_args(spec, tmp_path), cwd=tmp_path)
    assert refused.returncode == 2
    assert "no GPUs" in refused.stderr and "--cpu-only" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert time.monotonic() - started < 120
    store = _store(tmp_path)  # a refused run registers nothing
    assert store.sweep_names() == [] and store.trials() == []
    accepted = cli(*_run_args(spec, tmp_path), "--cpu-only", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    _check_complete(_store(tmp_path), "tiny", [20, 40, 60])


def test_reader_sees_consistent_data_while_a_sweep_writes(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, seeds=[0, 1, 2], train={"max_steps": 400, "eval_interval": 20})
    driver = subprocess.Popen([sys.executable, "-m", "sdssm.cli", *_run_args(spec, tmp_path)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    reads, saw_running = 0, False
    try:
        while driver.poll() is None:
            if not (tmp_path / "results.db").exists():
                time.sleep(0.2)
                continue
            reader = Store(str(tmp_path / "results.db"), create=False)
            try:
                frames = reader.frames(["tiny"])  # one read transaction: a consistent snapshot
            except StoreError as error:  # the driver has not created the schema yet
                assert "empty" in str(error)
                continue
            finally:
                reader.dispose()
            reads += 1
            trials = frames["trials"]
            saw_running |= bool((trials["status"] == TrialStatus.RUNNING).any())
            for _, trial in trials.iterrows():
                lengths = frames["lengths"][frames["lengths"]["trial_key"] == trial["key"]]
                metrics = frames["metrics"][frames["metrics"]["trial_key"] == trial["key"]]
                if trial["status"] in DONE_STATUSES:  # a final result is all there or not at all
                    assert len(lengths) == TINY_TRAIN["test_max_length"]
                    assert trial["beyond_accuracy"] is not None
                else:
                    assert len(lengths) == 0
                if len(metrics):  # the trial row's step counter matches its newest metric row
                    assert trial["steps"] == metrics["step"].max()
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, driver.stderr.read() if driver.stderr else ""
    assert reads >= 5 and saw_running
    _check_complete(_store(tmp_path), "tiny", list(range(20, 401, 20)))


def test_two_node_cluster_runs_a_sweep_to_completion(tmp_path: Path) -> None:
    """`sdssm-sweep run --address` on a real two-node cluster (one CPU per node)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        spec = write_spec(tmp_path, seeds=[0, 1], train={"max_steps": 200})
        result = cli("run", str(spec), "--db", str(tmp_path / "results.db"), "--storage",
                     str(tmp_path / "ray"), "--address", cluster.address, cwd=tmp_path)
        assert result.returncode == 0, result.stderr + result.stdout
        assert f"Ray cluster at {cluster.address}: 2 CPU(s)" in result.stdout
        store = _store(tmp_path)
        _check_complete(store, "tiny", list(range(20, 201, 20)))
        nodes = {t.node for t in store.trials(["tiny"])}
        assert len(nodes) == 2, nodes  # one CPU per node: the two trials ran on different nodes
    finally:
        cluster.shutdown()


def test_asha_stops_weak_trials_and_the_sweep_completes(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, seeds=[0, 1, 2, 3], scheduler="asha",
                                asha={"grace_period": 1, "reduction_factor": 2},
                                train={"max_steps": 200, "lr": 1.0e-2}))
    options = RunOptions(db_url=str(tmp_path / "results.db"), storage_path=str(tmp_path / "ray"), num_cpus=2,
                         dashboard=False)
    run_sweep(spec, options, Console(quiet=True))
    trials = _store(tmp_path).trials(["tiny"])
    statuses = [t.status for t in trials]
    assert set(statuses) <= DONE_STATUSES and TrialStatus.STOPPED in statuses, statuses
    assert any(s != TrialStatus.STOPPED for s in statuses)  # the best trial ran to its end
