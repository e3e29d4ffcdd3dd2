"""Run one harness under atheris: ``python -m fuzz.harness TARGET [libFuzzer flags] [corpus dirs or files]``.

libFuzzer stops at the first crash (an exception escaping ``check``), writes the input to
``-artifact_prefix`` as ``crash-<sha1>`` (``timeout-``/``oom-`` for hangs and memory) and exits non-zero.
Corpus directories: new inputs go to the first one, so pass a scratch directory before the committed
seeds (run_all.py does).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable

import atheris

from fuzz.targets import OURS, TARGETS, check_of


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit(f"usage: python -m fuzz.harness {{{','.join(TARGETS)}|MODULE}} [libFuzzer flags] [corpus dirs]")
    name = argv[1]
    if name in TARGETS:
        with atheris.instrument_imports(include=[*OURS, *TARGETS[name].instrument]):
            check = check_of(name)
    else:  # any importable module with a check(data) (the runner's own test uses one that crashes on purpose)
        with atheris.instrument_imports(include=[name]):
            check = importlib.import_module(name).check
    atheris.Setup([argv[0], *argv[2:]], _aborting(check))
    atheris.Fuzz()


def _aborting(check: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``check``, ending the process with SIGABRT on a crash, which libFuzzer catches to write the input.

    atheris's own way out is exit(): with DuckDB's threads about, exit can hang in their teardown until
    libFuzzer's timer kills the process, and the reproducer is never written.
    """

    def guarded(data: bytes) -> None:
        try:
            check(data)
        except BaseException:
            print("\n=== crash: an exception escaped the harness ===", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
            os.abort()

    return guarded


if __name__ == "__main__":
    main(sys.argv)
