"""Read models: a rebuild from the first event equals the incremental run, on a generated
history of thousands of events from the real handlers; the partner views read them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.projections import all_projections, partners_view, runner
from dealreg.projections.runner import Projector
from dealreg.projections.store import Document, ReadStore
from dealreg.settings import Settings
from tests import conftest
from tests.support import events as ev
from tests.support.bus import InMemoryBus
from tests.support.history import close_deals, generated_history
from tests.support.processes import run_dealreg

REGISTRATIONS = 650


def read_models(store: ReadStore) -> dict[str, dict[str, object]]:
    return {name: dict(store.documents(name)) for name in all_projections()}


@dataclass
class History:
    """The generated history's service stores and the read models the incremental run (the
    projections following the stores while they were written) made of it."""

    bus: InMemoryBus
    incremental: dict[str, dict[str, object]]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("history"))
    incremental = ReadStore.open(settings)
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    projector = Projector(incremental, bus.apps())
    sends = [0]

    def every_few_inputs() -> None:  # projections follow the stores while they are written
        sends[0] += 1
        if sends[0] % 37 == 0:
            projector.catch_up(list(all_projections().values()))
        elif sends[0] % 23 == 0:  # one projection ahead of the others: one read serves all
            projector.catch_up([all_projections()["account_registry"]])

    bus.after_send = every_few_inputs
    generated_history(bus, registrations=REGISTRATIONS)
    close_deals(bus, registrations=REGISTRATIONS)
    bus.send("partners.v1", ev.partner_tier_changed("p-1", "gold", "2026-06-01T00:00:00Z"))
    projector.catch_up(list(all_projections().values()))
    recorded = sum(app.recorder.max_notification_id() or 0 for app in bus.apps().values())
    assert recorded > 5_000
    assert bus.rejected == []
    yield History(bus, read_models(incremental))
    incremental.close()
    bus.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def read_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadStore]:
    """An empty projections store of each kind (the service stores are the history's)."""
    settings = Settings(data_dir=tmp_path)
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    if request.param == "postgres":
        settings = settings.with_overrides(database_url=conftest.test_database_url(),
                                           db_schema_prefix=prefix)
    store = ReadStore.open(settings)
    yield store
    store.close()
    if request.param == "postgres":
        conftest.drop_schemas(conftest.test_database_url(), prefix)


def test_a_rebuild_equals_the_incremental_run_over_thousands_of_events(
        history: History, read_store: ReadStore) -> None:
    rebuilder = Projector(read_store, history.bus.apps())
    progress: list[tuple[str, int, int]] = []
    applied = rebuilder.rebuild(list(all_projections().values()),
                                lambda *step: progress.append(step))

    assert read_models(read_store) == history.incremental
    assert set(applied) == set(all_projections())
    assert all(events > 0 for events in applied.values())
    read = sum(history.bus.apps()[source].recorder.max_notification_id() or 0
               for source in {s for p in all_projections().values() for s in p.sources})
    assert progress[-1] == ("projections", read, read)  # each source log read once for all
    assert [done for _, done, _ in progress] == sorted(done for _, done, _ in progress)
    assert all(lag.behind == 0 for lag in rebuilder.status(list(all_projections().values())))
    _assert_meaningful(read_store)


def test_documents_beyond_the_cache_are_read_back_from_the_store(
        history: History, read_store: ReadStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small pages and a cache of a few documents: most documents a page changes were
    stored pages before and forgotten, and some pages are still being stored."""
    monkeypatch.setattr(runner, "PAGE", 97)
    monkeypatch.setattr(runner, "CACHED", 5)
    loaded: list[str] = []
    load = read_store.load

    def counted(projection: str, keys: Iterable[str]) -> dict[str, Document]:
        wanted = list(keys)
        loaded.extend(wanted)
        return load(projection, wanted)

    monkeypatch.setattr(read_store, "load", counted)
    Projector(read_store, history.bus.apps()).rebuild(list(all_projections().values()))

    assert read_models(read_store) == history.incremental
    assert len(loaded) > 500


def test_an_interrupted_rebuild_resumes_where_it_stopped(
        history: History, read_store: ReadStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page that fails to be stored stops the rebuild; what was stored before it is
    consistent with its positions, and catching up from there gives the same read models."""
    monkeypatch.setattr(runner, "PAGE", 500)
    saves = [0]
    save = read_store.save

    def failing(source: str, position: int, changes: Mapping[str, Mapping[str, str]]) -> None:
        saves[0] += 1
        if saves[0] == 4:
            raise ConnectionError("the projections store went away")
        save(source, position, changes)

    monkeypatch.setattr(read_store, "save", failing)
    projector = Projector(read_store, history.bus.apps())
    with pytest.raises(ConnectionError):
        projector.rebuild(list(all_projections().values()))
    assert saves[0] == 4  # no page stored after the one that failed
    assert sum(lag.position for lag in projector.status(list(all_projections().values()))) > 0

    monkeypatch.setattr(read_store, "save", save)
    projector.catch_up(list(all_projections().values()))
    assert read_models(read_store) == history.incremental


def _assert_meaningful(store: ReadStore) -> None:
    """The read models say what the history did (not just the same nothing twice)."""
    registry = dict(store.documents("account_registry"))
    statuses = {claim["status"] for doc in registry.values() for claim in doc["claims"].values()}
    assert {"approved", "rejected"} <= statuses
    assert sum(len(doc["claims"]) for doc in registry.values()) == REGISTRATIONS

    registrations = dict(store.documents("partner_registrations"))
    assert len(registrations) == REGISTRATIONS
    assert {doc["status"] for doc in registrations.values()} >= {"approved", "rejected"}

    ledger = dict(store.documents("payout_ledger"))
    kinds = {entry["kind"] for doc in ledger.values() for entry in doc["entries"]}
    assert kinds == {"payout", "adjustment"}
    for doc in ledger.values():  # each total is the sum of its entries
        assert Decimal(doc["total"]) == sum(Decimal(e["amount"]) for e in doc["entries"])

    partners = [partners_view.summary(doc) for key, doc in store.documents("partner_metrics")
                if key.startswith("partner:")]
    assert len(partners) == 4
    assert sum(p["registrations_submitted"] for p in partners) == REGISTRATIONS
    paid = {p["partner_id"]: p for p in partners if p["deals_won"]}
    assert paid, "some partner won deals"
    for partner_id, partner in paid.items():
        deals = [doc for doc in ledger.values() if doc["partner_id"] == partner_id]
        assert Decimal(partner["payouts"]["USD"]) == sum(Decimal(d["total"]) for d in deals)
        assert partner["deals_won"] == sum(1 for d in deals if Decimal(d["total"]) > 0)
        assert partner["days_to_first_won_deal"] is not None
    assert next(p for p in partners if p["partner_id"] == "p-1")["tier"] == "gold"


def test_partners_top_ranks_by_each_measure(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "stores")
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    for partner_id, enrolled in (("p-fast", "2026-01-01"), ("p-slow", "2025-06-01"),
                                 ("p-none", "2026-01-01")):
        bus.send("partners.v1", ev.partner_enrolled(partner_id, tier="gold",
                                                    enrolled_at=f"{enrolled}T00:00:00Z"))
    for n, (partner_id, amount) in enumerate((("p-fast", "1000.00"), ("p-slow", "9000.00"),
                                              ("p-slow", "500.00"))):
        domain = f"acct{n}.example"
        bus.send("registrations.requests.v1", ev.registration_submitted(
            f"r-{n}", partner_id, domain=domain, submitted_at="2026-02-01T00:00:00Z",
            expected_close_date="2026-09-01"))
        bus.send("crm.v1", ev.deal_closed(f"d-{n}", closed_at="2026-03-01T00:00:00Z",
                                          amount=amount, currency="USD", domain=domain))
    bus.send("registrations.requests.v1", ev.registration_submitted(
        "r-9", "p-none", domain="acct9.example", submitted_at="2026-02-01T00:00:00Z",
        expected_close_date="2026-09-01"))
    store = ReadStore.open(settings)
    projector = Projector(store, bus.apps())
    projector.catch_up(list(all_projections().values()))

    def ranking(by: str) -> list[str]:
        return [p["partner_id"] for p in partners_view.top(store, by, 10, "USD")]

    assert ranking("revenue") == ["p-slow", "p-fast", "p-none"]
    assert ranking("time-to-first-deal") == ["p-fast", "p-slow", "p-none"]
    assert ranking("win-rate") == ["p-fast", "p-slow", "p-none"]  # 1/1, 2/2 tie by id, 0/1
    shown = partners_view.show(store, "p-slow")
    assert shown is not None
    assert shown["partner_sourced_revenue"] == {"USD": "9500.00"}
    assert shown["days_to_first_won_deal"] == 273.0
    assert sorted(deal["deal_id"] for deal in shown["deals"]) == ["d-1", "d-2"]
    assert partners_view.show(store, "p-unknown") is None
    bus.close()


async def test_rebuild_status_and_show_from_the_command_line(settings: Settings) -> None:
    bus = InMemoryBus([REGISTRATION, CONFLICT, PAYOUTS], settings=settings)
    generated_history(bus, registrations=40)
    close_deals(bus, registrations=40)
    bus.close()

    _, stderr = await run_dealreg(settings, "projections", "status", status=1)
    assert "dealreg: no projections store at" in stderr  # status creates none
    _, stderr = await run_dealreg(settings, "projections", "rebuild")
    assert stderr.count("100%") == 1  # one pass over the logs for them all
    assert all(f"{name}: rebuilt from" in stderr for name in all_projections())
    stdout, _ = await run_dealreg(settings, "projections", "status")
    assert len(stdout.splitlines()) == 5  # registry 1 source, metrics 2, ledger 1, partner
    #                                       registrations 1
    assert all(line.endswith("behind 0") for line in stdout.splitlines())

    shown = [json.loads((await run_dealreg(settings, "partners", "show", partner_id,
                                           "--json"))[0])
             for partner_id in ("p-0", "p-1", "p-2", "p-3")]
    assert [partner["partner_id"] for partner in shown] == ["p-0", "p-1", "p-2", "p-3"]
    assert sum(partner["registrations_submitted"] for partner in shown) == 40
    stdout, _ = await run_dealreg(settings, "partners", "top", "--by", "win-rate")
    assert stdout.splitlines()[0].split() == ["partner", "revenue", "USD", "win", "rate",
                                              "days", "to", "1st", "won"]
    assert len(stdout.splitlines()) == 5
    text, _ = await run_dealreg(settings, "partners", "show", "p-1")
    assert text.startswith("partner p-1 (")
    assert f"{shown[1]['registrations_submitted']} submitted" in text
    assert "{" not in text  # text for people, not JSON


def test_the_command_line_offers_every_projection() -> None:
    from dealreg.cli import PROJECTION_NAMES

    assert set(PROJECTION_NAMES) == set(all_projections())
