"""Kafka topics of the contract: creation and the cluster's identity."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dealreg.events.schemas import TOPICS
from dealreg.settings import Settings

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings, logical_names: Iterable[str] | None = None) -> str:
    """Create the contract topics that are missing; returns the Kafka cluster id.

    The cluster id scopes every stored Kafka position (``dealreg.runtime``): offsets of
    one cluster mean nothing on another, e.g. after the in-memory local broker restarts.
    """
    names = list(TOPICS) if logical_names is None else list(logical_names)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [settings.topic(name) for name in names if settings.topic(name) not in existing]
        if missing:
            # Another service may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(name, settings.partitions, settings.replication_factor)
                        for name in missing
                    ]
                )
            log.info("topics created", extra={"topics": missing,
                                               "partitions": settings.partitions})
        cluster = await admin.describe_cluster()
        return str(cluster["cluster_id"])
    finally:
        await admin.close()
