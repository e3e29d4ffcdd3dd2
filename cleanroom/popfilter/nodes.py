"""The syntax tree of a population filter: what the parser builds and the binder checks."""

from __future__ import annotations

from dataclasses import dataclass

Value = str | float  # a quoted string or bare word, or a number


@dataclass(frozen=True)
class Compare:
    """``column op value``: ``op`` is one of = != < <= > >= contains."""

    column: str
    op: str
    value: Value
    at: int  # 1-based position of the column name in the filter text (for errors)


@dataclass(frozen=True)
class In:
    """``column [not] in (value, ...)``."""

    column: str
    values: tuple[Value, ...]
    negated: bool
    at: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


Node = Compare | In | Not | And | Or


def columns_of(node: Node) -> list[tuple[str, int]]:
    """Every column the filter names, with its position, in order of appearance."""
    if isinstance(node, (Compare, In)):
        return [(node.column, node.at)]
    if isinstance(node, Not):
        return columns_of(node.operand)
    return columns_of(node.left) + columns_of(node.right)
