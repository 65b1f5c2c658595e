"""Read models kept from the services' event stores (see ``projections.runner``)."""

from __future__ import annotations

from dealreg.projections.account_registry import AccountRegistry
from dealreg.projections.partner_metrics import PartnerMetrics
from dealreg.projections.partner_registrations import PartnerRegistrations
from dealreg.projections.payout_ledger import PayoutLedger
from dealreg.projections.runner import Projection


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [AccountRegistry(), PartnerMetrics(), PayoutLedger(),
                                      PartnerRegistrations()]
    return {projection.name: projection for projection in projections}
