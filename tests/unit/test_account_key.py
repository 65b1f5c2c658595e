"""docs/contract.md §4: every rule and example of the account key, and the choices documented in
``services.account_key``."""

from __future__ import annotations

import re

import idna
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dealreg.services.account_key import (
    LEGAL_FORMS,
    account_key,
    domain_key,
    name_key,
    normalised_host,
    normalised_name,
)


def by_domain(domain: str) -> str:
    return account_key(company_name="Ignored Inc", country="us", domain=domain)


def by_name(company_name: str, country: str = "US") -> str:
    return account_key(company_name=company_name, country=country)


# --- the contract's examples -------------------------------------------------------------


def test_the_contract_examples() -> None:
    assert by_domain("https://www.Müller.de/x") == "domain:xn--mller-kva.de"
    assert by_name("ACME, Inc.") == "name:US:acme"


def test_the_contract_list_of_legal_forms() -> None:
    assert frozenset({
        "inc", "incorporated", "llc", "ltd", "limited", "gmbh", "ag", "sa", "sas", "sarl",
        "bv", "nv", "plc", "corp", "corporation", "co", "company", "pty", "oy", "ab", "srl",
        "spa", "kk", "as", "aps",
    }) == LEGAL_FORMS


# --- with a domain -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        "acme.example",
        "ACME.Example",  # lower-cased
        "www.acme.example",  # a leading www.
        "WWW.acme.example",
        "http://acme.example",  # scheme
        "https://www.acme.example/",
        "ftp://acme.example",  # any scheme
        "//acme.example/x",  # scheme-relative
        "acme.example:8080",  # port
        "https://www.acme.example:8443/pricing?ref=partner#top",  # port, path, query, fragment
        "acme.example.",  # a trailing dot
        "www.acme.example.:443",
        "  acme.example  ",  # surrounding white space
        "\tHTTPS://WWW.ACME.EXAMPLE.\n",
        "ftp://user:secret@acme.example/files",  # user info
        "mail@acme.example",
        "acme.example/path/only",  # path
        "acme.example?query=1",  # query
        "acme.example#fragment",  # fragment
        "\uff37\uff37\uff37\uff0e\uff21\uff23\uff2d\uff25\uff0eexample",  # full-width WWW.ACME.
        "acme.example。",  # an ideographic full stop as the trailing dot
    ],
)
def test_a_domain_is_reduced_to_its_host(domain: str) -> None:
    assert by_domain(domain) == "domain:acme.example"


def test_idna_encoding_and_punycode_input_agree() -> None:
    assert by_domain("müller.de") == "domain:xn--mller-kva.de"
    assert by_domain("xn--mller-kva.de") == "domain:xn--mller-kva.de"  # already Punycode
    assert by_domain("XN--MLLER-KVA.DE") == "domain:xn--mller-kva.de"
    assert by_domain("MÜLLER.DE") == "domain:xn--mller-kva.de"
    assert by_domain("http://www.müller。de:80/") == "domain:xn--mller-kva.de"
    assert by_domain("https://bücher.example/") == "domain:xn--bcher-kva.example"
    assert by_domain("例え.テスト") == "domain:xn--r8jz45g.xn--zckzah"


def test_only_one_leading_www_label_is_removed() -> None:
    assert by_domain("www.www.acme.example") == "domain:www.acme.example"
    assert by_domain("www2.acme.example") == "domain:www2.acme.example"
    assert by_domain("wwwacme.example") == "domain:wwwacme.example"
    assert by_domain("shop.www.acme.example") == "domain:shop.www.acme.example"


def test_subdomains_and_single_labels_are_kept() -> None:
    assert by_domain("eu.acme.example") == "domain:eu.acme.example"
    assert by_domain("acme") == "domain:acme"


@pytest.mark.parametrize("domain", [None, "", "   ", "https://", "www.", "http://www./", ":443"])
def test_no_domain_falls_back_to_the_name(domain: str | None) -> None:
    assert account_key(company_name="ACME, Inc.", country="us", domain=domain) == "name:US:acme"
    assert domain_key(domain) is None


