"""Pipeline value against the plain overlap of the same files: a vendor and a partner over mTLS.

    .venv/bin/python benchmarks/pipeline_value_bench.py [--deals 100000] [--data DIR] [--json]
    .venv/bin/python benchmarks/pipeline_value_bench.py --deals 5000        # a quick run

Generates (not timed) the vendor's deals with `synth_deals.write_attribution_set`, the vendor's accounts
file (every company with a deal) and the partner's (a third of them, and as many of its own), then:

micro (this process, one core, CPU seconds)
    encryption of every account's amount to the vendor's key (the client spreads it over every core; here
    it runs on one, so that its CPU is counted exactly: forkserver workers are not this process's children),
    the homomorphic sum of the matched accounts' ciphertexts as the coordinator does it (read, check on the
    curve, add), and the decryption of that sum (baby-step giant-step over [0, cap x matched]).

end to end (every client a separate process; CPU of each process tree)
    overlap: both sides `map` an agreement without pipeline value, at once;
    value:   both sides `map` one with `--pipeline-value opportunity:customer --no-dp-for-value`, the vendor
             with `--deals`, at once (read, join, encrypt, blind, upload, sum, release, decrypt).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client_json
from cleanroom.demo.synth_deals import write_attribution_set
from cleanroom.homomorphic import CIPHERTEXT_SIZE, Ciphertext, decrypt, generate, rerandomise, sum_ciphertexts
from cleanroom.homomorphic.bsgs import baby_steps
from cleanroom_client.protocol.value_upload import encrypt_amounts

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_bench import Watch, in_workdir, report

CAP = 100_000
WAIT = "3600"


def _files(out: Path, deals: int, say) -> dict:
    say(f"generating {deals:,} deals in {out} ...")
    truth = write_attribution_set(out, deals=deals, partners=("partner",), touches=10, seed=3)
    domain_of: dict[int, str] = {}
    open_total: dict[int, Decimal] = defaultdict(Decimal)
    for d in truth.deals:
        domain_of[d.company] = d.domain
        if d.matchable and d.outcome == "open":
            open_total[d.company] += d.amount
    companies = sorted(domain_of)
    matched = [c for c in companies if c % 3 == 0]
    files = {"vendor": out / "vendor_accounts.csv", "partner": out / "partner_accounts.csv"}
    for name, domains in (
        ("vendor", [domain_of[c] for c in companies]),
        ("partner", [domain_of[c] for c in matched] + [f"bench-partner-{i}.com" for i in range(len(matched))]),
    ):
        with files[name].open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Account Name", "Website"])
            w.writerows([f"Company {i}", d] for i, d in enumerate(domains))
    amounts = [min(CAP, math.floor(open_total[c])) for c in companies]
    matched_at = [i for i, c in enumerate(companies) if c % 3 == 0]
    return {"deals": truth.paths["deals"], **{k: str(v) for k, v in files.items()}, "amounts": amounts, "matched": matched_at}


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _micro(data: dict, say) -> dict:
    keys, amounts, matched = generate(), data["amounts"], data["matched"]
    say(f"micro: encrypting {len(amounts):,} accounts' amounts ...")
    c0, t0 = _cpu(), time.perf_counter()
    blob = encrypt_amounts(keys.public, amounts, workers=1)
    enc = (_cpu() - c0, time.perf_counter() - t0)
    c0 = _cpu()
    total = sum_ciphertexts(Ciphertext.from_bytes(blob[i * CIPHERTEXT_SIZE : (i + 1) * CIPHERTEXT_SIZE]) for i in matched)
    total = rerandomise(keys.public, total)
    summed = _cpu() - c0
    c0 = _cpu()
    got = decrypt(keys, total, 0, CAP * len(matched))
    dec = _cpu() - c0
    baby_steps.cache_clear()
    assert got == sum(amounts[i] for i in matched), "the decrypted sum is not the plain sum"
    return {
        "accounts": len(amounts),
        "matched": len(matched),
        "encrypt_cpu_s": round(enc[0], 2),
        "encrypt_wall_s": round(enc[1], 2),
        "encrypt_us_per_value_cpu": round(enc[0] / len(amounts) * 1e6, 1),
        "sum_cpu_s": round(summed, 2),
        "decrypt_cpu_s": round(dec, 2),
        "upload_bytes": len(blob),
    }


def _map_pair(coord: LocalCoordinator, profiles: dict, agreement: str, data: dict, value: bool) -> dict:
    vendor_args = ["map", agreement, data["vendor"], "--default-population", "opportunity", "--wait", WAIT, "--json"]
    if value:
        vendor_args += ["--deals", data["deals"]]
    partner_args = ["map", agreement, data["partner"], "--default-population", "customer", "--wait", WAIT, "--json"]
    coord_watch = Watch(coord.process.pid, "coordinator") if coord.process is not None else None
    t0 = time.perf_counter()
    procs = {
        name: subprocess.Popen([*CLIENT, "--profile", str(profiles[name]), *args], stdout=subprocess.PIPE, text=True)
        for name, args in (("vendor", vendor_args), ("partner", partner_args))
    }
    watches = {name: Watch(p.pid, name) for name, p in procs.items()}
    outs = {name: p.communicate()[0] for name, p in procs.items()}
    wall = time.perf_counter() - t0
    for w in watches.values():
        w.close()
    result = {"wall_s": round(wall, 1), **{f"cpu_s_{n}": round(w.cpu_seconds, 1) for n, w in watches.items()}}
    if coord_watch is not None:
        coord_watch.close()
        result["cpu_s_coordinator"] = round(coord_watch.cpu_seconds, 1)
    view = json.loads(outs["vendor"])
    if value:
        result["released"] = view.get("pipeline_value")
    return result


def _bench(deals: int, data_dir: Path, work: Path, say) -> dict:
    data = _files(data_dir, deals, say)
    result: dict = {"deals": deals, "micro": _micro(data, say)}
    coord = LocalCoordinator(work / "coord").init().start()
    try:
        profiles = {n: coord.add_party(n, work / n) for n in ("vendor", "partner")}
        for flow, extra in (
            ("overlap", []),
            ("value", ["--pipeline-value", "opportunity:customer", "--value-cap", str(CAP), "--no-dp-for-value"]),
        ):
            proposed = client_json(
                profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", "opportunity",
                "--their-populations", "customer", *extra,
            )  # fmt: skip
            client_json(profiles["partner"], "agreement", "approve", proposed["agreement_id"])
            say(f"end to end: {flow} ...")
            result[flow] = _map_pair(coord, profiles, proposed["agreement_id"], data, flow == "value")
    finally:
        coord.stop()
    expected = sum(data["amounts"][i] for i in data["matched"])
    result["value"]["sum_matches_truth"] = result["value"]["released"]["cells"][0]["sum"] == expected
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--data", help="keep the generated files here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    args.data = Path(args.data) if args.data else None

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def bench(work: Path, data_dir: Path) -> dict:
        return _bench(args.deals, data_dir, work, say)

    report(in_workdir("pipeline-value-bench-", args, say, bench), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
