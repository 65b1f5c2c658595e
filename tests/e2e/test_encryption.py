"""Personal data at rest: with DEALREG_CIPHER_KEY, stored events are encrypted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher

from dealreg.bootstrap import REGISTRATION
from dealreg.processing import InboundProcessor, InboundRecord
from dealreg.services.partners import Partner
from dealreg.services.registration.domain import DealRegistration
from dealreg.services.registration.handlers import INBOUND
from dealreg.settings import Settings, SettingsError
from tests.support.events import encode, partner_enrolled, registration_submitted
from tests.support.kafka import produce, read_topic
from tests.support.running import app_of, eventually, running

EMAIL = b"jo.buyer@acme.example"


def store_bytes(settings: Settings) -> bytes:
    return b"".join(path.read_bytes() for path in Path(settings.data_dir).glob("registration*"))


def submit(settings: Settings) -> DealRegistration:
    app = REGISTRATION.build_application(settings)
    processor = InboundProcessor(app, INBOUND, logical_topic=lambda t: t, tracking_prefix="t:")
    processor.process([InboundRecord("partners.v1", 0, 0, None,
                                     encode(partner_enrolled("p-1")), 0)])
    processor.process([InboundRecord("registrations.requests.v1", 0, 0, None,
                                     encode(registration_submitted("r-1", "p-1")), 0)])
    registration: object = app.repository.get(DealRegistration.create_id("r-1"))
    app.close()
    assert isinstance(registration, DealRegistration)
    return registration


def test_without_a_key_the_contact_is_stored_in_clear(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    submit(settings)
    assert EMAIL in store_bytes(settings)


def test_with_a_key_the_stored_bytes_do_not_contain_the_contact(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cipher_key=AESCipher.create_key(32))
    registration = submit(settings)
    assert registration.contact_email == EMAIL.decode()  # the service still reads it
    assert EMAIL not in store_bytes(settings)
    assert b"Jo Buyer" not in store_bytes(settings)


def test_a_wrong_key_is_refused_without_showing_it() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"DEALREG_CIPHER_KEY": "c2VjcmV0LWtleQ=="})
    assert "DEALREG_CIPHER_KEY must be a base64 AES key" in str(raised.value)
    assert "c2VjcmV0LWtleQ" not in str(raised.value)


async def test_the_service_works_end_to_end_with_encryption(kafka_settings: Settings) -> None:
    settings = replace(kafka_settings, cipher_key=AESCipher.create_key(16))
    async with running(REGISTRATION, settings) as runtime:
        await produce(settings, "partners.v1", [encode(partner_enrolled("p-1"))])
        app = app_of(runtime)
        await eventually(lambda: app.stored(Partner.create_id("p-1")))
        await produce(settings, "registrations.requests.v1",
                      [encode(registration_submitted("r-1", "p-1"))])
        [received] = await read_topic(settings, "registrations.v1", at_least=1)
    assert received.json()["data"]["registration_id"] == "r-1"
    assert EMAIL not in store_bytes(settings)
