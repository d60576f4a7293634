"""Read back the pipe tables of a markdown report, by section heading (a test helper)."""

from __future__ import annotations

import re


def sections(text: str) -> dict[str, str]:
    """Heading text (without the #s) -> the body up to the next heading of any level."""
    out: dict[str, str] = {}
    heading, body = "", []
    for line in text.splitlines():
        if line.startswith("#"):
            out[heading] = "\n".join(body)
            heading, body = line.lstrip("#").strip(), []
        else:
            body.append(line)
    out[heading] = "\n".join(body)
    return out


def _cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [part.strip().replace("\\|", "|") for part in parts]


def tables(body: str) -> list[list[dict[str, str]]]:
    """Every pipe table in a section body, each as a list of {column: cell} rows."""
    found, block = [], []
    for line in body.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            header = _cells(block[0])
            found.append([dict(zip(header, _cells(row))) for row in block[2:]])
            block = []
    return found


def table(text: str, heading: str, index: int = 0) -> list[dict[str, str]]:
    return tables(sections(text)[heading])[index]


def row(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(hits) == 1, f"{len(hits)} rows match {match}: {rows}"
    return hits[0]
