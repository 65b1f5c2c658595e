"""Operating the services on the real broker: /healthz, /readyz and /metrics scraped during a
run, ``dealreg lag``, the back-off on a store out of reach and Ctrl-C while waiting for it."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dealreg.local_broker import free_port
from dealreg.settings import Settings
from tests.support.events import encode, partner_enrolled, registration_submitted
from tests.support.processes import DEALREG, REPO, StderrLines

T = TypeVar("T")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except urllib.error.URLError as error:  # not listening (yet)
        return 0, str(error)


def scrape(port: int) -> Samples:
    """Every sample of /metrics, parsed by prometheus_client's own parser."""
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` that carry ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def eventually(probe: Callable[[], T | None], timeout_s: float = 90) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.2)


def dealreg(env: dict[str, str], *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEALREG, *args], cwd=REPO, env=env, text=True, capture_output=True,
                          input=stdin, timeout=120, check=False)


@contextmanager
def running(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[str],
                                                                StderrLines]]:
    process = subprocess.Popen([*DEALREG, *args], cwd=REPO, env=env, text=True,
                               stderr=subprocess.PIPE)
    lines = StderrLines(process)
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stack_env(settings: Settings, **extra: str) -> dict[str, str]:
    return settings.with_overrides(log_format="text").child_environ() | {
        "DEALREG_API_PORT": str(free_port()), "DEALREG_METRICS_PORT": str(free_port()),
        **extra}


def burst(count: int, start: int = 0) -> str:
    """``count`` registrations of one enrolled partner, each for an account of its own."""
    return "\n".join(encode(registration_submitted(
        f"reg-{n}", "partner-a", company_name=f"Company {n}", domain=f"c{n}.example")).decode()
        for n in range(start, start + count))


def enrol(env: dict[str, str]) -> None:
    published = dealreg(env, "publish", "partners.v1", "-",
                        stdin=encode(partner_enrolled("partner-a")).decode())
    assert published.returncode == 0, published.stderr


def test_metrics_and_readiness_during_a_run(kafka_settings: Settings) -> None:
    """A burst of registrations waits for its partner's enrollment (a long order grace), so
    the lag is the burst; once the partner is enrolled, it falls to zero. A record that is
    not even JSON is counted as dead-lettered."""
    env = stack_env(kafka_settings, DEALREG_ORDER_GRACE_MS="600000")
    port = int(env["DEALREG_METRICS_PORT"])
    physical = kafka_settings.topic("registrations.requests.v1")
    requests = {"service": "registration", "topic": physical}
    with running(env, "serve", "registration") as (_, lines):
        lines.wait_for("service started")
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, '{"alive": true}')
        eventually(lambda: get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
        assert json.loads(get(f"http://127.0.0.1:{port}/readyz")[1]) == {"ready": True}
        assert dealreg(env, "publish", "registrations.requests.v1", "-",
                       stdin=burst(300)).returncode == 0
        assert eventually(lambda: value(scrape(port), "dealreg_consumer_lag", **requests)
                          == 300)
        lags = [v for (name, labels), v in scrape(port).items()
                if name == "dealreg_consumer_lag" and ("topic", physical) in labels]
        assert len(lags) == kafka_settings.partitions  # one series per partition
        assert value(scrape(port), "dealreg_records_consumed_total", **requests) == 0
        enrol(env)
        assert eventually(lambda: value(scrape(port), "dealreg_consumer_lag") == 0)
        assert value(scrape(port), "dealreg_records_consumed_total", **requests) == 300
        _produce_raw(kafka_settings, b"{not json")  # hostile: not even JSON
        assert eventually(lambda: value(scrape(port), "dealreg_records_dead_lettered_total",
                                        **requests) == 1)
        final = scrape(port)
        assert value(final, "dealreg_records_consumed_total", **requests) == 301
        assert value(final, "dealreg_decisions_total", service="registration",
                     type="registration.received") == 300
        assert value(final, "dealreg_batch_apply_seconds_count", service="registration") > 0
        assert value(final, "dealreg_outbox_publish_seconds_count", service="registration") > 0
        assert eventually(lambda: value(scrape(port), "dealreg_outbox_backlog",
                                        service="registration") == 0)
        assert value(final, "dealreg_expiry_scheduler_delay_seconds", service="registration") < 60


def _produce_raw(settings: Settings, value_: bytes) -> None:
    import asyncio

    from tests.support.kafka import produce

    asyncio.run(produce(settings, "registrations.requests.v1", [value_]))


def test_lag_per_service_and_partition(kafka_settings: Settings) -> None:
    """0 once the stack consumed what was published; with the stack stopped, what is
    published since."""
    env = stack_env(kafka_settings)
    with running(env, "up") as (up, lines):
        lines.wait_for("dealreg up:")
        enrol(env)
        assert dealreg(env, "publish", "registrations.requests.v1", "-",
                       stdin=burst(40)).returncode == 0

        def settled() -> list[dict[str, Any]] | None:
            rows = json.loads(dealreg(env, "lag", "--json").stdout)
            requests = [r for r in rows if r["topic"] == "registrations.requests.v1"]
            done = sum(r["end_offset"] for r in requests) == 40 and all(
                r["lag"] == 0 for r in rows)
            return rows if done else None

        rows = eventually(settled)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=120) == 0
    assert {r["service"] for r in rows} == {"registration", "conflict", "payouts"}
    assert all(r["stored_position"] == r["end_offset"] for r in rows)
    assert dealreg(env, "publish", "registrations.requests.v1", "-",
                   stdin=burst(7, start=40)).returncode == 0
    after = json.loads(dealreg(env, "lag", "--json").stdout)
    behind = {(r["service"], r["topic"]): 0 for r in after}
    for r in after:
        behind[r["service"], r["topic"]] += r["lag"]
    assert behind.pop(("registration", "registrations.requests.v1")) == 7
    assert set(behind.values()) == {0}
    table = dealreg(env, "lag")
    assert table.returncode == 0, table.stderr
    header, *lines_ = table.stdout.splitlines()
    assert header.split() == ["service", "topic", "partition", "end", "offset", "stored",
                              "lag"]
    assert len(lines_) == len(after)


@pytest.mark.parametrize(("command", "what"), [
    (["serve", "registration"], "the event store"),
    (["up"], "the event store"),
    (["up", "--processes"], "the event stores"),
], ids=["serve", "up", "up-processes"])
def test_a_store_out_of_reach_is_waited_for_with_back_off_and_ctrl_c_ends_in_one_line(
        kafka_settings: Settings, command: list[str], what: str) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    env = stack_env(kafka_settings, DEALREG_DATABASE_URL=nowhere)
    port = int(env["DEALREG_METRICS_PORT"])
    with running(env, *command) as (process, lines):
        lines.wait_for(f"waiting for {what}")
        if "--processes" not in command:  # the parent of the processes serves no endpoint
            assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
            status, body = get(f"http://127.0.0.1:{port}/readyz")
            assert status == 503
            assert "registration: starting (waiting for the event store" in json.loads(
                body)["reasons"][0]
        lines.wait_for(f"still waiting for {what}", "retry_in_s=2.0", timeout_s=30)
        if "--processes" not in command:
            retries = value(scrape(port), "dealreg_store_retries_total",
                            service="registration", operation="open")
        waits = [line for line in lines.lines if f"waiting for {what}" in line]
        assert [" warning dealreg.waiting: waiting" in line for line in waits] == [
            True] + [False] * (len(waits) - 1)  # says once what it waits for, then reminds
        delays = [float(re.search(r"retry_in_s=([0-9.]+)", line).group(1))  # type: ignore[union-attr]
                  for line in waits]
        assert delays == [0.5, 1.0, 2.0, 4.0, 8.0][:len(delays)]  # backs off: not 1 a second
        if "--processes" not in command:
            assert len(waits) - 1 <= retries <= len(waits)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        time.sleep(0.3)  # the last lines
    assert "Traceback" not in "".join(lines.lines)
    said = [line for line in lines.lines if line.startswith("dealreg:")
            and "warning" not in line]
    where = nowhere.removeprefix("postgresql://postgres@")
    assert said == [f"dealreg: stopped while waiting for {what} (postgresql://{where} "
                    "schemas dealreg_*); nothing was started\n"]


def _lag_services(port: int) -> set[str | None]:
    """The services whose consumer lag the endpoint at ``port`` reports (once fetched)."""
    return {dict(labels).get("service") for (name, labels) in scrape(port)
            if name == "dealreg_consumer_lag"}


def _ready(port: int) -> bool:
    return get(f"http://127.0.0.1:{port}/readyz")[0] == 200


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports that are free right now."""
    import socket

    for _ in range(50):
        first = free_port()
        if first + count > 65_535:
            continue
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise AssertionError("no free block of ports")


def test_each_service_process_of_up_processes_serves_its_own_port(
        kafka_settings: Settings) -> None:
    base = free_ports(3)
    env = stack_env(kafka_settings, DEALREG_METRICS_PORT=str(base))
    with running(env, "up", "--processes") as (up, lines):
        lines.wait_for("dealreg up:")
        for offset, service in enumerate(("registration", "conflict", "payouts")):
            port = base + offset
            eventually(partial(_ready, port))
            assert eventually(partial(_lag_services, port)) == {service}
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=120) == 0


class Forwarder:
    """A TCP port that forwards to PostgreSQL while open: a database that comes up late,
    or goes away (``close`` also cuts the connections made through it)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []

    def open(self) -> None:
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(16)
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.close()

    def close(self) -> None:
        if self._server is not None:  # shutdown: a close alone leaves accept() listening
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
        self._connections.clear()


def late_database(settings: Settings) -> tuple[Forwarder, str]:
    """A forwarder to the test database, closed, and the database URL through it."""
    real = urlsplit(settings.database_url)
    forwarder = Forwarder((real.hostname or "127.0.0.1", real.port or 5432))
    return forwarder, settings.database_url.replace(f":{real.port or 5432}/",
                                                    f":{forwarder.port}/")


def test_readiness_fails_while_the_database_is_away(postgres_settings: Settings) -> None:
    database, url = late_database(postgres_settings)
    database.open()
    env = stack_env(postgres_settings, DEALREG_DATABASE_URL=url)
    ready = f"http://127.0.0.1:{env['DEALREG_METRICS_PORT']}/readyz"
    try:
        with running(env, "serve", "registration") as (serve, lines):
            lines.wait_for("service started")
            eventually(lambda: get(ready)[0] == 200)
            database.close()

            def unready() -> list[str] | None:
                status, body = get(ready)
                return json.loads(body)["reasons"] if status == 503 else None

            reasons = eventually(unready)
            assert reasons[0].startswith("registration: event store unreachable: ")
            database.open()
            eventually(lambda: get(ready)[0] == 200)
            serve.send_signal(signal.SIGINT)
            assert serve.wait(timeout=60) == 0
    finally:
        database.close()


def test_a_database_that_answers_late_is_waited_for_then_used(
        postgres_settings: Settings) -> None:
    """``dealreg up`` on a database not up yet waits with back-off, then starts every
    service, and the projections follower (started once the services have) follows."""
    late, url = late_database(postgres_settings)
    env = stack_env(postgres_settings, DEALREG_DATABASE_URL=url)
    try:
        with running(env, "up") as (up, lines):
            lines.wait_for("still waiting for the event store", timeout_s=60)
            late.open()
            lines.wait_for("dealreg up:", timeout_s=120)
            enrol(env)
            assert dealreg(env, "publish", "registrations.requests.v1", "-",
                           stdin=burst(3)).returncode == 0

            def followed() -> bool:
                shown = dealreg(env, "partners", "show", "partner-a", "--json")
                return shown.returncode == 0 and json.loads(
                    shown.stdout)["registrations_submitted"] == 3

            assert eventually(followed)
            up.send_signal(signal.SIGINT)
            assert up.wait(timeout=120) == 0
    finally:
        late.close()
