"""Dead letters from the command line, on the real local broker with the three services
running: a hostile registration and a malformed record are dead-lettered, ``dealreg dlq
list`` and ``show`` find them in the stores, a replay that is still bad input is refused,
and ``dlq replay --edited`` of the corrected registration reaches a decision."""

from __future__ import annotations

import json
from pathlib import Path

from dealreg.bootstrap import CONFLICT, PAYOUTS, REGISTRATION
from dealreg.cli.dlq import REPLAY_OF
from dealreg.settings import Settings
from tests.support import events as ev
from tests.support.kafka import produce, read_topic
from tests.support.processes import run_dealreg
from tests.support.running import running_all
from tests.support.watch import watching

REGS, DLQ, REQUESTS = "registrations.v1", "dealreg.dlq.v1", "registrations.requests.v1"


async def test_a_dead_letter_is_listed_shown_and_replayed_corrected(
        settings: Settings, tmp_path: Path) -> None:
    hostile = ev.registration_submitted("r-bad", "p-1", domain="initech.example")
    del hostile["data"]["prospect"]["country"]
    async with running_all(settings, REGISTRATION, CONFLICT, PAYOUTS), watching(
            settings, REGS, DLQ) as watch:
        await produce(settings, "partners.v1", [ev.encode(ev.partner_enrolled("p-1"))])
        await produce(settings, REQUESTS, [ev.encode(hostile)], key=b"r-bad")
        await produce(settings, REQUESTS, [b"{oops"], key=b"r-broken")
        await watch.wait(lambda: len(watch.of(DLQ)) == 2)

        listed, _ = await run_dealreg(settings, "dlq", "list")
        header, *rows = listed.splitlines()
        assert header.split()[:4] == ["ID", "REJECTED", "(UTC)", "SERVICE"]
        assert len(rows) == 2
        letters = json.loads((await run_dealreg(settings, "dlq", "list", "--json"))[0])
        published = {event["id"] for event in watch.of(DLQ)}
        assert {letter["dead_letter_id"] for letter in letters} == published
        [bad] = [letter for letter in letters if letter["key"] == "r-bad"]
        assert bad["topic"] == settings.topic(REQUESTS)
        assert bad["service"] == "registration"
        assert "data.prospect.country" in bad["error"]
        assert json.loads(bad["original"]) == hostile
        only_requests = json.loads((await run_dealreg(
            settings, "dlq", "list", "--topic", REQUESTS, "--json"))[0])
        assert len(only_requests) == 2
        assert json.loads((await run_dealreg(settings, "dlq", "list", "--since",
                                             "2099-01-01", "--json"))[0]) == []

        shown, _ = await run_dealreg(settings, "dlq", "show", bad["dead_letter_id"][:8])
        assert shown.splitlines()[0] == f"dead letter {bad['dead_letter_id']}"
        assert f"  error        {bad['error']}" in shown.splitlines()
        assert '"registration_id": "r-bad"' in shown
        original, _ = await run_dealreg(settings, "dlq", "show", bad["dead_letter_id"],
                                        "--original")
        assert json.loads(original) == hostile

        _, refusal = await run_dealreg(settings, "dlq", "replay", bad["dead_letter_id"],
                                       status=1)
        assert refusal.startswith(f"dealreg: dead letter {bad['dead_letter_id']}: its "
                                  "original is still bad input: data.prospect.country")
        fixed = json.loads(original)
        fixed["data"]["prospect"]["country"] = "US"
        (tmp_path / "fixed.json").write_text(json.dumps(fixed, indent=2), encoding="utf-8")
        _, said = await run_dealreg(settings, "dlq", "replay", bad["dead_letter_id"],
                                    "--edited", str(tmp_path / "fixed.json"))
        assert said.startswith(f"replayed dead letter {bad['dead_letter_id']} to "
                               f"{settings.topic(REQUESTS)}")
        approved = await watch.one(REGS, "r-bad", "registration.approved")

    assert approved["data"]["account_key"] == "domain:initech.example"
    records = await read_topic(settings, REQUESTS, at_least=3)
    [replayed] = [json.loads(record.value) for record in records
                  if record.value and REPLAY_OF.encode() in record.value]
    assert replayed[REPLAY_OF] == bad["dead_letter_id"]
    assert replayed["data"]["prospect"]["country"] == "US"
    again = json.loads((await run_dealreg(settings, "dlq", "list", "--json"))[0])
    assert again == letters  # the dead letters are never changed, and no new one came
