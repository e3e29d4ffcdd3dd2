"""The synthetic companies both generators draw from, and the messy spellings of their keys.

synth.py (account exports) and synth_deals.py (deals and touches) address the same kind of
company universe by index and spell its websites, domains and unusable keys with the same
helpers, so deals and touches look like the account exports. Every draw goes through the
caller's RNG in a fixed order: changing a helper changes the generated files for every seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from cleanroom.demo.synth_vocab import (
    COUNTRIES,
    DISPOSABLE,
    FREEMAIL,
    GARBAGE,
    IDN_CITIES,
    LEGAL,
    PEOPLE,
    SUFFIXES,
    SYLLABLE_PAIRS,
    SYLLABLES,
    TWIN_SUFFIXES,
    WORDS,
)

M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: per-company attributes from (seed, index) without storing them."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Company(NamedTuple):
    domain: str  # canonical registrable domain, ASCII (punycode for IDN)
    unicode_domain: str | None  # the Unicode spelling of an IDN domain
    name: str
    countries: tuple[str, ...]  # spellings of one country


class Universe:
    """All companies, addressed by index. Layout: [0, overlap) shared, [overlap, V) vendor-only,
    [V, V + P - overlap) partner-only, then companies that appear only in rejected rows."""

    def __init__(self, seed: int, vendor: int, partner: int, overlap: int, bound: int) -> None:
        self.salt = _mix(seed & M64)
        self.width = 3
        while len(SYLLABLES) ** self.width < bound:
            self.width += 1
        self.mod = len(SYLLABLES) ** self.width
        mul = (self.salt | 1) % self.mod
        while mul % 5 == 0 or mul % 2 == 0:  # coprime with 80**width: an affine bijection
            mul += 1
        self.mul, self.add = mul, (self.salt >> 11) % self.mod
        self.vendor, self.partner, self.overlap = vendor, partner, overlap

    def twin_of(self, c: int) -> int | None:
        """~5% of partner-only companies share a vendor-only company's name on another suffix."""
        i = c - self.vendor
        if 0 <= i < min(self.partner, self.vendor) - self.overlap and _mix(self.salt ^ c ^ 0x7717) % 20 == 0:
            return self.overlap + i
        return None

    def company(self, c: int) -> Company:
        twin = self.twin_of(c)
        src = c if twin is None else twin
        h = _mix(self.salt ^ src)
        n = (src * self.mul + self.add) % self.mod
        stem = ""
        for _ in range(self.width // 2):  # two syllables per step: this runs once per row
            n, d = divmod(n, len(SYLLABLE_PAIRS))
            stem += SYLLABLE_PAIRS[d]
        if self.width % 2:
            stem += SYLLABLES[n]
        legal = LEGAL[(h >> 24) % len(LEGAL)]
        country = (h >> 32) % len(COUNTRIES)
        if h % 1000 < 12:  # ~1.2% IDN companies
            city, suffix = IDN_CITIES[(h >> 40) % len(IDN_CITIES)]
            if twin is not None:
                suffix = "com" if suffix != "com" else "de"
            unicode_domain = f"{city}-{stem}.{suffix}"
            domain = unicode_domain.encode("idna").decode("ascii")  # stdlib codec, bookkeeping only
            name = f"{city.replace('-', ' ').title()} {stem.title()} {legal}"
        else:
            word = WORDS[(h >> 10) % len(WORDS)]
            suffix = SUFFIXES[(h >> 16) % len(SUFFIXES)]
            if twin is not None:
                suffix = TWIN_SUFFIXES[(h >> 48) % len(TWIN_SUFFIXES)] if suffix == "com" else "com"
            unicode_domain, domain = None, f"{stem}{word}.{suffix}"
            name = f"{stem.title()} {word.title()} {legal}"
        if twin is not None:  # a different company: also another country, so a name+country key differs too
            country = (country + 1) % len(COUNTRIES)
        return Company(domain, unicode_domain, name.strip(), COUNTRIES[country])


Rand = Callable[[], float]


def pick(r: Rand, seq: Sequence[str]) -> str:
    return seq[int(r() * len(seq))]


def website(r: Rand, co: Company, forms: list[str], unicode_share: float) -> str:
    """A usable spelling of the company's website; IDN companies in Unicode or punycode."""
    h = co.unicode_domain if co.unicode_domain and r() < unicode_share else co.domain
    return pick(r, forms).format(h=h, H=h.upper(), C=h[:1].upper() + h[1:])


def no_key(r: Rand) -> str:
    """A value that yields no company key: free-mail / disposable e-mail, a free-mail domain, garbage."""
    x = r()
    if x < 0.35:
        return f"{pick(r, PEOPLE)}@{pick(r, FREEMAIL)}"
    if x < 0.45:
        return pick(r, ("www.", "", "https://")) + pick(r, FREEMAIL)
    if x < 0.52:
        return f"{pick(r, PEOPLE)}@{pick(r, DISPOSABLE)}"
    return pick(r, GARBAGE)
