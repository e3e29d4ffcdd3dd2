"""Run every harness (or those named) for a bounded time, one at a time, each in its own process.

    python -m fuzz.run_all [--seconds 30] [--only readers --only keys] [--seed 1] [--workdir DIR]

Exits 1 when any harness crashed (an exception escaped its ``check``, a hang over ``--timeout`` seconds on
one input, or memory over 2 GiB), printing the reproducer's path: replay it with
``python -m fuzz.harness TARGET PATH`` (runs that one input), fix the code, and add the input to
fuzz/corpus/TARGET/ as ``regression-<what>`` with a unit test. New inputs found go to a scratch corpus
in the work directory, never into the committed seeds. ``--seed 1`` (the default) makes a run repeat
the same mutations (a bounded run in CI then explores the same ground and does not flake); 0 draws one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.targets import TARGETS

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "fuzz" / "corpus"
DICTS = REPO / "fuzz" / "dicts"  # libFuzzer dictionaries: words a target's input is made of
ARTIFACTS = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")
# Per input: a real hang, not a slow machine (CI shares two cores with the rest of the suite).
TIMEOUT = 25


@dataclass
class Result:
    target: str
    returncode: int
    log: Path
    executions: int = 0
    per_second: int = 0
    artifacts: list[Path] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        return self.returncode != 0 or bool(self.artifacts)

    def summary(self) -> str:
        line = f"{self.target:8} {self.executions:>9,} executions, {self.per_second:>6,}/s"
        if not self.crashed:
            return line + ", no crash"
        found = ", ".join(str(a) for a in self.artifacts) or f"exit {self.returncode}, no reproducer written"
        return f"{line}, CRASHED: {found}\n  log: {self.log}"


def _stat(text: str, name: str) -> int:
    found = re.findall(rf"stat::{name}:\s*(\d+)", text)
    return int(found[-1]) if found else 0


def run(
    target: str, seconds: int, workdir: Path, seed: int = 1, timeout: int = TIMEOUT, seeds: Path | None = None, path: str = ""
) -> Result:
    """One harness for ``seconds`` (plus its start-up), in a process of its own.

    ``target``: a name in TARGETS (seeds from fuzz/corpus/TARGET) or an importable module with a
    ``check`` (then give ``seeds``, and ``path`` for PYTHONPATH if it is not on it)."""
    out = workdir / target
    scratch = out / "corpus"
    scratch.mkdir(parents=True, exist_ok=True)
    flags = [f"-max_total_time={seconds}", f"-seed={seed}", f"-timeout={timeout}", "-rss_limit_mb=2048"]
    flags += [f"-artifact_prefix={out}/", "-print_final_stats=1"]
    if (words := DICTS / f"{target}.dict").exists():
        flags.append(f"-dict={words}")
    command = [sys.executable, "-m", "fuzz.harness", target, *flags, str(scratch), str(seeds or CORPUS / target)]
    log = out / "fuzz.log"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # library deprecation notes would drown the report
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), path, os.environ.get("PYTHONPATH", "")) if p)
    # libFuzzer ends the process without Python's exit handlers: the harnesses' scratch files (a store,
    # the file being read) go in the work directory instead of piling up in /tmp.
    env["TMPDIR"] = str(out / "tmp")
    (out / "tmp").mkdir(exist_ok=True)
    with log.open("wb") as sink:
        try:
            code = subprocess.run(
                command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env=env, timeout=seconds + 180
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1  # libFuzzer did not stop on time: a hang it could not catch
    text = log.read_text(errors="replace")
    found = sorted(p for p in out.iterdir() if p.name.startswith(ARTIFACTS))
    return Result(target, code, log, _stat(text, "number_of_executed_units"), _stat(text, "average_exec_per_sec"), found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "30")), help="per harness")
    parser.add_argument("--only", action="append", choices=sorted(TARGETS), help="this harness (repeatable); default all")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's seed; 0 draws one")
    parser.add_argument("--workdir", type=Path, help="where logs, found inputs and reproducers go (kept)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cleanroom-fuzz-"))
    results = []
    for target in args.only or list(TARGETS):
        result = run(target, args.seconds, workdir, args.seed)
        print(result.summary(), flush=True)
        results.append(result)
    if any(r.crashed for r in results):
        print(f"fuzzing found a crash; reproduce with: python -m fuzz.harness TARGET REPRODUCER (work dir {workdir})")
        return 1
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