@pytest.mark.parametrize(
    "domain",
    [
        "acme .example",  # white space inside
        "acme_corp.example",
        "acme!.example",
        "-acme.example",  # leading hyphen
        "a..b",  # empty label
        ".acme.example",
        "a" * 64 + ".example",  # label too long
        "xn--abc.example",  # invalid Punycode
        "[::1]",  # IP addresses name machines, not accounts
        "[2001:db8::1]:443",
        "::1",
        "192.0.2.1",
        "https://192.0.2.1:8080/",
    ],
)
def test_an_invalid_domain_is_an_error_naming_the_field(domain: str) -> None:
    with pytest.raises(ValueError, match=r"^domain: ") as raised:
        by_domain(domain)
    assert repr(domain) in str(raised.value)


def test_a_domain_wins_over_the_name() -> None:
    assert account_key(company_name="ACME", country="US", domain="acme.example") == (
        "domain:acme.example"
    )
    assert account_key(company_name="Globex", country="DE", domain="acme.example") == (
        account_key(company_name="ACME", country="US", domain="acme.example")
    )


# --- without a domain --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("company_name", "expected"),
    [
        ("ACME, Inc.", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme LLC", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Müller GmbH", "müller"),
        ("Siemens AG", "siemens"),
        ("Renault S.A.", "renault"),  # S.A. → "sa" once the full stops are gone
        ("Acme SAS", "acme"),
        ("Acme SARL", "acme"),
        ("Philips B.V.", "philips"),
        ("Acme N.V.", "acme"),
        ("Acme plc", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co.", "acme"),
        ("Acme Company", "acme"),
        ("Acme Pty", "acme"),
        ("Nokia Oy", "nokia"),
        ("Volvo AB", "volvo"),
        ("Acme S.r.l.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Toyota K.K.", "toyota"),
        ("Equinor AS", "equinor"),
        ("Maersk ApS", "maersk"),
    ],
)
def test_a_trailing_legal_form_word_is_removed(company_name: str, expected: str) -> None:
    assert normalised_name(company_name) == expected


