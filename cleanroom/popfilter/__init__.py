"""Population filters: a small language over a file's columns, parsed by hand (never eval'd).

``Population.parse(name, text)`` checks the syntax; ``bind(header)`` checks the columns against a file's
header before any row is read, and gives a predicate over its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cleanroom.errors import FilterError
from cleanroom.popfilter.binding import Cells, Predicate, bind
from cleanroom.popfilter.nodes import Node, columns_of
from cleanroom.popfilter.parser import parse_filter

__all__ = ["Cells", "FilterError", "Population", "Predicate"]


@dataclass(frozen=True)
class Population:
    """A population defined by a filter: its name, the filter's text and syntax tree."""

    name: str
    text: str
    node: Node

    @classmethod
    def parse(cls, name: str, text: str) -> Population:
        return cls(name, text, parse_filter(text, f"population {name!r}"))

    def columns(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in columns_of(self.node)))

    def bind(self, header: Sequence[str]) -> Predicate:
        return bind(self.node, header, f"population {self.name!r}")
