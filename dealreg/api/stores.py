"""What the HTTP API reads and sends through: the three services' event stores (read as
they are now: no aggregate cache), the read models, the tokens, and the producer of input
events. The API never writes a store: what it is asked to do, it sends to Kafka."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from dealreg.actions.producing import Produce
from dealreg.api.tokens import TokenStore
from dealreg.bootstrap import service_stores
from dealreg.eventstore import ServiceApplication
from dealreg.projections.store import ReadStore
from dealreg.settings import Settings


@dataclass(frozen=True)
class Stores:
    settings: Settings
    apps: Mapping[str, ServiceApplication]
    tokens: TokenStore
    produce: Produce

    @property
    def registration(self) -> ServiceApplication:
        return self.apps["registration"]

    @property
    def conflict(self) -> ServiceApplication:
        return self.apps["conflict"]

    @property
    def payouts(self) -> ServiceApplication:
        return self.apps["payouts"]

    @contextmanager
    def read_models(self) -> Iterator[ReadStore]:
        """The read models, on a connection of this request's own."""
        store = ReadStore.open(self.settings)
        try:
            yield store
        finally:
            store.close()


@contextmanager
def open_stores(settings: Settings, produce: Produce) -> Iterator[Stores]:
    """Every store the API reads (their tables created first when this process may), and
    ``produce`` to send what it is asked to, until the block ends."""
    reading = settings.with_overrides(aggregate_cache_size=0)  # another process writes them
    ReadStore.open(reading).close()
    tokens = TokenStore.open(reading)
    with service_stores(reading) as apps:
        yield Stores(reading.with_overrides(create_tables=False), apps, tokens, produce)
