"""The account key of CONTRACT §4: two claims conflict when their account keys are equal.

* With a domain: ``domain:`` + the host, lower-cased, without scheme, user info, port,
  path, query, fragment, a leading ``www.`` or a trailing dot, IDNA-encoded (UTS 46
  mapping): ``https://www.Müller.de/x`` → ``domain:xn--mller-kva.de``.
* Without a domain (none, blank, or nothing left once ``www.`` is removed): ``name:`` +
  the upper-cased country + ``:`` + the company name NFKC-normalised, case-folded,
  punctuation removed, white space collapsed, and trailing legal-form words removed:
  ``ACME, Inc.`` in US → ``name:US:acme``.

Choices where the contract is silent:
* Punctuation is every Unicode ``P*`` character, removed without a space
  (``Hewlett-Packard`` → ``hewlettpackard``, ``A.C.M.E.`` → ``acme``, ``AT&T`` →
  ``att``); symbols (``S*``, e.g. ``+``) are kept.
* Trailing legal-form words are removed repeatedly (``Acme Holdings Co Ltd`` →
  ``acme holdings``), but never the last remaining word: a company called ``Company``
  keeps ``company``. Legal-form words elsewhere in the name are kept.
* A domain that is not a valid host name raises ``ValueError`` naming ``domain``; the
  registration service turns that into an ``invalid`` rejection.
"""

from __future__ import annotations

import re
import unicodedata

import idna

LEGAL_FORMS = frozenset({
    "inc", "incorporated", "llc", "ltd", "limited", "gmbh", "ag", "sa", "sas", "sarl", "bv",
    "nv", "plc", "corp", "corporation", "co", "company", "pty", "oy", "ab", "srl", "spa", "kk",
    "as", "aps",
})

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def account_key(*, company_name: str, country: str, domain: str | None = None) -> str:
    host = _host(domain) if domain is not None else ""
    if host:
        return f"domain:{host}"
    return f"name:{country.strip().upper()}:{normalised_name(company_name)}"


def _host(domain: str) -> str:
    """The IDNA-encoded host of ``domain`` ('' when nothing is left)."""
    text = _SCHEME.sub("", domain.strip())
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    text = text.rsplit("@", 1)[-1]
    if text.startswith("["):
        raise ValueError(f"domain: {domain!r} is an IP address, not a domain")
    text = text.split(":", 1)[0].lower()
    if text.startswith("www."):
        text = text[len("www."):]
    text = text.rstrip(".")
    if not text:
        return ""
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise ValueError(f"domain: {domain!r} is not a valid domain name ({error})") from None


def normalised_name(company_name: str) -> str:
    """NFKC, case-folded, without punctuation, single spaces, no trailing legal forms."""
    # NFKC again after case folding, which can leave decomposed characters (NFKC_Casefold).
    folded = unicodedata.normalize(
        "NFKC", unicodedata.normalize("NFKC", company_name).casefold()
    )
    without_punctuation = "".join(
        char for char in folded if not unicodedata.category(char).startswith("P")
    )
    words = without_punctuation.split()
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return " ".join(words)
