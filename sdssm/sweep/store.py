"""The results store: SQLAlchemy 2 ORM over SQLite (default) or any other SQLAlchemy URL.

Contract (DESIGN.md):
- The sweep driver is the only writer; readers (`status`, `report`) may read at any time. SQLite runs
  in WAL mode with a busy timeout, so readers never see "database is locked".
- Writes are idempotent upserts: a trial row per trial key, a metric row per (trial key, step), a
  length-accuracy row per (trial key, length). A resumed trial that reports a step again overwrites it.
- The schema version lives in the `meta` table; a database without it is not ours and is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, delete, event, func, inspect, or_, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sdssm.config import TrialConfig
from sdssm.sweep.schema import (
    ACTIVE_STATUSES, DONE_STATUSES, SCHEMA_VERSION, Base, DriverLeaseRow, LengthAccuracy, Meta, Metric, Sweep,
    SweepTrial, Trial, TrialStatus,
)

__all__ = [
    "ACTIVE_STATUSES", "DEFAULT_DB_URL", "DONE_STATUSES", "SCHEMA_VERSION", "Store", "StoreError", "Trial",
    "TrialStatus", "distinct_task_labels", "mask_url", "normalize_url", "task_label", "task_label_of", "variant_of",
]

DEFAULT_DB_URL = "sqlite:///results/sdssm.db"


class StoreError(Exception):
    """The database cannot be used (bad URL, not ours, newer schema, unreadable file)."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def variant_of(config: TrialConfig) -> str:
    """The model row label used by reports: sdssm, diagonal+B, diagonal, rnn, lstm (readout apart)."""
    if config.model == "diagonal":
        return "diagonal+B" if config.use_b else "diagonal"
    return config.model


# Task labels: one label per task instance (a task and its parameters), the name the task gives itself
# (Task.name). Found without building the task (so without importing torch) where the name is known:
# a task without parameters is named as registered ('parity_check', 'D4'); Dn with n=7 is 'D7' and C2xCn
# with n=30 'C2xC30' (tasks/catalog.py); a user automaton has its spec's `name`. tests/analysis holds these
# to the registry. Any other parametrised task is built once (cached) to ask it.
_NAMED_BY_N = {"Dn": "D{n}", "C2xCn": "C2xC{n}"}


def task_label(task: str, params: Mapping[str, Any] | None = None) -> str:
    """The name of one task instance, as the task names itself: 'parity_check', 'D7' (Dn, n=7), 'C2xC30',
    a user automaton's `name` ('automaton' without one; the file's stem when given by path). Where the
    task cannot be built (unknown here, bad parameters): 'task(a=1,b=2)'. Not unique: a task may ignore a
    parameter in its name; distinct_task_labels tells instances apart."""
    params = dict(params or {})
    if not params:
        return task
    if task == "automaton":
        spec = params.get("spec")
        if isinstance(spec, Mapping) and spec.get("name") not in (None, ""):
            return str(spec["name"])
        if params.get("path"):
            return Path(str(params["path"])).stem
        return task
    n = params.get("n")
    if task in _NAMED_BY_N and set(params) == {"n"} and isinstance(n, int) and not isinstance(n, bool):
        return _NAMED_BY_N[task].format(n=n)
    return _registry_name(task, _canonical(params)) or task + _params_text(params)


@functools.lru_cache(maxsize=256)
def _registry_name(task: str, params_json: str) -> str | None:
    try:
        import tasks  # noqa: PLC0415 - torch; only for parametrised tasks the rules above do not name

        name = tasks.get(task, **json.loads(params_json)).name
    except Exception:  # noqa: BLE001 - unknown task, refused parameters, a registry being edited
        return None
    return str(name) if name else None


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _params_text(params: Mapping[str, Any]) -> str:
    return "(" + ",".join(f"{k}={'...' if isinstance(v, (dict, list)) else v}" for k, v in sorted(params.items())) + ")"


