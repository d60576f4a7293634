"""The report as one self-contained HTML page: what `sdssm-sweep report --format html` writes (report.html).

The page holds, in order: the markdown report's header, each sweep's description, a list of the sections,
every section of the markdown report (the same text and tables, rendered by markdown-it-py), the plots
embedded as data: URIs, and a table of all trials (analysis.trials.trial_table) that sorts when a column
header is clicked and narrows to the rows matching a filter box.

Nothing comes from outside the file, and text from the database or sweep files is shown, never run:
- markdown-it renders with raw HTML off, so '<script>' in an error message or a label is escaped text;
  links are off too, and an image is drawn only when it names one of this report's plot files;
- the all-trials table and the descriptions are escaped with the stdlib's html.escape;
- a Content-Security-Policy lets the page run only its own script (allowed by its SHA-256) and load images
  only from data: URIs: no request leaves the page, even if some text slipped through unescaped.
"""

from __future__ import annotations

import base64
import hashlib
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt
from markdown_it.token import Token

from analysis.cells import EMPTY, pct
from analysis.trials import OUTCOME_COLUMNS
from sdssm.config import ALL_MODEL_FIELDS, MODEL_FIELDS

__all__ = ["IMAGE_TYPES", "page", "trial_columns"]

IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}  # what an <img> shows (a PDF it cannot)
# Columns of trial_table that are not configuration fields, and fields the table shows in columns of their own.
_NOT_HYPERPARAMETERS = ("key", "sweeps", "task_label", "variant", *OUTCOME_COLUMNS, "task", "model", "seed")

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; color: #222; }
h1 { margin-top: 0; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; }
th { background: #f3f3f3; } tbody tr:nth-child(even) { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
code { background: #f3f3f3; padding: 0 0.2rem; }
blockquote { margin: 0.5rem 0; padding: 0.3rem 1rem; border-left: 4px solid #d80; background: #fff6e5; }
.description { white-space: pre-wrap; }
.scroll { overflow-x: auto; }
#trials th button { all: unset; cursor: pointer; }
#trials th[aria-sort=ascending] button::after { content: " \\25B2"; }
#trials th[aria-sort=descending] button::after { content: " \\25BC"; }
#trials td.number { text-align: right; font-variant-numeric: tabular-nums; }
"""

# The all-trials table: a click on a header sorts by that column (again: the other way), numbers by value
# (data-value), text by text; cells without a value go last either way. The filter keeps the rows whose text
# holds every word typed.
SCRIPT = """
"use strict";
(() => {
  const table = document.getElementById("trials");
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  const compare = (numeric) => (a, b) => numeric ? Number(a) - Number(b)
    : a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  headers.forEach((th, column) => th.querySelector("button").addEventListener("click", () => {
    const order = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    headers.forEach((other) => other.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", order);
    const byValue = compare(th.dataset.type === "number");
    const sign = order === "ascending" ? 1 : -1;
    const rows = Array.from(body.rows).sort((r, s) => {
      const a = r.cells[column].dataset.value, b = s.cells[column].dataset.value;
      if (a === undefined || b === undefined) return (a === undefined) - (b === undefined);
      return sign * byValue(a, b);
    });
    body.append(...rows);
  }));
  const filter = document.getElementById("trial-filter");
  const count = document.getElementById("trial-count");
  const show = () => {
    const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let shown = 0;
    for (const row of body.rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
      shown += row.hidden ? 0 : 1;
    }
    count.textContent = `${shown} of ${body.rows.length} trials`;
  };
  filter.addEventListener("input", show);
  show();
})();
"""


@dataclass
class Column:
    """One column of the all-trials table: its header, each row's text, and each row's sort value (a number
    for numeric columns, the text otherwise; None where the row has no value)."""

    header: str
    text: list[str]
    values: list[Any]
    numeric: bool


def page(markdown: str, images: Mapping[str, Path], trials: pd.DataFrame, descriptions: Mapping[str, str],
         several: bool = False) -> str:
    """The HTML page of a report: `markdown` (the report.md text), the plot files it names (`images`: file
    name -> path, PNG or SVG, embedded), the all-trials table of `trials` (analysis.trials.trial_table; a
    sweeps column when `several`), and each sweep's description (shown when not empty)."""
    md = MarkdownIt("js-default", {"html": False, "linkify": False}).disable(["link", "autolink"])
    md.add_render_rule("image", _image)
    env = {"images": {name: _data_uri(path) for name, path in images.items()}}
    tokens = md.parse(markdown, env)
    title = next((tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h1"),
                 "Sweep report")
    contents = _number_sections(tokens)
    first = next((i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"), len(tokens))
    sweeps = [f'<p class="description"><strong>{escape(name)}</strong>: {escape(text.strip())}</p>'
              for name, text in descriptions.items() if text.strip()]
    contents.append(("all-trials", "All trials"))
    toc = "".join(f'<li><a href="#{anchor}">{escape(text)}</a></li>' for anchor, text in contents)
    body = [md.renderer.render(tokens[:first], md.options, env), *sweeps,
            f'<nav aria-label="Sections"><ul>{toc}</ul></nav>', md.renderer.render(tokens[first:], md.options, env),
            _trials_section(trial_columns(trials, several))]
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    # Nothing loads from outside; the only script that runs is ours (markdown-it writes style="text-align")
    policy = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>", *body,
        f"<script>{SCRIPT}</script>", "</body>", "</html>", ""])


def _image(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    """markdown-it's image rule: one of the report's plots as an <img> with its data: URI; any other image
    (a name in some user text) as its alt text, so nothing is ever fetched."""
    token = tokens[idx]
    alt = escape(self.renderInlineAsText(token.children or [], options, env))
    uri = env["images"].get(str(token.attrGet("src")))
    return f'<img src="{uri}" alt="{alt}">' if uri else alt


def _data_uri(path: Path) -> str:
    kind = IMAGE_TYPES[path.suffix.lower()]
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _number_sections(tokens: list[Token]) -> list[tuple[str, str]]:
    """Give every h2 an id (its text as a slug, made unique); returns (id, text) for the list of sections."""
    contents: list[tuple[str, str]] = []
    used: set[str] = {"all-trials"}
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            text = tokens[i + 1].content
            anchor = slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
            n = 2
            while anchor in used:
                anchor, n = f"{slug}-{n}", n + 1
            used.add(anchor)
            token.attrSet("id", anchor)
            contents.append((anchor, text))
    return contents


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number_column(header: str, values: Sequence[Any], fmt: Any) -> Column:
    kept = [None if _missing(v) else float(v) for v in values]
    return Column(header, [EMPTY if v is None else fmt(v) for v in kept], kept, numeric=True)


def _text_column(header: str, values: Sequence[Any]) -> Column:
    kept = [None if _missing(v) or v == "" else str(v) for v in values]
    return Column(header, [EMPTY if v is None else v for v in kept], kept, numeric=False)


def _hyperparameter(trials: pd.DataFrame, name: str) -> Column:
    """A configuration field; blank (—) for trials whose model family does not read it."""
    values = [None if name in ALL_MODEL_FIELDS and name not in MODEL_FIELDS.get(str(model), (name,)) else value
              for value, model in zip(trials[name], trials["model"])]
    present = [v for v in values if not _missing(v)]
    if present and all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in present):
        return _number_column(name, values, lambda v: f"{v:g}")
    return _text_column(name, [str(v).lower() if isinstance(v, (bool, np.bool_)) else v for v in values])


def trial_columns(trials: pd.DataFrame, several: bool = False) -> list[Column]:
    """The all-trials table: sweeps (when several), task, model, then every configuration field whose value
    differs between the trials (the swept hyperparameters), seed, status, accuracies (%, final evaluation;
    peak: the best periodic one), steps, the step it solved at, training time and the trial key."""
    varying = [c for c in trials.columns if c not in _NOT_HYPERPARAMETERS and trials[c].astype(str).nunique() > 1]
    columns = [_text_column("sweeps", trials["sweeps"])] if several else []
    columns += [_text_column("task", trials["task_label"]), _text_column("model", trials["variant"])]
    columns += [_hyperparameter(trials, name) for name in varying]
    columns += [_number_column("seed", trials["seed"], lambda v: f"{v:.0f}"),
                _text_column("status", trials["status"])]
    for header, name in (("in-range %", "in_range_accuracy"), ("beyond %", "beyond_accuracy"),
                         ("peak %", "peak_beyond_accuracy")):
        columns.append(_number_column(header, 100 * pd.to_numeric(trials[name]), pct))
    columns += [_number_column("steps", trials["steps"], lambda v: f"{v:.0f}"),
                _number_column("solved at step", trials["solved_step"], lambda v: f"{v:.0f}"),
                _number_column("wall (s)", trials["wall_time_s"], lambda v: f"{v:.0f}"),
                _text_column("key", trials["key"])]
    return columns


def _trials_section(columns: list[Column]) -> str:
    n = len(columns[0].text) if columns else 0
    head = "".join(f'<th scope="col" data-type="{"number" if c.numeric else "text"}">'
                   f'<button type="button">{escape(c.header)}</button></th>' for c in columns)
    rows = []
    for i in range(n):
        cells = []
        for column in columns:
            value = column.values[i]
            attributes = ' class="number"' if column.numeric else ""
            if value is not None:
                attributes += f' data-value="{escape(repr(value) if column.numeric else value)}"'
            cells.append(f"<td{attributes}>{escape(column.text[i])}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return "\n".join([
        '<h2 id="all-trials">All trials</h2>',
        "<p>Every trial of the report, one row each. Click a column header to sort by it (again to reverse); "
        "type in the box to keep the rows holding every word. Accuracies in % of the final evaluation; "
        f"<em>peak</em>: the best periodic evaluation; {EMPTY}: no value, or a field the model does not read.</p>",
        '<p><label>Filter: <input id="trial-filter" type="search" placeholder="e.g. parity solved"></label> '
        '<span id="trial-count" aria-live="polite"></span></p>',
        f'<div class="scroll"><table id="trials"><thead><tr>{head}</tr></thead>',
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table></div>"])
