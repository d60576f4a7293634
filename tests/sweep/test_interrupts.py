"""A sweep driver stopped, killed or doubled, on a real local Ray with a real SQLite store (no mocks):

- SIGINT and SIGTERM stop it gracefully: exit 130 / 143, the command that resumes it, its trials marked
  interrupted (never left running), and the same command finishes the sweep from their checkpoints;
- a SIGKILLed driver (with every Ray process of it) leaves Ray's session file behind: the rerun starts its
  own Ray all the same, takes the dead driver's lease over and resumes its trials;
- a second driver on a running sweep is refused (exit 2, naming the live one) and changes nothing;
- the embedded Ray listens on the loopback only;
- a refused run (lease held, bad storage folder) registers nothing.

The end-to-end cases poll the store rather than sleep, with generous deadlines for a loaded machine.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from sdssm.config import TrialConfig
from sdssm.sweep.driver import LeaseKeeper, StopRequested, StopSignals, exit_code
from sdssm.sweep.status import STALE, status_view
from sdssm.sweep.store import DONE_STATUSES, LeaseHeldError, Store, StoreError, Trial, TrialStatus
from tests.sweep.conftest import TINY_TRAIN, cli, write_spec

pytestmark = pytest.mark.timeout(600)

# Long enough trials that a signal lands mid-trial after a checkpoint, short enough to finish on a rerun.
LONG = {"max_steps": 600, "eval_interval": 50}
LONG_STEPS = list(range(50, 601, 50))


def _run_args(spec: Path, folder: Path, *extra: str) -> list[str]:
    return ["run", str(spec), "--db", str(folder / "results.db"), "--storage", str(folder / "ray"),
            "--num-cpus", "2", *extra]


def _start(args: list[str], folder: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`sdssm-sweep ARGS` as its own process group (as a shell job), output into files (never a full pipe)."""
    out = (folder / "driver.out").open("a")
    return subprocess.Popen([sys.executable, "-m", "sdssm.cli", *args], cwd=folder, text=True,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "COLUMNS": "160", **(env or {})})


def _output(folder: Path) -> str:
    return (folder / "driver.out").read_text(errors="replace")


def _trials(folder: Path) -> list[Trial]:
    """The sweep's trials as the store has them now; [] while the driver has not created the database."""
    if not (folder / "results.db").exists():
        return []
    store = Store(str(folder / "results.db"), create=False)
    try:
        return store.trials(["tiny"])
    except StoreError:
        return []
    finally:
        store.dispose()


def _wait_for(condition: Callable[[list[Trial]], bool], folder: Path, driver: subprocess.Popen[str],
              what: str, timeout: float = 300) -> list[Trial]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trials = _trials(folder)
        if trials and condition(trials):
            return trials
        if driver.poll() is not None:
            pytest.fail(f"the driver exited ({driver.returncode}) before {what}:\n{_output(folder)[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}:\n{_output(folder)[-3000:]}")


def _midway(trials: list[Trial]) -> bool:
    """A trial is running and has a checkpoint past its first evaluation."""
    return any(t.status == TrialStatus.RUNNING and t.checkpoint_path and (t.steps or 0) >= 100 for t in trials)


def _check_complete(folder: Path, expected_steps: list[int]) -> dict[str, Trial]:
    """Every trial done, with one metric row per evaluation (each step once) and one accuracy per length."""
    store = Store(str(folder / "results.db"), create=False)
    frames = store.frames(["tiny"])
    trials = {t.key: t for t in store.trials(["tiny"])}
    store.dispose()
    assert {t.status for t in trials.values()} <= DONE_STATUSES, [(t.key, t.status, t.error) for t in trials.values()]
    for key in trials:
        steps = sorted(frames["metrics"].loc[frames["metrics"]["trial_key"] == key, "step"])
        assert steps == expected_steps
        lengths = sorted(frames["lengths"].loc[frames["lengths"]["trial_key"] == key, "length"])
        assert lengths == list(range(1, TINY_TRAIN["test_max_length"] + 1))
    return trials


