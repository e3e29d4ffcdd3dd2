"""Canonical company domain: the registrable domain (eTLD+1) of a website, URL or e-mail.

Both parties run this same function, so a match means the same canonical key.
Steps: trim and unquote; e-mail -> its domain; strip scheme, userinfo, path,
query, fragment and port; lower-case and IDNA (UTS 46) to punycode; drop a
trailing dot; reduce to the registrable domain by the Public Suffix List
(tldextract's bundled snapshot, never fetched at run time; private suffixes
such as github.io are honoured, so alice.github.io and bob.github.io differ).
Free-mail and disposable domains are never company keys; neither are IP
addresses, local names (localhost) or bare public suffixes (co.uk). A leading
"www." (www2., ...) is dropped before the PSL step, so "www.co.uk" is a bare
suffix. Every refusal is a DomainRejected whose ``reason`` is a stable code.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import idna
import tldextract

from cleanroom.errors import InputError
from cleanroom_client.inputs.keys.freemail import is_disposable, is_freemail

# suffix_list_urls=() and cache_dir=None: the snapshot inside the package, no network, no cache writes.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A host of plain lower-case ASCII LDH labels (no "xn--"-style hyphens in 3rd and 4th place): IDNA maps
# it to itself, so it skips the idna package (most of the time per row); everything else goes through it.
_PLAIN_LABEL = r"(?!-)(?![a-z0-9-]{2}--)[a-z0-9-]{1,63}(?<!-)"
_PLAIN_HOST = re.compile(rf"(?:{_PLAIN_LABEL}\.)*{_PLAIN_LABEL}")
_WWW = re.compile(r"^www\d{0,2}\.(?=.+\.)")
_DEBRIS = " \t\r\n\u00a0\u200b\u200c\u200d\u2060\ufeff"
_PORT = re.compile(r"^\d{0,5}$")
_PATH_START = re.compile(r"[/?#\\]")
_URL_CHARS = re.compile(r"[@/:?#\\\[]")  # a value without these is a bare host name
_LOCAL_HOSTS = {"localhost", "localhost.localdomain", "local", "localdomain", "example", "invalid", "test"}
_BLANKS = {"", "-", "--", "n/a", "na", "none", "null", "nil", "unknown", "tbd", "http://", "https://", "www", "www."}


# Reason codes (stable, for machines): empty, unparseable, ip_address, localhost,
# no_public_suffix, public_suffix, freemail, disposable.
REASON_CODES = ("empty", "unparseable", "ip_address", "localhost", "no_public_suffix", "public_suffix", "freemail", "disposable")


class DomainRejected(InputError):
    """A value that yields no company key; ``reason`` is one of REASON_CODES."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _host_of(value: str) -> str:
    if _URL_CHARS.search(value) is None:  # the common case, a bare host name: nothing to take apart
        return value.strip().rstrip(".").strip()
    if "@" in value and "/" not in value.split("@", 1)[0] and not _SCHEME.match(value):
        value = value.rsplit("@", 1)[1]  # an e-mail address: its domain
    value = _SCHEME.sub("", value)
    if value.startswith("//"):
        value = value[2:]
    host = _PATH_START.split(value, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]  # userinfo
    if host.startswith("["):
        raise DomainRejected("ip_address", f"{value!r} is an IP address, not a company domain")
    host, _, port = host.partition(":")
    if not _PORT.match(port.strip()):
        raise DomainRejected("unparseable", f"{value!r} has a port that is not a number")
    return host.strip().rstrip(".").strip()


def _to_ascii(host: str, raw: str) -> str:
    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        pass
    try:  # lenient fallback for labels idna 2008 refuses but browsers accept (e.g. underscores are still refused below)
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise DomainRejected("unparseable", f"{raw!r} is not a valid domain name") from None


@lru_cache(maxsize=1)
def _suffix_index() -> Callable[..., Any] | None:
    """tldextract's own PSL lookup, without its URL parsing (None if its internals ever change)."""
    try:
        finder = _EXTRACT._get_tld_extractor().suffix_index
        finder(["example", "com"], include_psl_private_domains=True)
        return finder
    except (AttributeError, TypeError):  # pragma: no cover - a tldextract without these internals
        return None


def _domain_and_suffix(host: str, labels: list[str]) -> tuple[str, str]:
    """tldextract's (domain, suffix) for a host of valid LDH labels.

    Such a host is its own netloc for tldextract (no scheme, path, port or
    brackets), so its PSL lookup alone gives what ``_EXTRACT(host)`` gives,
    without the URL parsing that costs most of the call.
    """
    finder = _suffix_index()
    if finder is None:  # pragma: no cover
        parts = _EXTRACT(host)
        return parts.domain, parts.suffix
    found = finder(labels, include_psl_private_domains=True)
    if found is None:
        return labels[-1], ""
    index = found[0][0]
    return (labels[index - 1] if index > 0 else ""), ".".join(labels[index:])


@lru_cache(maxsize=1 << 16)
def canonical_domain(raw: str) -> str:
    """The canonical registrable domain of ``raw``; raises DomainRejected with a reason."""
    # Quotes, angle brackets and a stray trailing comma/semicolon are spreadsheet debris, not part of the name.
    # Zero-width spaces and BOMs come along when cells are copied from web pages.
    value = (raw or "").strip(_DEBRIS).strip("\"'<>").strip(_DEBRIS).rstrip(",;").strip(_DEBRIS)
    if value.lower() in _BLANKS:
        raise DomainRejected("empty", "no website, domain or e-mail")
    host = _host_of(value)
    if not host:
        raise DomainRejected("unparseable", f"{raw!r} holds no host name")
    plain = host.isascii() and _PLAIN_HOST.fullmatch(lowered := host.lower()) is not None
    if not plain or host[-1].isdigit():  # a plain name is an IP address only when it ends in a digit (IPv4)
        try:
            ipaddress.ip_address(host)
            raise DomainRejected("ip_address", f"{raw!r} is an IP address, not a company domain")
        except ValueError:
            pass
    if plain:
        ascii_host = lowered  # what IDNA would return for it
    else:
        if any(c.isspace() for c in host):
            raise DomainRejected("unparseable", f"{raw!r} is not a domain (it contains spaces)")
        ascii_host = _to_ascii(host.lower(), raw).rstrip(".")
    if ascii_host in _LOCAL_HOSTS or ascii_host.endswith(".localhost"):
        raise DomainRejected("localhost", f"{raw!r} is a local host name, not a company domain")
    # "www." names a web server, never the company: "www.co.uk" is a bare suffix, not a domain.
    ascii_host = _WWW.sub("", ascii_host)
    labels = ascii_host.split(".")
    if len(labels) < 2 or not (plain or all(_LABEL.match(label) for label in labels)):  # a plain name's labels are valid
        raise DomainRejected("unparseable", f"{raw!r} is not a valid domain name")
    domain, suffix = _domain_and_suffix(ascii_host, labels)
    if not suffix:
        raise DomainRejected("no_public_suffix", f"{raw!r} does not end in a public suffix")
    if not domain:
        raise DomainRejected("public_suffix", f"{raw!r} is a public suffix, not a company domain")
    registrable = f"{domain}.{suffix}"
    if is_freemail(registrable):
        raise DomainRejected("freemail", f"{registrable} is a free-mail domain, never a company key")
    if is_disposable(ascii_host, registrable):
        raise DomainRejected("disposable", f"{registrable} is a disposable e-mail domain, never a company key")
    return registrable
