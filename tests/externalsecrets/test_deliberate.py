"""operator/deploy/README.md shows deliberate.py's table, so an allowed difference is documented."""

from __future__ import annotations

import pytest

from tests.externalsecrets import deliberate


def test_operator_readme_shows_the_deliberate_table() -> None:
    text = deliberate.README.read_text()
    assert "## Deliberate differences from ESO v0.16.2" in text
    assert text.index("## Deliberate differences from ESO v0.16.2") < text.index(deliberate.BEGIN)
    assert deliberate.readme_section(text) == deliberate.markdown_table(), (
        "operator/deploy/README.md is stale: run `python -m tests.externalsecrets.deliberate --write`")


def test_the_check_sees_a_new_row(monkeypatch: pytest.MonkeyPatch) -> None:
    text = deliberate.README.read_text()
    monkeypatch.setitem(deliberate.DELIBERATE, ("some-case", "secret.type"), "a reason")
    assert deliberate.readme_section(text) != deliberate.markdown_table()
    assert deliberate.readme_section(deliberate.with_table(text)) == deliberate.markdown_table()
    assert "| `some-case` | `secret.type` | a reason |" in deliberate.markdown_table()


def test_every_row_has_a_reason() -> None:
    for key, reason in deliberate.DELIBERATE.items():
        assert reason.strip() and "|" not in reason, key
    for row in deliberate.BEHAVIOUR:
        assert all(cell.strip() and "|" not in cell for cell in row), row
