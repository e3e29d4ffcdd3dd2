"""Attribution end to end against the plain overlap of the same inputs: a vendor and P partners over mTLS.

    .venv/bin/python benchmarks/attribution_bench.py [--deals 100000] [--touches 200000] [--data DIR] [--json]
    .venv/bin/python benchmarks/attribution_bench.py --deals 5000 --touches 10000      # a quick run

Generates (not timed) the vendor's deals file and one touches file per partner
with `synth_deals.write_attribution_set`, starts a real coordinator, issues a
profile per party and, per partner, two agreements on the same populations:
one plain (overlap only) and one with `--attribution --min-set-size 10`.
Then it times, with every client a separate process:

overlap (the baseline)
    1. the partners `map AGREEMENT TOUCHES --wait 0` at once (read, blind, upload);
    2. the partners `sync AGREEMENT --wait` in the background while the vendor
       runs `map AGREEMENT DEALS --wait` for the P agreements at once (each
       reads the deals file, blinds, uploads, re-blinds the partner's points,
       waits for the join and prints the overlap matrix).

attribution (what the issue times)
    1. the partners `attribution touches AGREEMENT TOUCHES` at once;
    2. the partners `sync AGREEMENT --wait` in the background while the vendor
       runs `attribution run --agreements A,B,C --deals DEALS --wait
       --as-of 2025-12-31 --json` (reads the deals once, uploads them under
       every agreement, re-blinds every partner's touches, waits for the
       partners' re-blinding, then the coordinator's job: the Run RPC).

Both flows blind the same accounts (each file deduplicated by the same match
keys) the same number of times; attribution adds the deal and touch records
riding next to the points, their checks and the job. The ratio of the two
wall times is the cost of the attribution step: issue 4 wants it under 1.2.
The Run RPC is also timed on its own, from this process, over the same
complete runs (`--run-repeats` times; each is a new job, as for a user).

Counted against the baseline, the overlap flow reads the deals file once per
agreement (a `map` is per agreement) where attribution reads it once; the
printed CPU seconds show what that costs.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_json
from cleanroom.demo.synth_deals import write_attribution_set
from cleanroom.errors import CleanroomError
from cleanroom_client.profile import Profile
from cleanroom_client.remote import Remote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import Watch, in_workdir, report

TARGET = 1.2
WAIT = "1800"  # seconds any client waits for the others (--wait); a stuck flow fails instead of hanging
AS_OF = date(2025, 12, 31)


def _generate(out: Path, deals: int, touches: int, partners: list[str], seed: int, say) -> dict:
    index = out / "bench.json"
    wanted = {"deals": deals, "touches": touches, "partners": partners, "seed": seed}
    if index.exists():
        data = json.loads(index.read_text())
        if data.get("params") == wanted and all(Path(p).exists() for p in data["paths"].values()):
            say(f"reusing {deals:,} deals and {len(partners)} x {touches:,} touches in {out}")
            return data["paths"]
    say(f"generating {deals:,} deals and {len(partners)} x {touches:,} touches in {out} ...")
    t0 = time.perf_counter()
    truth = write_attribution_set(out, deals=deals, partners=partners, touches=touches, seed=seed, as_of=AS_OF)
    say(f"  generated in {time.perf_counter() - t0:.1f} s")
    index.write_text(json.dumps({"params": wanted, "paths": truth.paths}))
    return dict(truth.paths)


def _stage_map(deals_file: str, out: Path) -> tuple[Path, str]:
    """For the baseline's `map` of the deals file: every stage value is the population 'customer'.

    A deals export's Type column (New Business, Renewal, ...) is not an account
    stage; without this map `map` would reject every deal row.
    """
    with open(deals_file, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        column = "Stage" if "Stage" in (reader.fieldnames or []) else "Deal Stage"
        stages = {row[column].strip() for row in reader if row[column] and row[column].strip()}
    path = out / "stages_as_customer.json"
    path.write_text(json.dumps({s: "customer" for s in sorted(stages)}))
    return path, column


def _json(text: str, what: str) -> dict:
    """A client's --json output; anything printed around the object is shown, not fatal."""
    start = text.find("{")
    try:
        value, end = json.JSONDecoder().raw_decode(text, max(start, 0))
    except ValueError:
        raise SystemExit(f"{what}: no JSON object in its output: {text[:500]!r}") from None
    extra = (text[: max(start, 0)] + text[end:]).strip()
    if extra:
        print(f"warning: {what} printed more than its JSON object: {extra[:300]!r}", file=sys.stderr)
    return value


