"""``dealreg broker`` alone, and one service served beside it (``dealreg serve``), as the
README shows for trying the services one at a time: the service finds the broker on
DEALREG_LOCAL_BROKER_PORT without DEALREG_KAFKA_BOOTSTRAP, and so do publish and tail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from dealreg.local_broker import free_port
from tests.support import events as ev
from tests.support.processes import DEALREG, REPO, StderrLines


def test_the_broker_alone_then_one_service_beside_it(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    env |= {"DEALREG_LOCAL_BROKER_PORT": str(port), "DEALREG_DATA_DIR": str(tmp_path / "data"),
            "DEALREG_SESSION_TIMEOUT_MS": "2000", "DEALREG_LOG_FORMAT": "text"}
    broker = subprocess.Popen([*DEALREG, "broker"], cwd=REPO, env=env, text=True,
                              stderr=subprocess.PIPE)
    broker_lines = StderrLines(broker)
    serve: subprocess.Popen[str] | None = None
    try:
        banner = broker_lines.wait_for("dealreg broker: listening on")
        assert f"127.0.0.1:{port}" in banner
        assert "dealreg serve registration" in banner
        serve = subprocess.Popen([*DEALREG, "serve", "registration"], cwd=REPO, env=env,
                                 text=True, stderr=subprocess.PIPE)
        serve_lines = StderrLines(serve)
        serve_lines.wait_for("dealreg up: registration", f"127.0.0.1:{port}")
        events = tmp_path / "events.jsonl"
        events.write_text(json.dumps(ev.partner_enrolled("p-1")) + "\n", encoding="utf-8")
        published = subprocess.run([*DEALREG, "publish", "partners.v1", str(events)],
                                   cwd=REPO, env=env, text=True, capture_output=True,
                                   timeout=120, check=False)
        assert published.returncode == 0, published.stderr
        events.write_text(json.dumps(ev.registration_submitted("r-1", "p-1")) + "\n",
                          encoding="utf-8")
        published = subprocess.run([*DEALREG, "publish", "registrations.requests.v1",
                                    str(events)], cwd=REPO, env=env, text=True,
                                   capture_output=True, timeout=120, check=False)
        assert published.returncode == 0, published.stderr
        decided: list[str] = []
        while "dealreg.registration.received.v1" not in decided:
            tailed = subprocess.run([*DEALREG, "tail", "registrations.v1", "--from-beginning",
                                     "--idle-exit", "2"], cwd=REPO, env=env, text=True,
                                    capture_output=True, timeout=120, check=True)
            decided = [json.loads(line)["type"] for line in tailed.stdout.splitlines()]
        # the registration service alone: the conflict service is not there to grant it
        assert "dealreg.registration.approved.v1" not in decided
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0
        broker.send_signal(signal.SIGINT)
        assert broker.wait(timeout=60) == 0
        broker_lines.wait_for("dealreg broker: stopped")
        assert not any("Traceback" in line for line in broker_lines.lines + serve_lines.lines)
    finally:
        for process in (serve, broker):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEALREG_")}
    port = free_port()
    env["DEALREG_LOCAL_BROKER_PORT"] = str(port)
    first = subprocess.Popen([*DEALREG, "broker"], cwd=REPO, env=env, text=True,
                             stderr=subprocess.PIPE)
    lines = StderrLines(first)
    try:
        lines.wait_for("dealreg broker: listening on")
        second = subprocess.run([*DEALREG, "broker", "--port", str(port)], cwd=REPO, env=env,
                                text=True, capture_output=True, timeout=60, check=False)
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"dealreg: port {port} is already in use: stop what listens there, or set "
            "DEALREG_LOCAL_BROKER_PORT=0 for a free port"]
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
