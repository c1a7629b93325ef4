"""The README documents every command, option, setting and API route (docs cannot drift from code)."""
from __future__ import annotations

import re

import pytest

from conftest import REPO
from searchsvc.cli import cli
from searchsvc.config import Settings
from searchsvc.web import create_app

README = (REPO / "README.md").read_text("utf-8")


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented_with_help(name):
    command = cli.commands[name]
    assert f"searchsvc {name}" in README
    assert command.help and "Example:" in command.help
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt not in ("--help",):
                assert opt in README, f"{name} {opt} is not in the README"


@pytest.mark.parametrize("name, env, default, help", Settings.describe())
def test_every_setting_is_documented(name, env, default, help):
    assert f"`{name}`" in README and f"`{env}`" in README


def test_every_api_route_is_documented(tmp_path):
    from conftest import make_settings
    app = create_app(make_settings(tmp_path / "ix"))
    routes = {re.sub(r"<[^>]+>", "", r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    for route in routes:
        assert route.rstrip("/") in README, route