class Flow:
    """Client processes started in phases, watched for CPU and memory, timed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.watches: list[Watch] = []
        self.phases: dict[str, float] = {}
        self.outputs: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.t0 = time.perf_counter()

    def start(self, label: str, profile: Path, *argv: str) -> tuple[str, subprocess.Popen]:
        proc = subprocess.Popen(
            [*CLIENT, "--profile", str(profile), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.watches.append(Watch(proc.pid, label))
        return label, proc

    def finish(self, procs: list[tuple[str, subprocess.Popen]], background: list[tuple[str, subprocess.Popen]] = ()) -> None:
        """Wait for ``procs``, then for ``background`` (partners' syncs); a failure stops the syncs, which would wait for nothing."""
        for label, proc in procs:
            out, err = proc.communicate()
            if proc.returncode:  # recorded, so the time up to the failure is still reported
                self.errors[label] = f"exited {proc.returncode}: {(err.strip() or out.strip())[-300:]}"
            else:
                self.outputs[label] = out
        for label, proc in background:
            if self.errors:
                proc.terminate()
            out, err = proc.communicate()
            if proc.returncode and not self.errors:
                self.errors[label] = f"exited {proc.returncode}: {(err.strip() or out.strip())[-300:]}"

    def mark(self, phase: str) -> None:
        self.phases[phase] = round(time.perf_counter() - self.t0 - sum(self.phases.values()), 2)

    def done(self) -> dict:
        elapsed = time.perf_counter() - self.t0
        for w in self.watches:
            w.close()
        return {
            **({"FAILED": self.errors} if self.errors else {}),
            "seconds": round(elapsed, 2),
            "phases": self.phases,
            "cpu_seconds_clients": round(sum(w.cpu_seconds for w in self.watches), 1),
            "peak_rss_mb": {w.label: round(w.main_kb / 1024) for w in self.watches},
        }


def overlap_flow(
    profiles: dict[str, Path], ids: dict[str, str], paths: dict[str, str], partners: list[str], stage_map: Path, stage_column: str
) -> tuple[dict, dict]:
    flow = Flow("overlap")
    flow.finish([flow.start(f"{p} map", profiles[p], "map", ids[p], paths[p], "--wait", "0", "--json") for p in partners])
    flow.mark("partners upload")
    syncs = [flow.start(f"{p} sync", profiles[p], "sync", ids[p], "--wait", WAIT, "--json") for p in partners]
    maps = [
        flow.start(
            f"vendor map {p}",
            profiles["vendor"],
            "map",
            ids[p],
            paths["deals"],
            "--population-column",
            stage_column,
            "--population-map",
            str(stage_map),
            "--wait",
            WAIT,
            "--json",
        )
        for p in partners
    ]
    flow.finish(maps, syncs)
    flow.mark("vendor maps + partners sync")
    views = {p: _json(flow.outputs[f"vendor map {p}"], f"vendor map {p}") for p in partners if f"vendor map {p}" in flow.outputs}
    return flow.done(), views


def attribution_flow(
    profiles: dict[str, Path], ids: dict[str, str], paths: dict[str, str], partners: list[str]
) -> tuple[dict, dict]:
    flow = Flow("attribution")
    flow.finish([flow.start(f"{p} touches", profiles[p], "attribution", "touches", ids[p], paths[p], "--json") for p in partners])
    flow.mark("partners upload")
    syncs = [flow.start(f"{p} sync", profiles[p], "sync", ids[p], "--wait", WAIT, "--json") for p in partners]
    run = flow.start(
        "vendor run",
        profiles["vendor"],
        "attribution",
        "run",
        "--agreements",
        ",".join(ids[p] for p in partners),
        "--deals",
        paths["deals"],
        "--wait",
        WAIT,
        "--as-of",
        AS_OF.isoformat(),
        "--json",
    )
    flow.finish([run], syncs)
    flow.mark("vendor run + partners sync")
    uploads = {p: _json(flow.outputs[f"{p} touches"], f"{p} touches") for p in partners if f"{p} touches" in flow.outputs}
    view = _json(flow.outputs["vendor run"], "vendor run") if "vendor run" in flow.outputs else None
    return flow.done(), {"view": view, "uploads": uploads}


def time_run_rpc(vendor_profile: Path, run_ids: list[str], repeats: int) -> tuple[list[float], str]:
    """The coordinator's job alone: the Run RPC over the complete runs, from this process; (seconds, error)."""
    times = []
    with Remote(Profile.load(vendor_profile)) as remote:
        for _ in range(repeats):
            t0 = time.perf_counter()
            try:
                remote.run_attribution(run_ids, "", AS_OF.isoformat())
            except CleanroomError as exc:  # e.g. a release larger than a gRPC message: the time to the error is reported
                times.append(time.perf_counter() - t0)
                return times, str(exc)
            times.append(time.perf_counter() - t0)
    return times, ""


def _attribution_runs(vendor_profile: Path, ids: dict[str, str], partners: list[str]) -> list[str]:
    """The latest attribution run of every agreement, asked of the coordinator (the vendor's output may be missing)."""
    with Remote(Profile.load(vendor_profile)) as remote:
        return [remote.status(ids[p], purpose="attribution").run_id for p in partners]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000, help="deal rows in the vendor's file (default 100,000)")
    parser.add_argument("--touches", type=int, default=200_000, help="touch rows per partner (default 200,000)")
    parser.add_argument("--partners", type=int, default=3, help="partners (default 3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--run-repeats", type=int, default=3, metavar="N", help="times the Run RPC is timed on its own (default 3)"
    )
    parser.add_argument("--data", type=Path, metavar="DIR", help="keep the generated files here and reuse them on the next run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (coordinator data, profiles, logs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    partners = [f"partner-{chr(ord('a') + i)}" for i in range(args.partners)]
    result = in_workdir(
        "cleanroom-attribution-bench-",
        args,
        say,
        lambda work, data_dir: _bench(
            args, partners, _generate(data_dir, args.deals, args.touches, partners, args.seed, say), work, say
        ),
    )
    report(result, args.json)
    failed = "FAILED" in result["overlap_flow"] or "FAILED" in result["attribution_flow"] or "run_rpc_FAILED" in result
    return 1 if failed else 0


def _bench(args: argparse.Namespace, partners: list[str], paths: dict[str, str], work: Path, say) -> dict:
    stage_map, stage_column = _stage_map(paths["deals"], work)
    limit = 2 * max(args.deals, args.touches) + 1000
    coord = LocalCoordinator(work / "coord", max_points=limit).init().start()
    try:
        profiles = {name: coord.add_party(name, work / name) for name in ("vendor", *partners)}
        plain, attributed = {}, {}
        for p in partners:
            base = ["agreement", "propose", "--with", p, "--populations", "customer", "--min-set-size", "10"]
            plain[p] = client_json(profiles["vendor"], *base)["agreement_id"]
            attributed[p] = client_json(profiles["vendor"], *base, "--attribution")["agreement_id"]
            for agreement_id in (plain[p], attributed[p]):
                client_json(profiles[p], "agreement", "approve", agreement_id)
        coord_watch = Watch(coord.process.pid, "coordinator")
        say("overlap (the baseline) ...")
        cpu0 = coord_watch.cpu_seconds
        overlap, views = overlap_flow(profiles, plain, paths, partners, stage_map, stage_column)
        overlap["cpu_seconds_coordinator"] = round(coord_watch.cpu_seconds - cpu0, 1)
        say(f"  {overlap['seconds']} s")
        say("attribution ...")
        cpu0 = coord_watch.cpu_seconds
        attribution, out = attribution_flow(profiles, attributed, paths, partners)
        attribution["cpu_seconds_coordinator"] = round(coord_watch.cpu_seconds - cpu0, 1)
        say(f"  {attribution['seconds']} s")
        view = out["view"]
        say(f"the Run RPC alone, {args.run_repeats} x ...")
        run_times, run_error = time_run_rpc(
            profiles["vendor"], _attribution_runs(profiles["vendor"], attributed, partners), args.run_repeats
        )
        coord_watch.close()
        coord_peak = round(coord_watch.main_kb / 1024)
    finally:
        coord.stop()
    ratio = attribution["seconds"] / overlap["seconds"]
    run_rpc = statistics.median(run_times)
    return {
        "deals": args.deals,
        "touches_per_partner": args.touches,
        "partners": len(partners),
        "vendor_accounts_mapped": {p: v["totals"]["mine"] for p, v in views.items()},
        "partner_accounts_mapped": {p: v["totals"]["theirs"] for p, v in views.items()},
        "overlap_accounts": {p: v["totals"]["overlap"] for p, v in views.items()},
        "touches_uploaded": {p: u["touches"] for p, u in out["uploads"].items()},
        "touch_accounts_uploaded": {p: u["accounts"] for p, u in out["uploads"].items()},
        "deals_credited": len(view["deals"]) if view else None,
        "deals_with_credit": sum(1 for d in view["deals"] if d["credits"]) if view else None,
        "overlap_flow": overlap,
        "attribution_flow": attribution,
        "run_rpc_seconds": [round(t, 2) for t in run_times],
        **({"run_rpc_FAILED": run_error} if run_error else {}),
        "run_rpc_share_of_attribution": round(run_rpc / attribution["seconds"], 3),
        # The job alone against the whole overlap flow: the narrow reading of "the attribution step itself"
        # (the figure the target is judged on is attribution_adds, flow against flow).
        "run_rpc_over_overlap": f"{run_rpc / overlap['seconds']:.1%}",
        "attribution_over_overlap": round(ratio, 3),
        "attribution_adds": f"{(ratio - 1):.1%}",
        "target_adds_under": f"{TARGET - 1:.0%}",
        "coordinator_peak_rss_mb": coord_peak,
    }


if __name__ == "__main__":
    sys.exit(main())
