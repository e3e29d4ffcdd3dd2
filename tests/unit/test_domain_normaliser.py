"""The canonical domain against a table of real-world messy variants, both ways.

Every expected value below is written by hand (what a person reading the PSL
and the IDNA rules expects), never computed with the code under test.
"""

from __future__ import annotations

import socket

import pytest

from cleanroom.errors import InputError
from cleanroom_client.inputs.keys.domain import REASON_CODES, DomainRejected, canonical_domain
from cleanroom_client.inputs.keys.freemail import is_disposable, is_freemail

# --- must match: every spelling on the left canonicalises to the value on the right ---
SAME = [
    # plain, case, whitespace and quotes
    ("acme.com", "acme.com"),
    ("ACME.COM", "acme.com"),
    ("Acme.Com", "acme.com"),
    ("  acme.com  ", "acme.com"),
    ("\tacme.com\n", "acme.com"),
    ('"acme.com"', "acme.com"),
    ("'acme.com'", "acme.com"),
    ("<acme.com>", "acme.com"),
    ("acme.com,", "acme.com"),
    ("\u200bacme.com\ufeff", "acme.com"),
    ("\u00a0acme.com\u00a0", "acme.com"),
    # schemes, www, paths, queries, fragments
    ("http://acme.com", "acme.com"),
    ("https://acme.com", "acme.com"),
    ("HTTPS://WWW.ACME.COM/", "acme.com"),
    ("https://www.acme.com/about-us", "acme.com"),
    ("http://www.acme.com/index.html?x=1#top", "acme.com"),
    ("https://acme.com/?ref=partner@other.com", "acme.com"),
    ("https://acme.com#contact", "acme.com"),
    ("www.acme.com", "acme.com"),
    ("WWW.acme.com/", "acme.com"),
    ("www2.acme.com", "acme.com"),
    ("//acme.com/path", "acme.com"),
    ("ftp://files.acme.com", "acme.com"),
    ("acme.com/en-us/products", "acme.com"),
    ("https://www.acme.com\\path", "acme.com"),
    # ports and userinfo
    ("acme.com:8080", "acme.com"),
    ("http://acme.com:80/", "acme.com"),
    ("https://www.acme.com:443/login", "acme.com"),
    ("http://acme.com:", "acme.com"),
    ("http://user:secret@www.acme.com:8443/x", "acme.com"),
    # trailing dots
    ("acme.com.", "acme.com"),
    ("www.acme.com.", "acme.com"),
    ("https://acme.com./", "acme.com"),
    # subdomains collapse to the registrable domain
    ("shop.acme.com", "acme.com"),
    ("eu.app.acme.com", "acme.com"),
    ("a.b.c.d.acme.com", "acme.com"),
    ("https://eu.app.acme.com/login", "acme.com"),
    # e-mail addresses reduce to their domain
    ("sales@acme.com", "acme.com"),
    ("Jane.Doe@ACME.COM", "acme.com"),
    ("jane@mail.acme.com", "acme.com"),
    ("mailto:sales@acme.com", "acme.com"),
    ("Jane Doe <jane@acme.com>", "acme.com"),
    ("jane+crm@acme.com", "acme.com"),
    # multi-level public suffixes
    ("acme.co.uk", "acme.co.uk"),
    ("www.acme.co.uk", "acme.co.uk"),
    ("shop.acme.co.uk", "acme.co.uk"),
    ("http://acme.co.uk:8080", "acme.co.uk"),
    ("sales@acme.co.uk", "acme.co.uk"),
    ("acme.com.au", "acme.com.au"),
    ("https://www.acme.com.au/en-au/", "acme.com.au"),
    ("acme.co.jp", "acme.co.jp"),
    ("WWW.ACME.CO.JP", "acme.co.jp"),
    ("mail.acme.com.br", "acme.com.br"),
    ("www.acme.com.br.", "acme.com.br"),
    ("acme.co.nz", "acme.co.nz"),
    ("acme.org.uk", "acme.org.uk"),
    ("portal.acme.gov.uk", "acme.gov.uk"),
    ("acme.co", "acme.co"),
    ("www.acme.io", "acme.io"),
    ("acme.de", "acme.de"),
    # IDN: Unicode and punycode spellings are one domain (IDNA 2008, UTS 46, non-transitional)
    ("münchen.de", "xn--mnchen-3ya.de"),
    ("MÜNCHEN.DE", "xn--mnchen-3ya.de"),
    ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
    ("XN--MNCHEN-3YA.DE", "xn--mnchen-3ya.de"),
    ("https://www.münchen.de/rathaus", "xn--mnchen-3ya.de"),
    ("info@münchen.de", "xn--mnchen-3ya.de"),
    ("straße.de", "xn--strae-oqa.de"),
    ("bücher.example.co.uk", "example.co.uk"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("acme.рф", "acme.xn--p1ai"),
    ("acme。com", "acme.com"),
    ("ａｃｍｅ.com", "acme.com"),
    # private PSL suffixes are honoured: each tenant is its own registrable domain
    ("alice.github.io", "alice.github.io"),
    ("www.alice.github.io", "alice.github.io"),
    ("https://alice.github.io/project", "alice.github.io"),
    ("waiterrant.blogspot.com", "waiterrant.blogspot.com"),
    ("bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
    ("acme.herokuapp.com", "acme.herokuapp.com"),
    ("api.acme.herokuapp.com", "acme.herokuapp.com"),
]

# --- must NOT match: each pair canonicalises to two different keys ---
DIFFERENT = [
    (("acme.com", "acme.com"), ("acme.co.uk", "acme.co.uk")),
    (("acme.com", "acme.com"), ("acme.com.au", "acme.com.au")),
    (("acme.co.uk", "acme.co.uk"), ("acme.uk", "acme.uk")),
    (("acme.com", "acme.com"), ("acme.net", "acme.net")),
    (("acme.com", "acme.com"), ("acme-corp.com", "acme-corp.com")),
    (("acme.com", "acme.com"), ("acmecorp.com", "acmecorp.com")),
    (("alice.github.io", "alice.github.io"), ("bob.github.io", "bob.github.io")),
    (("alice.blogspot.com", "alice.blogspot.com"), ("bob.blogspot.com", "bob.blogspot.com")),
    (("a.herokuapp.com", "a.herokuapp.com"), ("b.herokuapp.com", "b.herokuapp.com")),
    (("shop.acme.co.uk", "acme.co.uk"), ("shop.beta.co.uk", "beta.co.uk")),
    (("acme.co.jp", "acme.co.jp"), ("acme.jp", "acme.jp")),
    (("münchen.de", "xn--mnchen-3ya.de"), ("munchen.de", "munchen.de")),
    (("straße.de", "xn--strae-oqa.de"), ("strasse.de", "strasse.de")),
    (("acme.com.br", "acme.com.br"), ("acme.br.com", "acme.br.com")),  # br.com is a private PSL suffix
    (("www.acme.de", "acme.de"), ("www-acme.de", "www-acme.de")),
]

# --- never a company key: value -> reason code ---
REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    ("n/a", "empty"),
    ("N/A", "empty"),
    ("-", "empty"),
    ("none", "empty"),
    ("null", "empty"),
    ("http://", "empty"),
    ("www.", "empty"),
    # free-mail: the address says nothing about the company
    ("gmail.com", "freemail"),
    ("jane.doe@gmail.com", "freemail"),
    ("JANE@GMAIL.COM", "freemail"),
    ("someone@googlemail.com", "freemail"),
    ("bob@hotmail.com", "freemail"),
    ("bob@hotmail.co.uk", "freemail"),
    ("jane@yahoo.com", "freemail"),
    ("jane@yahoo.co.uk", "freemail"),
    ("jane@yahoo.com.mx", "freemail"),
    ("mail.yahoo.com", "freemail"),
    ("x@outlook.com", "freemail"),
    ("x@live.com", "freemail"),
    ("x@aol.com", "freemail"),
    ("x@icloud.com", "freemail"),
    ("x@me.com", "freemail"),
    ("x@mail.ru", "freemail"),
    ("x@yandex.ru", "freemail"),
    ("x@gmx.de", "freemail"),
    ("x@gmx.net", "freemail"),
    ("x@web.de", "freemail"),
    ("x@proton.me", "freemail"),
    ("x@protonmail.com", "freemail"),
    ("12345@qq.com", "freemail"),
    ("x@163.com", "freemail"),
    ("https://www.gmail.com/", "freemail"),
    # disposable
    ("x@mailinator.com", "disposable"),
    ("x@yopmail.com", "disposable"),
    ("x@guerrillamail.com", "disposable"),
    ("x@10minutemail.com", "disposable"),
    # IP addresses and local names
    ("192.168.1.10", "ip_address"),
    ("http://10.0.0.1:8080/", "ip_address"),
    ("0.0.0.0", "ip_address"),
    ("[::1]", "ip_address"),
    ("http://[2001:db8::1]/", "ip_address"),
    ("localhost", "localhost"),
    ("http://localhost:3000", "localhost"),
    ("app.localhost", "localhost"),
    # bare public suffixes (ICANN and private)
    ("co.uk", "public_suffix"),
    ("com.au", "public_suffix"),
    ("www.co.uk", "public_suffix"),
    ("github.io", "public_suffix"),
    ("s3.amazonaws.com", "public_suffix"),
    # not under any public suffix
    ("acme.local", "no_public_suffix"),
    ("acme.internal", "no_public_suffix"),
    ("acme.notarealtld", "no_public_suffix"),
    # unparseable
    ("acme", "unparseable"),
    ("acme .com", "unparseable"),
    ("acme,com", "unparseable"),
    ("acme.com;beta.com", "unparseable"),
    ("a_b.com", "unparseable"),
    ("-acme.com", "unparseable"),
    ("acme-.com", "unparseable"),
    ("*.acme.com", "unparseable"),
    ("http:/acme.com", "unparseable"),
    ("acme.com:http", "unparseable"),
    ("a" * 64 + ".com", "unparseable"),
    ("1234", "unparseable"),
    ("acme..com", "unparseable"),
]

TABLE_SIZE = len(SAME) + len(DIFFERENT) + len(REJECTED)


def test_table_is_large() -> None:
    assert TABLE_SIZE >= 80


@pytest.mark.parametrize(("raw", "expected"), SAME, ids=[repr(r) for r, _ in SAME])
def test_same_domain(raw: str, expected: str) -> None:
    assert canonical_domain(raw) == expected


@pytest.mark.parametrize(("left", "right"), DIFFERENT, ids=[f"{a[0]}!={b[0]}" for a, b in DIFFERENT])
def test_different_domains(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert canonical_domain(left[0]) == left[1]
    assert canonical_domain(right[0]) == right[1]
    assert left[1] != right[1]


@pytest.mark.parametrize(("raw", "reason"), REJECTED, ids=[repr(r)[:40] for r, _ in REJECTED])
def test_rejected(raw: str, reason: str) -> None:
    with pytest.raises(DomainRejected) as caught:
        canonical_domain(raw)
    assert caught.value.reason == reason
    assert isinstance(caught.value, InputError)  # the CLI turns it into one clear line
    assert str(caught.value)  # a message for people too


def test_reason_codes_are_the_documented_set() -> None:
    assert set(REASON_CODES) == {r for _, r in REJECTED}


def test_freemail_and_disposable_lists() -> None:
    assert is_freemail("gmail.com") and is_freemail("yahoo.fr") and is_freemail("gmx.at")
    assert not is_freemail("acme.com") and not is_freemail("mail.acme.com")
    assert is_disposable("mailinator.com", "mailinator.com")
    assert is_disposable("inbox.mailinator.com", "mailinator.com")  # any level below a listed domain
    assert not is_disposable("acme.com", "acme.com")


def test_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Public Suffix List is the bundled snapshot: canonicalising never opens a socket."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    canonical_domain.cache_clear()
    assert canonical_domain("https://www.network-free-check.co.uk/x") == "network-free-check.co.uk"
