"""The key normaliser: a cell's text to a canonical domain, and a name + country to a name key.

The input is UTF-8 (undecodable bytes replaced, as a decoded cell would hold them), split at the first
NUL into a website cell and a "name|country" cell. A refusal is a ``DomainRejected`` (an
``InputError``). Invariants, since both parties must compute the same key from any spelling of it:
a canonical domain is lower-case ASCII LDH labels, is its own canonical form, and stays the same
written as a URL or an e-mail address; a canonical name is its own canonical form.
"""

from __future__ import annotations

import re

from cleanroom_client.inputs.keys import DomainRejected, canonical_domain, name_key
from cleanroom_client.inputs.keys.names import canonical_name
from fuzz.targets.crash import Crash

_CANONICAL = re.compile(r"(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?!-)[a-z0-9-]{1,63}(?<!-)")


def _same(domain: str, spelling: str) -> None:
    again = canonical_domain(spelling)
    if again != domain:
        raise Crash(f"{spelling!r} -> {again!r}, but its canonical domain is {domain!r}")


def check_domain(raw: str) -> None:
    try:
        domain = canonical_domain(raw)
    except DomainRejected as exc:
        if not exc.reason or not str(exc):
            raise Crash(f"{raw!r}: a refusal without a reason or message") from None
        return
    if not _CANONICAL.fullmatch(domain):
        raise Crash(f"{raw!r} -> {domain!r}, not lower-case ASCII labels")
    for spelling in (domain, f"https://www.{domain}/about", f"sales@{domain}", domain.upper() + "."):
        _same(domain, spelling)


def check_name(raw: str) -> None:
    name, _, country = raw.partition("|")
    key = name_key(name, country)
    canonical = canonical_name(name)
    if canonical_name(canonical) != canonical:
        raise Crash(f"canonical_name({name!r}) = {canonical!r}, whose canonical name is {canonical_name(canonical)!r}")
    if key is not None and not key.startswith(canonical + "|"):
        raise Crash(f"name_key({name!r}, {country!r}) = {key!r} does not start with the canonical name {canonical!r}")


def check(data: bytes) -> None:
    website, _, name = data.decode("utf-8", "replace").partition("\x00")
    check_domain(website)
    check_name(name)
