"""Ctrl-C of ``dealreg up`` on the bundled broker (whose log dies with it): the first signal
drains the input into the stores before stopping; a second one stops at once and says how
many records are lost."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from dealreg.bootstrap import REGISTRATION
from dealreg.local_broker import free_port
from dealreg.runtime import input_tracking_prefix
from dealreg.services.registration.domain import DealRegistration
from dealreg.settings import Settings
from tests.e2e.test_operations import burst, dealreg, enrol, running
from tests.support.events import encode, registration_submitted


def local_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    return env | {"DEALREG_LOCAL_BROKER_PORT": str(free_port()),
                  "DEALREG_DATA_DIR": str(tmp_path / "data"), "DEALREG_LOG_FORMAT": "text",
                  "DEALREG_SESSION_TIMEOUT_MS": "2000", "DEALREG_API_PORT": str(free_port()),
                  "DEALREG_METRICS_PORT": str(free_port()), **extra}


def client(env: dict[str, str]) -> dict[str, str]:
    """The environment of the commands run beside the stack, on its bundled broker."""
    port = env["DEALREG_LOCAL_BROKER_PORT"]
    return {key: value for key, value in env.items() if key != "DEALREG_LOCAL_BROKER_PORT"
            } | {"DEALREG_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}


@pytest.mark.parametrize("mode", [[], ["--processes"]], ids=["one-process", "processes"])
def test_ctrl_c_right_after_a_burst_stores_every_registration(tmp_path: Path,
                                                               mode: list[str]) -> None:
    count = 1500
    env = local_env(tmp_path, DEALREG_DRAIN_SECONDS="600")
    with running(env, "up", *mode) as (up, lines):
        lines.wait_for("dealreg up:", "Ctrl-C stops", timeout_s=120)
        assert "warning: the bundled broker keeps its log in memory" in "".join(lines.lines)
        tools = client(env)
        enrol(tools)
        published = dealreg(tools, "publish", "registrations.requests.v1", "-",
                            stdin=burst(count))
        assert published.returncode == 0, published.stderr
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=600) == 0
        lines.wait_for("dealreg: drained: every input record read and stored")
        started = lines.wait_for("service started", "service=registration")
        cluster = re.search(r"cluster_id=(\S+)", started).group(1)  # type: ignore[union-attr]
    app = REGISTRATION.build_application(Settings(data_dir=tmp_path / "data"))
    try:
        approved = {event.originator_id for event in
                    app.stored_events(DealRegistration.Approved)}
        # as without the interruption: every registration is for an account of its own
        assert len(approved) == count
        prefix = input_tracking_prefix(cluster)
        assert sum(app.position(f"{prefix}registrations.requests.v1:{partition}") or 0
                   for partition in range(3)) == count  # every record read and stored
    finally:
        app.close()


@pytest.mark.parametrize(("second_signal", "said"), [
    (True, "stopped at once (second Ctrl-C): 5 input record(s) not stored are lost"),
    (False, "DEALREG_DRAIN_SECONDS (3 s) passed: 5 input record(s) not stored are lost"),
], ids=["second-ctrl-c", "time-limit"])
def test_a_drain_that_cannot_finish_says_how_many_records_are_lost(
        tmp_path: Path, second_signal: bool, said: str) -> None:
    """Registrations of a partner never enrolled wait for its enrollment (a long
    DEALREG_ORDER_GRACE_MS): they cannot be stored before the stop."""
    env = local_env(tmp_path, DEALREG_DRAIN_SECONDS="600" if second_signal else "3",
                    DEALREG_ORDER_GRACE_MS="600000")
    with running(env, "up") as (up, lines):
        lines.wait_for("dealreg up:", "Ctrl-C stops", timeout_s=120)
        tools = client(env)
        waiting = "\n".join(encode(registration_submitted(
            f"reg-w{n}", "partner-unknown", company_name=f"W {n}", domain=f"w{n}.example"
        )).decode() for n in range(5))
        assert dealreg(tools, "publish", "registrations.requests.v1", "-",
                       stdin=waiting).returncode == 0
        lines.wait_for("record deferred")
        up.send_signal(signal.SIGINT)
        lines.wait_for("draining before stopping: 5 input record(s) to store")
        if second_signal:
            up.send_signal(signal.SIGINT)
        assert up.wait(timeout=120) == 0
        lines.wait_for(said)
