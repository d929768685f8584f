"""Keep secret values out of messages: every value a hook decrypts is registered here, and
any text that leaves the render step (a kustomize or helm error, a wrapped exception) is
scrubbed of them first.

Values live only in this process's memory. Very short values (under 4 bytes) are not
scrubbed: replacing every "a" or "1" would make messages unreadable, and such values are
not secret in any useful sense.
"""

from __future__ import annotations

import base64
import re

MIN_LENGTH = 4
MASK = "<redacted>"


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._leak_patterns: dict[int, tuple[int, re.Pattern[str] | None]] = {}

    def add(self, value: bytes | str) -> None:
        raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        forms: set[str] = set()
        text = raw.decode("utf-8", "replace")
        forms.add(text)
        forms.update(line for line in text.splitlines() if line.strip())
        forms.add(base64.b64encode(raw).decode("ascii"))
        for form in forms:
            if len(form.strip()) >= MIN_LENGTH and form not in self._values:
                self._values.add(form)
                self._pattern = None

    def __len__(self) -> int:
        return len(self._values)

    def leaked(self, text: str, *, min_length: int = 8) -> bool:
        """Whether `text` contains a registered value of at least `min_length` characters."""
        cached = self._leak_patterns.get(min_length)
        if cached is None or cached[0] != len(self._values):
            long_enough = sorted((v for v in self._values if len(v) >= min_length), key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(v) for v in long_enough)) if long_enough else None
            cached = self._leak_patterns[min_length] = (len(self._values), pattern)
        return cached[1] is not None and cached[1].search(text) is not None

    def scrub(self, text: str) -> str:
        if not self._values or not text:
            return text
        if self._pattern is None:
            # Longest first, so a value that contains another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(MASK, text)
