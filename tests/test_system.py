"""svtk.system: a missing external program is one clear error naming its Debian package."""

from __future__ import annotations

import pytest

from svtk.errors import UserError
from svtk.system import environment_report, require_tool


def test_missing_tool_names_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match=r"'text2wave' was not found.*apt-get install festival"):
        require_tool("text2wave")


def test_report_marks_missing_tools(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    rows = {name: (detail, ok) for name, detail, ok in environment_report()}
    assert rows["sox"] == ("missing: apt-get install sox", False)
    assert rows["python"][1] is True
