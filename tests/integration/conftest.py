"""Fixtures shared by the integration tests of the command line."""

from tests.integration.test_cli_commands import program  # noqa: F401 (the fixture)
