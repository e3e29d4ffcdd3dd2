"""The README's main job: `cleanroom demo` end to end, as a user runs it (small sizes)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


def test_demo_json_matches_ground_truth_and_verifies(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cleanroom.coordinator.cli",
            "demo",
            "--json",
            "--keep",
            str(tmp_path / "work"),
            "--vendor-accounts",
            "1500",
            "--partner-accounts",
            "1200",
            "--overlap",
            "400",
            "--deals",
            "600",
            "--touches",
            "500",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["matches_ground_truth"] and result["problems"] == []
    truth = result["ground_truth"]
    # Checked here again, independently of the demo's own check: cells against the generator's matrix.
    for cell in result["views"]["vendor"]["cells"]:
        assert cell["count"] == truth["matrix"][cell["mine"]][cell["theirs"]]
    assert result["views"]["vendor"]["totals"]["overlap"] == truth["overlap"] == 400
    # Account-level reveal on one pair (checked row by row against the per-company truth in the demo's problems):
    # the vendor's top 10 co-sell targets, each with the partner's shared columns.
    top = result["targets"]["vendor_top10"]
    assert len(top) == 10 and result["targets"]["vendor_total"] >= 10
    assert all(
        t["partner_populations"] == ["customer"] and set(t["partner_fields"]) == {"Company owner", "Last Activity Date"}
        for t in top
    )
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    assert result["audit"]["ok"] and result["audit"]["entries"] > 0
    assert result["audit"]["heads_checked"] > 0 and result["audit"]["heads_missing"] == []
    assert all(r["ok"] and r["receipts"] > 0 for r in result["receipts"].values())
    # Attribution: every partner's credit adds up from the per-deal credit the vendor was given.
    view = result["attribution"]
    sums: dict[str, Decimal] = {}
    for deal in view["deals"]:
        for partner, amount in deal["credits"].items():
            sums[partner] = sums.get(partner, Decimal(0)) + Decimal(amount)
    assert {p["partner"] for p in view["partners"]} == {"partner-a", "partner-b", "partner-c"}
    for p in view["partners"]:
        # Won and open credit are part of all the credit the deals give the partner (lost deals hold the rest).
        assert Decimal(p["credited_won"]) + Decimal(p["credited_open"]) <= sums[p["partner"]]
        assert Decimal(p["credited_won"]) > 0
    # Each partner sees only its own figures, never another partner or a deal.
    for name, release in result["partner_releases"].items():
        text = json.dumps(release)
        assert release["viewer"] == name
        assert not any(other in text for other in result["partner_releases"] if other != name)
        assert "deals" not in release and "deal_id" not in text
