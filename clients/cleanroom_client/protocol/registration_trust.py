"""What the vendor's client holds about each program's partners, to evaluate only what they asked for.

Kept in PROFILE/registrations/vendor.json (0600), per program: the partners
and the daily limit as the vendor created them (the coordinator's copy is not
trusted), each partner's request-signing key (pinned on first use, or trusted
beforehand by the fingerprint the partner reads out), and the requests it
evaluated, with when. ``admit`` decides each request: a request evaluated
only if it comes from one of the program's partners, is signed by that
partner's pinned key over exactly this program, request id and element, was
not evaluated before, and the partner has not used its evaluations of the
last 24 hours. So a deviating coordinator can neither queue guesses of its
own nor lift the limit; a partner's key that changes is refused, loudly,
until the vendor trusts the new one (``registrations program trust --replace``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import Any

from cleanroom.crypto.evaluation_signing import EvaluationStatement, signing_fingerprint
from cleanroom.crypto.evaluation_signing import statement_verifies as verifies
from cleanroom.crypto.keyfiles import write_private
from cleanroom.errors import InputError
from cleanroom_client.profile import Profile
from cleanroom_client.remote.registrations import Evaluation, Program

DAY = dt.timedelta(days=1)


def compact(fingerprint: str) -> str:
    return "".join(fingerprint.split()).lower()


@dataclass(frozen=True)
class Verdict:
    refused: str = ""  # why not evaluated; "" to evaluate
    pinned: str = ""  # the fingerprint pinned on first use by this request, if it was


class VendorBook:
    def __init__(self, profile: Profile) -> None:
        self.path = profile.path / "registrations" / "vendor.json"
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.programs: dict[str, dict[str, Any]] = data.get("programs", {})

    def save(self) -> None:
        aside = self.path.with_name(f".vendor.{os.getpid()}.json")
        write_private(aside, json.dumps({"programs": self.programs}, indent=1).encode())
        os.replace(aside, self.path)

    def _entry(self, program: Program) -> dict[str, Any]:
        # The partners and the daily limit are the ones this profile created the program with, never the
        # coordinator's word: adopting them from it would let a deviating coordinator add a partner it
        # controls, or raise the limit, and have its own guesses evaluated.
        entry = self.programs.get(program.program_id)
        if entry is None:
            raise InputError(
                f"this profile has no record of the partners and daily limit of program {program.program_id} "
                "(created from another profile, or its registrations/vendor.json was lost), so it evaluates nothing "
                "for it: the coordinator's word on them is not taken. Create the program again from this profile."
            )
        return entry

    def remember(self, program: Program) -> None:
        """The program's partners and limit as this vendor created it."""
        self.programs[program.program_id] = {
            "partners": sorted(program.partners), "max_checks_per_day": program.max_checks_per_day, "pins": {}, "evaluated": {},
        }  # fmt: skip

    def trust(self, program: Program, partner: str, fingerprint: str, replace: bool = False) -> dict[str, Any]:
        """Pin ``partner``'s key by the fingerprint it read out (its key itself arrives with its first request)."""
        entry = self._entry(program)
        if partner not in entry["partners"]:
            raise InputError(f"{partner!r} is not a partner of program {program.program_id} ({', '.join(entry['partners'])})")
        if len(compact(fingerprint)) != 32 or any(c not in "0123456789abcdef" for c in compact(fingerprint)):
            raise InputError(f"{fingerprint!r} is not a key fingerprint (32 hex digits, as `registrations key` prints it)")
        held = entry["pins"].get(partner)
        if held and compact(held["fingerprint"]) != compact(fingerprint) and not replace:
            raise InputError(
                f"{partner}'s key on {program.program_id} is pinned already with fingerprint {held['fingerprint']}; "
                "to replace it (the partner lost its key), confirm with the partner and pass --replace"
            )
        pin = {"public": "", "fingerprint": fingerprint.strip(), "how": "trusted", "at": _now()}
        entry["pins"][partner] = pin
        return pin

    def admit(self, program: Program, request: Evaluation, at: dt.datetime) -> Verdict:
        """Whether to evaluate ``request`` (recorded as evaluated if so): see the module's rules."""
        entry, partner = self._entry(program), request.partner
        if partner not in entry["partners"]:
            return Verdict(f"{partner!r} is not a partner of this program as its vendor created it")
        if request.request_id in entry["evaluated"]:
            return Verdict(f"request {request.request_id} was evaluated before (a replay)")
        statement = EvaluationStatement(program.program_id, partner, request.request_id, request.blinded, request.signed_at)
        if not verifies(request.signing_public, statement, request.signature):
            return Verdict(f"not signed by {partner} (the signature does not verify over this request)")
        fingerprint = signing_fingerprint(request.signing_public)
        pin = entry["pins"].get(partner)
        pinned = ""
        if pin is None:
            pin = entry["pins"][partner] = {"public": "", "fingerprint": fingerprint, "how": "first use", "at": _now()}
            pinned = fingerprint
        if compact(pin["fingerprint"]) != compact(fingerprint) or pin["public"] not in ("", request.signing_public.hex()):
            return Verdict(
                f"signed by a key of fingerprint {fingerprint}, not {partner}'s pinned key {pin['fingerprint']} "
                f"({pin['how']}); if {partner} really has a new key, confirm it with {partner} and "
                f"`registrations program trust {program.program_id} {partner} FINGERPRINT --replace`"
            )
        pin["public"] = request.signing_public.hex()
        since = (at - DAY).isoformat()
        used = sum(1 for e in entry["evaluated"].values() if e["partner"] == partner and e["at"] > since)
        if used >= entry["max_checks_per_day"]:
            return Verdict(f"{partner} has used its {entry['max_checks_per_day']} evaluations of the last 24 hours", pinned)
        entry["evaluated"][request.request_id] = {"partner": partner, "at": at.isoformat()}
        return Verdict("", pinned)

    def partners(self, program: Program) -> dict[str, dict[str, Any]]:
        """Each partner's pin (fingerprint, how and when), {} for none yet."""
        entry = self._entry(program)
        return {p: entry["pins"].get(p, {}) for p in entry["partners"]}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
