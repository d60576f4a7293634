"""The store's own API, each test on both backends (db_url: a new SQLite file and a new PostgreSQL
database, tests/sweep/conftest.py), the way Optuna tests its storages; then URL handling."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from sdssm import train
from sdssm.config import TrialConfig
from sdssm.sweep.schema import DriverLeaseRow
from sdssm.sweep.store import (
    DONE_STATUSES, LeaseHeldError, Store, StoreError, TrialStatus, mask_url, normalize_url, now,
)

SUMMARY = {"steps": 4000, "wall_time_s": 1.0, "beyond_accuracy": 0.5, "in_range_accuracy": 1.0}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.dispose()


def test_an_edited_spec_drops_removed_trials_from_the_sweep_but_keeps_their_results(store: Store) -> None:
    kept, dropped = TrialConfig(seed=0), TrialConfig(seed=1, max_steps=4000)
    store.register_sweep("s", [kept, dropped])
    store.register_sweep("other", [dropped])
    store.mark_running(dropped.key, node="n")
    store.record_final(dropped.key, status=TrialStatus.FINISHED, accuracy_by_length=[0.5] * 500, summary=SUMMARY)
    replacement = dropped.replace(max_steps=3000)
    store.register_sweep("s", [kept, replacement])  # the YAML's budget was edited
    members = store.frames(["s"], tables=())["memberships"]
    assert sorted(members["key"]) == sorted([kept.key, replacement.key])
    assert list(store.frames(["other"], tables=())["memberships"]["key"]) == [dropped.key]
    trials = {t.key: t for t in store.trials()}
    assert trials[dropped.key].status == TrialStatus.FINISHED  # its result stays in the store
    store.register_sweep("s", [kept, dropped])  # and putting it back finds it done
    assert {t.key: t.status for t in store.trials(["s"])}[dropped.key] == TrialStatus.FINISHED


def test_metrics_are_upserts_per_trial_and_step_and_the_step_counter_only_moves_forward(store: Store) -> None:
    config = TrialConfig(seed=0)
    store.register_sweep("s", [config])
    store.register_sweep("s", [config])  # registering again changes nothing
    assert store.statuses() == {config.key: TrialStatus.PENDING}
    store.mark_running(config.key, node="n1")
    store.record_metrics(config.key, [{"step": s, "loss": 1.0, "beyond_accuracy": 0.5, "wall_time_s": s / 10}
                                      for s in (100, 200, 300)])
    # A resumed attempt (from the checkpoint at step 200) reports 300 again, with other numbers.
    store.record_metrics(config.key, [{"step": 300, "loss": 0.25, "beyond_accuracy": 0.75, "wall_time_s": 9.0}])
    store.record_metrics(config.key, [{"step": 200, "loss": 0.5, "beyond_accuracy": 0.6, "wall_time_s": 8.0}])
    metrics = store.frames(["s"], tables=("metrics",))["metrics"].sort_values("step")
    assert list(metrics["step"]) == [100, 200, 300]
    assert list(metrics["loss"]) == [1.0, 0.5, 0.25]
    (trial,) = store.trials(["s"])
    assert (trial.steps, trial.attempts, trial.status) == (300, 1, TrialStatus.RUNNING)
    assert store.peak_accuracies([config.key]) == {config.key: 0.75}
    store.record_final(config.key, status="solved", accuracy_by_length=[1.0, float("nan"), 0.5],
                       summary=SUMMARY | {"solved_step": 300})
    store.record_final(config.key, status="solved", accuracy_by_length=[1.0, 0.9, 0.5], summary=SUMMARY)
    lengths = store.frames(["s"], tables=("lengths",))["lengths"].sort_values("length")
    assert list(lengths["accuracy"]) == [1.0, 0.9, 0.5]
    frame = store.frames(["s"], tables=("trials",))["trials"]
    assert list(frame["status"]) == ["solved"] and type(frame["status"][0]) is str  # plain values for pandas
    with pytest.raises(ValueError, match="unknown status 'done' .*pending, running, interrupted"):
        store.record_final(config.key, status="done", accuracy_by_length=None, summary={})


def test_a_rerun_skips_done_trials_and_resumes_interrupted_running_and_failed_ones(store: Store) -> None:
    configs = {status: TrialConfig(seed=i) for i, status in enumerate(TrialStatus)}
    store.register_sweep("s", list(configs.values()))
    for status, config in configs.items():
        if status != TrialStatus.PENDING:
            store.mark_running(config.key)
        if status in DONE_STATUSES:
            store.record_final(config.key, status=status, accuracy_by_length=None, summary=SUMMARY)
        elif status == TrialStatus.FAILED:
            store.record_failure(config.key, "boom")
    running = [configs[TrialStatus.RUNNING].key, configs[TrialStatus.INTERRUPTED].key]
    # Only running trials become interrupted; a pending, done or failed one is left alone.
    assert store.mark_interrupted([c.key for c in configs.values()]) == 2
    assert store.mark_interrupted(running) == 0
    statuses = store.statuses()
    assert statuses[configs[TrialStatus.RUNNING].key] == TrialStatus.INTERRUPTED
    assert {statuses[configs[s].key] for s in DONE_STATUSES} == DONE_STATUSES
    assert statuses[configs[TrialStatus.FAILED].key] == TrialStatus.FAILED
    # What a rerun trains (runner.plan): everything not done; interrupted trials start over as pending.
    todo = [key for key, status in statuses.items() if status not in DONE_STATUSES]
    assert sorted(todo) == sorted(configs[s].key for s in TrialStatus if s not in DONE_STATUSES)
    store.reset_interrupted(todo)
    after = store.statuses(todo)
    assert {after[key] for key in running} == {TrialStatus.PENDING}
    assert after[configs[TrialStatus.FAILED].key] == TrialStatus.FAILED


def test_trainer_outcomes_are_trial_statuses() -> None:
    # One enum from the trainer to the store's column (sdssm/trial_status.py has no SQL, so train.py uses it).
    assert all(isinstance(s, TrialStatus) for s in (train.SOLVED, train.FINISHED, train.DIVERGED))
    assert {train.SOLVED, train.FINISHED, train.DIVERGED} <= DONE_STATUSES


def test_a_restore_note_is_stored_with_its_trial(store: Store) -> None:
    config = TrialConfig(seed=0)
    store.register_sweep("s", [config])
    store.record_restore_note(config.key, "restored from step 200 (checkpoint_000002)")
    assert store.trials(["s"])[0].restore_note == "restored from step 200 (checkpoint_000002)"
    with pytest.raises(KeyError, match="no trial nope"):
        store.record_restore_note("nope", "x")


# --- the driver lease ---------------------------------------------------------------------------------------

def test_one_live_driver_per_sweep(store: Store) -> None:
    lease = store.acquire_lease("s")
    assert (lease.pid, lease.took_over_from) == (os.getpid(), None)
    live = store.live_lease("s")
    assert live is not None and (live.token, live.host, live.pid) == (lease.token, lease.host, lease.pid)
    other = Store(store.url)  # a second driver, its own connections
    try:
        with pytest.raises(LeaseHeldError) as refused:
            other.acquire_lease("s")
        message = str(refused.value)
        assert f"host {lease.host}, pid {lease.pid}, running since {lease.since:%Y-%m-%dT%H:%M}" in message
        assert "Wait for it to finish, or stop it" in message
        assert "secret" not in message
        assert other.acquire_lease("another sweep").sweep == "another sweep"  # leases are per sweep
        store.renew_lease(lease)
        store.release_lease(lease)
        assert store.live_lease("s") is None
        assert other.acquire_lease("s").took_over_from is None  # a released lease is simply free
    finally:
        other.dispose()


def test_a_stale_lease_is_taken_over_and_its_old_holder_cannot_renew_it(store: Store) -> None:
    old = store.acquire_lease("s")
    _age(store, "s", seconds=45)
    assert store.live_lease("s") is None  # older than the 30 s default
    new = store.acquire_lease("s")
    assert new.token != old.token
    assert new.took_over_from is not None and f"pid {old.pid}" in new.took_over_from
    assert "last heartbeat 45 s ago" in new.took_over_from
    with pytest.raises(LeaseHeldError, match="lost its lease on sweep 's'.*another driver holds it now"):
        store.renew_lease(old)
    store.release_lease(old)  # the old holder's release leaves the new lease alone
    assert store.live_lease("s") is not None
    store.renew_lease(new)
    _age(store, "s", seconds=10)
    with pytest.raises(LeaseHeldError):  # 10 s old is live under the default
        store.acquire_lease("s")
    assert store.acquire_lease("s", stale_after_s=5).took_over_from is not None


def test_a_lease_of_a_process_of_this_host_that_is_gone_is_taken_over_at_once(store: Store) -> None:
    lease = store.acquire_lease("s")
    dead_pid = _dead_pid()
    with store._begin() as connection:
        connection.execute(update(DriverLeaseRow).where(DriverLeaseRow.sweep == "s").values(pid=dead_pid))
    assert store.acquire_lease("s").took_over_from.startswith(f"host {lease.host}, pid {dead_pid}")


def test_two_drivers_racing_for_a_lease_get_exactly_one(store: Store) -> None:
    stores = [Store(store.url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    won, refused = [], []

    def race(racer: Store) -> None:
        _ = racer.engine  # connect before the start line
        barrier.wait()
        try:
            won.append(racer.acquire_lease("s"))
        except LeaseHeldError as error:
            refused.append(error)

    for round_ in range(2):  # a fresh lease (INSERT), then a takeover of a stale one (conditional UPDATE)
        won.clear(), refused.clear()
        threads = [threading.Thread(target=race, args=(racer,)) for racer in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert (len(won), len(refused)) == (1, len(stores) - 1), (round_, refused)
        assert (won[0].took_over_from is not None) == (round_ == 1)
        _age(store, "s", seconds=60)
    for racer in stores:
        racer.dispose()


def test_the_drivers_threads_write_side_by_side(store: Store) -> None:
    """The driver writes from two threads (the Tune callback and the lease heartbeat). A read-then-write
    transaction racing the other thread's commits once failed at once with "database is locked" on SQLite
    (a deferred transaction cannot upgrade a stale read snapshot; it failed a real end-to-end sweep)."""
    configs = [TrialConfig(seed=seed) for seed in range(4)]
    store.register_sweep("s", configs)
    lease = store.acquire_lease("s")
    errors: list[str] = []

    def heartbeat() -> None:
        for _ in range(200):
            try:
                store.renew_lease(lease)
            except Exception as exc:  # noqa: BLE001 - any error fails the test below
                errors.append(repr(exc))
                return

    def attempts() -> None:
        for i in range(200):
            try:
                store.mark_attempt(configs[i % 4].key, node="n", start_step=i)
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=heartbeat), threading.Thread(target=attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _age(store: Store, sweep: str, *, seconds: float) -> None:
    """Make the sweep's lease look as if its last heartbeat were `seconds` ago."""
    with store._begin() as connection:
        connection.execute(update(DriverLeaseRow).where(DriverLeaseRow.sweep == sweep).values(
            heartbeat_at=now() - timedelta(seconds=seconds)))


