"""Fixtures: the synthetic results database of tests/analysis/synthetic.py, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.report import FORMATS, Report, build_report
from sdssm.sweep.store import Store
from tests.analysis.synthetic import EXTRA, MAIN, write


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("analysis_db") / "results.db"
    store = Store(f"sqlite:///{path}")
    write(store, "main", MAIN)
    write(store, "extra", EXTRA)
    store.dispose()
    return f"sqlite:///{path}"


@pytest.fixture()
def store(db_url: str) -> Store:
    return Store(db_url, create=False)


@pytest.fixture(scope="session")
def reports(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The report of sweep 'main' in markdown, CSV and JSON, each in its own folder (the HTML page has its
    own database and tests: test_report_html.py)."""
    store = Store(db_url, create=False)
    return {fmt: build_report(store, ["main"], tmp_path_factory.mktemp(f"report_{fmt}"), fmt)
            for fmt in FORMATS if fmt != "html"}
