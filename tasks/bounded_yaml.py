"""Reading a user's YAML file with bounds, so no file makes us hang or run out of memory.

Three caps, each refused with a message that names it:
- MAX_FILE_BYTES: a file is read with one bounded `read(MAX_FILE_BYTES + 1)`; larger files, and anything
  that is not a regular file (/dev/zero, a pipe, a symlink to either), are refused before parsing.
- MAX_YAML_DEPTH: collections nested deeper (e.g. `[[[[...]]]]` 5,000 deep) are refused while composing,
  before Python's recursion limit is reached.
- MAX_YAML_NODES: the values a document stands for once every alias (`*name`) is expanded. Aliases are
  allowed (anchors and merge keys are handy in specs), but a "billion laughs" document, a few lines whose
  aliases repeat aliases, is refused while composing, before any object is built or walked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

__all__ = ["BoundedLoader", "BoundedYamlError", "MAX_FILE_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES",
           "read_bounded", "read_text"]

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a spec or automaton file; table1.yaml is about 3 KiB
MAX_YAML_DEPTH = 50  # nested collections; a spec uses about 6 (grid.task_params.spec.transitions.state)
MAX_YAML_NODES = 500_000  # values after alias expansion; 1 MiB of plain YAML holds about 350,000


class BoundedYamlError(ValueError):
    """A file we refuse to read or parse; the message says why without naming the file (callers do)."""


def read_text(path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of a regular file of at most MAX_FILE_BYTES bytes (symlinks followed).

    Raises BoundedYamlError for a missing, unreadable, non-regular, too large or non-UTF-8 file."""
    file = Path(path)
    try:
        mode = file.stat().st_mode
        if stat.S_ISDIR(mode):
            raise BoundedYamlError("is a directory")
        if not stat.S_ISREG(mode):
            raise BoundedYamlError("is not a regular file (a device, pipe or socket); give a YAML file")
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise BoundedYamlError(f"cannot be read ({err.strerror or err})") from None
    if len(data) > MAX_FILE_BYTES:
        raise BoundedYamlError(f"is larger than the cap of {MAX_FILE_BYTES:,} bytes (MAX_FILE_BYTES, 1 MiB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BoundedYamlError(f"cannot be read ({err}); expected a UTF-8 YAML file") from None


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses, while composing, nesting beyond MAX_YAML_DEPTH, documents that
    expand (aliases counted as often as they are used) to more than MAX_YAML_NODES values, and recursive
    aliases."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise yaml.composer.ComposerError(None, None, "an alias refers to a collection that contains "
                                                  "it (recursive aliases are not allowed)", mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than the cap of {MAX_YAML_DEPTH} levels (MAX_YAML_DEPTH)", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        else:
            size = 1
        if size > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"expands to more than the cap of {MAX_YAML_NODES:,} values (MAX_YAML_NODES), "
                "counting each alias (*name) as a copy of its anchor", mark)
        self._sizes[id(node)] = size
        return node


def read_bounded(path: str | os.PathLike[str], loader: type[BoundedLoader] = BoundedLoader) -> tuple[Any, str]:
    """(parsed data, text) of a YAML file within every cap above; BoundedYamlError (for the file) or
    yaml.YAMLError (for its content) otherwise."""
    text = read_text(path)
    return yaml.load(text, Loader=loader), text  # noqa: S506 - a SafeLoader subclass
