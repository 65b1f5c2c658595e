"""What a service process tells Prometheus (``/metrics``, docs/operators.md "Metrics").

The counters and histograms are recorded where the work happens (the consumer, the outbox,
the expiry scheduler, the store waits) by the functions below; the gauges that describe a
state (consumer lag, outbox backlog, time since the expiry scheduler's last tick) are
measured when Prometheus scrapes (:func:`measure`), from the stored positions, so that
they say the truth about the store rather than about this process's memory.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter(
    "dealreg_records_consumed", "Input records applied and stored, per service and topic",
    ["service", "topic"])
DEAD_LETTERED = Counter(
    "dealreg_records_dead_lettered",
    "Input records rejected as bad input and published to the dead-letter topic, per "
    "service and topic they came from", ["service", "topic"])
BATCH_APPLY = Histogram(
    "dealreg_batch_apply_seconds",
    "Time to apply and store one poll (all its partitions, one transaction), retries included",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
CONSUMER_LAG = Gauge(
    "dealreg_consumer_lag",
    "Records of an assigned input partition not stored yet (end offset - stored position)",
    ["service", "topic", "partition"])
OUTBOX_BACKLOG = Gauge(
    "dealreg_outbox_backlog", "Stored events the outbox has not published yet", ["service"])
OUTBOX_PUBLISH = Histogram(
    "dealreg_outbox_publish_seconds",
    "Time of one outbox round: publishing a batch of stored events until the broker "
    "acknowledged them", ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
DECISIONS = Counter(
    "dealreg_decisions",
    "CloudEvents the services published, by type and reason (empty when the event has "
    "none)", ["service", "type", "reason"])
EXPIRY_DELAY = Gauge(
    "dealreg_expiry_scheduler_delay_seconds",
    "Seconds since the expiry scheduler last looked for ended windows (normally below "
    "DEALREG_EXPIRY_INTERVAL_MS; growing: expiries are late)", ["service"])
STORE_RETRIES = Counter(
    "dealreg_store_retries",
    "Attempts at an event-store operation that failed and were retried, by operation",
    ["service", "operation"])

#: the contract name of a dead letter (``dealreg.rejections``)
_REJECTED = "message.rejected"
_last_expiry_tick: dict[str, float] = {}


def poll_applied(service: str, applied: Mapping[str, int], seconds: float) -> None:
    """One poll is stored: ``applied`` records by topic (or dead-lettered)."""
    for topic, records in applied.items():
        CONSUMED.labels(service, topic).inc(records)
    BATCH_APPLY.labels(service).observe(seconds)


def store_retried(service: str, operation: str) -> None:
    STORE_RETRIES.labels(service, operation).inc()


def emitted(service: str, name: str, data: object) -> None:
    """The outbox turned a stored event into the CloudEvent ``name`` with ``data``, to
    publish it."""
    if name == _REJECTED:
        DEAD_LETTERED.labels(service, str(getattr(data, "topic", ""))).inc()
    else:
        # a model's own attributes only: asking a pydantic model for one it lacks takes
        # its slow path (a few percent of the payouts service's CPU)
        reason = vars(data).get("reason") if hasattr(data, "__dict__") else None
        DECISIONS.labels(service, name, "" if reason is None else str(reason)).inc()


def published(service: str, seconds: float) -> None:
    """An outbox round was published and acknowledged in ``seconds``."""
    OUTBOX_PUBLISH.labels(service).observe(seconds)


def expiry_ticked(service: str) -> None:
    _last_expiry_tick[service] = time.monotonic()


def measure(service: str, lags: Mapping[tuple[str, int], int], unpublished: int) -> None:
    """Set the state gauges of ``service``: the lag of each (topic, partition) it is
    assigned, its outbox backlog, the age of its expiry scheduler's last tick."""
    current = {(service, topic, str(partition)) for topic, partition in lags}
    for labels in _labelled(CONSUMER_LAG):
        if labels[0] == service and labels not in current:
            CONSUMER_LAG.remove(*labels)
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(service, topic, str(partition)).set(lag)
    OUTBOX_BACKLOG.labels(service).set(unpublished)
    ticked = _last_expiry_tick.get(service)
    if ticked is not None:
        EXPIRY_DELAY.labels(service).set(time.monotonic() - ticked)


def _labelled(gauge: Gauge) -> list[tuple[str, ...]]:
    """The label values of every series of ``gauge``."""
    return [tuple(sample.labels[name] for name in ("service", "topic", "partition"))
            for family in gauge.collect() for sample in family.samples]
