"""A billing consumer of dealreg's ``payouts.v1``: every payout applied exactly once.

A standalone example for billing teams, written with confluent-kafka (not the client the
services use). Kafka delivers at least once, so the consumer makes applying idempotent:
each ``payout_id`` is recorded in the same database transaction as the balance change it
causes, and a payout id seen before is skipped. Offsets are committed to Kafka only after
that transaction, so a crash anywhere re-reads, never loses.

    python examples/billing/consumer.py --bootstrap 127.0.0.1:9092 --db billing.sqlite

Balances per (partner, currency) are the sum of ``total`` of ``payout.calculated`` and
``delta`` of ``payout.adjusted``; ``payout.withheld`` moves no money.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from decimal import Decimal
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied_payouts (
    payout_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, partner_id TEXT NOT NULL,
    amount TEXT NOT NULL, currency TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (
    partner_id TEXT NOT NULL, currency TEXT NOT NULL, amount TEXT NOT NULL,
    PRIMARY KEY (partner_id, currency));
"""


class Ledger:
    """Billing's own store: which payouts were applied, and the balances they make."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one payout event once; False when its payout id was applied before."""
        data = event["data"]
        money = data["total"] if event["type"] == "dealreg.payout.calculated.v1" else data["delta"]
        amount, currency = Decimal(money["amount"]), money["currency"]
        with self.db:  # one transaction: the payout id and the balance change together
            try:
                self.db.execute("INSERT INTO applied_payouts VALUES (?, ?, ?, ?, ?)",
                                (data["payout_id"], data["deal_id"], data["partner_id"],
                                 str(amount), currency))
            except sqlite3.IntegrityError:
                return False
            row = self.db.execute(
                "SELECT amount FROM balances WHERE partner_id = ? AND currency = ?",
                (data["partner_id"], currency)).fetchone()
            balance = Decimal(row[0]) + amount if row else amount
            self.db.execute("INSERT OR REPLACE INTO balances VALUES (?, ?, ?)",
                            (data["partner_id"], currency, str(balance)))
        return True

    def balances(self) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for partner_id, currency, amount in self.db.execute(
                "SELECT partner_id, currency, amount FROM balances ORDER BY partner_id"):
            result.setdefault(partner_id, {})[currency] = amount
        return result


MONEY_EVENTS = {"dealreg.payout.calculated.v1", "dealreg.payout.adjusted.v1"}


def run(bootstrap: str, topic: str, group: str, db: str, idle_exit_s: float | None,
        session_timeout_ms: int) -> int:
    ledger = Ledger(db)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "session.timeout.ms": session_timeout_ms})
    assigned: list[object] = []
    consumer.subscribe([topic], on_assign=lambda _, partitions: assigned.extend(partitions))
    applied = skipped = 0
    last_message = time.monotonic()
    try:
        while idle_exit_s is None or time.monotonic() - last_message < idle_exit_s:
            message: Message | None = consumer.poll(0.5)
            if not assigned:  # the idle clock starts once the group gave us partitions
                last_message = time.monotonic()
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    print(f"billing: kafka error: {error}", file=sys.stderr)
                continue
            last_message = time.monotonic()
            event = json.loads(message.value() or b"{}")
            if event.get("type") in MONEY_EVENTS:
                if ledger.apply(event):
                    applied += 1
                else:
                    skipped += 1
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()
    print(json.dumps({"applied": applied, "skipped_as_seen": skipped,
                      "balances": ledger.balances()}, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="payouts.v1")
    parser.add_argument("--group", default="billing-example")
    parser.add_argument("--db", default="billing.sqlite")
    parser.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="stop after this long without a message (default: run on)")
    parser.add_argument("--session-timeout-ms", type=int, default=10_000)
    args = parser.parse_args()
    return run(args.bootstrap, args.topic, args.group, args.db, args.idle_exit,
               args.session_timeout_ms)


if __name__ == "__main__":
    sys.exit(main())
