"""Rich tables that fit the terminal (80 columns and up) by choice, not by truncation.

A table that is wider than the console is fitted, in this order:
  1. headers much longer than every cell of their column (counts under 'diagonal+B/linear', say) are
     replaced by a short key, A, B, C, ..., the longest first and only as many as it takes, and a legend
     under the table says what each key stands for;
  2. every column may wrap its text instead of ending it in '…': at spaces, each column as wide as its
     longest word, where that fits; else mid-word (rich's 'fold'). No name is ever cut: it takes two lines.
A table that fits is printed as it is. `Fitted(table)` does this when printed, at the width it is printed
at (a live panel that is resized refits).
"""

from __future__ import annotations

import copy
import string
from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Column, Table
from rich.text import Text

_UNBOUNDED = 10_000
MIN_SPARE = 4  # a header is keyed only when it is this much wider than its column's cells ('seed' over '0' stays)


def fit_table(table: Table, width: int, console: Console, options: ConsoleOptions | None = None) -> Table:
    """`table` itself when it fits `width`, else a fitted copy (see the module docstring). `options`: those
    it will be rendered with (the console's by default)."""
    options = (options or console.options).update(no_wrap=False).update_width(_UNBOUNDED)  # natural widths (a measurement is capped at the width)
    if Measurement.get(console, options, table).maximum <= width:
        return table
    fitted = copy.deepcopy(table)
    for column in fitted.columns:  # text may wrap (at spaces where the words fit: _hold_words)
        column.overflow = "fold"
        column.no_wrap = False
        column.min_width = None
    # Headers at least MIN_SPARE wider than every cell of their column are keyed, the widest first, until
    # the table fits with its words whole (or no such header is left).
    spare = {id(column): _header_width(column) - _widest_cell(column, console, options) for column in fitted.columns}
    headers = {id(column): column.header for column in fitted.columns}
    keyed = set()
    for column in sorted(fitted.columns, key=lambda c: -spare[id(c)]):
        if spare[id(column)] < MIN_SPARE or _words_fit(fitted, width, console, options):
            break
        keyed.add(id(column))
        column.header = "XX"  # a key's width, while measuring
    _hold_words(fitted, width, console, options)
    legend = []
    for column, key in zip([c for c in fitted.columns if id(c) in keyed], _keys()):  # keys left to right
        legend.append(f"{key} = {_plain(headers[id(column)])}")
        column.header = key
    if legend:
        note = "columns: " + "; ".join(legend)
        caption = _plain(fitted.caption) if fitted.caption else ""
        fitted.caption = Text(f"{caption}\n{note}" if caption else note)  # literal: headers are user text
        fitted.caption_justify = "left"
    return fitted


def _words_fit(table: Table, width: int, console: Console, options: ConsoleOptions) -> bool:
    """The table renders at most `width` wide with every column as wide as its longest word."""
    fits = _hold_words(table, width, console, options)
    for column in table.columns:
        column.min_width = None
    return fits


def _hold_words(table: Table, width: int, console: Console, options: ConsoleOptions) -> bool:
    """Make every column as wide as its longest word where the table still fits `width` (rich would
    otherwise narrow the widest columns first and fold their words); False, and nothing held, where not."""
    for column in table.columns:
        cells = [column.header, *column.cells, *([column.footer] if column.footer else [])]
        column.min_width = max(Measurement.get(console, options, cell).minimum for cell in cells)
    lines = Segment.split_lines(console.render(table, options.update_width(width)))  # uncropped
    if max((Segment.get_line_length(line) for line in lines), default=0) <= width:
        return True
    for column in table.columns:
        column.min_width = None
    return False


def _plain(value: object) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def _header_width(column: Column) -> int:
    return len(_plain(column.header))


def _widest_cell(column: Column, console: Console, options: ConsoleOptions) -> int:
    cells = [*column.cells, column.footer] if column.footer else list(column.cells)
    return max((Measurement.get(console, options, cell).maximum for cell in cells), default=0)


class Fitted:
    """A table fitted to the width it is printed at."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Cells may wrap even on a soft-wrapping console (the CLI's: long log lines stay whole).
        options = options.update(no_wrap=False)
        yield from console.render(fit_table(self.table, options.max_width, console, options), options)


def _keys() -> Iterable[str]:
    """A, B, ..., Z, AA, AB, ..."""
    letters = string.ascii_uppercase
    yield from letters
    for first in letters:
        for second in letters:
            yield first + second
