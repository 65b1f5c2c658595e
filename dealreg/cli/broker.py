"""``dealreg broker``: the bundled broker alone, in the foreground, so that the services can
be tried one at a time (``dealreg serve registration`` in another terminal)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from dealreg.cli.actions import fail
from dealreg.local_broker import LocalBroker, LocalBrokerError
from dealreg.settings import Settings

SUMMARY = ("start the bundled broker alone, in the foreground, on DEALREG_LOCAL_BROKER_PORT "
           "(9092), until Ctrl-C: for `dealreg serve SERVICE` one service at a time")


def add_command(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", dest="local_broker_port", type=int, metavar="PORT",
                         help="where it listens (DEALREG_LOCAL_BROKER_PORT; 0: a free port)")


async def run_broker(settings: Settings) -> int:
    """Start the broker, say where it is, and stop it at SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    broker = LocalBroker(port=settings.local_broker_port)
    try:
        await asyncio.to_thread(broker.start)
    except LocalBrokerError as error:
        return fail(str(error))
    try:
        others = "" if broker.port == 9092 else f"DEALREG_LOCAL_BROKER_PORT={broker.port} "
        print(f"dealreg broker: listening on {broker.bootstrap} | its log is in memory: it "
              f"ends with this process | in another terminal: {others}dealreg serve "
              "registration (and conflict, payouts) | Ctrl-C stops",
              file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await asyncio.to_thread(broker.stop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("dealreg broker: stopped", file=sys.stderr, flush=True)
    return 0
