"""The payouts service's application: its event store of partners, policies, account facts
and deal payouts (the use cases are in :mod:`dealreg.services.payouts.handlers`)."""

from __future__ import annotations

from dealreg.eventstore import ServiceApplication


class PayoutsApplication(ServiceApplication):
    name = "payouts"
