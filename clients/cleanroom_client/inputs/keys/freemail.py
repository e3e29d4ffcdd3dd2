"""Free-mail and disposable e-mail domains: shared by many people, never a company.

Free-mail providers live in data/freemail.txt (one registrable domain a line;
``brand.*`` means that brand under any public suffix, e.g. ``yahoo.*`` covers
yahoo.com.mx). Disposable domains come from the maintained
``disposable-email-domains`` package when installed, plus data/disposable.txt.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources


@cache
def _load(name: str) -> frozenset[str]:
    text = resources.files("cleanroom_client").joinpath("data", name).read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line)


@lru_cache(maxsize=1)
def _freemail() -> tuple[frozenset[str], frozenset[str]]:
    """(exact registrable domains, brands valid under any suffix)."""
    entries = _load("freemail.txt")
    brands = frozenset(e[:-2] for e in entries if e.endswith(".*"))
    return frozenset(e for e in entries if not e.endswith(".*")), brands


@lru_cache(maxsize=1)
def _disposable() -> frozenset[str]:
    try:  # maintained list (~10k domains); the curated file keeps working without it
        from disposable_email_domains import blocklist
    except ImportError:  # pragma: no cover - the package is a declared dependency
        blocklist = set()
    return frozenset(blocklist) | _load("disposable.txt")


def is_freemail(registrable: str) -> bool:
    """True for a free-mail provider's registrable domain (``gmail.com``, ``yahoo.com.mx``)."""
    exact, brands = _freemail()
    return registrable in exact or registrable.split(".", 1)[0] in brands


def is_disposable(host: str, registrable: str) -> bool:
    """True when ``host`` or any parent of it down to ``registrable`` is a throw-away domain.

    The maintained list holds some entries below a registrable domain (on
    dynamic-DNS hosts), so every level is checked, not just the eTLD+1.
    """
    listed = _disposable()
    if host == registrable:  # the usual case: one level to check
        return host in listed
    labels = host.split(".")
    depth = registrable.count(".") + 1
    return any(".".join(labels[i:]) in listed for i in range(0, len(labels) - depth + 1))
