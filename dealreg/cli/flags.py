"""The flags of the commands, in groups: each command takes, and its help shows, only the
groups it uses (:func:`command`). The Kafka and log flags are also accepted before the
command (``dealreg --kafka HOST:PORT publish …``); they default to nothing at all
(``SUPPRESS``) so that one given before the command is not reset by the command's own."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

#: A group of subcommands (``add_subparsers``).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
#: Flags a command takes (:func:`command`): each command's help shows only its own.
Flags: TypeAlias = Callable[[argparse.ArgumentParser], None]


def kafka_flags(parser: argparse.ArgumentParser) -> None:
    """Where Kafka is (also accepted before the command, as ``dealreg --kafka … COMMAND``)."""
    parser.add_argument("--kafka", metavar="HOST:PORT", default=argparse.SUPPRESS,
                        help="Kafka bootstrap servers (DEALREG_KAFKA_BOOTSTRAP; default: the "
                        "bundled broker at 127.0.0.1:DEALREG_LOCAL_BROKER_PORT, 9092)")
    parser.add_argument("--topic-prefix", metavar="PREFIX", default=argparse.SUPPRESS,
                        help="prefix of every topic (DEALREG_TOPIC_PREFIX)")


def log_flags(parser: argparse.ArgumentParser) -> None:
    """How a long-running command logs (also accepted before the command)."""
    parser.add_argument("--log-level", metavar="LEVEL", default=argparse.SUPPRESS,
                        help="DEBUG, INFO, WARNING… (DEALREG_LOG_LEVEL)")
    parser.add_argument("--log-format", choices=("json", "text"), default=argparse.SUPPRESS,
                        help="log line format (DEALREG_LOG_FORMAT)")


def store_flags(parser: argparse.ArgumentParser) -> None:
    """Where the event stores are."""
    parser.add_argument("--store", metavar="URL", help="postgresql://… event store "
                        "(DEALREG_DATABASE_URL; default: SQLite files in DEALREG_DATA_DIR)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="SQLite directory (DEALREG_DATA_DIR)")


def partitions_flag(parser: argparse.ArgumentParser) -> None:
    """Of a command that creates topics."""
    parser.add_argument("--partitions", type=int, metavar="N",
                        help="partitions of topics created (DEALREG_PARTITIONS)")


def json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON output (for tools)")


#: What each kind of command takes.
SERVICE: tuple[Flags, ...] = (kafka_flags, log_flags, store_flags, partitions_flag)
REPORT: tuple[Flags, ...] = (store_flags, json_flag)
SENDS: tuple[Flags, ...] = (kafka_flags,)


def command(commands: Commands, name: str, summary: str,
             *uses: Flags) -> argparse.ArgumentParser:
    """The subcommand ``name`` with the flags it ``uses``, and only those."""
    parser = commands.add_parser(name, help=summary, description=summary)
    for flags in uses:
        flags(parser)
    return parser
