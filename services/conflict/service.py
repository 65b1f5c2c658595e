"""The conflict service: claims per account key, direct opportunities and disputes (§5)."""

from __future__ import annotations

from dealreg.service import ServiceDefinition
from services.conflict.app import ConflictApplication
from services.conflict.emissions import emit
from services.conflict.handlers import HANDLERS, READS

CONFLICT = ServiceDefinition(
    name="conflict",
    application=ConflictApplication,
    input_topics=("program.v1", "registrations.v1", "crm.v1", "salesops.v1"),
    handlers=HANDLERS,
    reads=READS,
    emit=emit,
)
