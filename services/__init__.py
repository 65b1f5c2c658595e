"""dealreg's three services: registration, conflict and payouts (composed into running
services by :mod:`dealreg.bootstrap`)."""

from __future__ import annotations

import sys

from dealreg.eventstore import moved_package

#: Until 0.1 this package was the top-level ``services``: events stored then name it so.
moved_package("services", sys.modules[__name__])
