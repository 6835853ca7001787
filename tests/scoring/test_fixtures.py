"""The committed fixtures are exactly what their regeneration script writes."""

from pathlib import Path

from svtk.testing.scoring import FIXTURES, write_fixtures

HERE = Path(__file__).parent / "fixtures"


def test_fixtures_regenerate_identically(tmp_path):
    for p in write_fixtures(tmp_path):
        assert p.read_text() == (HERE / p.name).read_text(), f"re-run {HERE}/regenerate.py"
    assert sorted(FIXTURES) == sorted(p.name for p in HERE.glob("*.jsonl"))
