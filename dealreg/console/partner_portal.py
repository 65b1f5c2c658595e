"""A partner's pages: its own registrations (the list and each one's status, window and
timeline), the form to register a deal, whether an account is free to register (never
saying who else holds it), and its payout statement."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import Field
from starlette.responses import Response

from dealreg.api import partner_portal as api
from dealreg.api.pages import Cursor
from dealreg.api.problems import ProblemError
from dealreg.api.values import StrictBody
from dealreg.console.statements import statement_page
from dealreg.console.web import (
    MENU,
    Form,
    Link,
    Read,
    Signed,
    body,
    call,
    field_errors,
    next_page,
    optional,
    permit,
    render,
    text,
)
from dealreg.events.schemas.values import CountryCode, Name
from dealreg.services.registration.status import STATUSES, Status

router = APIRouter()
MENU.extend([Link("My registrations", "/registrations", api.list_registrations),
             Link("Register a deal", "/registrations/new", api.submit_registration),
             Link("Availability", "/availability", api.account_availability),
             Link("My statement", "/statement", api.own_statement)])
#: The registration form's fields, by the name of the request body's field.
FIELDS = {"prospect.company_name": "company_name", "prospect.domain": "domain",
          "prospect.country": "country", "prospect.segment": "segment",
          "contact.name": "contact_name", "contact.email": "contact_email",
          "estimated_value.amount": "amount", "estimated_value.currency": "currency",
          "expected_close_date": "expected_close_date"}


@router.get("/registrations", include_in_schema=False)
async def registrations(request: Request, found: Signed, read: Read,
                        status: Status | None = None, cursor: Cursor = None) -> Response:
    listed = await call(api.list_registrations, found.who, read=read, status=status,
                        cursor=cursor)
    return render(request, "registrations.html", found, statuses=STATUSES, status=status,
                  registrations=listed["registrations"],
                  next_page=next_page(request, listed["next_cursor"]))


def _form_page(request: Request, found: Signed, *, code: int = 200,
               **context: Any) -> Response:
    return render(request, "register.html", found, code=code,
                  idempotency_key=secrets.token_urlsafe(16), **context)


@router.get("/registrations/new", include_in_schema=False)
async def registration_form(request: Request, found: Signed) -> Response:
    permit(api.submit_registration, found.who)
    return _form_page(request, found, values={"segment": "mid", "currency": "USD"}, errors={})


@router.post("/registrations", include_in_schema=False)
async def register(request: Request, found: Signed, read: Read, posted: Form) -> Response:
    """Send ``registration.submitted`` as the API does; the form's hidden key makes a form
    sent twice one registration."""
    values = {name: text(posted, name) for name in FIELDS.values()}
    fields = {"prospect": {"company_name": values["company_name"],
                           "domain": optional(values["domain"]),
                           "country": values["country"].upper(), "segment": values["segment"]},
              "contact": {"name": values["contact_name"], "email": values["contact_email"]},
              "estimated_value": {"amount": values["amount"],
                                  "currency": values["currency"].upper()},
              "expected_close_date": values["expected_close_date"]}
    try:
        request_body = body(api.RegistrationRequest, fields)
        sent = await call(api.submit_registration, found.who, read=read, body=request_body,
                          response=Response(),
                          idempotency_key=optional(text(posted, "idempotency_key")))
    except ProblemError as refused:
        if refused.status != 422:
            raise
        errors = {FIELDS.get(name, name): message
                  for name, message in field_errors(refused).items()}
        return _form_page(request, found, code=422, values=values, errors=errors)
    registration_id = (sent.registration_id if isinstance(sent, api.RegistrationAccepted)
                       else _stored_id(sent))
    return RedirectResponse(f"/registrations/{registration_id}?sent=true", status_code=303)


def _stored_id(answer: Response) -> str:
    """The id of the registration an answer of 200 (already stored) names."""
    return answer.headers["location"].rsplit("/", 1)[-1]


@router.get("/registrations/{registration_id}", include_in_schema=False)
async def registration_page(request: Request, registration_id: str, found: Signed,
                            read: Read, sent: bool = False, disputed: bool = False,
                            asked: Literal["extension", "withdrawal"] | None = None
                            ) -> Response:
    return await _registration_page(request, found, read, registration_id, sent=sent,
                                    disputed=disputed, asked=asked)


async def _registration_page(request: Request, found: Signed, read: Read,
                             registration_id: str, *, sent: bool = False, code: int = 200,
                             **context: Any) -> Response:
    try:
        registration = await call(api.read_registration, found.who, read=read,
                                  registration_id=registration_id)
    except ProblemError as missing:
        if missing.status != 404 or not sent:
            raise
        registration = None
    return render(request, "registration.html", found, code=code, registration=registration,
                  registration_id=registration_id, sent=sent, **context)


@router.post("/registrations/{registration_id}/extension", include_in_schema=False)
async def extension(request: Request, registration_id: str, found: Signed, read: Read,
                    posted: Form) -> Response:
    """Send ``registration.extension_requested`` as the API does."""
    days = text(posted, "days")
    try:
        await call(api.request_extension, found.who, read=read,
                   registration_id=registration_id,
                   body=body(api.ExtensionRequest, {"days": days}))
    except ProblemError as refused:
        if refused.status != 422:
            raise
        return await _registration_page(request, found, read, registration_id, code=422,
                                        errors=field_errors(refused), days=days)
    return RedirectResponse(f"/registrations/{registration_id}?asked=extension",
                            status_code=303)


@router.post("/registrations/{registration_id}/withdrawal", include_in_schema=False)
async def withdrawal(request: Request, registration_id: str, found: Signed, read: Read,
                     posted: Form) -> Response:
    """Send ``registration.withdrawn`` as the API does: the protection ends now."""
    await call(api.withdraw, found.who, read=read, registration_id=registration_id,
               body=None)
    return RedirectResponse(f"/registrations/{registration_id}?asked=withdrawal",
                            status_code=303)


@router.post("/registrations/{registration_id}/dispute", include_in_schema=False)
async def dispute(request: Request, registration_id: str, found: Signed, read: Read,
                  posted: Form) -> Response:
    """Send ``dispute.raised`` as the API does: the partner's case against a denial."""
    evidence = text(posted, "evidence")
    try:
        await call(api.raise_dispute, found.who, read=read, registration_id=registration_id,
                   body=body(api.DisputeRequest, {"evidence": evidence}))
    except ProblemError as refused:
        if refused.status not in (409, 422):
            raise
        return await _registration_page(request, found, read, registration_id,
                                        code=refused.status, refused=refused.detail,
                                        errors=field_errors(refused), evidence=evidence)
    return RedirectResponse(f"/registrations/{registration_id}?disputed=true",
                            status_code=303)