@pytest.fixture
def driver_cleanup() -> Iterator[list[subprocess.Popen[str]]]:
    """Drivers a test started: killed with their whole process group (Ray's processes) if still alive."""
    drivers: list[subprocess.Popen[str]] = []
    yield drivers
    for driver in drivers:
        if driver.poll() is None:
            _kill_group(driver)


@pytest.fixture
def driver_cleanup_folders() -> Iterator[list[Path]]:
    """Folders outside tmp_path a test made (Ray's temp folder): removed after it."""
    folders: list[Path] = []
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _kill_group(driver: subprocess.Popen[str]) -> None:
    try:
        os.killpg(driver.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    driver.wait(timeout=60)


# --- processes and sockets, read from /proc (Linux) -----------------------------------------------------------

def _process_tree(root: int) -> set[int]:
    """`root` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += children.get(pid, [])
    return tree


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _listening(pids: set[int]) -> list[tuple[int, str, str, int]]:
    """(pid, process name, address, port) of every listening TCP socket the processes hold."""
    sockets: dict[str, tuple[str, int]] = {}
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # per 32-bit word, host order
            sockets[fields[9]] = (socket.inet_ntop(family, raw), int(port, 16))
    found = []
    for pid in pids:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        for link in links:
            inode = link[len("socket:["):-1] if link.startswith("socket:[") else None
            if inode in sockets:
                found.append((pid, name, *sockets[inode]))
    return found


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback  # ::ffff:127.0.0.1 is IPv4's loopback


# --- signals ----------------------------------------------------------------------------------------------------

def test_stop_signals_outside_tune_raise_and_restore_the_handlers() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    with pytest.raises(StopRequested) as stopped, StopSignals() as signals:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises as soon as the signal is delivered
    assert signals.received == signal.SIGTERM and stopped.value.received == signal.SIGTERM
    assert {s: signal.getsignal(s) for s in before} == before
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ
    assert (exit_code(signal.SIGINT), exit_code(signal.SIGTERM)) == (130, 143)


@pytest.mark.slow
@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_the_driver_gracefully_and_the_rerun_resumes(
        tmp_path: Path, driver_cleanup: list[subprocess.Popen[str]], stop: signal.Signals, code: int) -> None:
    spec = write_spec(tmp_path, seeds=[0, 1], train=LONG)
    args = _run_args(spec, tmp_path, "--no-dashboard")
    driver = _start(args, tmp_path)
    driver_cleanup.append(driver)
    _wait_for(_midway, tmp_path, driver, "a trial ran past a checkpoint")
    driver.send_signal(stop)
    assert driver.wait(timeout=180) == code, _output(tmp_path)
    output = _output(tmp_path)
    assert f"stopped by {stop.name}" in output and "Traceback" not in output, output
    assert shlex.join(["sdssm-sweep", *args]) in output  # the exact command that resumes it
    stopped = {t.key: t for t in _trials(tmp_path)}
    assert TrialStatus.RUNNING not in {t.status for t in stopped.values()}
    interrupted = [t for t in stopped.values() if t.status == TrialStatus.INTERRUPTED]
    assert interrupted and any(t.checkpoint_path for t in interrupted), [(t.key, t.status) for t in stopped.values()]

    rerun = cli(*args, cwd=tmp_path, timeout=400)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    trials = _check_complete(tmp_path, LONG_STEPS)
    for t in interrupted:
        if t.checkpoint_path:  # continued from its checkpoint, not from step 0
            assert (trials[t.key].resumed_from_step or 0) > 0, t.key
    for key, t in stopped.items():  # trials finished before the signal were not trained again
        if t.status in DONE_STATUSES:
            assert (trials[key].finished_at, trials[key].attempts) == (t.finished_at, t.attempts)


def test_lease_keeper_heartbeats_and_notices_a_takeover(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "results.db"))
    lease = store.acquire_lease("tiny")
    lost = threading.Event()
    keeper = LeaseKeeper(store, lease, interval_s=0.2, on_lost=lost.set).start()
    try:
        first = lease.heartbeat_at
        deadline = time.monotonic() + 30
        while (live := store.live_lease("tiny")) is not None and live.heartbeat_at == first:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.1)
        assert live is not None and live.token == lease.token  # renewed, still ours
        other = Store(str(tmp_path / "results.db")).acquire_lease("tiny", stale_after_s=0)  # a takeover
        assert lost.wait(30), "the keeper did not notice the takeover"
        with pytest.raises(LeaseHeldError):
            keeper.check()
        assert (live := store.live_lease("tiny")) is not None and live.token == other.token
    finally:
        keeper.stop()


# --- a killed driver, its leftover Ray session, the lease ------------------------------------------------------

@pytest.mark.slow
def test_killed_driver_leftover_session_rerun_takes_over_and_resumes(
        tmp_path: Path, driver_cleanup: list[subprocess.Popen[str]], driver_cleanup_folders: list[Path]) -> None:
    # Ray's temp folder of our own (short: Ray's socket paths must fit 107 bytes), where the leftover
    # session file of the killed driver's Ray is written, as `ray start` or a killed Ray cluster leaves it.
    ray_tmp = Path(tempfile.mkdtemp(prefix="sdssm-ray-", dir="/tmp"))
    driver_cleanup_folders.append(ray_tmp)
    env = {"RAY_TMPDIR": str(ray_tmp)}
    spec = write_spec(tmp_path, seeds=[0, 1, 2], train=LONG, max_concurrent=1)
    args = _run_args(spec, tmp_path, "--no-dashboard")
    driver = _start(args, tmp_path, env)
    driver_cleanup.append(driver)
    _wait_for(lambda ts: any(t.status in DONE_STATUSES for t in ts) and _midway(ts), tmp_path, driver,
              "one trial done and the next past a checkpoint")
    tree = _process_tree(driver.pid)
    gcs = [(address, port) for _, name, address, port in _listening(tree) if name == "gcs_server"]
    assert gcs, _listening(tree)

    # SIGKILL the driver and every Ray process of it (as a reboot or the OOM killer would), then wait
    # until they are all gone.
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait(timeout=60)
    deadline = time.monotonic() + 120
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(tree), f"Ray processes of the killed driver still alive: {_alive(tree)}"
    (ray_tmp / "ray").mkdir(exist_ok=True)
    (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{gcs[0][1]}")
    killed = {t.key: t for t in _trials(tmp_path)}
    assert TrialStatus.RUNNING in {t.status for t in killed.values()}

    # `status` shows the dead driver's trial as stale, not running.
    status = cli("status", "--db", str(tmp_path / "results.db"), cwd=tmp_path)
    assert status.returncode == 0 and STALE in status.stdout, status.stdout + status.stderr

    # The same command again (with --num-cpus, which attaching to the leftover session refused).
    rerun = subprocess.run([sys.executable, "-m", "sdssm.cli", *args], cwd=tmp_path, text=True, capture_output=True,
                           timeout=450, env={**os.environ, **env})
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "took over" in rerun.stdout and f"pid {driver.pid}" in rerun.stdout, rerun.stdout
    trials = _check_complete(tmp_path, LONG_STEPS)
    for key, before in killed.items():
        if before.status in DONE_STATUSES:  # done once, never retrained
            assert (trials[key].finished_at, trials[key].attempts) == (before.finished_at, before.attempts)
        elif before.status == TrialStatus.RUNNING and before.checkpoint_path:
            assert (trials[key].resumed_from_step or 0) > 0, f"{key} did not resume from its checkpoint"


@pytest.mark.slow
def test_second_driver_is_refused_and_the_first_keeps_its_trials(
        tmp_path: Path, driver_cleanup: list[subprocess.Popen[str]]) -> None:
    spec = write_spec(tmp_path, seeds=[0, 1], train=LONG)
    args = _run_args(spec, tmp_path, "--no-dashboard")
    first = _start(args, tmp_path)
    driver_cleanup.append(first)
    before = _wait_for(lambda ts: any(t.status == TrialStatus.RUNNING and t.steps for t in ts), tmp_path, first,
                       "a trial of the first driver is under way")
    second = cli(*args, cwd=tmp_path, timeout=120)
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"pid {first.pid}" in second.stderr and socket.gethostname() in second.stderr, second.stderr
    assert "Traceback" not in second.stderr and second.stderr.count("error:") == 1
    after = {t.key: t for t in _trials(tmp_path)}
    for t in before:  # the first driver's live trials were not touched (not flipped back to pending)
        if t.status == TrialStatus.RUNNING:
            assert after[t.key].status != TrialStatus.PENDING and after[t.key].attempts == t.attempts
    assert first.wait(timeout=400) == 0, _output(tmp_path)
    trials = _check_complete(tmp_path, LONG_STEPS)
    assert all(t.attempts == 1 for t in trials.values())  # each trained once, by the first driver


# --- loopback ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_embedded_ray_listens_on_loopback_only(tmp_path: Path, driver_cleanup: list[subprocess.Popen[str]]) -> None:
    spec = write_spec(tmp_path, seeds=[0, 1], train=LONG)
    args = _run_args(spec, tmp_path)  # with the dashboard and its agents: every server Ray starts
    driver = _start(args, tmp_path)
    driver_cleanup.append(driver)
    _wait_for(lambda ts: any(t.status == TrialStatus.RUNNING and t.steps for t in ts), tmp_path, driver,
              "a trial is under way")
    listening = _listening(_process_tree(driver.pid))
    names = {name for _, name, _, _ in listening}
    assert {"gcs_server", "raylet"} <= names, listening  # the check sees Ray's servers
    exposed = [entry for entry in listening if not _is_loopback(entry[2])]
    assert not exposed, f"listening beyond the loopback: {exposed}"
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=180) == 130, _output(tmp_path)


# --- refused runs register nothing --------------------------------------------------------------------------------

def test_run_refused_by_a_live_lease_registers_nothing(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    spec = write_spec(tmp_path, seeds=[0, 1])
    holder = Store(str(db))
    lease = holder.acquire_lease("tiny")  # this test process is the live driver
    try:
        refused = cli(*_run_args(spec, tmp_path), cwd=tmp_path, timeout=120)
    finally:
        holder.release_lease(lease)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"pid {os.getpid()}" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    assert holder.sweep_names() == [] and holder.trials() == []


def test_run_refused_for_its_storage_folder_registers_nothing(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    spec = write_spec(tmp_path, seeds=[0])
    refused = cli("run", str(spec), "--db", str(tmp_path / "results.db"), "--storage", str(tmp_path / "a-file" / "ray"),
                  cwd=tmp_path, timeout=120)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--storage" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    store = Store(str(tmp_path / "results.db"), create=False)
    assert store.sweep_names() == [] and store.trials() == []
    assert not (tmp_path / "a-file" / "ray").exists()


# --- status -------------------------------------------------------------------------------------------------------

def _rendered(store: Store) -> str:
    console = Console(record=True, width=250)
    console.print(status_view(store, ["tiny"]))
    return console.export_text()


def test_status_shows_a_running_trial_without_a_live_driver_as_stale(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "results.db"))
    config = TrialConfig.from_dict({"task": "parity_check", "model": "sdssm", "seed": 0, **TINY_TRAIN})
    store.register_sweep("tiny", [config])
    store.mark_running(config.key)
    assert STALE in _rendered(store)  # no driver holds the sweep
    lease = store.acquire_lease("tiny")  # a live driver (this process) runs it
    try:
        shown = _rendered(store)
        assert STALE not in shown and "running" in shown
    finally:
        store.release_lease(lease)
    assert STALE in _rendered(store)
