"""Fuzz figures: inputs and time per parser, written at the end of the session (`make fuzz`)."""

from __future__ import annotations

from .harness import write_stats


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    write_stats()
