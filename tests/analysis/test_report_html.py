"""`report --format html`: one self-contained page, checked as a person sees it in headless Chromium.

The database is the synthetic one (tests/analysis/synthetic.py, sweep "main") written through the store, with
a sweep description and one trial error holding markup, which the page must show as text and never run.
The browser tests skip when no Chromium can be started (tests/analysis/browser.py says why); with
SDSSM_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from analysis.html_report import trial_columns
from analysis.report import Report, build_report
from analysis.trials import trial_table
from sdssm.cli import main
from sdssm.sweep.store import Store, TrialStatus
from tests.analysis import expected as E
from tests.analysis.browser import start, unavailable_reason
from tests.analysis.synthetic import MAIN, P, Spec, cfg, write

DESCRIPTION = '<script>window.pwned = "description"</script> & <b>not bold</b>'
ERROR = '<img src="x" onerror="window.pwned = \'error\'"> boom'
EVIL = Spec(cfg(P, "lstm", seed=7), TrialStatus.FAILED, error=ERROR)  # shown in Failed trials
SPECS = [*MAIN, EVIL]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('html_db') / 'results.db'}")
    write(store, "main", SPECS)
    store.register_sweep("main", [spec.config for spec in SPECS], description=DESCRIPTION)
    return store


@pytest.fixture(scope="module")
def report(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Report:
    return build_report(store, ["main"], tmp_path_factory.mktemp("html_report"), "html", dpi=40)


@pytest.fixture(scope="module")
def html_path(report: Report) -> Path:
    return next(path for path in report.files if path.name == "report.html")


# --- the file, without a browser ---------------------------------------------------------------------
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_one_self_contained_file(report: Report, html_path: Path) -> None:
    assert [path.name for path in report.files[:2]] == ["report.md", "report.html"]
    assert "report.html" in report.text and "# SD-SSM sweep report" not in report.text  # an index is printed
    parser = _Tags()
    parser.feed(html_path.read_text(encoding="utf-8"))
    tags = parser.tags
    images = [attrs["src"] or "" for tag, attrs in tags if tag == "img"]
    plots = [path for path in report.files if path.suffix == ".png"]
    assert len(images) == len(plots) == 4  # three curves and the k x p heatmap, each embedded
    assert all(src.startswith("data:image/png;base64,") for src in images)
    references = [(tag, name, value) for tag, attrs in tags for name, value in attrs.items()
                  if name in ("src", "href", "action", "srcset", "poster", "data")]
    assert all(value and (value.startswith("data:") or value.startswith("#")) for _, _, value in references), \
        [r for r in references if not (r[2] or "").startswith(("data:", "#"))]
    assert [tag for tag, _ in tags if tag in ("link", "iframe", "object", "embed")] == []
    assert [attrs for tag, attrs in tags if tag == "script"] == [{}]  # one inline script, ours


def test_cli_svg_plots_embed_and_pdf_is_refused(store: Store, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pdf = tmp_path / "pdf"
    assert main(["report", "--db", store.url, "--out", str(pdf), "--format", "html", "--plot-format", "pdf"]) == 2
    error = capsys.readouterr().err
    assert "--format html embeds the plots" in error and "use --plot-format png or svg" in error
    assert "Traceback" not in error and not pdf.exists()  # refused before anything was written
    svg = tmp_path / "svg"
    assert main(["report", "--db", store.url, "--out", str(svg), "--format", "html", "--plot-format", "svg",
                 "--dpi", "40"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (svg / "report.html").read_text(encoding="utf-8").count('src="data:image/svg+xml;base64,') == 4


def test_trial_columns_show_the_swept_hyperparameters(store: Store) -> None:
    columns = {column.header: column for column in trial_columns(trial_table(store, ["main"]))}
    # task, model, then the fields that differ between trials (k, p, readout, lr), then the outcome
    assert list(columns) == ["task", "model", "k", "p", "readout", "lr", "seed", "status", "in-range %",
                             "beyond %", "peak %", "steps", "solved at step", "wall (s)", "key"]
    trials = trial_table(store, ["main"])
    lstm = list(trials["model"]).index("lstm")
    assert columns["k"].text[lstm] == "—" and columns["k"].values[lstm] is None  # LSTM reads no k
    assert columns["lr"].text[lstm] == "0.0001" and columns["lr"].values[lstm] == 1e-4
    assert sorted(v for v in columns["beyond %"].values if v is not None)[-1] == 100.0
    several = trial_columns(trials, several=True)
    assert several[0].header == "sweeps" and set(several[0].text) == {"main"}


# --- in the browser -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("SDSSM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SDSSM_REQUIRE_BROWSER=1 but no headless Chromium can be started: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    driver = start()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture()
def page(browser: Any, html_path: Path) -> Any:
    """The report freshly opened in the browser."""
    browser.get(html_path.as_uri())
    return browser


def _visible_rows(page: Any, table: Any = None) -> list[list[str]]:
    """The text of each shown body row of `table` (default: the all-trials table), cell by cell."""
    return page.execute_script(
        "return Array.from((arguments[0] || document.getElementById('trials')).tBodies[0].rows)"
        ".filter(r => !r.hidden).map(r => Array.from(r.cells).map(c => c.innerText))", table)


def _column(page: Any, header: str) -> int:
    headers = page.execute_script("return Array.from(document.querySelectorAll('#trials thead th'))"
                                  ".map(th => th.innerText.replace(/ [\\u25B2\\u25BC]$/, ''))")
    return headers.index(header)


def _click_header(page: Any, header: str) -> str:
    """Click a header of the all-trials table; returns its aria-sort afterwards."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    th = page.find_elements(By.CSS_SELECTOR, "#trials thead th")[_column(page, header)]
    th.find_element(By.TAG_NAME, "button").click()
    return str(th.get_attribute("aria-sort"))