def _dead_pid() -> int:
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


# --- readers beside the writer, schema versions -------------------------------------------------------------

def test_a_reader_reads_while_the_driver_writes(store: Store) -> None:
    configs = [TrialConfig(seed=i) for i in range(4)]
    store.register_sweep("s", configs)
    reader = Store(store.url, create=False)
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for step in range(1, 61):
                for config in configs:
                    store.record_metrics(config.key, [{"step": step * 10, "loss": 1 / step, "wall_time_s": step}])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    try:
        while not done.is_set() or reads < 3:
            frames = reader.frames(["s"], tables=("trials", "metrics"))
            steps = frames["metrics"].groupby("trial_key")["step"].max()
            trial_steps = dict(zip(frames["trials"]["key"], frames["trials"]["steps"]))
            for key, step in steps.items():  # one snapshot: the trial row never lags its metrics
                assert trial_steps[key] == step
            reads += 1
            time.sleep(0.01)
    finally:
        writer.join(timeout=120)
        reader.dispose()
    assert not errors, errors
    assert reads >= 3


def test_a_database_of_another_schema_version_is_refused(db_url: str) -> None:
    store = Store(db_url)
    assert store.sweep_names() == []  # creates the schema
    store.dispose()
    engine = create_engine(normalize_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE sdssm_meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"has schema version 1; this sdssm-sweep reads versions 2, 3"):
        _ = Store(db_url).engine


