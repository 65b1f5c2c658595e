"""The bundled Kafka-compatible broker: starts on a free port, refuses a taken one, stops."""

from __future__ import annotations

import socket

import pytest

from dealreg.local_broker import LocalBroker, LocalBrokerError


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_starts_on_a_free_port_and_stops_cleanly() -> None:
    broker = LocalBroker(port=0).start()
    try:
        assert broker.port > 0
        assert answers(broker.port)
        assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    finally:
        broker.stop()
    assert not answers(broker.port)
    broker.stop()  # stopping twice is harmless


def test_a_taken_port_is_a_clear_error(local_broker: LocalBroker) -> None:
    with pytest.raises(LocalBrokerError, match=f"port {local_broker.port} is already in use"):
        LocalBroker(port=local_broker.port).start()


def test_every_start_is_a_new_cluster() -> None:
    assert LocalBroker().cluster_id != LocalBroker().cluster_id


def test_the_broker_does_not_outlive_a_killed_dealreg() -> None:
    import signal
    import subprocess
    import sys
    import time

    from dealreg.local_broker import free_port

    port = free_port()
    script = ("import time; from dealreg.local_broker import LocalBroker; "
              f"LocalBroker(port={port}).start(); print('up', flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "up"
    assert answers(port)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while answers(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not answers(port)
