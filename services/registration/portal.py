"""The partner portal's view of the registration service's store: a partner's own
registration, with its status, protection window, the reason of a rejection and the
timeline of its events, as registrations.v1 announced them. Nothing of another partner:
another partner's registration is not found, and a registration that lost to another
partner's does not name it. Read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dealreg.eventstore import ServiceApplication
from dealreg.services.registration.domain import DealRegistration
from dealreg.services.registration.emissions import emit
from dealreg.services.registration.status import status_after

#: What a partner reads instead of a rejection's detail when it names another partner's
#: registration.
OTHERS = {"conflict": "another partner's registration holds the account",
          "dispute_lost": "the dispute over the account was settled for another party"}


def own_registration(app: ServiceApplication, registration_id: str,
                     partner_id: str) -> dict[str, Any] | None:
    """The partner's registration, or None when there is none of that id or it is another
    partner's (the two look the same)."""
    registration = app.get_or_none(DealRegistration.create_id(registration_id))
    if not isinstance(registration, DealRegistration) or registration.partner_id != partner_id:
        return None
    events = list(app.events.get(registration.id))

    def mine(other: str) -> bool:
        found = app.get_or_none(DealRegistration.create_id(other))
        return isinstance(found, DealRegistration) and found.partner_id == partner_id

    rejection = None
    if registration.rejection is not None:
        reason, detail = registration.rejection
        rejection = _without_others({"reason": reason, "detail": detail,
                                     "conflicting_registration_id":
                                         registration.conflicting_registration_id}, mine)
    window = None
    if registration.protected_from is not None and registration.expires_at is not None:
        window = {"protected_from": registration.protected_from,
                  "expires_at": registration.expires_at,
                  "withdrawn_at": registration.withdrawn_at}
    return {
        "registration_id": registration_id, "partner_id": partner_id,
        "account_key": registration.account_key, "status": status_after(events),
        "submitted_at": registration.submitted_at,
        "prospect": {"company_name": registration.company_name, "domain": registration.domain,
                     "country": registration.country, "segment": registration.segment},
        "estimated_value": {"amount": registration.estimated_value,
                            "currency": registration.currency},
        "expected_close_date": registration.expected_close_date,
        "window": window, "rejection": rejection, "dispute_id": registration.dispute_id,
        "timeline": [
            {"event": "registration.submitted", "time": registration.submitted_at,
             "facts": {}},
            *({"event": emission.name, "time": emission.time,
               "facts": _without_others(emission.data.model_dump(
                   mode="json", exclude={"registration_id", "partner_id"}), mine)}
              for event in events for emission in emit(event))],
    }


def _without_others(facts: dict[str, Any], mine: Callable[[str], bool]) -> dict[str, Any]:
    """``facts`` (of a rejection, or of any event) without another partner's registration:
    neither its id nor the detail that names it."""
    other = facts.get("conflicting_registration_id")
    if other is None or mine(other):
        return facts
    return facts | {"conflicting_registration_id": None,
                    "detail": OTHERS.get(facts["reason"], "another partner's registration "
                                         "was decided first")}