# --- URLs ---------------------------------------------------------------------------------------------------

def test_mask_url_hides_passwords_also_in_urls_sqlalchemy_cannot_parse() -> None:
    assert mask_url("postgresql+psycopg://ann:s3cret@db.example:5432/runs") == (
        "postgresql+psycopg://ann:***@db.example:5432/runs")
    assert mask_url("postgresql://ann:s3cr@t@localhost:notaport/runs") == "postgresql://ann:***@localhost:notaport/runs"
    assert mask_url("sqlite:////tmp/r.db") == "sqlite:////tmp/r.db"
    assert mask_url("results/r.db") == "results/r.db"


def test_plain_postgresql_urls_use_psycopg() -> None:
    for scheme in ("postgresql", "postgres"):
        assert normalize_url(f"{scheme}://ann:pw@host/runs") == "postgresql+psycopg://ann:pw@host/runs"
    assert normalize_url("postgresql+psycopg2://ann:pw@host/runs") == "postgresql+psycopg2://ann:pw@host/runs"


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://ann:s3cret@localhost:notaport/runs",
     r"cannot parse database URL postgresql://ann:\*\*\*@localhost:notaport/runs: its port 'notaport' is not a "
     r"number; expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DBNAME"),
    ("postgresql://ann:s3cret@127.0.0.1:1/runs",
     r"cannot open database postgresql\+psycopg://ann:\*\*\*@127.0.0.1:1/runs: connection failed: .*refused"),
    ("postgresql+psycopg2://ann:s3cret@127.0.0.1:1/runs",
     r"its driver is not installed \(No module named 'psycopg2'\); for PostgreSQL: "
     r"pip install 'sdssm-sweep\[postgres\]'"),
    ("sqlite:///r.db?mode=ro", r"SQLite URL sqlite:///r.db\?mode=ro has query option\(s\) mode, which SQLite "
                               r"ignores without uri=true"),
    ("nosuchdb://x/y", r"cannot use database URL nosuchdb://x/y: Can't load plugin"),
])
def test_a_bad_url_is_one_store_error_without_the_password(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as error:
        _ = Store(url).engine
    assert "s3cret" not in str(error.value)


def test_sqlite_uri_parameters_are_honoured_with_uri_true(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    writer = Store("sqlite:///r.db")
    writer.register_sweep("s", [TrialConfig(seed=0)])
    writer.dispose()
    for url in ("sqlite:///r.db?mode=ro&uri=true", "sqlite:///file:r.db?mode=ro&uri=true"):
        read_only = Store(url, create=False)
        assert read_only.url == f"sqlite:///file:{tmp_path / 'r.db'}?mode=ro&uri=true"
        assert read_only.sweep_names() == ["s"]  # read the existing file, not a new one elsewhere
        with pytest.raises(StoreError, match=r"attempt to write a readonly database; the file or its folder "
                                             r"is read-only \(or the URL says mode=ro\)"):
            read_only.register_sweep("t", [TrialConfig(seed=1)])
        read_only.dispose()
    with pytest.raises(StoreError, match="no database at .*missing.db"):
        _ = Store("sqlite:///missing.db?mode=ro&uri=true").engine
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["r.db"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway; mode=ro above covers the path")
def test_a_read_only_sqlite_file_or_folder_is_one_store_error(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    Store(f"sqlite:///{path}").register_sweep("s", [TrialConfig(seed=0)])
    for leftover in tmp_path.glob("r.db-*"):
        leftover.unlink()
    path.chmod(0o444)
    with pytest.raises(StoreError, match="readonly"):
        Store(f"sqlite:///{path}").register_sweep("t", [TrialConfig(seed=1)])
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    with pytest.raises(StoreError, match=f"cannot create database {folder / 'new.db'}: its folder {folder} is not "
                                         "writable"):
        _ = Store(f"sqlite:///{folder / 'new.db'}").engine


@pytest.mark.parametrize("url", ["postgresql://ann:s3cret@localhost:notaport/runs",
                                 "postgresql://ann:s3cret@127.0.0.1:1/runs", "sqlite:///r.db?mode=ro"])
def test_the_cli_turns_a_bad_url_into_one_line_and_exit_2(url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from sdssm.cli import main  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)
    for command in (["status"], ["report", "--out", str(tmp_path / "report")]):
        assert main([*command, "--db", url]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("error: ") and "Traceback" not in captured.err
        assert "s3cret" not in captured.out + captured.err
    assert not list(tmp_path.iterdir())  # nothing was created
