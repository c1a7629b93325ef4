"""Settings: defaults, SEARCHSVC_* variables, then flags; nothing else reads the environment."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from searchsvc.config import Settings

PACKAGE = Path(__file__).resolve().parents[1] / "searchsvc"


def test_defaults():
    s = Settings.from_env({})
    assert (s.index, s.host, s.port, s.per_page, s.max_per_page) == (Path("index"), "127.0.0.1", 8000, 10, 100)
    assert s.workers >= 1


def test_environment_then_overrides():
    env = {"SEARCHSVC_INDEX": "/srv/ix", "SEARCHSVC_PORT": "9000", "SEARCHSVC_RECENT_HALF_LIFE_DAYS": "7.5"}
    s = Settings.from_env(env, port=9100, host=None)
    assert (s.index, s.port, s.host, s.recent_half_life_days) == (Path("/srv/ix"), 9100, "127.0.0.1", 7.5)


@pytest.mark.parametrize("name, value", [("SEARCHSVC_PORT", "eighty"), ("SEARCHSVC_WRITER_TIMEOUT", "soon")])
def test_bad_values_are_named(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_replace_ignores_none():
    s = Settings.from_env({}).replace(port=None, per_page=5)
    assert (s.port, s.per_page) == (8000, 5)


def test_only_config_reads_the_environment():
    readers = [p.name for p in PACKAGE.glob("*.py") if p.name != "config.py"
               and re.search(r"os\.environ|getenv\(", p.read_text("utf-8"))]
    assert readers == []
