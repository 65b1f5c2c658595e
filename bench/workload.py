"""The benchmark's input: partners, registrations (distinct accounts plus conflicts and
duplicates), won deals and the invoices of msp partners' deals (docs/contract.md §11), as
contract-valid CloudEvents keyed as docs/contract.md §2 says."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dealreg.events.schemas import kafka_key, parse_event
from tests.support.events import cloud_event

#: a third of the partners are msp: their deals earn a revenue share on each invoice (§11)
PROGRAMS = ("referral", "reseller", "msp")
TIERS = ("bronze", "silver", "gold", "platinum")
COUNTRIES = ("US", "DE", "FR", "GB", "NL", "SE")
CURRENCIES = ("EUR", "USD")


def rfc3339(instant: datetime) -> str:
    """``2026-03-01T10:00:00.123456Z``: UTC with microseconds, as the contract allows."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Message:
    """One Kafka record to produce: contract topic, key, value."""

    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Registration:
    """What the harness remembers of a submission (to close a deal on its account later)."""

    registration_id: str
    partner_id: str
    company_name: str
    domain: str | None
    country: str
    submitted_at: datetime
    kind: str  # "distinct", "conflict", "duplicate", "probe", "latency"

    @property
    def program(self) -> str:
        return program_of(int(self.partner_id.rsplit("-", 1)[1]))


def partner_id(index: int) -> str:
    return f"bench-partner-{index:04d}"


def program_of(index: int) -> str:
    return PROGRAMS[index % len(PROGRAMS)]


def partner_enrolled(index: int, enrolled_at: datetime) -> Message:
    pid = partner_id(index)
    when = rfc3339(enrolled_at)
    event = cloud_event("partner.enrolled", pid, when, {
        "partner_id": pid, "name": f"Bench Partner {index}",
        "program": program_of(index), "tier": TIERS[index % len(TIERS)],
        "enrolled_at": when,
    }, source="/partner-admin")
    return Message("partners.v1", pid.encode(), json.dumps(event).encode())


def registration_submitted(registration: Registration, *, time: str | None = None,
                           seq: int = 0) -> Message:
    """The ``registration.submitted`` of ``registration`` (``time`` defaults to submitted_at)."""
    submitted = rfc3339(registration.submitted_at)
    prospect: dict[str, Any] = {"company_name": registration.company_name,
                                "country": registration.country,
                                "segment": ("smb", "mid", "enterprise")[seq % 3]}
    if registration.domain is not None:
        prospect["domain"] = registration.domain
    close = (registration.submitted_at + timedelta(days=60)).date().isoformat()
    event = cloud_event("registration.submitted", registration.registration_id,
                        time or submitted, {
        "registration_id": registration.registration_id,
        "partner_id": registration.partner_id,
        "submitted_at": submitted,
        "prospect": prospect,
        "contact": {"name": f"Buyer {seq}", "email": f"buyer{seq}@bench.example"},
        "estimated_value": {"amount": f"{10_000 + (seq % 9_000) * 7}.50",
                            "currency": CURRENCIES[seq % len(CURRENCIES)]},
        "expected_close_date": close,
    }, source="/partner-portal")
    return Message("registrations.requests.v1", registration.registration_id.encode(),
                   json.dumps(event).encode())


def deal_closed(deal_id: str, registration: Registration, closed_at: datetime,
                seq: int) -> Message:
    when = rfc3339(closed_at)
    account: dict[str, Any] = {"company_name": registration.company_name,
                               "country": registration.country}
    if registration.domain is not None:
        account["domain"] = registration.domain
    event = cloud_event("deal.closed", deal_id, when, {
        "deal_id": deal_id, "account": account, "outcome": "won", "closed_at": when,
        "first_year_value": {"amount": f"{20_000 + (seq % 5_000) * 3}.00",
                             "currency": CURRENCIES[seq % len(CURRENCIES)]},
        "registration_id": registration.registration_id,
    }, source="/crm")
    return Message("crm.v1", deal_id.encode(), json.dumps(event).encode())


