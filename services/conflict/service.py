"""The conflict service: claims per account key, direct opportunities and disputes.

Its business rules (CONTRACT §5, rules 2 to 6 and disputes) are not implemented yet:
the service consumes its topics effectively once and dead-letters bad input.
"""

from __future__ import annotations

from dealreg.service import ServiceDefinition
from dealreg.store import ServiceApplication


class ConflictApplication(ServiceApplication):
    name = "conflict"


CONFLICT = ServiceDefinition(
    name="conflict",
    application=ConflictApplication,
    input_topics=("registrations.v1", "crm.v1", "salesops.v1"),
    handlers={},
    emit=lambda domain_event: [],
)
