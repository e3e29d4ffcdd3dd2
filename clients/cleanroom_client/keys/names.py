"""The optional second key: normalised company name + country, "name|cc".

Weaker than a domain (two companies can share a name), so it is opt-in per
agreement. Legal-form suffixes (Inc, LLC, GmbH, ...) and punctuation are
dropped so that "ACME, Inc." and "Acme Inc" agree; the country keeps Acme
(US) apart from Acme (DE).
"""

from __future__ import annotations

import re
import unicodedata

_LEGAL_SUFFIXES = [
    "incorporated", "inc", "corporation", "corp", "company", "co", "limited", "ltd", "llc", "l l c", "llp", "lp", "plc",
    "gmbh", "gmbh co kg", "co kg", "kg", "ag", "se", "sa", "s a", "sas", "s a s", "sarl", "s a r l", "sl", "s l",
    "bv", "b v", "nv", "n v", "oy", "oyj", "ab", "as", "a s", "asa", "aps", "a p s", "pty ltd", "pty", "pte ltd", "pte",
    "kk", "k k", "spa", "s p a", "srl", "s r l", "sro", "s r o", "sp z o o", "bhd", "sdn bhd", "ltda", "sa de cv",
    "holdings", "holding", "group", "and co", "and company", "gmbh and co kg", "gmbh and co", "and co kg",
]
# Longest first, so "pty ltd" goes before "ltd".
_SUFFIX = re.compile(r"(?:\s(?:" + "|".join(re.escape(s) for s in sorted(_LEGAL_SUFFIXES, key=len, reverse=True)) + r"))+$")

_COUNTRIES = {
    "us": "us", "usa": "us", "united states": "us", "united states of america": "us", "america": "us",
    "gb": "gb", "uk": "gb", "united kingdom": "gb", "great britain": "gb", "england": "gb", "scotland": "gb", "wales": "gb",
    "de": "de", "germany": "de", "deutschland": "de",
    "fr": "fr", "france": "fr",
    "es": "es", "spain": "es", "espana": "es",
    "it": "it", "italy": "it", "italia": "it",
    "nl": "nl", "netherlands": "nl", "the netherlands": "nl", "holland": "nl",
    "be": "be", "belgium": "be",
    "ch": "ch", "switzerland": "ch", "schweiz": "ch", "suisse": "ch",
    "at": "at", "austria": "at", "osterreich": "at",
    "se": "se", "sweden": "se",
    "no": "no", "norway": "no",
    "dk": "dk", "denmark": "dk",
    "fi": "fi", "finland": "fi",
    "ie": "ie", "ireland": "ie",
    "pt": "pt", "portugal": "pt",
    "pl": "pl", "poland": "pl",
    "ca": "ca", "canada": "ca",
    "mx": "mx", "mexico": "mx",
    "br": "br", "brazil": "br", "brasil": "br",
    "au": "au", "australia": "au",
    "nz": "nz", "new zealand": "nz",
    "jp": "jp", "japan": "jp",
    "cn": "cn", "china": "cn",
    "in": "in", "india": "in",
    "sg": "sg", "singapore": "sg",
    "kr": "kr", "south korea": "kr", "korea": "kr",
    "il": "il", "israel": "il",
    "ae": "ae", "united arab emirates": "ae", "uae": "ae",
    "za": "za", "south africa": "za",
}


def _fold(text: str) -> str:
    """Case-fold, strip accents, '&' -> 'and', punctuation -> space, collapse spaces."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("&", " and ")
    text = re.sub(r"[^\w\s]|_", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def canonical_name(name: str) -> str:
    folded = _fold(name or "")
    stripped = _SUFFIX.sub("", " " + folded).strip()
    return stripped or folded


def canonical_country(country: str | None) -> str:
    folded = _fold(country or "")
    if not folded:
        return ""
    return _COUNTRIES.get(folded, folded if len(folded) == 2 else folded.replace(" ", "-"))


def name_key(name: str | None, country: str | None = None) -> str | None:
    """"acme|us" for ("ACME, Inc.", "United States"); None when there is no usable name."""
    canonical = canonical_name(name or "")
    if not canonical:
        return None
    return f"{canonical}|{canonical_country(country)}"
