"""Free-mail and disposable e-mail domains: shared by many people, never a company.

The lists live in data files next to the package (one registrable domain a
line) so they can be reviewed and extended without touching code.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def _load(name: str) -> frozenset[str]:
    text = resources.files("cleanroom_client").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_freemail(registrable: str) -> bool:
    return registrable in _load("freemail.txt")


def is_disposable(registrable: str) -> bool:
    return registrable in _load("disposable.txt")
