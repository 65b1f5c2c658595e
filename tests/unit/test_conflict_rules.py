"""Rules 2 to 6 of docs/contract.md §5, one test per rule, on the pure ``decide``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dealreg.services.conflict.rules import (
    Claim,
    Decision,
    Opportunity,
    decide,
    late_direct_claims,
)

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def protected(registration_id: str, partner_id: str, submitted_at: datetime, *,
              window: int = 30, withdrawn_at: datetime | None = None) -> Claim:
    return Claim(registration_id, partner_id, submitted_at, "reseller", "gold", "protected",
                 expires_at=submitted_at + window * DAY, withdrawn_at=withdrawn_at)


def under_review(registration_id: str, partner_id: str, submitted_at: datetime) -> Claim:
    return Claim(registration_id, partner_id, submitted_at, "reseller", "gold", "under_review")


def decide_r(*claims: Claim, at: datetime = T, partner_id: str = "p-1",
             opportunities: tuple[Opportunity, ...] = (),
             open_dispute_id: str | None = None) -> Decision:
    return decide(registration_id="r-new", partner_id=partner_id, submitted_at=at,
                  claims=claims, opportunities=opportunities, open_dispute_id=open_dispute_id)


# Rule 2: the same partner already holds or awaits the account.

def test_rule_2_a_registration_of_the_same_partner_under_review_is_a_duplicate() -> None:
    decision = decide_r(under_review("r-old", "p-1", T - DAY))
    assert (decision.rule, decision.outcome, decision.reason) == (2, "denied", "duplicate")
    assert decision.conflicting_registration_id == "r-old"


def test_rule_2_a_protected_registration_of_the_same_partner_is_a_duplicate() -> None:
    decision = decide_r(protected("r-old", "p-1", T - 10 * DAY))
    assert (decision.rule, decision.reason) == (2, "duplicate")


def test_rule_2_does_not_apply_once_the_window_has_ended_or_it_was_withdrawn() -> None:
    ended = protected("r-old", "p-1", T - 31 * DAY)
    withdrawn = protected("r-old2", "p-1", T - DAY, withdrawn_at=T - DAY / 2)
    assert decide_r(ended, withdrawn).outcome == "granted"


def test_rule_2_the_window_includes_its_last_instant() -> None:
    last_instant = protected("r-old", "p-1", T - 30 * DAY)
    assert decide_r(last_instant).reason == "duplicate"


def test_a_registration_is_never_its_own_duplicate() -> None:
    itself = under_review("r-new", "p-1", T)
    assert decide_r(itself).outcome == "granted"


# Rule 3: another partner's approved registration holds the account.

def test_rule_3_first_to_register_wins() -> None:
    decision = decide_r(protected("r-h", "p-2", T - DAY))
    assert (decision.rule, decision.outcome, decision.reason) == (3, "denied", "conflict")
    assert decision.conflicting_registration_id == "r-h"


def test_rule_3_a_submission_earlier_than_the_holder_arriving_later_opens_a_dispute() -> None:
    decision = decide_r(protected("r-h", "p-2", T + DAY))
    assert (decision.rule, decision.outcome, decision.kind) == (
        3, "dispute", "late_earlier_submission")
    assert decision.conflicting_registration_id == "r-h"


def test_rule_3_the_earliest_holder_is_the_one_named() -> None:
    decision = decide_r(protected("r-late", "p-3", T - DAY), protected("r-first", "p-2",
                                                                        T - 5 * DAY))
    assert decision.conflicting_registration_id == "r-first"


def test_rule_3_an_ended_window_holds_nothing() -> None:
    assert decide_r(protected("r-h", "p-2", T - 40 * DAY)).outcome == "granted"


def test_rule_3_an_other_partners_registration_under_review_holds_nothing() -> None:
    assert decide_r(under_review("r-h", "p-2", T - DAY)).outcome == "granted"


# Rule 4: an open dispute on the account.

def test_rule_4_the_registration_joins_the_open_dispute() -> None:
    decision = decide_r(open_dispute_id="d-1")
    assert (decision.rule, decision.outcome, decision.dispute_id) == (4, "join", "d-1")


def test_rule_3_comes_before_rule_4() -> None:
    assert decide_r(protected("r-h", "p-2", T - DAY), open_dispute_id="d-1").rule == 3


# Rule 5: a direct opportunity opened at or before the submission.

def test_rule_5_an_open_direct_opportunity_opened_before_opens_a_dispute() -> None:
    decision = decide_r(opportunities=(Opportunity("o-2", T - DAY), Opportunity("o-1", T)))
    assert (decision.rule, decision.outcome, decision.kind) == (5, "dispute", "partner_vs_direct")
    assert decision.opportunity_ids == ("o-1", "o-2")


def test_rule_5_ignores_opportunities_opened_later_or_closed_before() -> None:
    later = Opportunity("o-1", T + DAY)
    closed = Opportunity("o-2", T - 5 * DAY, closed_at=T - DAY)
    assert decide_r(opportunities=(later, closed)).outcome == "granted"


def test_rule_4_comes_before_rule_5() -> None:
    assert decide_r(opportunities=(Opportunity("o-1", T - DAY),), open_dispute_id="d-1").rule == 4


# Rule 6: otherwise the claim is granted.

def test_rule_6_no_conflict_grants_the_claim() -> None:
    decision = decide_r()
    assert (decision.rule, decision.outcome) == (6, "granted")
    assert decision.explanation.startswith("rule 6")


def test_protection_starts_at_submission() -> None:
    claim = protected("r-h", "p-2", T)
    assert not claim.protected_at(T - DAY)
    assert claim.protected_at(T)
    assert claim.protected_at(T + 30 * DAY)
    assert not claim.protected_at(T + 30 * DAY + timedelta(microseconds=1))


# Rule 5 applied late: an opportunity read after the claims it predates.

def test_rule_5_late_names_the_protected_claims_submitted_while_the_opportunity_was_open(
) -> None:
    opportunity = Opportunity("o-1", T)
    earlier = protected("r-before", "p-1", T - DAY)
    at_once = protected("r-at", "p-2", T)
    later = protected("r-later", "p-3", T + DAY)
    withdrawn = protected("r-gone", "p-4", T + DAY, withdrawn_at=T + 2 * DAY)
    waiting = under_review("r-wait", "p-5", T + DAY)
    assert late_direct_claims([later, earlier, withdrawn, waiting, at_once], opportunity) == [
        at_once, later]


def test_rule_5_late_ignores_claims_submitted_after_the_opportunity_closed() -> None:
    closed = Opportunity("o-1", T, closed_at=T + DAY)
    assert late_direct_claims([protected("r-1", "p-1", T + 2 * DAY)], closed) == []