def distinct_task_labels(instances: Iterable[tuple[str, Mapping[str, Any] | None]]) -> list[str]:
    """task_label of each (task, params), unique per task instance (task and parameters), so a table never
    pools two instances into one column. Instances that share a name are told apart by their parameters,
    'flip_flop [p_write=0.3]', 'D4 [Dn n=4]' (D4 registered as such keeps 'D4'), or, for mapping-valued
    parameters (automata), by a short hash of them: 'automaton [3f2a9c]'."""
    pairs = [(task, dict(params or {})) for task, params in instances]
    labels = [task_label(task, params) for task, params in pairs]
    identities = [task + _canonical(params) for task, params in pairs]
    owners: dict[str, set[str]] = {}
    for label, identity in zip(labels, identities):
        owners.setdefault(label, set()).add(identity)
    out = []
    for label, identity, (task, params) in zip(labels, identities, pairs):
        if len(owners[label]) > 1 and (params or task != label):
            if any(isinstance(v, (dict, list)) for v in params.values()):
                label += f" [{_digest(identity)}]"
            else:
                where = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
                label += f" [{' '.join(part for part in (task if task != label else '', where) if part)}]"
        out.append(label)
    taken: dict[str, set[str]] = {}  # still shared (e.g. two tasks registered under one name): hash them
    for label, identity in zip(out, identities):
        taken.setdefault(label, set()).add(identity)
    return [label if len(taken[label]) == 1 else f"{label} [{_digest(identity)}]"
            for label, identity in zip(out, identities)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def task_label_of(config: TrialConfig) -> str:
    """Task column label of a trial (see task_label)."""
    return task_label(config.task, config.task_params)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite starts transactions only before writes, so a read of several tables would see several
    # snapshots. Take transaction control from it; _sqlite_begin emits BEGIN for reads and writes alike.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")  # wait for the writer rather than fail
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint of the WAL; fast
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _enable_wal(engine: Engine) -> None:
    """WAL: readers never block the writer, nor it them. It is a property of the file, so it is set
    only once the file is known to be ours (never on a database we refuse), outside any transaction."""
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA journal_mode=WAL")
    finally:
        raw.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


class Store:
    """All reads and writes of sweep results. Cheap to construct; the engine opens on first use,
    so a Store can be pickled (Ray Tune pickles the callback that holds one)."""

    def __init__(self, url: str = DEFAULT_DB_URL, *, create: bool = True) -> None:
        self.url = normalize_url(url)
        self.create = create
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "create": self.create, "_engine": None, "_sessions": None}

    # --- connection -------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._open()
            self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    def _open(self) -> Engine:
        url = make_url(self.url)
        is_sqlite = url.get_backend_name() == "sqlite"
        if is_sqlite and url.database and url.database != ":memory:":
            path = Path(url.database)
            if path.exists() and path.is_dir():
                raise StoreError(f"database path {path} is a directory, not a file")
            if not path.exists():
                if not self.create:
                    raise StoreError(f"no database at {path} (run a sweep first, or pass --db URL)")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from exc
        try:
            engine = create_engine(self.url, connect_args={"timeout": 60} if is_sqlite else {})
        except (ArgumentError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot use database URL {self.url!r}: {exc}") from exc
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        try:
            self._check_or_create_schema(engine)
            if is_sqlite:
                _enable_wal(engine)
        except (DatabaseError, OperationalError) as exc:
            engine.dispose()
            reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
            raise StoreError(f"cannot open database {self.url}: {reason}") from exc
        return engine

    def _check_or_create_schema(self, engine: Engine) -> None:
        tables = set(inspect(engine).get_table_names())
        if Meta.__tablename__ not in tables:
            if tables:
                raise StoreError(
                    f"{self.url} is not an sdssm-sweep database (it has tables {', '.join(sorted(tables)[:5])} "
                    "but no sdssm_meta table); point --db at a new file or an sdssm-sweep database")
            if not self.create:
                raise StoreError(f"{self.url} is empty: no sdssm-sweep results in it yet")
            with engine.begin() as connection:  # tables and version appear together, or not at all
                Base.metadata.create_all(connection)
                connection.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        with Session(engine) as session:
            row = session.get(Meta, "schema_version")
        version = int(row.value) if row is not None else None
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.url} has schema version {version}; this sdssm-sweep reads version "
                             f"{SCHEMA_VERSION}")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        _ = self.engine
        assert self._sessions is not None
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None

    # --- writes (the sweep driver) ----------------------------------------------------------
    def register_sweep(self, name: str, configs: Sequence[TrialConfig], *, description: str = "",
                       spec_path: str = "", spec_text: str = "") -> None:
        """Create or update a sweep and add its trials as pending (existing trials keep their state).

        The sweep's members become exactly `configs`: a trial no longer in the spec (an edited YAML) leaves
        the sweep, so its tables never show it; the trial itself and its results stay in the store (another
        sweep may share it, and putting it back in the spec finds it done)."""
        stamp = now()
        with self.session() as session:
            sweep = session.scalar(select(Sweep).where(Sweep.name == name))
            if sweep is None:
                sweep = Sweep(name=name, created_at=stamp)
                session.add(sweep)
            sweep.description, sweep.spec_path, sweep.spec_text, sweep.updated_at = (
                description, spec_path, spec_text, stamp)
            session.flush()
            existing = {key for chunk in _chunks([c.key for c in configs])
                        for key in session.scalars(select(Trial.key).where(Trial.key.in_(chunk)))}
            members = set(session.scalars(select(SweepTrial.trial_key).where(SweepTrial.sweep_id == sweep.id)))
            for config in configs:
                if config.key not in existing:
                    session.add(_new_trial(config, stamp))
                    existing.add(config.key)
            session.flush()  # trials before the memberships that reference them
            for position, config in enumerate(configs):
                if config.key not in members:
                    session.add(SweepTrial(sweep_id=sweep.id, trial_key=config.key, position=position))
                    members.add(config.key)
            wanted = {config.key for config in configs}
            for chunk in _chunks(sorted(members - wanted)):
                session.execute(delete(SweepTrial).where(SweepTrial.sweep_id == sweep.id,
                                                         SweepTrial.trial_key.in_(chunk)))

    def mark_running(self, key: str, *, node: str | None = None) -> None:
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status, trial.node, trial.error = TrialStatus.RUNNING, node or trial.node, None
            trial.attempts += 1
            trial.started_at = trial.started_at or now()
            trial.updated_at = now()

    def mark_attempt(self, key: str, *, node: str | None, start_step: int | None) -> None:
        """What the first report of an attempt tells: where it runs and the step it started from."""
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.node = node or trial.node
            trial.resumed_from_step = start_step

    def record_retry(self, key: str, error: str) -> None:
        """A failed attempt that Ray will retry from the trial's last checkpoint (the retry's start
        counts as the next attempt)."""
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status = TrialStatus.RUNNING
            trial.error = f"retrying after: {error}"
            trial.updated_at = now()

    def record_metrics(self, key: str, rows: Iterable[dict[str, Any]]) -> int:
        """Upsert periodic-evaluation rows keyed by (key, step); returns the number of rows written.

        On the hot path of the sweep callback (one call per reported evaluation), so it runs on
        SQLAlchemy Core: one executemany upsert and one conditional UPDATE in one transaction.
        """
        values = [{"trial_key": key, **{c: row.get(c) for c in _METRIC_COLUMNS}} for row in rows]
        if not values:
            return 0
        last = max(values, key=lambda v: v["step"])
        with self.engine.begin() as connection:
            _upsert(connection, Metric, values, index=("trial_key", "step"))
            connection.execute(_ADVANCE_TRIAL, {"b_key": key, "b_step": last["step"],
                                                "b_wall": last["wall_time_s"], "b_stamp": now()})
        return len(values)

    def record_checkpoint(self, key: str, path: str) -> None:
        with self.session() as session:
            _get_trial(session, key).checkpoint_path = path

    def record_final(self, key: str, *, status: TrialStatus | str, accuracy_by_length: Sequence[float] | None,
                     summary: dict[str, Any]) -> None:
        """The trial's outcome: status, final per-length accuracies (length 1 first) and summary numbers
        (steps, wall_time_s, solved_step, solved_wall_time_s, in_range_accuracy, beyond_accuracy).
        `status` is a TrialStatus or its value ('solved'); anything else raises ValueError."""
        try:
            status = TrialStatus(status)
        except ValueError:
            known = ", ".join(s.value for s in TrialStatus)
            raise ValueError(f"unknown status {status!r} (known: {known})") from None
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status = status
            for name in ("steps", "wall_time_s", "solved_step", "solved_wall_time_s", "in_range_accuracy",
                         "beyond_accuracy"):
                if name in summary:
                    setattr(trial, name, summary[name])
            trial.error = summary.get("error")
            trial.finished_at = trial.updated_at = now()
            if accuracy_by_length is not None:
                values = [{"trial_key": key, "length": i + 1, "accuracy": _finite(a)}
                          for i, a in enumerate(accuracy_by_length)]
                _upsert(session, LengthAccuracy, values, index=("trial_key", "length"))

    def record_failure(self, key: str, error: str) -> None:
        with self.session() as session:
            trial = _get_trial(session, key)
            trial.status, trial.error = TrialStatus.FAILED, error
            trial.finished_at = trial.updated_at = now()

    def reset_interrupted(self, keys: Iterable[str]) -> None:
        """Trials left running (a driver that died) or interrupted (a driver that was stopped) go back to
        pending before a rerun."""
        with self.session() as session:
            for chunk in _chunks(keys):
                session.execute(update(Trial).where(
                    Trial.key.in_(chunk), Trial.status.in_([TrialStatus.RUNNING, TrialStatus.INTERRUPTED])
                ).values(status=TrialStatus.PENDING))

    def mark_interrupted(self, trial_keys: Iterable[str]) -> int:
        """Those of the trials that are running become interrupted (their driver is stopping); returns how
        many did. Trials in any other status are left alone."""
        changed = 0
        with self.session() as session:
            for chunk in _chunks(trial_keys):
                result = session.execute(update(Trial).where(
                    Trial.key.in_(chunk), Trial.status == TrialStatus.RUNNING
                ).values(status=TrialStatus.INTERRUPTED, updated_at=now()))
                changed += result.rowcount or 0
        return changed

    def record_restore_note(self, trial_key: str, note: str) -> None:
        """How the trial's last attempt restored its checkpoint (or why it started afresh)."""
        with self.session() as session:
            _get_trial(session, trial_key).restore_note = note

    # --- reads ------------------------------------------------------------------------------
    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, TrialStatus]:
        with self.session() as session:
            if keys is None:
                return {key: status for key, status in session.execute(select(Trial.key, Trial.status))}
            return {key: status for chunk in _chunks(keys)
                    for key, status in session.execute(select(Trial.key, Trial.status).where(Trial.key.in_(chunk)))}

    def checkpoint_paths(self, keys: Iterable[str]) -> dict[str, str]:
        with self.session() as session:
            return {key: path for chunk in _chunks(keys) for key, path in session.execute(
                select(Trial.key, Trial.checkpoint_path).where(Trial.key.in_(chunk))) if path}

    def sweep_names(self) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(Sweep.name).order_by(Sweep.created_at)))

    def sweeps_by_last_run(self) -> list[str]:
        """Sweep names, the most recently run first (a rerun of an older sweep makes it the latest)."""
        with self.session() as session:
            return list(session.scalars(select(Sweep.name).order_by(Sweep.updated_at.desc(), Sweep.id.desc())))

    def peak_accuracies(self, keys: Iterable[str]) -> dict[str, float]:
        """Per trial, the highest beyond-training accuracy of its periodic evaluations (eval_samples
        strings per length): a peak, not the final evaluation the report uses. Trials without one are absent."""
        with self.session() as session:
            return {key: peak for chunk in _chunks(keys) for key, peak, _ in session.execute(
                _PEAKS.where(Metric.trial_key.in_(chunk))) if peak is not None}

    def trials(self, sweeps: Sequence[str] | None = None) -> list[Trial]:
        """Trials (detached ORM rows), of the named sweeps or all."""
        with self.session() as session:
            query = select(Trial).order_by(Trial.task, Trial.model, Trial.seed)
            if sweeps:
                query = query.where(Trial.key.in_(_member_keys(sweeps)))
            return list(session.scalars(query))

    def frames(self, sweeps: Sequence[str] | None = None,
               tables: Sequence[str] = ("trials", "metrics", "lengths")) -> dict[str, Any]:
        """pandas DataFrames for analysis, read in one transaction (a consistent snapshot):
        'memberships' always, plus the named `tables` among 'trials', 'metrics', 'lengths', and 'peaks'
        (key, peak_beyond_accuracy, n_evals: each trial's best periodic evaluation, see peak_accuracies)."""
        import pandas as pd

        models = {"trials": Trial, "metrics": Metric, "lengths": LengthAccuracy}
        unknown = set(tables) - set(models) - {"peaks"}
        if unknown:
            raise ValueError(f"unknown table(s) {', '.join(sorted(unknown))} (known: {', '.join(models)})")
        with self.session() as session:
            member_query = select(Sweep.name.label("sweep"), SweepTrial.trial_key.label("key")).join(
                SweepTrial, SweepTrial.sweep_id == Sweep.id)
            if sweeps:
                member_query = member_query.where(Sweep.name.in_(list(sweeps)))
            memberships = pd.DataFrame(session.execute(member_query).all(), columns=["sweep", "key"])
            frames = {"memberships": memberships}
            for name in tables:
                if name == "peaks":
                    query = _PEAKS.where(Metric.trial_key.in_(_member_keys(sweeps))) if sweeps else _PEAKS
                    frames[name] = pd.DataFrame(session.execute(query).all(),
                                                columns=["key", "peak_beyond_accuracy", "n_evals"])
                    continue
                table = models[name].__table__
                query = select(table)
                if sweeps:
                    key_column = table.c.key if name == "trials" else table.c.trial_key
                    query = query.where(key_column.in_(_member_keys(sweeps)))
                frames[name] = pd.DataFrame(session.execute(query).all(), columns=[c.name for c in table.columns])
        if "trials" in frames:
            frames["trials"]["config"] = frames["trials"]["config"].map(json.dumps)
            frames["trials"]["status"] = frames["trials"]["status"].map(str)  # plain values: 'solved'
        return frames


