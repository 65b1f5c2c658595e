"""Where the time goes: summaries of ``py-spy record --format raw`` (collapsed stacks)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")

#: Path fragments → the package a frame is charged to.
PACKAGES = (
    ("/dealreg/", "dealreg"), ("/services/", "services"), ("/events/", "events"),
    ("/projections/", "projections"), ("/eventsourcing/", "eventsourcing"),
    ("/psycopg_binary/", "psycopg"), ("/psycopg_pool/", "psycopg"), ("/psycopg/", "psycopg"),
    ("/aiokafka/", "aiokafka"), ("/kafka/", "aiokafka"), ("/faststream/", "faststream"),
    ("/pydantic_core/", "pydantic"), ("/pydantic/", "pydantic"), ("/asyncio/", "asyncio"),
    ("/json/", "json"), ("/uuid.py", "uuid"), ("/logging/", "logging"),
    ("/threading.py", "threading"), ("/concurrent/", "threading"),
)

#: Files whose frames are left out of the inclusive ranking.
PLUMBING = ("/threading.py", "/concurrent/futures/thread.py", "/asyncio/base_events.py",
            "/asyncio/events.py", "/asyncio/runners.py", "/runpy.py", "/dealreg/cli.py",
            "/contextlib.py", "/eventsourcing/utils.py")


@dataclass(frozen=True)
class Frame:
    function: str
    file: str
    line: int | None

    @property
    def package(self) -> str:
        path = "/" + self.file  # py-spy shortens paths: "psycopg/connection.py"
        for fragment, name in PACKAGES:
            if fragment in path:
                return name
        if "site-packages/" in path:
            return path.split("site-packages/", 1)[1].split("/", 1)[0]
        if self.file.startswith("<") or not self.file:
            return "builtin"
        return "stdlib"

    @property
    def plumbing(self) -> bool:
        """Frames every stack has (thread and event-loop entry points): not informative."""
        path = "/" + self.file
        return any(part in path for part in PLUMBING)

    @property
    def short(self) -> str:
        path = self.file
        for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        return f"{self.function} ({path})"


#: Where a sample's time is charged, by the first of these functions found on its stack (in
#: this order): the hops of a service, for docs/performance.md's "where the time goes".
STAGES = (
    ("consume: refresh the cache", "ServiceApplication.refresh"),
    ("consume: prefetch aggregates", "ServiceApplication.prefetch"),
    ("consume: store (insert, chain, tracking, commit)", "ServiceApplication.record"),
    ("consume: parse input", "InboundProcessor._parse"),
    ("consume: handlers and new events", "InboundProcessor._apply_all"),
    ("consume: read positions", "InboundProcessor._fresh"),
    ("outbox: read stored events back", "OutboxRelay.next_batch"),
    ("outbox: decode, build CloudEvents", "OutboxRelay.messages_for"),
    ("outbox: store position", "ServiceApplication.record_publication"),
    ("outbox: produce", "OutboxRelay.publish_pending"),
    ("projections", "/projections/"),
    ("expiry", "/registration/expiry.py"),
    ("kafka client (fetch, produce, coordinator)", "aiokafka/"),
    ("faststream", "faststream/"),
)
#: Leaf functions of a thread that waits (py-spy counts some of them as active).
WAITS = ("EpollSelector.select", "Condition.wait", "_worker")
PROCESS = re.compile(r'^process \d+:"(?P<command>.*)"$')


def _process_name(command: str) -> str:
    """``serve conflict`` from ``…/python -m dealreg.cli serve conflict``."""
    return command.split("dealreg.cli", 1)[-1].strip() or command


def parse_frame(text: str) -> Frame:
    match = FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "", None)
    line = match.group("line")
    return Frame(match.group("function"), match.group("file"), int(line) if line else None)


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    """Self time by package and by function, inclusive time by function, in % of samples;
    and by process (py-spy ``--subprocesses``), the % of all samples in each of its
    :data:`STAGES`."""
    self_package: Counter[str] = Counter()
    self_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    stages: dict[str, Counter[str]] = {}
    total = 0
    for raw_line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = raw_line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = [part for part in stack.split(";") if part]
        commands = [m.group("command") for m in map(PROCESS.match, parts) if m]
        frames = [parse_frame(part) for part in parts]
        frames = [frame for frame in frames if not frame.function.startswith(("process ",
                                                                              "thread "))]
        if not frames:
            continue
        total += count
        process = _process_name(commands[-1]) if commands else "-"
        names = [f"{frame.function} {frame.file}" for frame in frames]
        stage = next((label for label, marker in STAGES
                      if any(marker in name for name in names)),
                     "waiting (event loop, idle threads)" if frames[-1].function in WAITS
                     else "other")
        stages.setdefault(process, Counter())[stage] += count
        leaf = frames[-1]
        self_package[leaf.package] += count
        self_function[leaf.short] += count
        for name in {frame.short for frame in frames if not frame.plumbing}:
            inclusive[name] += count

    def percent(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self_by_package": percent(self_package),
            "self_by_function": percent(self_function),
            "inclusive_by_function": percent(inclusive),
            "by_process": {process: {"share": round(100 * sum(counter.values()) / total, 1),
                                     "stages": percent(counter)}
                           for process, counter in sorted(stages.items())}}


def format_summary(title: str, summary: dict[str, Any], top: int = 15) -> str:
    lines = [f"{title}: {summary['samples']} samples (py-spy, all threads, idle excluded)"]
    for key, label in (("self_by_package", "self time by package"),
                       ("self_by_function", "self time by function"),
                       ("inclusive_by_function", "inclusive time by function")):
        lines.append(f"  {label}:")
        lines.extend(f"    {share:5.1f} %  {name}" for name, share in summary[key][:top])
    for process, where in summary.get("by_process", {}).items():
        lines.append(f"  {process}: {where['share']:.1f} % of the samples")
        lines.extend(f"    {share:5.1f} %  {name}" for name, share in where["stages"])
    return "\n".join(lines)
