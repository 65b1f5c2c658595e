"""Property: whatever the order facts arrive in across topics, the sum of ``total`` and
``delta`` per (deal, partner) billing received equals the amount a plain reference
implementation of docs/contract.md §6, §10 and §11 computes from all the facts: commissions,
the revenue share of every invoice, and every manual adjustment."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.services.payouts.domain import DealPayouts
from dealreg.services.registration.domain import DealRegistration
from tests.support import events as ev
from tests.support.bus import InMemoryBus

START = datetime(2026, 3, 1, tzinfo=UTC)
PARTNERS = {"p-0": ("referral", "bronze"), "p-1": ("referral", "gold"),
            "p-2": ("reseller", "silver"), "p-3": ("msp", "silver")}
TIERS = ["bronze", "silver", "gold", "platinum"]
RATES = {"referral": {"bronze": "0.15", "silver": "0.20", "gold": "0.25", "platinum": "0.30"},
         "reseller": {"bronze": "0.20", "silver": "0.24", "gold": "0.27", "platinum": "0.30"}}
ACCOUNTS = ["a0.example", "a1.example", "a2.example"]
#: Revenue share rates of the default policy (zero for the other programs).
SHARE_RATES = {"bronze": "0.10", "silver": "0.15", "gold": "0.20", "platinum": "0.25"}
REVENUE_SHARE_MONTHS = 36


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def day(n: int) -> datetime:
    return START + timedelta(days=n)


# ------------------------------------------------------------------ the reference


def reference_amounts(facts: dict[str, Any], registrations: list[Any]) -> dict[tuple[str, str],
                                                                              Decimal]:
    """§6 from all the facts; the registrations' final windows are §5's result."""
    owed: dict[tuple[str, str], Decimal] = {}
    for deal in facts["deals"]:
        c, account = deal["closed_at"], f"domain:{deal['account']}"
        protected = [r for r in registrations
                     if r.account_key == account and r.is_protected_at(c)]
        named = [r for r in protected if r.registration_id == deal["registration_id"]]
        owner = named[0] if named else min(protected, key=lambda r: r.protected_from,
                                           default=None)
        rates = {p: dict(t) for p, t in RATES.items()}
        split = {"partner_sourced": "0.70", "direct_sourced": "0.30"}
        for policy in sorted(facts["policies"], key=lambda p: (p["effective_from"], p["v"])):
            if policy["effective_from"] <= c:
                rates["referral"]["gold"] = policy["gold_rate"]
                split["direct_sourced"] = policy["direct"]
        if owner is not None:
            partner_id = owner.partner_id
            share = Decimal(split["partner_sourced"]) if deal["co_sell"] else Decimal(1)
        elif deal["co_sell"]:
            partner_id, share = deal["co_sell_partner"], Decimal(split["direct_sourced"])
        else:
            continue
        program = PARTNERS[partner_id][0]
        amount = cents(deal["value"] * Decimal(rates.get(program, {}).get(
            tier_at(facts, partner_id, c), "0")) * share)
        for invoice in facts["invoices"]:
            starts_at = datetime.combine(invoice["period_start"], datetime.min.time(), UTC)
            if (invoice["deal_id"] == deal["deal_id"] and program == "msp"
                    and starts_at < months_after(c, REVENUE_SHARE_MONTHS)):
                rate = Decimal(SHARE_RATES[tier_at(facts, partner_id, starts_at)])
                amount += cents(invoice["amount"] * rate * share)
        owed[(deal["deal_id"], partner_id)] = Decimal("0.00") if deal["refunded"] else amount
    for adjustment in facts["adjustments"]:  # §10: on top of everything, refunds included
        key = (adjustment["deal_id"], adjustment["partner_id"])
        owed[key] = owed.get(key, Decimal("0.00")) + adjustment["amount"]
    return owed


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def tier_at(facts: dict[str, Any], partner_id: str, instant: datetime) -> str:
    tier = PARTNERS[partner_id][1]
    for effective_at, new_tier, who in sorted(facts["tier_changes"]):
        if who == partner_id and effective_at <= instant:
            tier = new_tier
    return tier


def months_after(instant: datetime, months: int) -> datetime:
    """Calendar months; a day the month lacks is its last day."""
    index = instant.month - 1 + months
    year, month = instant.year + index // 12, index % 12 + 1
    return instant.replace(year=year, month=month,
                           day=min(instant.day, calendar.monthrange(year, month)[1]))


# ------------------------------------------------------------------ random facts

facts_strategy = st.fixed_dictionaries({
    "registrations": st.lists(st.tuples(st.sampled_from(ACCOUNTS),
                                        st.sampled_from(sorted(PARTNERS)), st.integers(0, 60)),
                              max_size=6),
    "deals": st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 120),
                                st.integers(1, 10**7), st.booleans(),
                                st.sampled_from(sorted(PARTNERS)), st.booleans(),
                                st.integers(-1, 5)), min_size=1, max_size=5),
    # two changes of one partner effective at the same instant have no order to compare with
    "tier_changes": st.lists(st.tuples(st.integers(0, 120), st.sampled_from(TIERS),
                                       st.sampled_from(sorted(PARTNERS))), max_size=3,
                             unique_by=lambda change: (change[0], change[2])),
    "policies": st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["0.26", "0.31"]),
                                   st.sampled_from(["0.25", "0.35"]), st.booleans()),
                         max_size=2),
    "opportunities": st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 60)),
                              max_size=2),
    # (deal index, months after the close, day of the month, revenue in cents)
    "invoices": st.lists(st.tuples(st.integers(0, 4), st.integers(-1, 37), st.integers(1, 28),
                                   st.integers(0, 10**6)), max_size=4),
    # (deal index, partner, amount in cents, not zero)
    "adjustments": st.lists(st.tuples(st.integers(0, 4), st.sampled_from(sorted(PARTNERS)),
                                      st.integers(-10**5, 10**5).filter(bool)), max_size=3),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts_strategy, st.randoms(use_true_random=False))
def test_billing_sums_equal_the_reference_whatever_the_order(
    drawn: dict[str, Any], rng: Any
) -> None:
    first: list[tuple[str, dict[str, Any]]] = [
        ("partners.v1", ev.partner_enrolled(p, program=program, tier=tier,
                                            enrolled_at="2026-01-01T00:00:00Z"))
        for p, (program, tier) in PARTNERS.items()]
    shuffled: list[tuple[str, dict[str, Any]]] = []
    facts: dict[str, Any] = {"deals": [], "tier_changes": [], "policies": [], "invoices": [],
                             "adjustments": []}
    for n, (account, partner_id, submitted) in enumerate(drawn["registrations"]):
        shuffled.append(("registrations.requests.v1", ev.registration_submitted(
            f"r-{n}", partner_id, domain=account, submitted_at=iso(day(submitted)),
            expected_close_date="2027-01-01")))
    for n, (account, opened) in enumerate(drawn["opportunities"]):
        shuffled.append(("crm.v1", ev.opportunity_opened(f"o-{n}", domain=account,
                                                         opened_at=iso(day(opened)))))
    for effective, tier, partner_id in drawn["tier_changes"]:
        facts["tier_changes"].append((day(effective), tier, partner_id))
        shuffled.append(("partners.v1", ev.partner_tier_changed(partner_id, tier,
                                                                iso(day(effective)))))
    for n, (effective, gold, direct, retroactive) in enumerate(drawn["policies"]):
        facts["policies"].append({"effective_from": day(effective), "v": n + 1,
                                  "gold_rate": gold, "direct": direct})
        policy = ("program.v1", ev.policy_published(
            f"pol-{n}", version=n + 1, effective_from=iso(day(effective)),
            retroactive=retroactive,
            time=iso(day(effective + 1 if retroactive else effective)),
            commission_rates={"referral": {"gold": gold}},
            co_sell_split={"direct_sourced": direct}))
        # a policy that is not retroactive is published before the deals it applies to
        (shuffled if retroactive else first).append(policy)
    for n, (account, closed, cents, co_sell, co_partner, refunded, named) in enumerate(
        drawn["deals"]
    ):
        value = Decimal(cents) / 100
        registration_id = f"r-{named}" if 0 <= named < len(drawn["registrations"]) else None
        facts["deals"].append({"deal_id": f"d-{n}", "account": account,
                               "closed_at": day(closed), "value": value, "co_sell": co_sell,
                               "co_sell_partner": co_partner, "refunded": refunded,
                               "registration_id": registration_id})
        extra: dict[str, Any] = {"co_sell": co_sell, "co_sell_partner_id": co_partner}
        if registration_id:
            extra["registration_id"] = registration_id
        shuffled.append(("crm.v1", ev.deal_closed(f"d-{n}", domain=account,
                                                  closed_at=iso(day(closed)),
                                                  amount=f"{value:.2f}", **extra)))
        if refunded:
            shuffled.append(("crm.v1", ev.deal_refunded(f"d-{n}", iso(day(closed + 30)))))
    deals = facts["deals"]
    for n, (index, months, day_of_month, revenue) in enumerate(drawn["invoices"]):
        if index >= len(deals):
            continue
        deal = deals[index]
        start = months_after(deal["closed_at"].replace(day=1), months).replace(
            day=day_of_month).date()
        amount = Decimal(revenue) / 100
        facts["invoices"].append({"deal_id": deal["deal_id"], "period_start": start,
                                  "amount": amount})
        shuffled.append(("crm.v1", ev.subscription_invoiced(
            f"inv-{n}", deal["deal_id"], period_start=start.isoformat(),
            period_end=start.isoformat(), amount=f"{amount:.2f}",
            invoiced_at=iso(datetime.combine(start, datetime.min.time(), UTC)))))
    rng.shuffle(shuffled)
    # a refund never arrives before its deal: both are on crm.v1, keyed by deal
    shuffled.sort(key=lambda item: item[1]["type"] == "dealreg.deal.refunded.v1")
    # a manual adjustment is requested once its deal is known, anywhere after it
    for n, (index, partner_id, amount_cents) in enumerate(drawn["adjustments"]):
        if index >= len(deals):
            continue
        deal_id, amount = deals[index]["deal_id"], Decimal(amount_cents) / 100
        facts["adjustments"].append({"deal_id": deal_id, "partner_id": partner_id,
                                     "amount": amount})
        closed_at = next(i for i, (_, e) in enumerate(shuffled)
                         if e["type"] == "dealreg.deal.closed.v1"
                         and e["data"]["deal_id"] == deal_id)
        shuffled.insert(rng.randint(closed_at + 1, len(shuffled)), ("salesops.v1", (
            ev.adjustment_requested(f"adj-{n}", deal_id, partner_id, amount=f"{amount:.2f}",
                                    requested_at=iso(day(200 + n))))))

    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])
    for topic, event in first + shuffled:
        bus.send(topic, event)

    assert bus.rejected == []
    registrations: list[Any] = [bus.app("registration").repository.get(
        DealRegistration.create_id(f"r-{n}")) for n in range(len(drawn["registrations"]))]
    expected = reference_amounts(facts, registrations)
    billed: dict[tuple[str, str], Decimal] = {}
    for deal in facts["deals"]:
        payouts: object = bus.app("payouts").repository.get(
            DealPayouts.create_id(deal["deal_id"]))
        assert isinstance(payouts, DealPayouts)
        for partner_id in payouts.emitted:
            billed[(deal["deal_id"], partner_id)] = payouts.emitted_total(partner_id)
    paid = {key: amount for key, amount in billed.items() if amount != 0}
    assert paid == {key: amount for key, amount in expected.items() if amount != 0}


def test_an_enrollment_read_after_the_deal_pays_it() -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS])
    bus.send("partners.v1", ev.partner_enrolled("p-1", enrolled_at="2026-01-01T00:00:00Z"))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-1", "p-1", submitted_at="2026-03-01T00:00:00Z"))
    payouts_only = InMemoryBus([PAYOUTS])
    # the payouts service reads the approval and the deal before the partner's enrollment
    approved = [e for e in bus.published if e[1]["type"] == "dealreg.registration.approved.v1"]
    for topic, event in approved:
        payouts_only.send(topic, event)
    payouts_only.send("crm.v1", ev.deal_closed("d-1", closed_at="2026-03-10T00:00:00Z",
                                               amount="100.00"))
    payouts_only.send("partners.v1", ev.partner_enrolled("p-1",
                                                         enrolled_at="2026-01-01T00:00:00Z"))
    deal: object = payouts_only.app("payouts").repository.get(DealPayouts.create_id("d-1"))
    assert isinstance(deal, DealPayouts)
    history = [type(e).__name__ for e in payouts_only.app("payouts").events.get(deal.id)]
    assert history == ["Closed", "Withheld", "Calculated"]
    assert deal.emitted_total("p-1") == Decimal("25.00")