# A trial's step counter only moves forward (a resumed trial may report an old step again).
_ADVANCE_TRIAL = (
    update(Trial)
    .where(Trial.key == bindparam("b_key"), or_(Trial.steps.is_(None), Trial.steps <= bindparam("b_step")))
    .values(steps=bindparam("b_step"), wall_time_s=bindparam("b_wall"), updated_at=bindparam("b_stamp")))

_PEAKS = select(Metric.trial_key, func.max(Metric.beyond_accuracy), func.count(Metric.id)).group_by(Metric.trial_key)

_METRIC_COLUMNS = ("step", "loss", "train_accuracy", "in_range_accuracy", "beyond_accuracy", "wall_time_s")


def _member_keys(sweeps: Sequence[str]) -> Any:
    return select(SweepTrial.trial_key).join(Sweep, SweepTrial.sweep_id == Sweep.id).where(
        Sweep.name.in_(list(sweeps)))


def _chunks(keys: Iterable[str], size: int = 10_000) -> Iterator[list[str]]:
    """Keys in slices that stay under SQLite's bound-parameter limit (32,766) in an IN (...) clause;
    a sweep may have up to 100,000 trials."""
    keys = list(keys)
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


def _finite(value: float | None) -> float | None:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return float(value)


def _get_trial(session: Session, key: str) -> Trial:
    trial = session.get(Trial, key)
    if trial is None:
        raise KeyError(f"no trial {key} in the store (register its sweep first)")
    return trial


