"""The payouts service: commissions for billing, corrected by adjustments (CONTRACT §6)."""

from __future__ import annotations

from dealreg.service import ServiceDefinition
from services.payouts.app import PayoutsApplication
from services.payouts.emissions import emit
from services.payouts.handlers import HANDLERS, READS

PAYOUTS = ServiceDefinition(
    name="payouts",
    application=PayoutsApplication,
    input_topics=("partners.v1", "program.v1", "crm.v1", "registrations.v1", "conflicts.v1"),
    handlers=HANDLERS,
    reads=READS,
    emit=emit,
)
