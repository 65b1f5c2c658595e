"""Runs the registration service in its own process and SIGKILLs it at a chosen point.

    python -m tests.support.crashing_service after-store-commit [SERVICE]
    python -m tests.support.crashing_service mid-outbox-batch [SERVICE]

SERVICE is ``registration`` (the default), ``conflict`` or ``payouts``.

Configuration comes from DEALREG_* variables, as for ``dealreg serve``. The kill is
SIGKILL, so nothing of the process's shutdown code runs: what survives is what the
event store and the broker already hold.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from dealreg import logs
from dealreg.bootstrap import definitions
from dealreg.processing import InboundProcessor, InboundRecord, Partition, Processed
from dealreg.settings import Settings
from dealreg.stack import run_services


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after_store_commit() -> None:
    """Die right after the first poll is committed to the store, before Kafka hears of it."""
    original = InboundProcessor.process_poll

    def process_then_die(
        self: InboundProcessor, records: Sequence[InboundRecord], *args: Any
    ) -> dict[Partition, Processed]:
        processed = original(self, records, *args)
        if any(done.applied for done in processed.values()):
            _die()
        return processed

    InboundProcessor.process_poll = process_then_die  # type: ignore[method-assign,assignment]


def kill_mid_outbox_batch(after_messages: int = 3) -> None:
    """Die while the relay hands a batch to Kafka: some messages sent, the position not stored."""
    original = KafkaBroker.publish
    sent = 0

    async def publish_then_die(self: KafkaBroker, *args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        sent += 1
        if sent > after_messages:
            _die()
        return await original(self, *args, **kwargs)

    KafkaBroker.publish = publish_then_die  # type: ignore[method-assign]


def main() -> None:
    point = sys.argv[1]
    service = definitions()[sys.argv[2] if len(sys.argv) > 2 else "registration"]
    {"after-store-commit": kill_after_store_commit,
     "mid-outbox-batch": kill_mid_outbox_batch}[point]()
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(run_services(settings, [service], start_local_broker=False))


if __name__ == "__main__":
    main()
