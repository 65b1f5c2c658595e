"""Sales-ops views of the conflict service's event store: disputes, their timelines, replays,
and who held an account at any instant. Read-only; every answer is built from stored events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from dealreg.audit import business_fields
from dealreg.eventstore import ServiceApplication
from dealreg.services.account_key import account_key
from dealreg.services.conflict.domain import AccountClaims, AccountOf, Dispute
from dealreg.services.conflict.rules import RULE_TEXT, Claim, decide
from dealreg.services.program_policy import Policy, in_force, stored_policies


class NotFoundError(LookupError):
    """The dispute or account is not in the store."""


class RefusedError(ValueError):
    """A resolution the dispute cannot take: it is settled, or the winner is not one of its
    registrations."""


def _account_events(app: ServiceApplication, key: str) -> list[DomainEventProtocol[Any]]:
    return list(app.events.get(AccountClaims.create_id(key)))


def account_of_dispute(app: ServiceApplication, dispute_id: str) -> str:
    index = app.get_or_none(AccountOf.create_id("dispute", dispute_id))
    if not isinstance(index, AccountOf):
        raise NotFoundError(f"no dispute {dispute_id!r}")
    return index.account_key


def dispute(app: ServiceApplication, dispute_id: str) -> Dispute:
    """The dispute as the conflict service knows it now."""
    claims = app.get_or_none(AccountClaims.create_id(account_of_dispute(app, dispute_id)))
    assert isinstance(claims, AccountClaims)
    return claims.disputes[dispute_id]


def resolvable(app: ServiceApplication, dispute_id: str,
               winner_registration_id: str | None) -> Dispute:
    """The open dispute that a resolution giving the account to ``winner_registration_id``
    (None: the direct team) would settle; :class:`NotFoundError` or :class:`RefusedError`
    when there is none."""
    found = dispute(app, dispute_id)
    if not found.open:
        raise RefusedError(f"dispute {dispute_id!r} is already settled "
                           f"(dealreg disputes show {dispute_id} says how)")
    if winner_registration_id is not None and (
            winner_registration_id not in found.registration_ids):
        raise RefusedError(f"registration {winner_registration_id!r} is not part of dispute "
                           f"{dispute_id!r}; its registrations are "
                           f"{', '.join(found.registration_ids)}")
    return found


def not_disputable(registration_id: str, status: str) -> str:
    """Why a registration in ``status`` (the registration service's or the conflict
    service's word for it) cannot be disputed, in words."""
    if status == "submitted":
        return (f"registration {registration_id!r} is not decided yet: try again once it "
                "is rejected")
    return (f"registration {registration_id!r} is {status.replace('_', ' ')}, not denied for "
            "a conflict: only a registration that lost the account to another partner's can "
            "be disputed")


def raisable(app: ServiceApplication, registration_id: str, dispute_id: str) -> None:
    """Whether a partner may dispute ``registration_id``'s denial as ``dispute_id`` (§5):
    :class:`NotFoundError` or :class:`RefusedError` when it may not."""
    index = app.get_or_none(AccountOf.create_id("registration", registration_id))
    if not isinstance(index, AccountOf):  # only denied registrations are indexed
        raise NotFoundError(f"no registration {registration_id!r} denied for a conflict")
    claims = app.get_or_none(AccountClaims.create_id(index.account_key))
    assert isinstance(claims, AccountClaims)
    claim = claims.claims[registration_id]
    if claim.status != "denied" or claim.conflicting_registration_id is None:
        raise RefusedError(not_disputable(registration_id, claim.status))
    if dispute_id in claims.disputes:
        raise RefusedError(f"the denial of registration {registration_id!r} is already "
                           f"disputed (dealreg disputes show {dispute_id})")


def normalise_account(text: str, country: str | None = None) -> str:
    """An account key as given, the key of a company name in ``country``, or the key of a
    domain (``acme.example``, a URL); ``ValueError`` for text that is none of them."""
    if text.startswith(("domain:", "name:")):
        return text
    if country is not None:
        return account_key(company_name=text, country=country.upper())
    return account_key(company_name=text, country="", domain=text)


def state_at(claim: Claim, instant: datetime) -> str:
    """What a registration was on the account at ``instant``: ``protected`` only inside its
    window, ``expired`` after it, ``withdrawn`` once withdrawn; otherwise its status."""
    if claim.status != "protected":
        return claim.status
    if claim.withdrawn_at is not None and claim.withdrawn_at <= instant:
        return "withdrawn"
    if claim.expires_at is not None and instant > claim.expires_at:
        return "expired"
    return "protected"


def list_disputes(app: ServiceApplication, *, open_only: bool = False) -> list[dict[str, Any]]:
    """Every dispute: id, account, kind, registrations, opened, settled, winner."""
    disputes: dict[str, dict[str, Any]] = {}
    for event in app.stored_events(AccountClaims.DisputeOpened, AccountClaims.DisputeSettled):
        if isinstance(event, AccountClaims.DisputeOpened):
            entry = disputes.setdefault(event.dispute_id, {
                "dispute_id": event.dispute_id, "account_key": event.account_key,
                "kind": event.kind, "opened_at": event.opened_at, "status": "open",
                "settled_at": None, "winner": None})
            entry["registration_ids"] = list(event.registration_ids)
            entry["opportunity_ids"] = list(event.opportunity_ids)
        elif isinstance(event, AccountClaims.DisputeSettled):
            disputes[event.dispute_id] |= {"status": "settled", "settled_at": event.settled_at,
                                           "winner": event.winner}
    found = sorted(disputes.values(), key=lambda d: (d["opened_at"], d["dispute_id"]))
    return [d for d in found if d["status"] == "open"] if open_only else found


def account_keys(app: ServiceApplication) -> list[str]:
    """Every account the conflict service has seen."""
    return [event.account_key for event in app.stored_events(AccountClaims.Opened)]


def timeline(app: ServiceApplication, dispute_id: str) -> dict[str, Any]:
    """Every fact and decision on the dispute's account, in order, with the rule that fired."""
    key = account_of_dispute(app, dispute_id)
    entries = [_describe(event) for event in _account_events(app, key)]
    return {"dispute_id": dispute_id, "account_key": key,
            "timeline": [entry for entry in entries if entry is not None]}


def _describe(event: Any) -> dict[str, Any] | None:
    fields = business_fields(event)
    what = type(event).__name__
    rule = fields.pop("rule", None)
    fields.pop("account_key", None)
    version = event.originator_version
    when = next((fields[k] for k in ("submitted_at", "detected_at", "opened_at", "settled_at",
                                     "closed_at", "withdrawn_at") if fields.get(k)), None)
    if what == "Opened":
        return None
    why = RULE_TEXT.get(rule) if rule else None
    if what == "DisputeSettled":
        why = "sales ops resolved the dispute (dispute.resolved)"
    elif what == "ProtectionChanged":
        why = "the registration service approved, extended or withdrew the registration"
    return {"position": version, "time": when, "event": what, "rule": rule, "why": why,
            "facts": fields}


def case(app: ServiceApplication, dispute_id: str) -> dict[str, Any]:
    """What the parties said: the case each partner made when it raised the dispute (its
    registration, partner, words and when; none for a dispute the rules opened), and the
    resolution once sales ops decided (who, why, when, for whom)."""
    key = account_of_dispute(app, dispute_id)
    claims = app.get_or_none(AccountClaims.create_id(key))
    assert isinstance(claims, AccountClaims)
    evidence, resolution = [], None
    for event in _account_events(app, key):
        if getattr(event, "dispute_id", None) != dispute_id:
            continue
        if (isinstance(event, AccountClaims.DisputeOpened) and event.raised_by is not None
                and event.evidence is not None):
            evidence.append({"registration_id": event.raised_by,
                             "partner_id": claims.claims[event.raised_by].partner_id,
                             "evidence": event.evidence, "raised_at": event.opened_at})
        elif isinstance(event, AccountClaims.DisputeSettled):
            resolution = {"winner": event.winner, "resolved_by": event.resolved_by,
                          "rationale": event.rationale, "settled_at": event.settled_at}
    return {"dispute_id": dispute_id, "evidence": evidence, "resolution": resolution}


def dispute_view(app: ServiceApplication, dispute_id: str, now: datetime) -> dict[str, Any]:
    """The dispute as sales ops read it: its kind, status and the rule that opened it, the
    parties (each registration with its partner, submission and state at ``now``), the
    direct opportunities, the parties' case, the resolution, and the timeline of only the
    facts and decisions that concern it."""
    found = dispute(app, dispute_id)
    key = account_of_dispute(app, dispute_id)
    claims = app.get_or_none(AccountClaims.create_id(key))
    assert isinstance(claims, AccountClaims)
    concerned = {*found.registration_ids, *found.opportunity_ids}
    entries = []
    for entry in timeline(app, dispute_id)["timeline"]:
        facts = dict(entry["facts"])
        newcomer = facts.pop("newcomer", None)
        if newcomer is not None:
            facts["joined_by"] = newcomer["registration_id"]
        if (facts.get("dispute_id") == dispute_id
                or concerned & {facts.get("registration_id"), facts.get("opportunity_id")}
                or concerned & set(facts.get("registration_ids", ()))):
            entries.append(entry | {"facts": facts})
    rule = next((entry["rule"] for entry in entries if entry["event"] == "DisputeOpened"),
                None)
    parties = sorted((claims.claims[registration_id]
                      for registration_id in found.registration_ids
                      if registration_id in claims.claims), key=lambda c: c.submitted_at)
    return {
        "dispute_id": dispute_id, "account_key": key, "kind": found.kind,
        "status": "open" if found.open else "settled", "opened_at": found.opened_at,
        "rule": rule, "why": RULE_TEXT.get(rule) if rule else None,
        "parties": [{"registration_id": claim.registration_id, "partner_id": claim.partner_id,
                     "submitted_at": claim.submitted_at, "state": state_at(claim, now)}
                    for claim in parties],
        "opportunity_ids": list(found.opportunity_ids),
        **{name: value for name, value in case(app, dispute_id).items()
           if name != "dispute_id"},
        "timeline": entries,
    }


@dataclass(frozen=True)
class ReplayCheck:
    position: int
    registration_id: str
    recorded: tuple[Any, ...]
    replayed: tuple[Any, ...]
    rule: int

    @property
    def reproduced(self) -> bool:
        return self.recorded == self.replayed


def replay_account(app: ServiceApplication, key: str) -> list[ReplayCheck]:
    """Re-run rules 2 to 6 (and the window of each grant) over the account's stored facts
    and compare with every recorded claim decision."""
    events = _account_events(app, key)
    if not events:
        raise NotFoundError(f"no account {key!r}")
    policies = stored_policies(app)
    checks = []
    state: AccountClaims | None = None
    for event in events:
        if state is not None and (
            isinstance(event, AccountClaims.ClaimGranted | AccountClaims.ClaimDenied)
            or (isinstance(event, AccountClaims.DisputeOpened) and event.newcomer)
        ):
            checks.append(_check(state, event, policies))
        state = event.mutate(state)  # type: ignore[attr-defined]
    return checks


def _check(state: AccountClaims, event: Any, policies: list[Policy]) -> ReplayCheck:
    newcomer = getattr(event, "newcomer", None)
    claim: dict[str, Any] = newcomer if newcomer is not None else vars(event)
    dispute = state.open_dispute()
    decision = decide(registration_id=claim["registration_id"], partner_id=claim["partner_id"],
                      submitted_at=claim["submitted_at"], claims=state.claims.values(),
                      opportunities=state.opportunities.values(),
                      open_dispute_id=dispute.dispute_id if dispute else None)
    if isinstance(event, AccountClaims.ClaimGranted):
        recorded: tuple[Any, ...] = ("granted", event.expires_at)
    elif isinstance(event, AccountClaims.ClaimDenied):
        recorded = ("denied", event.reason, event.conflicting_registration_id)
    elif event.rule == 4:
        recorded = ("join", event.dispute_id)
    else:
        recorded = ("dispute", event.kind)
    if decision.outcome == "granted":
        policy = in_force(policies, claim["submitted_at"])
        replayed: tuple[Any, ...] = ("granted", policy.window_end(
            claim["submitted_at"], claim["program"], claim["tier"]))
    elif decision.outcome == "denied":
        replayed = ("denied", decision.reason, decision.conflicting_registration_id)
    elif decision.outcome == "join":
        replayed = ("join", decision.dispute_id)
    else:
        replayed = ("dispute", decision.kind)
    return ReplayCheck(event.originator_version, claim["registration_id"], recorded, replayed,
                       decision.rule)


def replay(app: ServiceApplication, dispute_id: str) -> dict[str, Any]:
    key = account_of_dispute(app, dispute_id)
    checks = replay_account(app, key)
    return {"dispute_id": dispute_id, "account_key": key,
            "reproduced": all(check.reproduced for check in checks),
            "decisions": [asdict(check) | {"reproduced": check.reproduced} for check in checks]}


def account_as_of(app: ServiceApplication, text: str, as_of: datetime,
                  country: str | None = None) -> dict[str, Any]:
    """Who held the account at ``as_of`` (business time, with every fact known now), and
    why; each registration with its state then (:func:`state_at`)."""
    key = normalise_account(text, country)
    claims = app.get_or_none(AccountClaims.create_id(key))
    if not isinstance(claims, AccountClaims):
        raise NotFoundError(f"no account {key!r}")
    holder = claims.holder_at(as_of)
    why = None
    if holder is not None:
        settled = [d for d in claims.disputes.values() if not d.open
                   and holder.registration_id in d.registration_ids]
        why = (f"won dispute {settled[0].dispute_id}" if settled
               else "first to register with no conflict (rule 6)")
    return {
        "account_key": key, "as_of": as_of,
        "holder": None if holder is None else {
            "registration_id": holder.registration_id, "partner_id": holder.partner_id,
            "protected_from": holder.submitted_at, "expires_at": holder.expires_at,
            "why": why},
        "registrations": [
            {"registration_id": c.registration_id, "partner_id": c.partner_id,
             "submitted_at": c.submitted_at, "status": state_at(c, as_of),
             "expires_at": c.expires_at,
             "withdrawn_at": c.withdrawn_at}
            for c in sorted(claims.claims.values(), key=lambda c: c.submitted_at)
            if c.submitted_at <= as_of],
        "open_opportunities": sorted(o.opportunity_id for o in claims.opportunities.values()
                                     if o.open_at(as_of)),
    }
