"""The partner's endpoints: its registrations (submit, read, list, extend, withdraw),
whether an account is free to register, and its payout statement. The partner is the
token's: a body never names it, and another partner's registration is not found."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from dealreg.actions import now
from dealreg.actions import partner_portal as portal
from dealreg.actions.salesops import dispute_raised, raised_dispute_id
from dealreg.api.auth import Admits, Caller, stores
from dealreg.api.pages import LIMIT, Cursor, Key, Limit, page
from dealreg.api.problems import ProblemError, invalid
from dealreg.api.statements import Format, statement
from dealreg.api.stores import Stores
from dealreg.api.values import Sent, StrictBody, document, money, said, send
from dealreg.events.schemas.inputs import Contact, Prospect
from dealreg.events.schemas.values import CountryCode, Days, Money, Name, Text, UtcDatetime
from dealreg.projections.partner_registrations import registrations_of
from dealreg.services.account_key import account_key
from dealreg.services.conflict import salesops as conflict_salesops
from dealreg.services.conflict.availability import availability
from dealreg.services.registration.portal import own_registration
from dealreg.services.registration.status import Status

router = APIRouter(tags=["partner"])
Partner = Annotated[Caller, Depends(Admits("partner"))]
Read = Annotated[Stores, Depends(stores)]


def _partner(caller: Caller) -> str:
    assert caller.partner_id is not None  # a partner token always names its partner
    return caller.partner_id


class RegistrationRequest(StrictBody):
    """A registration, as the contract's ``registration.submitted`` without the ids: the
    partner is the token's, the id is dealreg's (see ``Idempotency-Key``)."""

    prospect: Prospect
    contact: Contact
    estimated_value: Money
    expected_close_date: date
    #: The business time of the claim (default: now).
    submitted_at: UtcDatetime | None = None


class RegistrationAccepted(Sent):
    registration_id: str


@router.post("/registrations", status_code=202, response_model=RegistrationAccepted,
             responses={200: {"description": "the registration of this Idempotency-Key, "
                              "already stored: nothing was sent"}})
async def submit_registration(
    body: RegistrationRequest, who: Partner, read: Read, response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> Any:
    """Send ``registration.submitted``. The registration id is a uuid5 of the partner and
    the ``Idempotency-Key`` header (or, without one, of the registration itself): a
    request made again with the same key names the same registration, and once the
    registration service has stored it, the answer is that registration (200) and
    nothing is sent."""
    partner_id = _partner(who)
    at = body.submitted_at or now()
    fields = body.model_dump(mode="json", exclude={"submitted_at"}, exclude_none=True)
    key = idempotency_key or json.dumps(fields | {"submitted_at": at.isoformat()},
                                        sort_keys=True)
    registration_id = portal.registration_id(partner_id, key)
    location = {"Location": f"/api/v1/registrations/{registration_id}"}
    if idempotency_key is not None and await run_in_threadpool(
            own_registration, read.registration, registration_id, partner_id) is not None:
        return JSONResponse({"registration_id": registration_id}, headers=location)
    sent = await send(portal.submission(
        registration_id, partner_id, prospect=fields["prospect"], contact=fields["contact"],
        estimated_value=fields["estimated_value"],
        expected_close_date=body.expected_close_date, at=at), read.produce)
    response.headers.update(location)
    return RegistrationAccepted(registration_id=registration_id, **sent.model_dump())


def _own(read: Stores, registration_id: str, partner_id: str) -> dict[str, Any]:
    found = own_registration(read.registration, registration_id, partner_id)
    if found is None:  # none of that id, or another partner's: the same answer
        raise ProblemError(404, f"no registration {registration_id!r}")
    return found


@router.get("/registrations/{registration_id}")
def read_registration(registration_id: str, who: Partner, read: Read) -> dict[str, Any]:
    """The registration: status, protection window, the reason of a rejection and the
    timeline of its events (as registrations.v1 announced them)."""
    found: dict[str, Any] = document(_own(read, registration_id, _partner(who)))
    return found


def _latest(doc: dict[str, Any]) -> Key:
    return datetime.fromisoformat(doc["submitted_at"]).timestamp(), doc["registration_id"]


@router.get("/registrations")
def list_registrations(who: Partner, read: Read, status: Status | None = None,
                       limit: Limit = LIMIT, cursor: Cursor = None) -> dict[str, Any]:
    """The partner's registrations, the latest submitted first, a page at a time
    (``next_cursor``), from the read models: a registration just decided shows within a
    second or so."""
    with read.read_models() as store:
        found = registrations_of(store, _partner(who), status)
    shown, following = page(found, _latest, limit, cursor, descending=True)
    return {"registrations": [_summary(doc) for doc in shown], "next_cursor": following}


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"registration_id": doc["registration_id"], "account_key": doc["account_key"],
            "company_name": doc.get("company_name"), "status": doc.get("status"),
            "submitted_at": doc.get("submitted_at"),
            "estimated_value": money(doc["estimated_value"], doc["currency"])
            if "estimated_value" in doc else None,
            "protected_from": doc.get("protected_from"), "expires_at": doc.get("expires_at"),
            "withdrawn_at": doc.get("withdrawn_at"), "reason": doc.get("reason"),
            "dispute_id": doc.get("dispute_id")}


class ExtensionRequest(StrictBody):
    days: Days
    #: When the extension is asked for (default: now).
    requested_at: UtcDatetime | None = None


class WithdrawalRequest(StrictBody):
    #: When protection ends (default: now).
    withdrawn_at: UtcDatetime | None = None


@router.post("/registrations/{registration_id}/extension", status_code=202)
async def request_extension(registration_id: str, body: ExtensionRequest, who: Partner,
                            read: Read) -> Sent:
    """Send ``registration.extension_requested``; the registration service answers with
    ``registration.extended`` or ``registration.extension_denied``."""
    partner_id = _partner(who)
    await run_in_threadpool(_own, read, registration_id, partner_id)
    return await send(portal.extension_request(
        registration_id, partner_id, days=body.days, at=body.requested_at or now()),
        read.produce)


@router.post("/registrations/{registration_id}/withdrawal", status_code=202)
async def withdraw(registration_id: str, who: Partner, read: Read,
                   body: WithdrawalRequest | None = None) -> Sent:
    """Send ``registration.withdrawn``: the registration's protection ends."""
    partner_id = _partner(who)
    await run_in_threadpool(_own, read, registration_id, partner_id)
    at = (body.withdrawn_at if body else None) or now()
    return await send(portal.withdrawal(registration_id, partner_id, at=at), read.produce)


