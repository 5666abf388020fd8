"""Documentation that cannot drift: every setting, error code and command is in the README."""
from __future__ import annotations

from pathlib import Path

import pytest

from sync_server.cli import COMMANDS, build_parser
from sync_server.errors import CATALOGUE
from sync_server.settings import documented_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
build_parser()


@pytest.mark.parametrize("name", [name for name, _ in documented_settings()])
def test_every_setting_is_documented_in_the_readme(name):
    assert f"`{name}`" in README


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_error_code_is_documented_in_the_readme(code):
    assert f"| `{code}` | {CATALOGUE[code][0]} |" in README


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if c not in {"audit", "keys"}))
def test_every_cli_command_is_documented_in_the_readme(command):
    assert f"`clinphoto {command}" in README


def test_the_readme_shows_the_two_commands():
    assert "make run" in README and "make test" in README
