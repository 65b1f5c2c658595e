"""The command line's flags: global ones before or after the command, each command's help
showing only the flags it uses, dates where instants are asked for, and the default
bootstrap following the bundled broker's port."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dealreg.cli import _parser, _settings
from dealreg.cli.times import instant_or_day
from dealreg.settings import Settings


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
           ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command that runs (``("payouts", "show")``…) with its parser."""
    groups = [action for action in parser._actions
              if isinstance(action, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
    for group in groups:
        for name, sub in group.choices.items():
            yield from leaves(sub, (*path, name))


def flags(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


COMMANDS = dict(leaves(_parser()))


@pytest.mark.parametrize("argv", [
    ["--kafka", "k:1", "publish", "partners.v1", "f.jsonl"],
    ["publish", "--kafka", "k:1", "partners.v1", "f.jsonl"],
    ["publish", "partners.v1", "f.jsonl", "--kafka", "k:1"],
    ["up", "--kafka", "k:1"],
    ["--kafka", "k:1", "up"],
    ["tail", "registrations.v1", "--kafka", "k:1"],
    ["dlq", "replay", "0123456789", "--kafka", "k:1"],
    ["disputes", "resolve", "x-1", "--direct", "--by", "me", "--rationale", "r",
     "--kafka", "k:1"],
])
def test_kafka_may_come_before_or_after_the_command(argv: list[str]) -> None:
    assert _settings(_parser().parse_args(argv)).bootstrap == "k:1"


def test_the_flag_after_the_command_wins_and_log_flags_go_either_side() -> None:
    args = _parser().parse_args(["--kafka", "a:1", "--log-format", "text", "up", "--kafka",
                                 "b:2"])
    settings = _settings(args)
    assert (settings.bootstrap, settings.log_format) == ("b:2", "text")
    assert _settings(_parser().parse_args(["up", "--log-level", "DEBUG"])).log_level == "DEBUG"


def test_each_command_shows_only_the_flags_it_uses() -> None:
    partitions = {path for path, parser in COMMANDS.items() if "--partitions" in flags(parser)}
    assert partitions == {("up",), ("serve",), ("topics", "create")}
    kafka = {path for path, parser in COMMANDS.items() if "--kafka" in flags(parser)}
    assert ("audit", "verify") not in kafka
    assert ("disputes", "list") not in kafka
    assert {("up",), ("publish",), ("tail",), ("dlq", "replay"), ("expire-due",)} <= kafka
    json_flag = {path for path, parser in COMMANDS.items() if "--json" in flags(parser)}
    assert ("up",) not in json_flag
    assert ("publish",) not in json_flag
    assert ("audit", "verify") not in json_flag
    assert {("disputes", "list"), ("partners", "show"), ("payouts", "show"),
            ("dlq", "list")} <= json_flag
    store = {path for path, parser in COMMANDS.items() if "--store" in flags(parser)}
    assert ("publish",) not in store
    assert ("tail",) not in store
    assert ("broker",) not in store


def test_every_command_has_a_description_in_its_help() -> None:
    for path, parser in COMMANDS.items():
        assert parser.description, path


def test_the_default_bootstrap_follows_the_bundled_brokers_port() -> None:
    assert Settings.from_env({}).bootstrap == "127.0.0.1:9092"
    moved = Settings.from_env({"DEALREG_LOCAL_BROKER_PORT": "19092"})
    assert moved.bootstrap == "127.0.0.1:19092"
    assert Settings.from_env({"DEALREG_LOCAL_BROKER_PORT": "19092",
                              "DEALREG_KAFKA_BOOTSTRAP": "kafka:9092"}).bootstrap == "kafka:9092"
    args = _parser().parse_args(["broker", "--port", "19093"])
    assert _settings(args).bootstrap == "127.0.0.1:19093"


def test_a_date_is_the_start_of_that_day_in_utc() -> None:
    assert instant_or_day("2026-11-29") == datetime(2026, 11, 29, tzinfo=UTC)
    assert instant_or_day("2026-11-29T12:00:00+02:00") == datetime(2026, 11, 29, 10,
                                                                   tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError, match=r"needs an offset or Z: "
                       r"'2026-11-29T12:00:00' \(or a date: YYYY-MM-DD\)"):
        instant_or_day("2026-11-29T12:00:00")


def test_payouts_recompute_needs_no_flag() -> None:
    assert _parser().parse_args(["payouts", "recompute"]).payouts_command == "recompute"
    assert _parser().parse_args(["payouts", "recompute", "--dry-run"]).dry_run
