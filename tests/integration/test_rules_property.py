"""Property: for random histories processed in business-time order, at most one registration
per account is protected at any instant, and every outcome is the one a plain reference
implementation of docs/contract.md §5 and §8 (a capacity of two open registrations for gold
partners; direct opportunities read after registrations they predate) gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.reference import Deal, Reference, Registration
from dealreg.bootstrap import CONFLICT, REGISTRATION
from dealreg.services.conflict.domain import AccountClaims
from dealreg.services.registration.domain import DealRegistration
from tests.support import events as ev
from tests.support.bus import InMemoryBus

START = datetime(2026, 3, 1, tzinfo=UTC)
PARTNERS = {"p-0": "bronze", "p-1": "gold", "p-2": "platinum"}
ACCOUNTS = ["a0.example", "a1.example", "a2.example", "a3.example", "a4.example"]
CAPACITY = 2  # of gold partners


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- random histories

steps = st.lists(
    st.tuples(
        st.sampled_from(["submit", "submit", "submit", "withdraw", "extend", "opportunity",
                         "late_opportunity", "close"]),
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
    reference = Reference(capacities={("referral", "gold"): CAPACITY})
    bus.send("program.v1", ev.policy_published(
        "capped", effective_from="2026-01-01T00:00:00Z", time="2026-01-01T00:00:00Z",
        registration_capacity={"referral": {"gold": CAPACITY}}))
    for partner_id, tier in PARTNERS.items():
        reference.enroll(partner_id, "referral", tier, datetime(2026, 1, 1, tzinfo=UTC))
        bus.send("partners.v1", ev.partner_enrolled(partner_id, tier=tier,
                                                    enrolled_at="2026-01-01T00:00:00Z"))
    t = START
    instants = []
    for n, (step, hours, account, partner_id, number) in enumerate(history):
        t += timedelta(hours=hours)
        instants.append(t)
        ids = sorted(reference.registrations)
        if step == "submit":
            registration_id = f"r-{n}"
            reference.submit(Registration(registration_id, partner_id, account, t))
            bus.send("registrations.requests.v1", ev.registration_submitted(
                registration_id, partner_id, domain=account, submitted_at=iso(t),
                expected_close_date="2027-01-01"))
        elif step == "withdraw" and ids:
            reg = reference.registrations[ids[number % len(ids)]]
            reference.withdraw(reg.registration_id, t)
            bus.send("registrations.requests.v1",
                     ev.withdrawal_requested(reg.registration_id, reg.partner_id, iso(t)))
        elif step == "extend" and ids:
            reg = reference.registrations[ids[number % len(ids)]]
            days = number % 40 + 1
            reference.extend(reg.registration_id, days, t)
            bus.send("registrations.requests.v1", ev.extension_requested(
                reg.registration_id, reg.partner_id, days, iso(t)))
        elif step == "opportunity":
            reference.open_opportunity(account, t)
            bus.send("crm.v1", ev.opportunity_opened(f"o-{n}", domain=account, opened_at=iso(t)))
        elif step == "late_opportunity":  # opened ``number`` days ago, read only now
            opened_at = t - timedelta(days=number)
            reference.open_opportunity(account, opened_at)
            bus.send("crm.v1", ev.opportunity_opened(f"o-{n}", domain=account,
                                                     opened_at=iso(opened_at)))
        elif step == "close":
            reference.close_deal(Deal(f"d-{n}", account, t, Decimal(0), None, None), won=False)
            bus.send("crm.v1", ev.deal_closed(f"d-{n}", outcome="lost", domain=account,
                                              closed_at=iso(t)))

    assert bus.rejected == []
    registrations = {}
    for registration_id, expected in reference.registrations.items():
        actual: object = bus.app("registration").repository.get(
            DealRegistration.create_id(registration_id))
        assert isinstance(actual, DealRegistration)
        registrations[registration_id] = actual
        assert actual.status == expected.status, registration_id
        assert (actual.rejection[0] if actual.rejection else None) == expected.reason
        assert actual.expires_at == expected.expires_at, registration_id
        assert actual.withdrawn_at == expected.withdrawn_at, registration_id

    for account in ACCOUNTS:  # the same disputes, with the same registrations
        claims: object = bus.app("conflict").get_or_none(
            AccountClaims.create_id(f"domain:{account}"))
        disputed = ([sorted(d.registration_ids) for d in claims.disputes.values()]
                    if isinstance(claims, AccountClaims) else [])
        assert sorted(disputed) == sorted(sorted(d.registration_ids)
                                          for d in reference.disputes if d.account == account)

    boundaries = [r.expires_at for r in registrations.values() if r.expires_at is not None]
    for instant in [*instants, *boundaries]:
        for account in ACCOUNTS:
            holders = [r for r in registrations.values()
                       if r.account_key == f"domain:{account}" and r.is_protected_at(instant)]
            assert len(holders) <= 1, (instant, [h.registration_id for h in holders])


def test_the_reference_itself_grants_first_come_first_served() -> None:
    reference = Reference()
    for partner_id, tier in PARTNERS.items():
        reference.enroll(partner_id, "referral", tier, START)
    first = Registration("r-a", "p-1", "a0.example", START)
    second = Registration("r-b", "p-2", "a0.example", START + timedelta(days=1))
    reference.submit(first)
    reference.submit(second)
    assert (first.status, second.status, second.reason) == ("approved", "rejected", "conflict")
    assert first.expires_at == START + timedelta(days=45)