@pytest.mark.parametrize(
    ("company_name", "expected"),
    [
        ("Acme Holdings Co Ltd", "acme holdings"),
        ("Acme Pty. Ltd.", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme GmbH & Co", "acme"),  # "&" is punctuation, then co and gmbh go
        ("Acme Inc LLC Ltd Corp", "acme"),
    ],
)
def test_all_trailing_legal_form_words_are_removed(company_name: str, expected: str) -> None:
    assert normalised_name(company_name) == expected


def test_legal_form_words_elsewhere_are_kept() -> None:
    assert normalised_name("AG Insurance Partners") == "ag insurance partners"
    assert normalised_name("The Limited Edition Shop") == "the limited edition shop"
    assert normalised_name("Co Op Foods") == "co op foods"
    assert normalised_name("Incorporated Widgets Inc") == "incorporated widgets"


def test_legal_form_words_are_whole_words() -> None:
    assert normalised_name("Acmeinc") == "acmeinc"
    assert normalised_name("Costco") == "costco"
    assert normalised_name("Acme Incs") == "acme incs"


def test_a_name_that_is_only_legal_forms_keeps_its_first_word() -> None:
    assert normalised_name("Company") == "company"
    assert normalised_name("Co. Ltd.") == "co"
    assert by_name("Limited") == "name:US:limited"


def test_punctuation_is_removed() -> None:
    assert normalised_name("A.C.M.E.") == "acme"
    assert normalised_name("Hewlett-Packard") == "hewlettpackard"  # the literal rule
    assert normalised_name("O'Reilly Media") == "oreilly media"
    assert normalised_name("“Acme” (Europe)!") == "acme europe"
    assert normalised_name("Acme — Europe") == "acme europe"  # em dash, then collapsing
    assert normalised_name("AT&T") == "att"  # & is Unicode punctuation (Po)
    assert normalised_name("Smith & Jones") == "smith jones"
    assert normalised_name("Acme、株式会社") == "acme株式会社"  # CJK punctuation


def test_symbols_are_kept() -> None:
    assert normalised_name("C++ Tools") == "c++ tools"  # + is a symbol (Sm)
    assert normalised_name("Acme $ Store") == "acme $ store"  # Sc
    assert normalised_name("Acme®") == "acme®"  # So
    assert normalised_name("C Tools") != normalised_name("C++ Tools")


def test_white_space_is_collapsed() -> None:
    assert normalised_name("  Acme \t  Rocket\n Works ") == "acme rocket works"
    assert normalised_name("Acme\u00a0\u2003Rocket") == "acme rocket"  # no-break, em space
    assert normalised_name("Acme ,  Rocket") == "acme rocket"


def test_invisible_characters_are_removed() -> None:
    assert normalised_name("Hewlett\u00adPackard") == "hewlettpackard"  # soft hyphen
    assert normalised_name("\ufeffAcme\u200b Inc") == "acme"  # BOM, zero-width space
    assert normalised_name("Acme\x07") == "acme"  # a control character


def test_nfkc_normalisation() -> None:
    assert normalised_name("\uff21\uff23\uff2d\uff25") == "acme"  # full-width "ACME"
    assert normalised_name(  # full-width "ACME, Inc."
        "\uff21\uff23\uff2d\uff25\uff0c\u3000\uff29\uff4e\uff43\uff0e"
    ) == "acme"
    assert normalised_name("\ufb01ne Foods") == "fine foods"  # the "ﬁ" ligature
    assert normalised_name("Cafe\u0301") == normalised_name("Caf\u00e9") == "café"
    assert normalised_name("Acme™") == "acmetm"  # NFKC's compatibility mapping of ™


def test_case_folding() -> None:
    assert normalised_name("Straße") == "strasse"  # case folding, not lower-casing
    assert normalised_name("STRASSE") == "strasse"
    assert normalised_name("ΣΊΣΥΦΟΣ") == normalised_name("σίσυφος")


def test_the_result_is_stable_when_a_removal_brings_characters_together() -> None:
    assert normalised_name("e.\u0301") == "é"  # full stop between a letter and an accent
    assert normalised_name(normalised_name("e.\u0301")) == "é"


def test_a_name_with_nothing_left_has_an_empty_name_part() -> None:
    assert by_name("...") == "name:US:"


def test_the_country_is_upper_cased_and_part_of_the_key() -> None:
    assert by_name("Acme", "de") == "name:DE:acme"
    assert by_name("Acme", " gb ") == "name:GB:acme"
    assert by_name("Acme", "de") != by_name("Acme", "AT")


def test_the_helpers_agree_with_account_key() -> None:
    assert name_key(company_name="ACME, Inc.", country="us") == "name:US:acme"
    assert domain_key("https://www.Müller.de/x") == "domain:xn--mller-kva.de"
    assert normalised_host("https://www.Müller.de/x") == "xn--mller-kva.de"
    assert normalised_host("www.") == ""


# --- properties --------------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
names = any_text.filter(lambda name: normalised_name(name) != "")
latin_names = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzäöüéèçñ0123456789 .,-&'"),
    min_size=1, max_size=30,
).filter(lambda name: normalised_name(name) != "")
countries = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                    min_size=2, max_size=2)


@given(any_text)
@example("e.\u0301")
@example("A.C.M.E. Co. Ltd.")
def test_normalising_a_name_is_idempotent(name: str) -> None:
    once = normalised_name(name)
    assert normalised_name(once) == once
    assert once == " ".join(once.split())  # single spaces, none at the ends


