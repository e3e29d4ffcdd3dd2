"""Reading an accounts export with and without the row cache (issue 14 item 1): cold, warm, warm after 1% changed.

    .venv/bin/python benchmarks/read_bench.py [--rows 1000000] [--data DIR] [--check] [--json]

Generates (not timed) a synthetic Salesforce export of ``--rows`` accounts (the demo's generator: messy
websites, duplicates, free-mail and junk keys, so ~1.2 rows per account), then times ``load_accounts`` as
``map`` calls it (``keep_fields=False``):

- uncached: no cache (the Python CSV reader, every row normalised);
- cold: with an empty cache (every row normalised, the cache written);
- warm: the same file again;
- warm, 1% changed: 0.5% of rows added, 0.3% removed, 0.2% with another stage (the file is rewritten, not timed).

Peak RSS is the benchmark process's over all the runs (each run's result is dropped before the next).
``--check`` also loads the changed file without a cache and checks the cached result is identical.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from cleanroom.demo.synth import _Pair
from cleanroom.demo.synth_files import write_rows
from cleanroom.demo.synth_vocab import SALESFORCE_HEADERS
from cleanroom_client.inputs.accounts import LoadResult, RowCache, load_accounts

SEED = 11


def generate(path: Path, accounts: int) -> None:
    pair = _Pair(accounts, 1000, 500, SEED)
    write_rows(pair.vendor_rows(), pair.truth.vendor_rows, SALESFORCE_HEADERS, path, "csv")


def change_one_percent(source: Path, target: Path) -> dict[str, int]:
    """Rewrite ``source`` with 0.5% of rows added (new companies), 0.3% removed and 0.2% moved to another stage."""
    rand = random.Random(SEED)
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    n = len(rows)
    website, stage = header.index("Website"), header.index("Type")
    removed = set(rand.sample(range(n), n * 3 // 1000))
    restaged = rand.sample(sorted(set(range(n)) - removed), n * 2 // 1000)
    for i in restaged:
        rows[i][stage] = "Customer" if rows[i][stage] != "Customer" else "Prospect"
    kept = [r for i, r in enumerate(rows) if i not in removed]
    for k in range(n * 5 // 1000):
        new = list(rows[rand.randrange(n)])
        new[website] = f"https://www.new-company-{k}.example-{k % 97}.com/"
        kept.insert(rand.randrange(len(kept) + 1), new)
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(kept)
    return {"rows_before": n, "added": n * 5 // 1000, "removed": len(removed), "restaged": len(restaged), "rows_after": len(kept)}


class Run(NamedTuple):
    rows: int
    normalised: int
    seconds: float
    cpu: float  # CPU seconds of every thread of the process (Arrow and DuckDB use both cores)
    digest: str  # of everything the load returned: two loads are equal when their digests are


def timed(load: Callable[[], LoadResult]) -> Run:
    """Time one load; the result is reduced to a digest so that no run holds a million accounts while the next is timed."""
    start, cpu = time.perf_counter(), time.process_time()
    result = load()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    digest = hashlib.sha256()
    for x in result.accounts:
        digest.update(repr((x.rows, x.keys, x.populations, x.name, x.domain)).encode())
    digest.update(repr((result.rejected, result.rows_read)).encode())
    return Run(result.rows_read, result.normalised, seconds, cpu, digest.hexdigest())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="accounts in the generated export (default 1,000,000)")
    parser.add_argument("--data", type=Path, help="keep the generated files here (default: a temporary directory)")
    parser.add_argument("--check", action="store_true", help="also check the cached result on the changed file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.data or Path(tempfile.mkdtemp(prefix="read_bench-"))
    work.mkdir(parents=True, exist_ok=True)
    export, changed = work / f"accounts-{args.rows}.csv", work / f"accounts-{args.rows}-changed.csv"
    if not export.exists():
        generate(export, args.rows)
    edits = change_one_percent(export, changed)
    cache = RowCache(work / "cache" / "rows.bin")
    cache.path.unlink(missing_ok=True)
    runs: dict[str, Run] = {}
    runs["uncached"] = timed(lambda: load_accounts(export, keep_fields=False))
    runs["cold (cache written)"] = timed(lambda: load_accounts(export, keep_fields=False, cache=cache))
    runs["warm"] = timed(lambda: load_accounts(export, keep_fields=False, cache=cache))
    runs["warm, 1% changed"] = timed(lambda: load_accounts(changed, keep_fields=False, cache=cache))
    report: dict[str, Any] = {
        "rows": {name: r.rows for name, r in runs.items()},
        "seconds": {name: round(r.seconds, 2) for name, r in runs.items()},
        "cpu_seconds": {name: round(r.cpu, 2) for name, r in runs.items()},
        "rows_per_second": {name: round(r.rows / r.seconds) for name, r in runs.items()},
        "normalised": {name: r.normalised for name, r in runs.items()},
        "edits": edits,
        "cache_bytes": cache.path.stat().st_size,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "warm_vs_uncached": round(runs["warm"].seconds / runs["uncached"].seconds, 3),
        "changed_vs_uncached": round(runs["warm, 1% changed"].seconds / runs["uncached"].seconds, 3),
    }
    report["same_as_first_read"] = runs["warm"].digest == runs["cold (cache written)"].digest == runs["uncached"].digest
    if args.check:
        reference = timed(lambda: load_accounts(changed, keep_fields=False))
        report["changed_same_as_uncached"] = runs["warm, 1% changed"].digest == reference.digest
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, r in runs.items():
            print(
                f"{name:22s} {r.rows:>10,} rows {r.seconds:7.2f} s (CPU {r.cpu:6.2f} s) {r.rows / r.seconds:>10,.0f} rows/s"
                f"  ({r.normalised:,} normalised)"
            )
        rest = {k: v for k, v in report.items() if k not in ("rows", "seconds", "cpu_seconds", "rows_per_second", "normalised")}
        print(json.dumps(rest))
    return 0 if report["same_as_first_read"] and report.get("changed_same_as_uncached", True) else 1


if __name__ == "__main__":
    sys.exit(main())
