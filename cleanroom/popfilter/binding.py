"""A parsed filter bound to a file's header: a predicate over that file's rows.

Binding checks every column the filter names against the header (case-insensitive) before a row is
read. Evaluating a row compares its cells: strings case-insensitively with surrounding spaces ignored;
a number literal compares numerically, and a cell that is not a number (other than an empty one) is a
type mismatch, raised naming the column, the row and the value. An empty cell is not a number: a
numeric =, <, <=, >, >= with it is false (and != true).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from cleanroom.errors import FilterError
from cleanroom.popfilter.nodes import And, Compare, In, Node, Not, Or, Value, columns_of

Cells = Sequence[str | None]
Predicate = Callable[[Cells, int], bool]  # (a row's cells in header order, its 1-based data row) -> in the population
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def header_key(name: str) -> str:
    """How a filter names a column of the header: case and surrounding spaces (and a byte-order mark) do not matter."""
    return name.replace("\ufeff", "").strip().casefold()


def cell_number(text: str) -> float | None:
    """The number a non-empty cell holds ("1000", "1,000", "-2.5", "1e6"), or None when it holds none."""
    text = text.strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _Binder:
    def __init__(self, header: Sequence[str], where: str) -> None:
        self._where = where
        self._index: dict[str, int] = {}
        repeated: set[str] = set()
        for i, name in enumerate(header):
            key = header_key(name)
            if key in self._index:
                repeated.add(key)
            self._index.setdefault(key, i)
        self._repeated = repeated
        self._header = list(header)

    def column(self, name: str, at: int) -> int:
        key = header_key(name)
        if key in self._repeated:
            raise FilterError(f"{self._where}: position {at}: column {name!r} appears more than once in the file's header")
        if key not in self._index:
            shown = ", ".join(repr(h) for h in self._header[:12]) + (" ..." if len(self._header) > 12 else "")
            raise FilterError(f"{self._where}: position {at}: column {name!r} is not in the file (its columns: {shown})")
        return self._index[key]

    def bind(self, node: Node) -> Predicate:
        # Both sides always: a type mismatch on the right must not depend on the left (another party's filter
        # could otherwise stop our map only on the row of an account it targets; that stall would tell it).
        if isinstance(node, And):
            left, right = self.bind(node.left), self.bind(node.right)
            return lambda cells, row: all([left(cells, row), right(cells, row)])
        if isinstance(node, Or):
            left, right = self.bind(node.left), self.bind(node.right)
            return lambda cells, row: any([left(cells, row), right(cells, row)])
        if isinstance(node, Not):
            inner = self.bind(node.operand)
            return lambda cells, row: not inner(cells, row)
        if isinstance(node, In):
            return self._in(node)
        return self._compare(node)

    def _number(self, column: str, cell: str, row: int) -> float | None:
        if not cell.strip():
            return None
        value = cell_number(cell)
        if value is None:
            raise FilterError(
                f"{self._where}: column {column!r} is compared with a number, but row {row} holds {cell.strip()[:40]!r}, "
                "which is not a number (compare it with a quoted string instead)"
            )
        return value

    def _equals(self, column: str, value: Value) -> Callable[[str, int], bool]:
        if isinstance(value, float):
            return lambda cell, row: self._number(column, cell, row) == value
        wanted = value.strip().casefold()
        return lambda cell, row: cell.strip().casefold() == wanted

    def _in(self, node: In) -> Predicate:
        i = self.column(node.column, node.at)
        tests = [self._equals(node.column, v) for v in node.values]
        negated = node.negated
        return lambda cells, row: any(t(_cell(cells, i), row) for t in tests) != negated

    def _compare(self, node: Compare) -> Predicate:
        i, column, value, op = self.column(node.column, node.at), node.column, node.value, node.op
        if op == "contains":
            needle = str(value).strip().casefold()
            return lambda cells, row: needle in _cell(cells, i).casefold()
        if op in ("=", "!="):
            equals, negated = self._equals(column, value), op == "!="
            return lambda cells, row: equals(_cell(cells, i), row) != negated
        assert isinstance(value, float)  # the parser accepts only numbers after < <= > >=
        compare = _ORDER[op]

        def ordered(cells: Cells, row: int) -> bool:
            number = self._number(column, _cell(cells, i), row)
            return number is not None and compare(number, value)

        return ordered


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _cell(cells: Cells, i: int) -> str:
    return (cells[i] if i < len(cells) else None) or ""


def bind(node: Node, header: Sequence[str], where: str) -> Predicate:
    """``node`` as a predicate over rows of a file with this header; FilterError naming a missing column first."""
    binder = _Binder(header, where)
    for column, at in columns_of(node):
        binder.column(column, at)
    return binder.bind(node)
