"""Auditors' endpoints: the history of an id across the three services, the verification of
every hash chain, and the export to verify on one's own, as ``dealreg audit`` gives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from dealreg import audit
from dealreg.api.auth import Admits, Caller, stores
from dealreg.api.problems import ProblemError
from dealreg.api.stores import Stores

router = APIRouter(tags=["auditor"])
Auditor = Annotated[Caller, Depends(Admits("auditor"))]
Read = Annotated[Stores, Depends(stores)]
JSON_LINES = "application/x-ndjson"


@router.get("/audit/history/{business_id}")
def history(business_id: str, who: Auditor, read: Read) -> dict[str, Any]:
    """Every stored event about a registration, deal, dispute or partner id, in every
    service, in the order they were recorded (``dealreg audit history --json``)."""
    events = audit.history(read.apps, business_id)
    if not events:
        raise ProblemError(404, f"no stored event names {business_id!r}")
    return {"id": business_id, "events": events}


@router.get("/audit/verification")
def verification(who: Auditor, read: Read) -> dict[str, Any]:
    """Every service's hash chain walked (``dealreg audit verify``): ``verified`` is false,
    and ``problem`` names the first bad event, when an event was altered, removed or
    reordered."""
    reports = [audit.verify(name, app) for name, app in read.apps.items()]
    return {"verified": all(report.problem is None for report in reports),
            "chains": [{"application": r.application, "events": r.events, "head": r.head,
                        "problem": r.problem} for r in reports]}


@router.get("/audit/export", response_class=StreamingResponse,
            responses={200: {"content": {JSON_LINES: {}},
                             "description": "one stored event per line"}})
def export(who: Auditor, read: Read) -> StreamingResponse:
    """Every stored event with its hash and the previous one's, personal data left out: the
    lines of ``dealreg audit export``, for ``examples/audit/verify_export.py``."""

    def lines() -> Iterator[str]:
        for record in audit.export(read.apps):
            yield json.dumps(record, ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type=JSON_LINES,
                             headers={"Content-Disposition":
                                      'attachment; filename="dealreg-export.jsonl"'})
