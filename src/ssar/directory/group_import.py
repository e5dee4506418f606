"""Reading a groups CSV (``name,parent``) and ordering it: which groups to create, parents first,
and which nestings to keep so that no cycle is made. Pure (no database): the service imports.

One row per nesting: a group in several parents has several rows; an empty ``parent`` makes a
top-level group. Parents may come after their children in the file. A nesting that would close a
cycle (with the rows before it or with the nesting already stored) is refused with its line.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from ssar.directory.models import ImportRowError, clean_group_name
from ssar.directory.names import group_key
from ssar.errors import ValidationFailed

COLUMNS = ("name", "parent")


@dataclass(frozen=True)
class GroupImportRow:
    line: int
    name: str
    parent: str | None


@dataclass(frozen=True)
class GroupImportResult:
    created: int  # groups made
    existing: int  # groups named in the file that were there already
    nested: int  # nestings made
    already_nested: int  # nestings in the file that were there already
    errors: tuple[ImportRowError, ...] = ()

    @property
    def rejected(self) -> int:
        return len(self.errors)


def read_groups_csv(stream: TextIO) -> Iterator[GroupImportRow | ImportRowError]:
    """Yield a validated row or the reason a row was rejected, with its line number.

    Raises ValidationFailed before yielding anything when the header is unusable."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("the file is empty; the first line names the columns") from None
    columns = [c.strip().lower().lstrip("\ufeff") for c in header]
    if sorted(columns) != sorted(COLUMNS):
        raise ValidationFailed(
            f"bad header {','.join(columns)!r}: the columns are name,parent", field="header"
        )
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(columns):
            yield ImportRowError(line, None, f"expected 2 fields, found {len(values)}")
            continue
        record = dict(zip(columns, values, strict=True))
        try:
            name = clean_group_name(record["name"])
            parent = clean_group_name(record["parent"]) if record["parent"].strip() else None
        except ValidationFailed as exc:
            yield ImportRowError(line, record["name"].strip() or None, exc.detail)
            continue
        if parent is not None and group_key(parent) == group_key(name):
            yield ImportRowError(line, name, "a group cannot be nested in itself")
            continue
        yield GroupImportRow(line, name, parent)


def parents_first(names: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """``names`` (keys) ordered so that every parent comes before its children, otherwise in the
    given order; ``edges`` are (parent, child) keys and must not form a cycle among ``names``."""
    position = {n: i for i, n in enumerate(names)}
    children: dict[str, list[str]] = defaultdict(list)
    waiting = dict.fromkeys(names, 0)
    for parent, child in edges:
        if parent in position and child in position:
            children[parent].append(child)
            waiting[child] += 1
    ready = [n for n in names if waiting[n] == 0]
    ordered: list[str] = []
    while ready:
        batch, ready = ready, []
        for name in batch:
            ordered.append(name)
            for child in children[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        ready.sort(key=position.__getitem__)
    if len(ordered) != len(names):
        raise ValueError("the nesting has a cycle")
    return ordered


def acyclic_nestings(
    stored: Iterable[tuple[str, str]], wanted: Sequence[tuple[int, str, str]]
) -> tuple[list[tuple[int, str, str]], list[int]]:
    """Split ``wanted`` nestings (line, parent, child) into those to keep and the lines refused
    because they would close a cycle, given the ``stored`` (parent, child) nestings (acyclic).

    The usual file has no cycle: one topological pass over everything proves it. Only when that
    fails are the rows checked one by one in file order, so the first row to close a cycle is the
    one refused."""
    stored = list(stored)
    nodes = list(dict.fromkeys([n for e in stored for n in e] + [n for w in wanted for n in w[1:]]))
    try:
        parents_first(nodes, [*stored, *((p, c) for _, p, c in wanted)])
        return list(wanted), []
    except ValueError:
        pass
    children: dict[str, set[str]] = defaultdict(set)
    for parent, child in stored:
        children[parent].add(child)
    kept: list[tuple[int, str, str]] = []
    refused: list[int] = []
    for line, parent, child in wanted:
        if _reaches(children, start=child, target=parent):
            refused.append(line)
            continue
        children[parent].add(child)
        kept.append((line, parent, child))
    return kept, refused


def _reaches(children: dict[str, set[str]], *, start: str, target: str) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == target:
            return True
        for child in children.get(node, ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return False
