"""Installing the project as a user would: a wheel built from setup.cfg, quietly, with its data inside."""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from conftest import REPO


@pytest.mark.slow
def test_the_wheel_builds_without_setuptools_warnings_and_holds_the_data(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", tmp_path, REPO],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    said = out.stdout + out.stderr
    for warning in ("Package would be ignored", "BuildBackendWarning", "SetuptoolsDeprecationWarning", "!!"):
        assert warning not in said, said[-3000:]
    wheel, = tmp_path.glob("searchsvc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("searchsvc/templates/search.html", "searchsvc/static/search.js", "searchsvc/stopwords.txt",
                   "searchsvc/sample/wire/feed.jsonl", "searchsvc/sample/harbor-gazette/2024-03-14-port-strike.html"):
        assert needed in names
