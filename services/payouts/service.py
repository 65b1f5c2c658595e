"""The payouts service: commissions for billing (CONTRACT §6).

Its business rules are not implemented yet: the service consumes its topics
effectively once and dead-letters bad input.
"""

from __future__ import annotations

from dealreg.service import ServiceDefinition
from dealreg.store import ServiceApplication


class PayoutsApplication(ServiceApplication):
    name = "payouts"


PAYOUTS = ServiceDefinition(
    name="payouts",
    application=PayoutsApplication,
    input_topics=("partners.v1", "program.v1", "crm.v1", "registrations.v1", "conflicts.v1"),
    handlers={},
    emit=lambda domain_event: [],
)