def _new_trial(config: TrialConfig, stamp: datetime) -> Trial:
    used = config.normalized()
    return Trial(
        key=config.key, config=config.to_dict(), task=config.task, task_label=task_label_of(config),
        model=config.model, readout=config.readout, variant=variant_of(config), seed=config.seed,
        lr=config.lr, weight_decay=config.weight_decay, k=used.get("k"), p=used.get("p"),
        state_size=config.state_size, query_token=config.query_token,
        train_max_length=config.train_max_length, test_max_length=config.test_max_length,
        status=TrialStatus.PENDING, attempts=0, updated_at=stamp)


def _upsert(connection: Session | Connection, model: type[Base], values: list[dict[str, Any]],
            index: tuple[str, ...]) -> None:
    """INSERT ... ON CONFLICT (index) DO UPDATE, executed as one executemany (SQLite, PostgreSQL);
    a select-then-insert-or-update loop on other backends."""
    dialect = connection.get_bind().dialect.name if isinstance(connection, Session) else connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        connection.execute(_upsert_statement(dialect, model, tuple(values[0]), index), values)
        return
    table = model.__table__
    for row in values:
        match = [table.c[c] == row[c] for c in index]
        if connection.execute(select(table).where(*match)).first() is None:
            connection.execute(table.insert().values(**row))
        else:
            connection.execute(table.update().where(*match).values(**row))


@functools.lru_cache(maxsize=32)
def _upsert_statement(dialect: str, model: type[Base], columns: tuple[str, ...], index: tuple[str, ...]) -> Any:
    """Built once per shape: constructing `excluded` costs more than executing the statement."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    statement = insert(model)
    updates = {c: statement.excluded[c] for c in columns if c not in index}
    return statement.on_conflict_do_update(index_elements=list(index), set_=updates)


def mask_url(url: str) -> str:
    """The URL with its password hidden ('postgresql://u:***@host/db'), for every message and report.
    Text that SQLAlchemy cannot parse (a bad port, say) still has any 'user:password@' masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1***@", url)


_PASSWORD = re.compile(r"(://[^:/@]*:)[^/]*@")


def normalize_url(url: str) -> str:
    """Accept a bare file path as shorthand for sqlite:///PATH, and make SQLite paths absolute
    (Ray trials chdir into their own folders)."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return f"sqlite:///{Path(parsed.database).expanduser().resolve()}"
    return url
