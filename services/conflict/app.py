"""The conflict service's application: its event store of claims per account (the use cases
are in :mod:`dealreg.services.conflict.handlers`)."""

from __future__ import annotations

from dealreg.eventstore import ServiceApplication


class ConflictApplication(ServiceApplication):
    name = "conflict"
