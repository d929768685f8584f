"""Read a dotenv file the way kustomize's secretGenerator `envs:` does (line by line, no quoting)."""

from __future__ import annotations

from ..errors import InputError


def parse_env_lines(text: str, *, source: str) -> list[tuple[str, str]]:
    """(key, value) pairs in file order: blank lines and `#` comments skipped, split at the first `=`.

    A line without `=` is refused: kustomize would read that key from its own environment,
    which a render step must never do.
    """
    items: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InputError(f"line {number} is not KEY=VALUE", where=source)
        items.append((key.strip(), value))
    return items
