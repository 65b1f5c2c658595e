"""CONTRACT §4: every rule and example of the account key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.account_key import LEGAL_FORMS, account_key, normalised_name


def by_domain(domain: str) -> str:
    return account_key(company_name="Ignored Inc", country="us", domain=domain)


def by_name(company_name: str, country: str = "US") -> str:
    return account_key(company_name=company_name, country=country)


def test_the_contract_examples() -> None:
    assert by_domain("https://www.Müller.de/x") == "domain:xn--mller-kva.de"
    assert by_name("ACME, Inc.") == "name:US:acme"


@pytest.mark.parametrize(
    "domain",
    [
        "acme.example",
        "ACME.Example",
        "www.acme.example",
        "http://acme.example",
        "https://www.acme.example/",
        "https://www.acme.example:8443/pricing?ref=partner#top",
        "acme.example.",
        "www.acme.example.:443",
        "  acme.example  ",
        "ftp://user:secret@acme.example/files",
        "acme.example/path/only",
        "acme.example?query=1",
    ],
)
def test_a_domain_is_reduced_to_its_host(domain: str) -> None:
    assert by_domain(domain) == "domain:acme.example"


def test_idna_encoding_and_punycode_input_agree() -> None:
    assert by_domain("müller.de") == "domain:xn--mller-kva.de"
    assert by_domain("xn--mller-kva.de") == "domain:xn--mller-kva.de"
    assert by_domain("MÜLLER.DE") == "domain:xn--mller-kva.de"
    assert by_domain("https://bücher.example/") == "domain:xn--bcher-kva.example"


def test_only_one_leading_www_label_is_removed() -> None:
    assert by_domain("www.www.acme.example") == "domain:www.acme.example"
    assert by_domain("www2.acme.example") == "domain:www2.acme.example"
    assert by_domain("wwwacme.example") == "domain:wwwacme.example"


@pytest.mark.parametrize("domain", ["", "   ", "https://", "www.", "http://www./"])
def test_an_empty_domain_falls_back_to_the_name(domain: str) -> None:
    assert account_key(company_name="ACME, Inc.", country="us", domain=domain) == "name:US:acme"


@pytest.mark.parametrize("domain", ["acme .example", "-acme.example", "[::1]", "a..b"])
def test_an_invalid_domain_is_an_error_naming_the_field(domain: str) -> None:
    with pytest.raises(ValueError, match=r"^domain: "):
        by_domain(domain)


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
        ("Acme Pty Ltd", "acme"),
        ("Nokia Oy", "nokia"),
        ("Volvo AB", "volvo"),
        ("Acme S.r.l.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Toyota K.K.", "toyota"),
        ("Equinor AS", "equinor"),
        ("Maersk ApS", "maersk"),
        ("Acme Holdings Co Ltd", "acme holdings"),
    ],
)
def test_trailing_legal_form_words_are_removed(company_name: str, expected: str) -> None:
    assert normalised_name(company_name) == expected


def test_legal_form_words_elsewhere_are_kept() -> None:
    assert normalised_name("AG Insurance Partners") == "ag insurance partners"
    assert normalised_name("The Limited Edition Shop") == "the limited edition shop"


def test_a_name_that_is_only_a_legal_form_keeps_its_last_word() -> None:
    assert normalised_name("Company") == "company"
    assert normalised_name("Co. Ltd.") == "co"


def test_punctuation_whitespace_nfkc_and_case_folding() -> None:
    assert normalised_name("A.C.M.E.") == "acme"
    assert normalised_name("Hewlett-Packard") == "hewlettpackard"
    assert normalised_name("  Acme \t  Rocket\n Works ") == "acme rocket works"
    assert normalised_name("\uff21\uff23\uff2d\uff25") == "acme"  # full-width letters, NFKC
    assert normalised_name("Straße") == "strasse"  # case folding, not lower-casing
    assert normalised_name("“Acme” (Europe)!") == "acme europe"
    assert normalised_name("AT&T") == "att"  # & is Unicode punctuation (Po)
    assert normalised_name("C++ Tools") == "c++ tools"  # + is a symbol (Sm), kept


def test_the_country_is_upper_cased_and_part_of_the_key() -> None:
    assert by_name("Acme", "de") == "name:DE:acme"
    assert by_name("Acme", "de") != by_name("Acme", "AT")


def test_a_domain_wins_over_the_name() -> None:
    assert account_key(company_name="ACME", country="US", domain="acme.example") == (
        "domain:acme.example"
    )


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
    max_size=40,
).filter(lambda name: normalised_name(name) != "")


@given(names, st.sampled_from(sorted(LEGAL_FORMS)))
def test_decorations_of_a_name_give_the_same_key(name: str, legal_form: str) -> None:
    base = by_name(name)
    assert by_name(f"  {name} ,  ") == base
    assert by_name(f"{name}, {legal_form.upper()}.") == base


@given(names)
def test_normalising_is_idempotent(name: str) -> None:
    once = normalised_name(name)
    assert normalised_name(once) == once


@given(st.from_regex(r"[a-z][a-z0-9]{0,10}\.(com|de|example)", fullmatch=True),
       st.sampled_from(["", "http://", "https://www.", "www."]),
       st.sampled_from(["", "/", ":8080", "/a?b=c", "."]))
def test_decorations_of_a_host_give_the_same_key(host: str, prefix: str, suffix: str) -> None:
    assert by_domain(f"{prefix}{host.upper()}{suffix}") == f"domain:{host}"
