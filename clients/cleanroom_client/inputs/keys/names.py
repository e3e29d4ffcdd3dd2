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
    "incorporated",
    "inc",
    "corporation",
    "corp",
    "company",
    "co",
    "limited",
    "ltd",
    "llc",
    "l l c",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "gmbh co kg",
    "co kg",
    "kg",
    "ag",
    "se",
    "sa",
    "s a",
    "sas",
    "s a s",
    "sarl",
    "s a r l",
    "sl",
    "s l",
    "bv",
    "b v",
    "nv",
    "n v",
    "oy",
    "oyj",
    "ab",
    "as",
    "a s",
    "asa",
    "aps",
    "a p s",
    "pty ltd",
    "pty",
    "pte ltd",
    "pte",
    "kk",
    "k k",
    "spa",
    "s p a",
    "srl",
    "s r l",
    "sro",
    "s r o",
    "sp z o o",
    "bhd",
    "sdn bhd",
    "ltda",
    "sa de cv",
    "and co",
    "and company",
    "gmbh and co kg",
    "gmbh and co",
    "and co kg",
    "ug",
    "e k",
    "ek",
    "sp a",
    "bvba",
    "sprl",
    "ltd co",
    "co ltd",
    "k k",
    "kabushiki kaisha",
    "ab publ",
    "publ",
]
# Not legal forms, so kept: "Group", "Holdings", "International" name different entities as often as the same.
# Longest first, so "pty ltd" goes before "ltd".
_SUFFIX = re.compile(r"(?:\s(?:" + "|".join(re.escape(s) for s in sorted(_LEGAL_SUFFIXES, key=len, reverse=True)) + r"))+$")

_COUNTRIES = {
    "us": "us",
    "usa": "us",
    "united states": "us",
    "united states of america": "us",
    "america": "us",
    "gb": "gb",
    "uk": "gb",
    "united kingdom": "gb",
    "great britain": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "de": "de",
    "germany": "de",
    "deutschland": "de",
    "fr": "fr",
    "france": "fr",
    "es": "es",
    "spain": "es",
    "espana": "es",
    "it": "it",
    "italy": "it",
    "italia": "it",
    "nl": "nl",
    "netherlands": "nl",
    "the netherlands": "nl",
    "holland": "nl",
    "be": "be",
    "belgium": "be",
    "ch": "ch",
    "switzerland": "ch",
    "schweiz": "ch",
    "suisse": "ch",
    "at": "at",
    "austria": "at",
    "osterreich": "at",
    "se": "se",
    "sweden": "se",
    "no": "no",
    "norway": "no",
    "dk": "dk",
    "denmark": "dk",
    "fi": "fi",
    "finland": "fi",
    "ie": "ie",
    "ireland": "ie",
    "pt": "pt",
    "portugal": "pt",
    "pl": "pl",
    "poland": "pl",
    "ca": "ca",
    "canada": "ca",
    "mx": "mx",
    "mexico": "mx",
    "br": "br",
    "brazil": "br",
    "brasil": "br",
    "au": "au",
    "australia": "au",
    "nz": "nz",
    "new zealand": "nz",
    "jp": "jp",
    "japan": "jp",
    "cn": "cn",
    "china": "cn",
    "in": "in",
    "india": "in",
    "sg": "sg",
    "singapore": "sg",
    "kr": "kr",
    "south korea": "kr",
    "korea": "kr",
    "il": "il",
    "israel": "il",
    "ae": "ae",
    "united arab emirates": "ae",
    "uae": "ae",
    "za": "za",
    "south africa": "za",
    "cz": "cz",
    "czech republic": "cz",
    "czechia": "cz",
    "hu": "hu",
    "hungary": "hu",
    "ro": "ro",
    "romania": "ro",
    "gr": "gr",
    "greece": "gr",
    "tr": "tr",
    "turkey": "tr",
    "turkiye": "tr",
    "ru": "ru",
    "russia": "ru",
    "russian federation": "ru",
    "ua": "ua",
    "ukraine": "ua",
    "lu": "lu",
    "luxembourg": "lu",
    "is": "is",
    "iceland": "is",
    "ee": "ee",
    "estonia": "ee",
    "lv": "lv",
    "latvia": "lv",
    "lt": "lt",
    "lithuania": "lt",
    "ar": "ar",
    "argentina": "ar",
    "cl": "cl",
    "chile": "cl",
    "co": "co",
    "colombia": "co",
    "pe": "pe",
    "peru": "pe",
    "hk": "hk",
    "hong kong": "hk",
    "tw": "tw",
    "taiwan": "tw",
    "my": "my",
    "malaysia": "my",
    "th": "th",
    "thailand": "th",
    "id": "id",
    "indonesia": "id",
    "ph": "ph",
    "philippines": "ph",
    "vn": "vn",
    "vietnam": "vn",
    "sa": "sa",
    "saudi arabia": "sa",
    "eg": "eg",
    "egypt": "eg",
    "ng": "ng",
    "nigeria": "ng",
    "ke": "ke",
    "kenya": "ke",
    "nihon": "jp",
    "nippon": "jp",
    "republic of korea": "kr",
    "prc": "cn",
    "people s republic of china": "cn",
    "u s": "us",
    "u s a": "us",
    "u k": "gb",
    "northern ireland": "gb",
    "brd": "de",
    "federal republic of germany": "de",
    "the united states": "us",
    "the united kingdom": "gb",
    "republic of ireland": "ie",
    "eire": "ie",
}


def _fold(text: str) -> str:
    """Case-fold, strip accents, '&' -> 'and', punctuation -> space, collapse spaces."""
    # Decompose before folding too: a compatibility letter such as U+1D34 (modifier capital H) has no
    # case of its own and decomposes to "H", which folding first would leave upper case.
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("&", " and ")
    text = re.sub(r"[^\w\s]|_", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def canonical_name(name: str) -> str:
    """ "acme" for "ACME, Inc."; a name made only of a legal form is kept as it is."""
    folded = _fold(name or "")
    stripped = _SUFFIX.sub("", " " + folded).strip()
    return stripped or folded


def canonical_country(country: str | None) -> str:
    """ISO 3166 alpha-2 in lower case where the table knows the spelling; else the folded text."""
    folded = _fold(country or "")
    if not folded:
        return ""
    return _COUNTRIES.get(folded, folded if len(folded) == 2 else folded.replace(" ", "-"))


# Placeholders people type into a required name field; as keys they would merge unrelated rows.
_BLANK_NAMES = {"n a", "na", "none", "null", "nil", "unknown", "tbd", "tba", "test", "and", "x", "xx", "xxx", "no name"}


def name_key(name: str | None, country: str | None = None) -> str | None:
    """ "acme|us" for ("ACME, Inc.", "United States"); None when there is no usable name."""
    canonical = canonical_name(name or "")
    if not canonical or canonical in _BLANK_NAMES:
        return None
    return f"{canonical}|{canonical_country(country)}"
