"""`sdssm-sweep` bad input: one clear message, exit code 2, no traceback, nothing started."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from sdssm.cli import COMMANDS, main
from sdssm.config import TrialConfig
from sdssm.sweep.store import Store
from tests.sweep.conftest import write_spec


def _foreign_sqlite(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    return path


def _text_file(path: Path) -> Path:
    path.write_text("this is not a database\n" * 100)
    return path


def _newer_schema(path: Path) -> Path:
    store = Store(str(path))
    store.register_sweep("s", [TrialConfig()])
    store.dispose()
    # The last connection to close checkpoints the WAL into the file: closed here, so the bytes the test
    # compares are final (an open connection left behind once made them change later, at its GC).
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE sdssm_meta SET value = '99' WHERE key = 'schema_version'")
    return path


@pytest.mark.parametrize("make_db, message", [
    (_foreign_sqlite, "is not an sdssm-sweep database"),
    (_text_file, "cannot open database"),
    (_newer_schema, "has schema version 99"),
])
@pytest.mark.parametrize("command", ["run", "status", "report"])
def test_a_database_that_is_not_ours_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                make_db, message: str, command: str) -> None:
    db = make_db(tmp_path / "other.db")
    before = db.read_bytes()
    args = [command, "--db", str(db)]
    if command == "run":
        args.insert(1, str(write_spec(tmp_path)))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert db.read_bytes() == before  # untouched


@pytest.mark.parametrize("args, message", [
    (["validate", "missing.yaml"], "missing.yaml: no such file"),
    (["run", "missing.yaml"], "missing.yaml: no such file"),
    (["status", "--db", "{tmp}/none.db"], "no database at"),
    (["report", "--db", "{tmp}/none.db"], "no database at"),
    (["run", "{spec}", "--num-cpus", "0", "--db", "{tmp}/r.db"], "--num-cpus must be >= 1"),
    (["run", "{spec}", "--db", "{tmp}"], "is a directory"),
    (["run", "{spec}", "--db", "nosuchdialect://x/y"], "cannot use database URL"),
    (["status", "--db", "{tmp}/r.db", "--sweep", "nope"], "no sweep named nope"),
    (["report", "--db", "{tmp}/r.db", "--sweep", "nope"], "nope"),
])
def test_bad_arguments_give_one_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    args: list[str], message: str) -> None:
    Store(str(tmp_path / "r.db")).register_sweep("tiny", [TrialConfig()])
    spec = write_spec(tmp_path)
    args = [a.format(tmp=tmp_path, spec=spec) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_validate_prints_the_expansion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write_spec(tmp_path, seeds=[0, 1, 2]))]) == 0
    assert "is valid: 3 trials" in capsys.readouterr().out


def test_help_answers_questions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--db", "--storage", "--address", "--cpu-only", "RAY_ADDRESS", "resumes"):
        assert flag in out


def test_report_reads_the_sweep_run_last_unless_told(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.db")
    store = Store(db)
    store.register_sweep("first", [TrialConfig(seed=1)])
    store.register_sweep("second", [TrialConfig(seed=2)])
    out = str(tmp_path / "report")
    assert main(["report", "--db", db, "--out", out]) == 0
    assert "**Sweeps:** `second` (the sweep run most recently" in capsys.readouterr().out
    assert main(["report", "--db", db, "--out", out, "--sweep", "first", "second"]) == 0
    text = capsys.readouterr().out
    assert "**Sweeps:** `first`, `second`" in text and "never pools trials of different sweeps" in text
    assert main(["report", "--db", db, "--out", out, "--all-sweeps"]) == 0
    assert "(every sweep in the database)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--db", db, "--sweep", "first", "--all-sweeps"])
    assert exit_info.value.code == 2


def test_version_and_every_subcommands_help_names_its_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("sdssm-sweep ")
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        assert "xit codes" in text and "2 bad input" in text, name
