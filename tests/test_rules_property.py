"""Property: for random histories processed in business-time order, at most one registration
per account is protected at any instant, and every outcome is the one a plain reference
implementation of CONTRACT §5 gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.conflict.service import CONFLICT
from services.registration.domain import DealRegistration
from services.registration.service import REGISTRATION
from tests.support import events as ev
from tests.support.bus import InMemoryBus

START = datetime(2026, 3, 1, tzinfo=UTC)
PARTNERS = {"p-0": "bronze", "p-1": "gold", "p-2": "platinum"}
WINDOW = {"bronze": 30, "silver": 30, "gold": 45, "platinum": 60}  # referral, default policy
ACCOUNTS = ["a0.example", "a1.example"]


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- the reference implementation


@dataclass
class Reg:
    registration_id: str
    partner_id: str
    account: str
    submitted_at: datetime
    status: str = "received"
    reason: str | None = None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def protected_at(self, t: datetime) -> bool:
        return (self.status == "approved" and self.expires_at is not None
                and self.submitted_at <= t <= self.expires_at
                and (self.withdrawn_at is None or t < self.withdrawn_at))

    def holds_at(self, t: datetime) -> bool:
        return (self.status == "approved" and self.expires_at is not None
                and t <= self.expires_at and (self.withdrawn_at is None or t < self.withdrawn_at))


class Reference:
    """Section 5, rules 1 to 6, extensions and withdrawals, as plainly as possible."""

    def __init__(self) -> None:
        self.regs: dict[str, Reg] = {}
        self.opportunities: list[tuple[str, datetime, datetime | None]] = []
        self.disputed: set[str] = set()  # accounts with an open dispute

    def submit(self, reg: Reg) -> None:
        self.regs[reg.registration_id] = reg
        t, others = reg.submitted_at, [r for r in self.regs.values()
                                       if r.account == reg.account and r is not reg]
        if any(r.partner_id == reg.partner_id and (r.status == "under_review" or r.holds_at(t))
               for r in others):
            reg.status, reg.reason = "rejected", "duplicate"
        elif any(r.partner_id != reg.partner_id and r.holds_at(t) for r in others):
            reg.status, reg.reason = "rejected", "conflict"
        elif reg.account in self.disputed:
            reg.status = "under_review"
        elif any(a == reg.account and opened <= t and (closed is None or t < closed)
                 for a, opened, closed in self.opportunities):
            reg.status = "under_review"
            self.disputed.add(reg.account)
        else:
            reg.status = "approved"
            reg.expires_at = t + timedelta(days=WINDOW[PARTNERS[reg.partner_id]])

    def withdraw(self, registration_id: str, t: datetime) -> None:
        reg = self.regs[registration_id]
        if reg.withdrawn_at is None and reg.status != "rejected":
            reg.withdrawn_at = t

    def extend(self, registration_id: str, days: int, t: datetime) -> None:
        reg = self.regs[registration_id]
        if (reg.protected_at(t) and days <= 30 and reg.expires_at is not None
                and reg.expires_at + timedelta(days=days) - reg.submitted_at
                <= timedelta(days=90)):
            reg.expires_at += timedelta(days=days)

    def open_opportunity(self, opportunity_id: str, account: str, t: datetime) -> None:
        self.opportunities.append((account, t, None))

    def close_deal(self, account: str, t: datetime) -> None:
        self.opportunities = [(a, o, t if a == account and c is None else c)
                              for a, o, c in self.opportunities]


# ---------------------------------------------------------------- random histories

steps = st.lists(
    st.tuples(
        st.sampled_from(["submit", "submit", "submit", "withdraw", "extend", "opportunity",
                         "close"]),
        st.integers(min_value=0, max_value=24 * 20),  # hours since the previous step
        st.sampled_from(ACCOUNTS),
        st.sampled_from(sorted(PARTNERS)),
        st.integers(min_value=0, max_value=50),  # which registration / how many days
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_outcomes_equal_the_reference_and_one_holder_at_a_time(
    history: list[tuple[str, int, str, str, int]],
) -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT])
    reference = Reference()
    for partner_id, tier in PARTNERS.items():
        bus.send("partners.v1", ev.partner_enrolled(partner_id, tier=tier,
                                                    enrolled_at="2026-01-01T00:00:00Z"))
    t = START
    instants = []
    for n, (step, hours, account, partner_id, number) in enumerate(history):
        t += timedelta(hours=hours)
        instants.append(t)
        ids = sorted(reference.regs)
        if step == "submit":
            registration_id = f"r-{n}"
            reference.submit(Reg(registration_id, partner_id, account, t))
            bus.send("registrations.requests.v1", ev.registration_submitted(
                registration_id, partner_id, domain=account, submitted_at=iso(t),
                expected_close_date="2027-01-01"))
        elif step == "withdraw" and ids:
            reg = reference.regs[ids[number % len(ids)]]
            reference.withdraw(reg.registration_id, t)
            bus.send("registrations.requests.v1",
                     ev.withdrawal_requested(reg.registration_id, reg.partner_id, iso(t)))
        elif step == "extend" and ids:
            reg = reference.regs[ids[number % len(ids)]]
            days = number % 40 + 1
            reference.extend(reg.registration_id, days, t)
            bus.send("registrations.requests.v1", ev.extension_requested(
                reg.registration_id, reg.partner_id, days, iso(t)))
        elif step == "opportunity":
            reference.open_opportunity(f"o-{n}", account, t)
            bus.send("crm.v1", ev.opportunity_opened(f"o-{n}", domain=account, opened_at=iso(t)))
        elif step == "close":
            reference.close_deal(account, t)
            bus.send("crm.v1", ev.deal_closed(f"d-{n}", outcome="lost", domain=account,
                                              closed_at=iso(t)))

    assert bus.rejected == []
    registrations = {}
    for registration_id, expected in reference.regs.items():
        actual: object = bus.app("registration").repository.get(
            DealRegistration.create_id(registration_id))
        assert isinstance(actual, DealRegistration)
        registrations[registration_id] = actual
        assert actual.status == expected.status, registration_id
        assert (actual.rejection[0] if actual.rejection else None) == expected.reason
        assert actual.expires_at == expected.expires_at, registration_id
        assert actual.withdrawn_at == expected.withdrawn_at, registration_id

    boundaries = [r.expires_at for r in registrations.values() if r.expires_at is not None]
    for instant in [*instants, *boundaries]:
        for account in ACCOUNTS:
            holders = [r for r in registrations.values()
                       if r.account_key == f"domain:{account}" and r.is_protected_at(instant)]
            assert len(holders) <= 1, (instant, [h.registration_id for h in holders])


def test_the_reference_itself_grants_first_come_first_served() -> None:
    reference = Reference()
    first = Reg("r-a", "p-1", "a0.example", START)
    second = Reg("r-b", "p-2", "a0.example", START + timedelta(days=1))
    reference.submit(first)
    reference.submit(second)
    assert (first.status, second.status, second.reason) == ("approved", "rejected", "conflict")
    assert first.expires_at == START + timedelta(days=45)