@given(names, countries)
def test_the_key_of_a_key_is_the_same_key(name: str, country: str) -> None:
    key = by_name(name, country)
    _, key_country, key_name = key.split(":", 2)
    assert by_name(key_name, key_country) == key


@given(names, st.lists(st.sampled_from(sorted(LEGAL_FORMS)), max_size=3))
def test_decorations_of_a_name_give_the_same_key(name: str, legal_forms: list[str]) -> None:
    base = by_name(name)
    assert by_name(f"  {name} ,  ") == base
    assert by_name(f"{name}\t\n") == base
    suffix = " ".join(f"{form.upper()}." for form in legal_forms)
    assert by_name(f"{name}, {suffix}") == base


@given(latin_names, countries)
def test_letter_case_of_a_name_and_country_does_not_matter(name: str, country: str) -> None:
    base = by_name(name, country)
    assert by_name(name.upper() + "  ,", country.lower()) == base
    assert by_name(name.title(), country.upper()) == base
    assert by_name(name.swapcase(), country) == base


labels = st.from_regex(r"[a-z0-9]{1,10}(-[a-z0-9]{1,5})?", fullmatch=True)  # valid LDH labels
hosts = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(labels, min_size=1, max_size=3),
    st.sampled_from(["com", "de", "example", "co.uk", "xn--mller-kva.de"]),
).filter(lambda host: not host.startswith("www."))


@given(
    hosts,
    st.sampled_from(["", "http://", "https://", "ftp://", "//", "HTTPS://user:pw@"]),
    st.sampled_from(["", "www.", "WWW."]),
    st.sampled_from([str.lower, str.upper, str.title]),
    st.sampled_from(["", ".", ":8080", ".:443"]),
    st.sampled_from(["", "/", "/a/b", "?q=1", "#top", "/a?b=c#d"]),
    st.sampled_from(["", " ", "\t"]),
)
def test_decorations_of_a_host_give_the_same_key(
    host: str, scheme: str, www: str, case: object, port: str, rest: str, space: str
) -> None:
    assert callable(case)
    decorated = f"{space}{scheme}{www}{case(host)}{port}{rest}{space}"
    expected = f"domain:{host}"
    assert by_domain(decorated) == expected
    assert by_domain(expected.removeprefix("domain:")) == expected  # a key's host is stable


def _host_by_idna_alone(domain: str) -> str:
    """normalised_host as written before its ASCII shortcut: IDNA for every host."""
    text = re.sub(r"^(?:[a-z][a-z0-9+.-]*:)?//", "", domain.strip(), count=1,
                  flags=re.IGNORECASE)
    text = re.split(r"[/?#]", text, maxsplit=1)[0].rpartition("@")[2]
    text = text.partition(":")[0]
    text = idna.uts46_remap(text, std3_rules=False, transitional=False)
    text = text.removeprefix("www.").rstrip(".")
    return idna.encode(text, uts46=True).decode("ascii") if text else ""


_ASCII_HOSTS = st.text(alphabet="abcXYZ019-._", min_size=1, max_size=80) | st.builds(
    lambda labels: ".".join(labels),
    st.lists(st.sampled_from(["xn--bcher-kva", "xn--a", "ab--c", "-a", "a-", "A" * 63,
                              "a" * 64, "www", "Example", "co", "uk", "0", "9z"]),
             min_size=1, max_size=5))


@settings(max_examples=400, deadline=None)
@given(_ASCII_HOSTS)
def test_ascii_hosts_normalise_as_idna_does(domain: str) -> None:
    try:
        expected: str | None = _host_by_idna_alone(domain)
    except idna.IDNAError:
        expected = None
    try:
        actual: str | None = normalised_host(domain)
    except ValueError as error:
        refusal, actual = str(error), None
        assert refusal.startswith("domain: ")
    if actual is not None or expected is None:
        assert actual == expected
    else:  # refused as an IP address, which IDNA alone would not see
        assert re.fullmatch(r"[0-9.]+", domain.removeprefix("www.").rstrip("."))
