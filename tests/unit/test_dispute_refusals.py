"""Why a registration cannot be disputed, in the words the command line and the API give."""

from __future__ import annotations

from dealreg.services.conflict.salesops import not_disputable


def test_a_registration_not_decided_yet_is_to_be_disputed_once_rejected() -> None:
    assert not_disputable("r-1", "submitted") == (
        "registration 'r-1' is not decided yet: try again once it is rejected")


def test_any_other_status_is_named_in_words() -> None:
    assert not_disputable("r-1", "under_review") == (
        "registration 'r-1' is under review, not denied for a conflict: only a registration "
        "that lost the account to another partner's can be disputed")
    assert not_disputable("r-2", "rejected").startswith(
        "registration 'r-2' is rejected, not denied for a conflict")