class AvailabilityQuery(StrictBody):
    """The availability form: the account as the API's availability endpoint takes it."""

    company_name: Name
    country: CountryCode
    domain: Annotated[str, Field(max_length=500)] | None = None


@router.get("/availability", include_in_schema=False)
async def availability_page(request: Request, found: Signed, read: Read,
                            company_name: str | None = None, country: str | None = None,
                            domain: str | None = None) -> Response:
    asked = {"company_name": (company_name or "").strip(),
             "country": (country or "").strip().upper(), "domain": optional(domain)}
    answer, errors = None, {}
    if company_name is not None or country is not None:
        try:
            query = body(AvailabilityQuery, asked)
            answer = await call(api.account_availability, found.who, read=read,
                                **query.model_dump())
        except ProblemError as refused:
            if refused.status != 422:
                raise
            errors = field_errors(refused)
    else:
        permit(api.account_availability, found.who)
    return render(request, "availability.html", found, asked=asked, answer=answer,
                  errors=errors)


@router.get("/statement", include_in_schema=False)
async def own_statement(request: Request, found: Signed, read: Read,
                        start: Annotated[str | None, Query(alias="from")] = None,
                        end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    return await statement_page(request, found, read, api.own_statement, None, start, end)


@router.get("/statement.csv", include_in_schema=False)
async def own_statement_csv(request: Request, found: Signed, read: Read,
                            start: Annotated[str | None, Query(alias="from")] = None,
                            end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    return await statement_page(request, found, read, api.own_statement, None, start, end,
                                csv=True)
