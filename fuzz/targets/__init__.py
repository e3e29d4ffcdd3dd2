"""The harnesses by target name, and the packages atheris instruments for each (coverage feedback).

Our own packages are always instrumented; a target adds the third-party code whose branches its input
reaches (the PSL and IDNA code for keys, openpyxl for spreadsheets).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple


class Target(NamedTuple):
    module: str
    instrument: tuple[str, ...]


OURS = ("cleanroom", "cleanroom_client", "fuzz")
TARGETS: dict[str, Target] = {
    "readers": Target("fuzz.targets.readers", ("openpyxl",)),
    "keys": Target("fuzz.targets.keys", ("idna", "tldextract")),
    "terms": Target("fuzz.targets.terms", ()),
    "grpc": Target("fuzz.targets.grpc_calls", ()),
    "rest": Target("fuzz.targets.rest_calls", ("fastapi", "starlette")),
}


def check_of(name: str) -> Callable[[bytes], None]:
    """The harness's ``check`` (imports its target: call it inside atheris's instrumentation to get coverage)."""
    check: Callable[[bytes], None] = importlib.import_module(TARGETS[name].module).check
    return check