def test_title_and_every_section(page: Any, report: Report) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    assert page.title == "SD-SSM sweep report"
    assert page.find_element(By.TAG_NAME, "h1").text == "SD-SSM sweep report"
    sections = re.findall(r"^## (.+)$", report.markdown, flags=re.MULTILINE)
    assert {"Claims", "Table 1: length generalization", "Failed trials"} <= set(sections)
    shown = [h.text for h in page.find_elements(By.TAG_NAME, "h2")]
    assert shown == [*sections, "All trials"]
    contents = [a.text for a in page.find_elements(By.CSS_SELECTOR, "nav a")]
    assert contents == shown
    assert "Trials: 22 (2 pending, 1 running, 4 solved, 9 finished, 2 diverged, 4 failed)" in page.find_element(
        By.TAG_NAME, "body").text


def test_tables_show_the_numbers(page: Any) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    table1 = page.find_element(By.XPATH, "//h2[@id='table-1-length-generalization']/following-sibling::table[1]")
    header = [th.text for th in table1.find_elements(By.CSS_SELECTOR, "thead th")]
    assert header == ["model", "parity_check†", "modular_arithmetic", "D4"]
    rows = {row[0]: row for row in _visible_rows(page, table1)}
    assert rows[E.SD][1:] == [E.TABLE1[(E.SD, task)][1] for task in E.TASKS]  # 100.0 (96.7 ± 5.8, n=3) ...
    assert rows[E.LSTM][1] == "failed"  # the trial this test adds
    trials = _visible_rows(page)
    assert len(trials) == len(SPECS) and page.find_element(By.ID, "trial-count").text == "22 of 22 trials"


def test_every_plot_is_drawn(page: Any) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    images = page.find_elements(By.TAG_NAME, "img")
    assert len(images) == 4
    for image in images:
        page.execute_script("arguments[0].scrollIntoView()", image)
        assert page.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
        assert image.is_displayed() and image.size["width"] > 50 and image.size["height"] > 50


def test_header_click_sorts_by_number_both_ways(page: Any) -> None:
    beyond = _column(page, "beyond %")
    assert _click_header(page, "beyond %") == "ascending"
    rows = _visible_rows(page)
    shown = [row[beyond] for row in rows if row[beyond] != "—"]
    assert shown == sorted(shown, key=float) != sorted(shown)  # 30.0 before 100.0: numbers, not text
    assert shown[0] == "30.0" and shown[-1] == "100.0"
    assert all(row[beyond] == "—" for row in rows[len(shown):])  # no value: last
    assert page.execute_script(  # the arrow a person sees beside the header
        "return getComputedStyle(document.querySelectorAll('#trials thead th button')[arguments[0]], '::after')"
        ".content", beyond) == '" ▲"'
    assert _click_header(page, "beyond %") == "descending"
    rows = _visible_rows(page)
    shown = [row[beyond] for row in rows if row[beyond] != "—"]
    assert shown == sorted(shown, key=float, reverse=True) and rows[-1][beyond] == "—"
    assert _click_header(page, "lr") == "ascending"  # another column: the previous one loses its arrow
    lr = _column(page, "lr")
    assert [float(row[lr]) for row in _visible_rows(page)] == sorted(spec.config.lr for spec in SPECS)
    assert page.execute_script("return document.querySelectorAll('#trials th[aria-sort]').length") == 1
    assert _click_header(page, "status") == "ascending"  # text columns sort as text
    status = _column(page, "status")
    assert [row[status] for row in _visible_rows(page)] == sorted(str(spec.status) for spec in SPECS)


def test_filter_keeps_matching_rows(page: Any) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    box = page.find_element(By.ID, "trial-filter")
    box.send_keys("parity SOLVED")
    rows = _visible_rows(page)
    assert len(rows) == 3 and all("parity_check" in row and "solved" in row for row in rows)
    assert page.find_element(By.ID, "trial-count").text == "3 of 22 trials"
    box.clear()
    box.send_keys(" ")  # clear() fires no input event; a space does, and matches everything
    assert len(_visible_rows(page)) == len(SPECS)


def test_user_text_is_shown_not_run(page: Any) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    description = page.find_element(By.CSS_SELECTOR, "p.description")
    assert description.text == f"main: {DESCRIPTION}"
    assert page.find_elements(By.CSS_SELECTOR, "p.description b, p.description script") == []
    failed = page.find_element(By.XPATH, "//h2[@id='failed-trials']/following-sibling::table[1]")
    assert ERROR in failed.text
    assert page.execute_script("return window.pwned === undefined")


def test_no_network_request_and_no_error(browser: Any, html_path: Path) -> None:
    browser.get_log("browser"), browser.get_log("performance")  # start from empty logs
    browser.get(html_path.as_uri())
    _click_header(browser, "steps")
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    requests = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
