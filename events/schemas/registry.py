"""Every topic and every event of the contract, in one table (docs/contract.md §2, §3,
§3b, §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal

from pydantic import BaseModel

from dealreg.events.schemas import inputs, outputs


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    written_by: str
    description: str


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec("partners.v1", "partner_id", "partner admin", "partner enrollments and tiers"),
        TopicSpec("program.v1", "policy_id", "program ops", "program policies"),
        TopicSpec("registrations.requests.v1", "registration_id", "partner portal",
                  "registration submissions, extension requests and withdrawals"),
        TopicSpec("crm.v1", "deal_id or opportunity_id", "CRM",
                  "direct opportunities, closed and refunded deals, subscription invoices"),
        TopicSpec("salesops.v1", "dispute_id, registration_id or deal_id", "sales-ops tools",
                  "disputes raised by partners and resolved by sales ops, manual payout "
                  "adjustments"),
        TopicSpec("registrations.v1", "account_key", "registration service",
                  "the lifecycle of every registration"),
        TopicSpec("conflicts.v1", "account_key", "conflict service",
                  "claims, conflicts and disputes per account"),
        TopicSpec("payouts.v1", "partner_id", "payouts service",
                  "commission and revenue share payouts, their adjustments and refused "
                  "adjustment requests, for billing"),
        TopicSpec("dealreg.dlq.v1", "original key", "any service",
                  "bad input, with the reason and the original message"),
    )
}


Direction = Literal["input", "output"]


@dataclass(frozen=True)
class EventSpec:
    """One event of the contract: its name, topic, payload model, Kafka key and subject."""

    name: str
    topic: str
    model: type[BaseModel]
    direction: Direction
    key: Callable[[Any], str | None]
    subject: Callable[[Any], str]

    @property
    def type(self) -> str:
        """The CloudEvents ``type``: ``dealreg.<name>.v1``."""
        return f"dealreg.{self.name}.v1"

    def key_of(self, data: BaseModel) -> str | None:
        return self.key(data)


def _by(field: str) -> Callable[[Any], Any]:
    return attrgetter(field)


def _event(
    name: str, topic: str, model: type[BaseModel], direction: Direction, key: str,
    subject: str | None = None,
) -> EventSpec:
    return EventSpec(name, topic, model, direction, _by(key), _by(subject or key))


def _dead_letter_subject(data: outputs.MessageRejected) -> str:
    return f"{data.topic}/{data.partition}/{data.offset}"


EVENTS: tuple[EventSpec, ...] = (
    # inputs
    _event("partner.enrolled", "partners.v1", inputs.PartnerEnrolled, "input", "partner_id"),
    _event("partner.tier_changed", "partners.v1", inputs.PartnerTierChanged, "input",
           "partner_id"),
    _event("policy.published", "program.v1", inputs.PolicyPublished, "input", "policy_id"),
    _event("registration.submitted", "registrations.requests.v1",
           inputs.RegistrationSubmitted, "input", "registration_id"),
    _event("registration.extension_requested", "registrations.requests.v1",
           inputs.RegistrationExtensionRequested, "input", "registration_id"),
    _event("registration.withdrawn", "registrations.requests.v1",
           inputs.RegistrationWithdrawalRequested, "input", "registration_id"),
    _event("opportunity.opened", "crm.v1", inputs.OpportunityOpened, "input", "opportunity_id"),
    _event("deal.closed", "crm.v1", inputs.DealClosed, "input", "deal_id"),
    _event("deal.refunded", "crm.v1", inputs.DealRefunded, "input", "deal_id"),
    _event("subscription.invoiced", "crm.v1", inputs.SubscriptionInvoiced, "input", "deal_id"),
    _event("dispute.raised", "salesops.v1", inputs.DisputeRaised, "input", "dispute_id"),
    _event("dispute.resolved", "salesops.v1", inputs.DisputeResolved, "input", "dispute_id"),
    _event("payout.adjustment_requested", "salesops.v1", inputs.PayoutAdjustmentRequested,
           "input", "deal_id"),
    # registration service
    *(
        _event(f"registration.{name}", "registrations.v1", model, "output", "account_key",
               "registration_id")
        for name, model in (
            ("received", outputs.RegistrationReceived),
            ("approved", outputs.RegistrationApproved),
            ("rejected", outputs.RegistrationRejected),
            ("under_review", outputs.RegistrationUnderReview),
            ("extended", outputs.RegistrationExtended),
            ("extension_denied", outputs.RegistrationExtensionDenied),
            ("expired", outputs.RegistrationExpired),
            ("withdrawn", outputs.RegistrationWithdrawn),
        )
    ),
    # conflict service
    _event("claim.granted", "conflicts.v1", outputs.ClaimGranted, "output", "account_key",
           "registration_id"),
    _event("claim.denied", "conflicts.v1", outputs.ClaimDenied, "output", "account_key",
           "registration_id"),
    _event("conflict.detected", "conflicts.v1", outputs.ConflictDetected, "output",
           "account_key"),
    _event("dispute.opened", "conflicts.v1", outputs.DisputeOpened, "output", "account_key",
           "dispute_id"),
    _event("dispute.settled", "conflicts.v1", outputs.DisputeSettled, "output", "account_key",
           "dispute_id"),
    # payouts service
    _event("payout.calculated", "payouts.v1", outputs.PayoutCalculated, "output", "partner_id",
           "deal_id"),
    _event("payout.adjusted", "payouts.v1", outputs.PayoutAdjusted, "output", "partner_id",
           "deal_id"),
    # A withheld payout has no partner: it is keyed (and named) by its deal.
    _event("payout.withheld", "payouts.v1", outputs.PayoutWithheld, "output", "deal_id"),
    _event("payout.adjustment_rejected", "payouts.v1", outputs.PayoutAdjustmentRejected,
           "output", "partner_id", "deal_id"),
    # any service
    EventSpec("message.rejected", "dealreg.dlq.v1", outputs.MessageRejected, "output",
              _by("key"), _dead_letter_subject),
)

_BY_TOPIC_AND_TYPE = {(spec.topic, spec.type): spec for spec in EVENTS}
_OUTPUTS = {spec.name: spec for spec in EVENTS if spec.direction == "output"}
_INPUTS = {spec.name: spec for spec in EVENTS if spec.direction == "input"}
_BY_MODEL = {spec.model: spec for spec in EVENTS}
assert len(_BY_MODEL) == len(EVENTS), "each event of the contract has a payload model of its own"

KNOWN_TYPES = frozenset(spec.type for spec in EVENTS)


def spec_for(topic: str, type_: str) -> EventSpec | None:
    """The event ``type_`` as it appears on ``topic`` (``registration.withdrawn`` is both an
    input on ``registrations.requests.v1`` and an output on ``registrations.v1``)."""
    return _BY_TOPIC_AND_TYPE.get((topic, type_))


def specs_on(topic: str) -> tuple[EventSpec, ...]:
    """Every event that may appear on ``topic``."""
    return tuple(spec for (on, _), spec in _BY_TOPIC_AND_TYPE.items() if on == topic)


def output_spec(name: str) -> EventSpec:
    return _OUTPUTS[name]


def input_spec(name: str) -> EventSpec:
    """The input event ``name`` (e.g. ``dispute.resolved``) as its producers send it."""
    return _INPUTS[name]


def spec_of(model: type[BaseModel]) -> EventSpec:
    """The event whose payload ``model`` is (KeyError for a model of no contract event)."""
    return _BY_MODEL[model]
