"""Regular expressions compiled the first time they are used.

A module-level `re.compile` runs at import, in every process that imports the module, used or
not: a character class over all of Unicode takes milliseconds to compile, more than a whole
seal. Patterns a command may never need are declared as `LazyRe` instead (issue 10 item 9).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class LazyRe:
    """A regex compiled on first use; the `re.Pattern` methods the core calls."""

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def _rx(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern, self._flags)
        return self._compiled

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self._rx().search(text, pos)

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self._rx().match(text, pos)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self._rx().fullmatch(text)

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str) -> str:
        return self._rx().sub(repl, text)

    def findall(self, text: str) -> list[Any]:
        return self._rx().findall(text)