class DisputeRequest(StrictBody):
    #: The partner's case, for sales ops (kept with the dispute).
    evidence: Annotated[Text, AfterValidator(said)]
    #: When it is raised (default: now).
    raised_at: UtcDatetime | None = None


class DisputeRaised(Sent):
    dispute_id: str


@router.post("/registrations/{registration_id}/dispute", status_code=202)
async def raise_dispute(registration_id: str, body: DisputeRequest, who: Partner,
                        read: Read) -> DisputeRaised:
    """Send ``dispute.raised`` for the partner's registration denied for a conflict, as
    ``dealreg disputes raise`` does; the conflict service answers with ``dispute.opened``.
    Refused (409) for a registration not denied for a conflict, or already disputed."""
    partner_id = _partner(who)
    own = await run_in_threadpool(_own, read, registration_id, partner_id)
    dispute_id = raised_dispute_id(registration_id)
    try:
        await run_in_threadpool(conflict_salesops.raisable, read.conflict, registration_id,
                                dispute_id)
    except conflict_salesops.NotFoundError:  # not denied by the conflict service
        raise ProblemError(409, conflict_salesops.not_disputable(
            registration_id, own["status"])) from None
    except conflict_salesops.RefusedError as refused:
        raise ProblemError(409, str(refused).replace(
            f"(dealreg disputes show {dispute_id})", f"as dispute {dispute_id}")) from None
    sent = await send(dispute_raised(registration_id, evidence=body.evidence,
                                     at=body.raised_at or now()), read.produce)
    return DisputeRaised(dispute_id=dispute_id, **sent.model_dump())


@router.get("/accounts/availability")
def account_availability(who: Partner, read: Read, company_name: Annotated[Name, Query()],
                         country: Annotated[CountryCode, Query()],
                         domain: Annotated[str | None, Query(max_length=500)] = None,
                         ) -> dict[str, Any]:
    """Whether a registration of the partner on this account, submitted now, would be
    granted (``available``), and whether the partner holds it or has one under review
    (``yours``). Nothing about another partner."""
    try:
        key = account_key(company_name=company_name, country=country, domain=domain)
    except ValueError as error:
        field, _, message = str(error).partition(": ")
        raise invalid(field, message, "query") from None
    found = availability(read.conflict, key, _partner(who), now())
    return {"account_key": found.account_key, "available": found.available,
            "yours": found.yours}


@router.get("/statement", responses={200: {"content": {"text/csv": {}}}})
def own_statement(request: Request, who: Partner, read: Read,
                  start: Annotated[date, Query(alias="from")],
                  end: Annotated[date, Query(alias="to")],
                  format: Format | None = None) -> Any:
    """The partner's payouts and adjustments dated from ``from`` to ``to`` (inclusive), with
    the totals per currency; CSV with ``Accept: text/csv`` or ``format=csv``."""
    return statement(request, read, _partner(who), start, end, format)
