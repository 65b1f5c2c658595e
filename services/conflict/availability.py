"""The partner portal's question to the conflict service: may this partner register this
account now? The answer says nothing of anyone else: not who holds the account, nor since
when, nor why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dealreg.eventstore import ServiceApplication
from dealreg.services.conflict.domain import AccountClaims
from dealreg.services.conflict.rules import decide

#: The id a registration the partner has not submitted is decided under.
_PROBE = "\0availability"


@dataclass(frozen=True)
class Availability:
    account_key: str
    #: A registration the partner submitted at the instant would be granted (rule 6).
    available: bool
    #: The partner holds the account at the instant, or has a registration on it under review.
    yours: bool


def availability(app: ServiceApplication, account_key: str, partner_id: str,
                 at: datetime) -> Availability:
    """Rules 2 to 6 applied to a registration of ``partner_id`` submitted at ``at``."""
    claims = app.get_or_none(AccountClaims.create_id(account_key))
    if not isinstance(claims, AccountClaims):
        return Availability(account_key, available=True, yours=False)
    dispute = claims.open_dispute()
    decision = decide(registration_id=_PROBE, partner_id=partner_id, submitted_at=at,
                      claims=claims.claims.values(),
                      opportunities=claims.opportunities.values(),
                      open_dispute_id=dispute.dispute_id if dispute else None)
    yours = any(claim.partner_id == partner_id
                and (claim.status == "under_review" or claim.holds_at(at))
                for claim in claims.claims.values())
    return Availability(account_key, available=decision.outcome == "granted", yours=yours)
