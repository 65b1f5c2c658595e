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


def parse_frame(text: str) -> Frame:
    match = FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "", None)
    line = match.group("line")
    return Frame(match.group("function"), match.group("file"), int(line) if line else None)


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    """Self time by package and by function, inclusive time by function, in % of samples."""
    self_package: Counter[str] = Counter()
    self_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for raw_line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = raw_line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [parse_frame(part) for part in stack.split(";") if part]
        frames = [frame for frame in frames if not frame.function.startswith(("process ",
                                                                              "thread "))]
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        self_package[leaf.package] += count
        self_function[leaf.short] += count
        for name in {frame.short for frame in frames if not frame.plumbing}:
            inclusive[name] += count

    def percent(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self_by_package": percent(self_package),
            "self_by_function": percent(self_function),
            "inclusive_by_function": percent(inclusive)}


def format_summary(title: str, summary: dict[str, Any], top: int = 15) -> str:
    lines = [f"{title}: {summary['samples']} samples (py-spy, all threads, idle excluded)"]
    for key, label in (("self_by_package", "self time by package"),
                       ("self_by_function", "self time by function"),
                       ("inclusive_by_function", "inclusive time by function")):
        lines.append(f"  {label}:")
        lines.extend(f"    {share:5.1f} %  {name}" for name, share in summary[key][:top])
    return "\n".join(lines)
