"""Output for people (tables, progress) and for machines (JSON), shared by both CLIs."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_live: Progress | None = None
_live_bars = 0
_live_lock = threading.Lock()


# Above this size a document is written on one line: indenting takes json's pure-Python
# encoder, seconds for the per-deal credit of a hundred thousand deals.
INDENT_UP_TO = 1 << 20


def print_json(obj: Any) -> None:
    """One JSON document on stdout, for machines (indented unless it is large)."""
    text = json.dumps(obj, default=str)
    if len(text) <= INDENT_UP_TO:
        text = json.dumps(obj, indent=2, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], numbers: bool = False) -> None:
    """A table for people; ``numbers`` right-aligns every column after the first."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i and (numbers or _numeric(col)) else "left")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def _numeric(column: str) -> bool:
    return column.lower() in {"count", "rows", "accounts", "points", "overlap", "n"} or column.endswith("#")


def fail(message: str, code: int = 2) -> int:
    """Print one clear line on stderr and return the exit status to use."""
    err.print(f"error: {message}", markup=False)
    return code


@contextmanager
def progress(description: str, total: int, enabled: bool | None = None) -> Iterator[Any]:
    """A progress bar when stderr is a terminal; yields ``advance(n)``."""
    if total <= 0:
        yield lambda n: None
        return
    with _task(description, total, enabled) as advance:
        yield advance


@contextmanager
def working(description: str, enabled: bool | None = None) -> Iterator[None]:
    """A bar without a count (it pulses) while we wait on work done elsewhere, say the coordinator's job."""
    with _task(description, None, enabled):
        yield


class _Count(MofNCompleteColumn):
    """done/total, and nothing for a bar without a count (rather than "0/?")."""

    def render(self, task: Task) -> Text:
        return Text("") if task.total is None else super().render(task)


@contextmanager
def _task(description: str, total: int | None, enabled: bool | None) -> Iterator[Any]:
    if enabled is None:
        enabled = err.is_terminal
    if not enabled:
        yield lambda n: None
        return
    # One live display serves every bar: `attribution run` blinds the next agreement on the main thread
    # while the previous one uploads on another, and rich before 14 refuses a second live display on a
    # console (LiveError) while later versions stack them with ordering rules of their own.
    global _live, _live_bars
    with _live_lock:
        if _live is None:
            _live = Progress(
                TextColumn("{task.description}"), BarColumn(), _Count(), TimeRemainingColumn(), console=err, transient=True
            )
            _live.start()
        bar, _live_bars = _live, _live_bars + 1
        task = bar.add_task(description, total=total)
    try:
        yield lambda n: bar.advance(task, n)
    finally:
        with _live_lock:
            bar.remove_task(task)
            _live_bars -= 1
            if _live_bars == 0:
                bar.stop()
                _live = None
