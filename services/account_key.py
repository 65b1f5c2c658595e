"""The account key of docs/contract.md §4: two claims conflict when their account keys are equal.

* With a domain: ``domain:`` + the host, lower-cased, without scheme, user info, port,
  path, query, fragment, a leading ``www.`` or a trailing dot, IDNA-encoded (UTS 46
  mapping): ``https://www.Müller.de/x`` → ``domain:xn--mller-kva.de``.
* Without a domain: ``name:`` + the upper-cased country + ``:`` + the company name
  NFKC-normalised, case-folded, punctuation removed, white space collapsed to single
  spaces, and trailing legal-form words removed: ``ACME, Inc.`` in US → ``name:US:acme``.

Choices where the contract is silent (each made so that what a person would call "the same
account" gets the same key, and nothing else does):

Domains
  * Accepted decorations: surrounding white space, any ``scheme://`` (or a bare ``//``),
    user info (``user:pw@``), a port, a path, a query and a fragment.
  * The UTS 46 mapping (``idna.uts46_remap``: case folding, full-width forms, the
    ideographic full stop ``。`` as a dot, ...) is applied *before* a leading ``www.``
    and trailing dots are removed, so full-width ``www`` and dots, or a trailing ``。``,
    give the same key as their ASCII forms: ``acme.example。`` → ``domain:acme.example``.
    Exactly one leading ``www.`` label is removed (``www.www.a.example`` →
    ``domain:www.a.example``); ``www2.`` and ``wwwacme.`` are left alone.
  * Input that is already Punycode stays the same (``xn--mller-kva.de``).
  * A domain that is ``None``, blank, or has no host left once the decorations are
    removed (``https://``, ``www.``, ``:443``) counts as *no domain*: the name rule
    applies.
  * A host that is not a valid IDNA domain name (white space, ``_``, ``!``, an empty
    label, a leading hyphen, a label over 63 characters, bad Punycode ...) or that is an
    IP address (``[::1]``, ``192.0.2.1``: it names a machine, not an account) raises
    ``ValueError("domain: ...")``; callers prefix the field path and reject the input.
  * A single-label host (``acme``) is a valid host name and is kept: ``domain:acme``.

Names
  * Punctuation is every Unicode ``P*`` character, removed without leaving a space, as
    the rule literally says: ``Hewlett-Packard`` → ``hewlettpackard``, ``A.C.M.E.`` →
    ``acme``, ``S.A.`` → ``sa`` (so it is a legal form). ``&`` is Unicode punctuation
    (``Po``): ``AT&T`` → ``att``, ``Smith & Jones`` → ``smith jones``.
  * Symbols (``S*``: ``+``, ``$``, ``®``, emoji ...) are not punctuation and are kept
    (``C++`` stays distinct from ``C``). NFKC already turns ``™`` into ``tm``.
  * Invisible characters, i.e. control (``Cc``) and format (``Cf``: soft hyphen,
    zero-width space/joiners, BOM) characters, are removed, as Unicode's
    NFKC_Casefold does with default-ignorable code points: a name pasted with a stray
    zero-width space still gets its ordinary key. White space characters (including
    tabs and new lines) are collapsed to single spaces.
  * NFKC, case folding and removal are repeated until nothing changes, so that the
    result is always stable under re-normalisation (removing a full stop can bring a
    letter and a combining accent together, which NFKC then composes).
  * Trailing legal-form words (exactly the contract's list, ``LEGAL_FORMS``) are removed
    repeatedly (``Acme Holdings Co Ltd`` → ``acme holdings``, ``Acme Pty. Ltd.`` →
    ``acme``), but never the last remaining word: a company called ``Company`` keeps
    ``company``, ``Co. Ltd.`` keeps ``co``. Legal-form words elsewhere are kept
    (``AG Insurance Partners`` → ``ag insurance partners``).
  * A name with nothing left (only punctuation or white space) gives an empty name part
    (``name:US:``); it is not an error, so that the name rule can always serve as the
    fallback when a domain is rejected.
  * The country is stripped of surrounding white space and upper-cased, nothing more.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

import idna

__all__ = [
    "LEGAL_FORMS",
    "account_key",
    "domain_key",
    "name_key",
    "normalised_host",
    "normalised_name",
]

LEGAL_FORMS: frozenset[str] = frozenset({
    "inc", "incorporated", "llc", "ltd", "limited", "gmbh", "ag", "sa", "sas", "sarl", "bv",
    "nv", "plc", "corp", "corporation", "co", "company", "pty", "oy", "ab", "srl", "spa", "kk",
    "as", "aps",
})
"""The legal-form words of docs/contract.md §4, removed from the end of a company name."""

_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_END_OF_AUTHORITY = re.compile(r"[/?#]")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})
_MAX_NORMALISATION_ROUNDS = 8
#: What an IP address can be made of (IPv4, IPv6, a zone after %): only such text is parsed.
_MAYBE_IP = re.compile(r"[0-9a-f.:]+(?:%.*)?", re.IGNORECASE | re.DOTALL)
#: A host of ASCII letters, digits and hyphens that IDNA leaves as it is (lower-cased): no
#: label empty, longer than 63, starting or ending with a hyphen, or with "--" at 3 and 4
#: (punycode and reserved labels, which IDNA checks).
_PLAIN_LABEL = re.compile(r"(?!..--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_HOST_LENGTH = 253


def account_key(*, company_name: str, country: str, domain: str | None = None) -> str:
    """The account key: from the domain when there is one, otherwise from the name.

    Raises ``ValueError`` (message starting ``domain: ``) when ``domain`` is given but is
    not a valid domain name.
    """
    return domain_key(domain) or name_key(company_name=company_name, country=country)


def domain_key(domain: str | None) -> str | None:
    """``domain:`` + the normalised host, or ``None`` when there is no domain."""
    host = normalised_host(domain) if domain is not None else ""
    return f"domain:{host}" if host else None


def name_key(*, company_name: str, country: str) -> str:
    """``name:`` + upper-cased country + ``:`` + the normalised company name."""
    return f"name:{country.strip().upper()}:{normalised_name(company_name)}"


def normalised_host(domain: str) -> str:
    """The IDNA-encoded (ASCII) host of ``domain``; ``''`` when no host is left."""
    text = _SCHEME.sub("", domain.strip(), count=1)
    text = _END_OF_AUTHORITY.split(text, maxsplit=1)[0]
    text = text.rpartition("@")[2]
    if text.startswith("[") or _is_ip_address(text):
        raise ValueError(f"domain: {domain!r} is an IP address, not a domain name")
    text = text.partition(":")[0]
    plain = text.isascii()
    try:
        text = text.lower() if plain else idna.uts46_remap(text, std3_rules=False,
                                                           transitional=False)
    except idna.IDNAError as error:
        raise ValueError(f"domain: {domain!r} is not a valid domain name ({error})") from None
    text = text.removeprefix("www.").rstrip(".")
    if not text:
        return ""
    if _is_ip_address(text):
        raise ValueError(f"domain: {domain!r} is an IP address, not a domain name")
    if plain and _is_plain_host(text):
        return text  # what IDNA would return, without its cost (most hosts)
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise ValueError(f"domain: {domain!r} is not a valid domain name ({error})") from None


def normalised_name(company_name: str) -> str:
    """NFKC, case-folded, without punctuation, single spaces, no trailing legal forms."""
    text = company_name
    for _ in range(_MAX_NORMALISATION_ROUNDS):
        cleaned = _clean(text)
        if cleaned == text:
            break
        text = cleaned
    words = text.split()
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return " ".join(words)


def _clean(text: str) -> str:
    """One round: NFKC, case folding, NFKC again; punctuation and invisibles removed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(
        " " if char.isspace() else char
        for char in folded
        if char.isspace() or not _is_removed(unicodedata.category(char))
    )


def _is_removed(category: str) -> bool:
    return category.startswith("P") or category in _INVISIBLE_CATEGORIES


def _is_plain_host(text: str) -> bool:
    return len(text) <= _MAX_HOST_LENGTH and all(
        _PLAIN_LABEL.fullmatch(label) for label in text.split("."))


def _is_ip_address(text: str) -> bool:
    if not _MAYBE_IP.fullmatch(text):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
