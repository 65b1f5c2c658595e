"""Deterministic identities (dealreg.identity): uuid5s of business keys."""

from __future__ import annotations

from uuid import uuid5

from dealreg.identity import DEALREG_NAMESPACE, business_id


def test_a_business_id_is_the_uuid5_of_its_kind_and_key() -> None:
    assert business_id("registration", "r-1") == uuid5(DEALREG_NAMESPACE, "registration:r-1")
    assert business_id("registration", "r-1") != business_id("partner", "r-1")


def test_an_id_asked_for_again_is_remembered_not_computed_again() -> None:
    business_id("partner", "p-remembered")
    hits = business_id.cache_info().hits
    assert business_id("partner", "p-remembered") == uuid5(DEALREG_NAMESPACE,
                                                            "partner:p-remembered")
    assert business_id.cache_info().hits == hits + 1
