"""Output helpers (cleanroom/terminal/console.py): progress bars that may overlap, JSON for machines."""

from __future__ import annotations

import io
import json
import threading

from rich.console import Console

from cleanroom.terminal import console


def test_progress_bars_may_overlap_across_threads(monkeypatch):
    # `attribution run` shows a blinding bar on the main thread while an upload bar runs on another:
    # both go in one live display (rich < 14 refuses a second one), which ends with the last bar.
    monkeypatch.setattr(console, "err", Console(file=io.StringIO(), force_terminal=True, width=100))
    started, release, errors = threading.Event(), threading.Event(), []

    def upload() -> None:
        try:
            with console.progress("uploading", 10, enabled=True) as advance:
                started.set()
                release.wait(5)
                advance(10)
        except Exception as exc:  # whatever the thread raises is the test's failure
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=upload)
    thread.start()
    started.wait(5)
    with console.progress("blinding", 5, enabled=True) as advance:
        advance(5)
        assert console._live is not None and len(console._live.tasks) == 2
    release.set()
    thread.join(5)
    assert errors == []
    assert console._live is None and console._live_bars == 0


def test_print_json_indents_small_documents_and_not_large_ones(capsys):
    console.print_json({"a": [1, 2]})
    small = capsys.readouterr().out
    assert small.startswith("{\n  ") and json.loads(small) == {"a": [1, 2]}
    big = {"deals": [{"ref": i, "credits": {"p": "1.00"}} for i in range(60_000)]}
    console.print_json(big)
    text = capsys.readouterr().out
    assert text.count("\n") == 1 and json.loads(text) == big


def test_working_shows_a_countless_bar_on_a_terminal_and_nothing_elsewhere(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=screen, force_terminal=True, width=100))
    with console.working("crediting 98,002 deals", enabled=True):
        (task,) = console._live.tasks
        assert task.description == "crediting 98,002 deals" and task.total is None
    assert console._live is None and console._live_bars == 0
    quiet = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=quiet, force_terminal=False, width=100))
    with console.working("crediting"):  # not a terminal: no display at all
        assert console._live is None
    assert quiet.getvalue() == ""
