"""The registration service's application: its event store of partners, policies and deal
registrations (the use cases are in :mod:`dealreg.services.registration.handlers`)."""

from __future__ import annotations

from dealreg.eventstore import ServiceApplication


class RegistrationApplication(ServiceApplication):
    name = "registration"