def subscription_invoiced(invoice_id: str, deal_id: str, closed_at: datetime,
                          seq: int) -> Message:
    """The first month's invoice of a won deal's subscription, billed after its close."""
    start = closed_at.date()
    when = rfc3339(closed_at + timedelta(days=31))
    event = cloud_event("subscription.invoiced", deal_id, when, {
        "invoice_id": invoice_id, "deal_id": deal_id, "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=30)).isoformat(),
        "recurring_revenue": {"amount": f"{1_000 + (seq % 900) * 3}.00",
                              "currency": CURRENCIES[seq % len(CURRENCIES)]},
        "invoiced_at": when,
    }, source="/crm")
    return Message("crm.v1", deal_id.encode(), json.dumps(event).encode())


def account_of(run: str, index: int) -> tuple[str, str | None, str]:
    """(company name, domain or None, country) of the ``index``-th distinct account; one in
    ten has no domain (name-based account key)."""
    country = COUNTRIES[index % len(COUNTRIES)]
    company = f"Bench {run} Account {index} GmbH"
    domain = None if index % 10 == 9 else f"https://www.acct-{index}.{run}.bench.example/"
    return company, domain, country


@dataclass
class Workload:
    """Everything one stack run publishes (built up front, outside any timing)."""

    run: str
    partners: int
    base_time: datetime
    partner_messages: list[Message] = field(default_factory=list)
    probes: list[Registration] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    registration_messages: list[Message] = field(default_factory=list)
    _accounts: int = 0

    def next_account(self) -> tuple[str, str | None, str]:
        self._accounts += 1
        return account_of(self.run, self._accounts)


def build_workload(run: str, registrations: int, *, partners: int = 100,
                   now: datetime | None = None) -> Workload:
    """``registrations`` submissions: 90 % on distinct accounts, 5 % by another partner on an
    account already claimed (conflicts), 5 % by the same partner again (duplicates); the
    conflicts and duplicates come last, submitted later than the registration they clash
    with. Plus one probe registration per partner, to know the stack is ready."""
    now = now or datetime.now(UTC)
    base = now - timedelta(days=3)
    work = Workload(run=run, partners=partners, base_time=base)
    work.partner_messages = [partner_enrolled(i, base - timedelta(days=30))
                             for i in range(partners)]
    for i in range(partners):
        company, domain, country = work.next_account()
        work.probes.append(Registration(f"{run}-probe-{i}", partner_id(i), company, domain,
                                        country, base, "probe"))
    clashes = registrations // 10
    distinct = registrations - clashes
    for i in range(distinct):
        company, domain, country = work.next_account()
        work.registrations.append(Registration(
            f"{run}-reg-{i}", partner_id(i % partners), company, domain, country,
            base + timedelta(seconds=i), "distinct"))
    for j in range(clashes):
        original = work.registrations[(j * 7919) % max(distinct // 2, 1)]
        conflict = j % 2 == 0
        partner = partner_id((int(original.partner_id.rsplit("-", 1)[1]) + 1) % partners) if (
            conflict) else original.partner_id
        work.registrations.append(Registration(
            f"{run}-clash-{j}", partner, original.company_name, original.domain,
            original.country, base + timedelta(seconds=distinct + j),
            "conflict" if conflict else "duplicate"))
    work.registration_messages = [registration_submitted(r, seq=n)
                                  for n, r in enumerate(work.registrations)]
    return work


def latency_registration(work: Workload, label: str, index: int,
                         submitted_at: datetime) -> Registration:
    """The ``index``-th registration of the latency phase ``label`` (a new account each)."""
    company, domain, country = work.next_account()
    return Registration(f"{work.run}-{label}-{index}", partner_id(index % work.partners),
                        company, domain, country, submitted_at, "latency")


def validate(messages: list[Message], sample: int = 20) -> None:
    """Check a sample of ``messages`` against the contract and its keys (raises if invalid)."""
    step = max(len(messages) // sample, 1)
    for message in messages[::step]:
        event = parse_event(message.value, message.topic)
        expected = kafka_key(event).encode()
        if expected != message.key:
            raise ValueError(f"{message.topic}: key {message.key!r}, contract says {expected!r}")
