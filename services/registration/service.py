"""The registration service: what it reads, how it handles it, what it publishes."""

from __future__ import annotations

from dealreg.service import ServiceDefinition
from services.registration.app import RegistrationApplication
from services.registration.emissions import emit
from services.registration.expiry import run_scheduler
from services.registration.handlers import HANDLERS, READS

REGISTRATION = ServiceDefinition(
    name="registration",
    application=RegistrationApplication,
    input_topics=("partners.v1", "program.v1", "registrations.requests.v1", "conflicts.v1"),
    handlers=HANDLERS,
    reads=READS,
    emit=emit,
    background=(run_scheduler,),
)
