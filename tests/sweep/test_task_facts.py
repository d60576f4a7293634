"""Task facts in the store (schema version 3, issue 13 item 7): each task instance's commutativity and
number of classes are recorded when its trials are registered, so `report` never builds a task (no torch).
A version-2 database is read as it is (the facts then come from the task registry) and upgraded in place
by a writer. Each test on both backends (db_url, tests/sweep/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from analysis.load import load
from sdssm.config import TrialConfig
from sdssm.sweep.store import Store, TrialStatus, normalize_url

D4 = TrialConfig(task="D4", seed=0)
D7 = TrialConfig(task="Dn", task_params={"n": 7}, seed=0)
PARITY = TrialConfig(task="parity_check", seed=0)
SUMMARY = {"steps": 100, "wall_time_s": 1.0, "beyond_accuracy": 0.5, "in_range_accuracy": 1.0}


def registered(db_url: str) -> Store:
    store = Store(db_url)
    store.register_sweep("s", [D4, D7, PARITY])
    for config in (D4, D7, PARITY):
        store.record_final(config.key, status=TrialStatus.FINISHED, accuracy_by_length=[0.5] * 4, summary=SUMMARY)
    return store


def as_version_2(db_url: str) -> None:
    """What a database written before version 3 holds: the same tables without task_facts."""
    engine = create_engine(normalize_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE task_facts"))
        connection.execute(text("UPDATE sdssm_meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()


def test_registering_trials_records_their_task_facts(db_url: str) -> None:
    store = registered(db_url)
    assert store.version == 3
    assert store.task_facts() == {("D4", "{}"): (False, 8), ("Dn", '{"n": 7}'): (False, 14),
                                  ("parity_check", "{}"): (True, 2)}
    store.register_sweep("again", [D4])  # a task already recorded is not built again, nor duplicated
    assert len(store.task_facts()) == 3
    facts = load(Store(db_url, create=False), ["s"]).facts
    assert (facts["D4"].kind, facts["D7"].num_classes, facts["parity_check"].kind) == (
        "non-commutative", 14, "commutative")
    store.dispose()


def test_a_version_2_database_is_read_as_is_and_upgraded_by_a_writer(db_url: str) -> None:
    registered(db_url).dispose()
    as_version_2(db_url)
    reader = Store(db_url, create=False)
    assert reader.version == 2 and reader.task_facts() == {}
    facts = load(reader).facts  # from the task registry instead
    assert (facts["D4"].kind, facts["D7"].num_classes, facts["parity_check"].kind) == (
        "non-commutative", 14, "commutative")
    reader.dispose()
    assert Store(db_url, create=False).version == 2  # reading wrote nothing
    writer = Store(db_url)
    assert writer.version == 3
    assert writer.task_facts()[("Dn", '{"n": 7}')] == (False, 14)
    assert writer.statuses()[D4.key] == TrialStatus.FINISHED  # the trials are untouched
    writer.dispose()
    assert Store(db_url, create=False).version == 3


PROBE = """
import json, sys
from sdssm.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules, "ray": "ray" in sys.modules}))
"""


def report_imports(db: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, "report", "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_report_imports_neither_torch_nor_ray(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    registered(str(db)).dispose()
    assert report_imports(db, tmp_path / "report") == {"code": 0, "torch": False, "ray": False}
    as_version_2(str(db))  # without recorded facts, the registry (torch) answers
    assert report_imports(db, tmp_path / "report") == {"code": 0, "torch": True, "ray": False}
