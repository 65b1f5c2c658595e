"""Sales ops' endpoints: disputes (the list with their age, one dispute's timeline, replay
and the parties' case, its resolution), who held an account, partners' metrics, manual
payout adjustments and what a policy would change, as the ``dealreg disputes``,
``accounts``, ``partners``, ``payouts adjust`` and ``policy simulate`` commands do."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, ValidationError, model_validator

from dealreg.actions import now
from dealreg.actions.producing import validate_line
from dealreg.actions.salesops import adjustment, dispute_resolution, manual_amount
from dealreg.api.auth import Admits, Caller, stores
from dealreg.api.pages import LIMIT, Cursor, Key, Limit, page
from dealreg.api.problems import ProblemError, invalid, invalid_fields
from dealreg.api.stores import Stores
from dealreg.api.values import Sent, StrictBody, document, money, moneys, said, send
from dealreg.events.schemas import BadInput
from dealreg.events.schemas.inputs import PolicyPublished
from dealreg.events.schemas.iso_codes import is_known_currency
from dealreg.events.schemas.values import Id, Money, Text, UtcDatetime
from dealreg.logs import quiet
from dealreg.projections import partners_view
from dealreg.services.conflict import salesops
from dealreg.services.payouts import reports

router = APIRouter(tags=["sales ops"])
SalesOps = Annotated[Caller, Depends(Admits("sales_ops"))]
Read = Annotated[Stores, Depends(stores)]
DAY_S = 86_400


# ------------------------------------------------------------------ disputes


def _queued(dispute: dict[str, Any]) -> Key:
    return (dispute["status"] != "open", dispute["opened_at"].timestamp(),
            dispute["dispute_id"])


@router.get("/disputes")
def list_disputes(who: SalesOps, read: Read, status: Literal["open", "settled"] | None = None,
                  limit: Limit = LIMIT, cursor: Cursor = None) -> dict[str, Any]:
    """The disputes, open ones first, the oldest first, a page at a time (``next_cursor``);
    ``age_days``: how long each has been open (until now, or until it was settled)."""
    at = datetime.now(UTC)
    found = [dispute | {"age_days": round(
                 ((dispute["settled_at"] or at) - dispute["opened_at"]).total_seconds() / DAY_S,
                 1)}
             for dispute in salesops.list_disputes(read.conflict)
             if status is None or dispute["status"] == status]
    found.sort(key=_queued)
    shown, following = page(found, _queued, limit, cursor)
    return {"disputes": document(shown), "next_cursor": following}


@router.get("/disputes/{dispute_id}")
def read_dispute(dispute_id: str, who: SalesOps, read: Read) -> dict[str, Any]:
    """The dispute, the timeline of its account (every fact and decision, with the rule
    that fired), the replay's verdict (the rules re-run over the stored facts), the case
    each party made and, once settled, who resolved it and why."""
    try:
        timeline = salesops.timeline(read.conflict, dispute_id)
    except salesops.NotFoundError:
        raise ProblemError(404, f"no dispute {dispute_id!r}") from None
    dispute = salesops.dispute(read.conflict, dispute_id)
    replay = salesops.replay(read.conflict, dispute_id)
    case = salesops.case(read.conflict, dispute_id)
    found: dict[str, Any] = document({
        "dispute_id": dispute_id, "account_key": timeline["account_key"],
        "kind": dispute.kind, "status": "open" if dispute.open else "settled",
        "opened_at": dispute.opened_at, "registration_ids": dispute.registration_ids,
        "opportunity_ids": dispute.opportunity_ids, "timeline": timeline["timeline"],
        "evidence": case["evidence"], "resolution": case["resolution"],
        "replay": {"reproduced": replay["reproduced"], "decisions": replay["decisions"]}})
    return found


class ResolutionRequest(StrictBody):
    """Exactly one of ``winner_registration_id`` (one of the dispute's registrations) and
    ``direct`` (true: the direct sales team)."""

    winner_registration_id: Id | None = None
    direct: Literal[True] | None = None
    rationale: Annotated[Text, AfterValidator(said)]
    #: When it was decided (default: now).
    resolved_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _one_winner(self) -> ResolutionRequest:
        if (self.winner_registration_id is None) == (self.direct is None):
            raise ValueError("name exactly one winner: winner_registration_id or direct")
        return self


@router.post("/disputes/{dispute_id}/resolution", status_code=202)
async def resolve_dispute(dispute_id: str, body: ResolutionRequest, who: SalesOps,
                          read: Read) -> Sent:
    """Send ``dispute.resolved``, decided by the token's holder (``resolved_by``). Refused
    like ``dealreg disputes resolve``: an unknown dispute (404), a settled one or a winner
    that is not one of its registrations (409)."""
    try:
        await run_in_threadpool(salesops.resolvable, read.conflict, dispute_id,
                                body.winner_registration_id)
    except salesops.NotFoundError:
        raise ProblemError(404, f"no dispute {dispute_id!r}") from None
    except salesops.RefusedError as refused:
        raise ProblemError(409, str(refused)) from None
    return await send(dispute_resolution(
        dispute_id, body.winner_registration_id, by=who.name, rationale=body.rationale,
        at=body.resolved_at or now()), read.produce)


# ------------------------------------------------------------------ accounts and partners


@router.get("/accounts/{account}")
def read_account(account: str, who: SalesOps, read: Read,
                 as_of: Annotated[UtcDatetime | None, Query()] = None) -> dict[str, Any]:
    """Who held the account (its key, or a domain) at ``as_of`` (business time, default
    now), from when to when and why, every registration submitted by then and the direct
    opportunities open then."""
    try:
        found: dict[str, Any] = document(salesops.account_as_of(
            read.conflict, account, as_of or datetime.now(UTC)))
    except salesops.NotFoundError:
        raise ProblemError(404, f"no account {account!r}") from None
    except ValueError as error:  # a domain that is not one
        raise invalid("account", str(error).partition(": ")[2], "path") from None
    return found


def _metrics(partner: dict[str, Any]) -> dict[str, Any]:
    """A partner's metrics with every sum of money as a list of money."""
    return partner | {name: moneys(partner[name]) for name in
                      ("pipeline_value", "partner_sourced_revenue", "payouts")}


@router.get("/partners")
def rank_partners(who: SalesOps, read: Read,
                  by: Literal["revenue", "win-rate", "time-to-first-deal"] = "revenue",
                  limit: Annotated[int, Query(ge=1, le=1000)] = 10,
                  currency: Annotated[str, Query(pattern="^[A-Z]{3}$")] = "USD",
                  ) -> dict[str, Any]:
    """Partners ranked by partner-sourced revenue in ``currency``, win rate or time to the
    first won deal (best first), with their metrics (from the read models)."""
    with read.read_models() as store:
        ranked = partners_view.top(store, by, limit, currency)
    return {"by": by, "currency": currency, "partners": [_metrics(p) for p in ranked]}


@router.get("/partners/{partner_id}")
def read_partner(partner_id: str, who: SalesOps, read: Read) -> dict[str, Any]:
    """A partner's registrations, wins, revenue and payouts, and each deal it was paid for."""
    with read.read_models() as store:
        found = partners_view.show(store, partner_id)
    if found is None:
        raise ProblemError(404, f"no metrics for partner {partner_id!r} (an unknown partner, "
                           "or read models not built yet)")
    deals = [{"deal_id": deal["deal_id"], "sourced": deal.get("sourced"),
              "closed_at": deal.get("closed_at"),
              "net": money(deal["net"], deal["currency"]),
              "value": money(deal["value"], deal["currency"]) if "value" in deal else None}
             for deal in found["deals"]]
    return _metrics(found) | {"deals": deals}


# ------------------------------------------------------------------ payouts and policies


def _manual(value: Money) -> Money:
    if not is_known_currency(value.currency):
        raise ValueError(f"unknown ISO 4217 currency code {value.currency!r}")
    return Money(amount=manual_amount(value.amount), currency=value.currency)


class AdjustmentRequest(StrictBody):
    deal_id: Id
    partner_id: Id
    #: In cents, not zero; negative takes money back. The deal's currency.
    amount: Annotated[Money, AfterValidator(_manual)]
    reason: Annotated[Text, AfterValidator(said)]
    #: When it was asked for (default: now).
    requested_at: UtcDatetime | None = None


class AdjustmentSent(Sent):
    adjustment_id: str


@router.post("/payouts/adjustments", status_code=202)
async def adjust_payout(body: AdjustmentRequest, who: SalesOps, read: Read) -> AdjustmentSent:
    """Send ``payout.adjustment_requested``, asked for by the token's holder
    (``requested_by``), as ``dealreg payouts adjust`` does; the payouts service answers
    with ``payout.adjusted`` (reason ``manual``) or ``payout.adjustment_rejected``."""
    outgoing = adjustment(body.deal_id, body.partner_id, body.amount.amount,
                          body.amount.currency, reason=body.reason, by=who.name,
                          at=body.requested_at or now())
    sent = await send(outgoing, read.produce)
    return AdjustmentSent(adjustment_id=outgoing.data["adjustment_id"], **sent.model_dump())


def policy_of(body: dict[str, Any]) -> PolicyPublished:
    """The policy of a request: a ``policy.published`` CloudEvent (validated as ``dealreg
    publish program.v1`` validates it) or its data."""
    if "specversion" in body:
        try:
            data = validate_line("program.v1", json.dumps(body)).event.data
        except BadInput as bad:
            field, _, message = bad.error.partition(": ")
            raise invalid(field, message.strip()) from None
        assert isinstance(data, PolicyPublished)  # the only event of program.v1
        return data
    try:
        return PolicyPublished.model_validate(body)
    except ValidationError as error:
        raise invalid_fields([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
                             ) from None


@router.post("/policies/simulations")
def simulate_policy(who: SalesOps, read: Read,
                    body: Annotated[dict[str, Any], Body(
                        description="the data of a policy.published event, or the whole "
                        "CloudEvent")]) -> dict[str, Any]:
    """What publishing the policy now would change in every (deal, partner) total, as
    ``dealreg policy simulate`` says, without publishing it."""
    data = policy_of(body)
    with quiet("dealreg.services"):  # what the service would log of the simulated facts
        changes = reports.simulate_policy(read.payouts, data)
    return {"policy_id": data.policy_id, "version": data.version,
            "already_published": changes is None,
            "summary": reports.simulation_summary(data, changes),
            "changes": [reports.change_document(change) for change in changes or []],
            "partners": [{"partner_id": partner_id,
                          "delta": {"amount": format(delta, "f"), "currency": currency}}
                         for (partner_id, currency), delta
                         in sorted(reports.partner_deltas(changes or []).items())]}

