"""dealreg's three services."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dealreg.service import ServiceDefinition


def definitions() -> dict[str, ServiceDefinition]:
    """Every service by name, in the order they start."""
    from services.conflict.service import CONFLICT
    from services.payouts.service import PAYOUTS
    from services.registration.service import REGISTRATION

    return {service.name: service for service in (REGISTRATION, CONFLICT, PAYOUTS)}
