"""Configuration: environment variables with the ``DEALREG_`` prefix, overridable by CLI flags.

Every setting has a default that makes the local default (``dealreg up``: the bundled
broker and SQLite files under ``./.dealreg``) work without any configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


class SettingsError(ValueError):
    """A configuration value is not usable; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """All runtime settings. ``env_name`` of a field is ``DEALREG_`` + its upper-cased name."""

    data_dir: Path = Path(".dealreg")
    database_url: str = ""
    db_schema_prefix: str = "dealreg_"
    kafka_bootstrap: str = ""
    local_broker_port: int = 9092
    topic_prefix: str = ""
    partitions: int = 3
    replication_factor: int = 1
    consumer_group_prefix: str = "dealreg-"
    batch_max_records: int = 500
    batch_timeout_ms: int = 200
    session_timeout_ms: int = 10_000
    outbox_batch_size: int = 500
    outbox_poll_ms: int = 1_000
    order_grace_ms: int = 5_000
    expiry_interval_ms: int = 1_000
    log_level: str = "INFO"
    log_format: str = "json"
    cipher_key: str = ""
    create_tables: bool = True
    aggregate_cache_size: int = 20_000
    fetch_max_wait_ms: int = 20
    service_db_password: str = ""
    up_processes: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    dispute_review_hours: int = 48
    metrics_port: int = 9464
    metrics_host: str = "127.0.0.1"
    drain_seconds: int = 60
    outbox_stuck_seconds: int = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = environ.get(env_name(spec.name))
            if raw is None or raw == "":
                continue
            values[spec.name] = _convert(spec.name, spec.type, raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def with_overrides(self, **overrides: Any) -> Settings:
        """The same settings with the given (non-None) values replaced, e.g. from CLI flags."""
        changed = {key: value for key, value in overrides.items() if value is not None}
        settings = replace(self, **changed)
        settings.validate()
        return settings

    def validate(self) -> None:
        positive = ("partitions", "replication_factor", "batch_max_records", "outbox_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise SettingsError(f"{env_name(name)} must be at least 1")
        if self.database_url and not self.database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise SettingsError(
                f"{env_name('database_url')} must be a postgresql:// URL (or empty for SQLite)"
            )
        if self.dispute_review_hours < 1:
            raise SettingsError(f"{env_name('dispute_review_hours')} must be at least 1 (hours "
                                "a dispute may wait for a resolution)")
        if self.log_format not in ("json", "text"):
            raise SettingsError(f"{env_name('log_format')} must be 'json' or 'text'")
        if not 0 <= self.api_port <= 65_535:
            raise SettingsError(f"{env_name('api_port')} must be a port number from 0 (any "
                                "free port) to 65535")
        if not 0 <= self.metrics_port <= 65_535 - 2:  # + 2: the services of up --processes
            raise SettingsError(f"{env_name('metrics_port')} must be a port number from 0 (any "
                                "free port) to 65533")
        if self.drain_seconds < 0:
            raise SettingsError(f"{env_name('drain_seconds')} must be 0 or more")
        if self.outbox_stuck_seconds < 1:
            raise SettingsError(f"{env_name('outbox_stuck_seconds')} must be at least 1")
        if not self.api_host.strip():
            raise SettingsError(f"{env_name('api_host')} must name an address to listen on")
        if self.cipher_key and not _valid_aes_key(self.cipher_key):
            raise SettingsError(  # never echo the key itself
                f"{env_name('cipher_key')} must be a base64 AES key of 16, 24 or 32 bytes")

    def environ(self) -> dict[str, str]:
        """These settings as ``DEALREG_*`` variables."""
        return {env_name(spec.name): _text(getattr(self, spec.name)) for spec in fields(self)}

    def child_environ(self) -> dict[str, str]:
        """The environment of a ``dealreg`` child process run with these settings: this
        process's environment, its own ``DEALREG_*`` variables replaced by these."""
        inherited = {key: value for key, value in os.environ.items()
                     if not key.startswith("DEALREG_")}
        return inherited | self.environ()

    @property
    def bootstrap(self) -> str:
        """Where to reach Kafka when no local broker is started for us: the configured
        servers, else the bundled broker's address on this machine
        (``DEALREG_LOCAL_BROKER_PORT``, as ``dealreg up`` and ``dealreg broker`` start it)."""
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        if self.local_broker_port:
            return f"127.0.0.1:{self.local_broker_port}"
        return DEFAULT_BOOTSTRAP

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)

    def topic(self, logical_name: str) -> str:
        """The physical topic name of a contract topic, with the configured prefix."""
        return f"{self.topic_prefix}{logical_name}"

    def logical_topic(self, physical_name: str) -> str:
        """The contract topic name of a physical topic (the inverse of :meth:`topic`)."""
        return physical_name.removeprefix(self.topic_prefix)

    def consumer_group(self, service: str) -> str:
        return f"{self.consumer_group_prefix}{service}"

    def store_description(self) -> str:
        """Where events are stored, for humans; never shows a password."""
        if not self.uses_postgres:
            return f"sqlite files under {self.data_dir.resolve()}"
        return f"{self.database_description()} schemas {self.db_schema_prefix}*"

    def database_description(self) -> str:
        """The PostgreSQL database, for humans: its URL without user or password."""
        from urllib.parse import urlsplit

        url = urlsplit(self.database_url)
        host = url.hostname or "localhost"
        port = f":{url.port}" if url.port else ""
        return f"postgresql://{host}{port}{url.path}"


def _valid_aes_key(text: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.b64decode(text, validate=True)) in (16, 24, 32)
    except (binascii.Error, ValueError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def env_name(field_name: str) -> str:
    return f"DEALREG_{field_name.upper()}"


def _convert(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{env_name(name)} must be true or false, not {raw!r}")
    try:
        if kind == "int":
            return int(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError:
        raise SettingsError(f"{env_name(name)} must be a whole number, not {raw!r}") from None
    return raw
