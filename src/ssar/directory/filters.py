"""The SCIM filter and attribute-path language (RFC 7644 §3.4.2.2, §3.5.2), parsed into a small
syntax tree. Pure: the directory compiles the tree to SQL, SCIM PATCH evaluates it on values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssar.errors import ValidationFailed

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SSAR_USER = "urn:ssar:params:scim:schemas:extension:ssar:2.0:User"

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
Scalar = str | bool | int | float | None


class FilterError(ValidationFailed):
    """A filter or path that does not parse, or asks for what is not supported."""

    code = "invalid_filter"


@dataclass(frozen=True)
class Compare:
    attr: str  # normalised: see ``normalise_attr``
    op: str
    value: Scalar


@dataclass(frozen=True)
class Present:
    attr: str


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    inner: Filter


@dataclass(frozen=True)
class ValuePath:
    """``emails[type eq "work"]``: a filter on the values of a multi-valued attribute."""

    attr: str
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class AttrPath:
    """A PATCH path: ``attr``, ``attr.sub``, ``attr[filter]`` or ``attr[filter].sub``."""

    attr: str
    value_filter: Filter | None = None
    sub_attr: str | None = None


def normalise_attr(name: str) -> str:
    """Attribute names are case-insensitive; the core schema URN prefix is optional and the
    extension URNs are kept (lower-cased) so ``<urn>:employeeNumber`` stays distinct."""
    lowered = name.lower()
    for urn in (CORE_USER, CORE_GROUP):
        prefix = urn.lower() + ":"
        if lowered.startswith(prefix):
            return lowered[len(prefix) :]
    return lowered


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lpar>\() | (?P<rpar>\)) | (?P<lbr>\[) | (?P<rbr>\]) |
        (?P<string>"(?:[^"\\]|\\.)*") |
        (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:.$-])) |
        (?P<word>[A-Za-z$_][\w:.$-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"cannot read the filter at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append(_Token(kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenise(text)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def peek_word(self) -> str | None:
        token = self.peek()
        return token.text.lower() if token is not None and token.kind == "word" else None

    def take(self, kind: str) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind:
            found = token.text if token else "the end"
            raise FilterError(f"expected {kind} but found {found!r}")
        self.pos += 1
        return token

    def parse_or(self) -> Filter:
        node = self.parse_and()
        while self.peek_word() == "or":
            self.pos += 1
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Filter:
        node = self.parse_unary()
        while self.peek_word() == "and":
            self.pos += 1
            node = And(node, self.parse_unary())
        return node

    def parse_unary(self) -> Filter:
        token = self.peek()
        if token is not None and token.kind == "lpar":
            self.pos += 1
            node = self.parse_or()
            self.take("rpar")
            return node
        if self.peek_word() == "not":
            self.pos += 1
            self.take("lpar")
            node = self.parse_or()
            self.take("rpar")
            return Not(node)
        return self.parse_attr_expression()

    def parse_attr_expression(self) -> Filter:
        attr = normalise_attr(self.take("word").text)
        token = self.peek()
        if token is not None and token.kind == "lbr":
            self.pos += 1
            inner = self.parse_or()
            self.take("rbr")
            return ValuePath(attr, inner)
        op = self.peek_word()
        if op == "pr":
            self.pos += 1
            return Present(attr)
        if op not in COMPARE_OPS:
            raise FilterError(f"unknown operator {op!r} after {attr!r}")
        self.pos += 1
        return Compare(attr, op, self.parse_value())

    def parse_value(self) -> Scalar:
        token = self.peek()
        if token is None:
            raise FilterError("a comparison needs a value")
        self.pos += 1
        if token.kind == "string":
            value: Scalar = json.loads(token.text)
            return value
        if token.kind == "number":
            number = json.loads(token.text)
            assert isinstance(number, int | float)
            return number
        literal = {"true": True, "false": False, "null": None}
        if token.kind == "word" and token.text.lower() in literal:
            return literal[token.text.lower()]
        raise FilterError(f"{token.text!r} is not a value (strings are quoted)")

    def done(self) -> None:
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.tokens[self.pos].text!r} in the filter")


def parse_filter(text: str) -> Filter:
    if not text.strip():
        raise FilterError("the filter is empty")
    parser = _Parser(text)
    node = parser.parse_or()
    parser.done()
    return node


def parse_path(text: str) -> AttrPath:
    """Parse a PATCH ``path``. A schema URN prefix is kept on extension attributes."""
    text = text.strip()
    if not text:
        raise FilterError("the path is empty")
    if "[" not in text:
        lowered = normalise_attr(text)
        for urn in (ENTERPRISE_USER, SSAR_USER):
            if lowered.startswith(urn.lower() + ":"):
                return AttrPath(lowered)
        attr, _, sub = lowered.partition(".")
        return AttrPath(attr, None, sub or None)
    head, _, rest = text.partition("[")
    inner, sep, tail = rest.rpartition("]")
    if not sep or not head:
        raise FilterError(f"cannot read the path {text!r}")
    sub_attr = None
    if tail:
        if not tail.startswith("."):
            raise FilterError(f"cannot read the path {text!r}")
        sub_attr = tail[1:].lower()
    return AttrPath(normalise_attr(head), parse_filter(inner), sub_attr)


def _lookup(obj: Mapping[str, Any], attr: str) -> Any:
    head, _, rest = attr.partition(".")
    for key, value in obj.items():
        if key.lower() == head:
            if rest:
                return _lookup(value, rest) if isinstance(value, Mapping) else None
            return value
    return None


def _compare(actual: Any, op: str, expected: Scalar) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        a, e = actual.casefold(), expected.casefold()
        checks = {
            "eq": a == e,
            "ne": a != e,
            "co": e in a,
            "sw": a.startswith(e),
            "ew": a.endswith(e),
            "gt": a > e,
            "ge": a >= e,
            "lt": a < e,
            "le": a <= e,
        }
        return checks[op]
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return {"gt": actual > expected, "ge": actual >= expected}.get(
            op, {"lt": actual < expected, "le": actual <= expected}.get(op, False)
        )
    return False


def matches(node: Filter, obj: Mapping[str, Any]) -> bool:
    """Evaluate a filter on one value of a multi-valued attribute (``members``, ``emails``);
    string comparisons ignore case, as for SCIM attributes that are not ``caseExact``."""
    if isinstance(node, And):
        return matches(node.left, obj) and matches(node.right, obj)
    if isinstance(node, Or):
        return matches(node.left, obj) or matches(node.right, obj)
    if isinstance(node, Not):
        return not matches(node.inner, obj)
    if isinstance(node, Present):
        value = _lookup(obj, node.attr)
        return value not in (None, "", [], {})
    if isinstance(node, Compare):
        return _compare(_lookup(obj, node.attr), node.op, node.value)
    raise FilterError("nested value filters are not supported here")
