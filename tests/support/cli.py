"""Running ``dealreg`` in the test's process, as a person runs it, configured by the
``DEALREG_*`` variables of some settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from dealreg.cli import main
from dealreg.settings import Settings


@dataclass(frozen=True)
class Ran:
    status: int
    stdout: str
    stderr: str


def dealreg(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            settings: Settings, *argv: str) -> Ran:
    """``dealreg ARGV`` in this process, configured as ``settings`` say."""
    capsys.readouterr()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with monkeypatch.context() as patch:
        for name, value in settings.environ().items():
            patch.setenv(name, value)
        try:
            status = main(list(argv))
        finally:
            root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    return Ran(status, out, err)
