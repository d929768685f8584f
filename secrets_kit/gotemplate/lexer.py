"""Cut a template into text and actions (with Go's `{{-`/`-}}` trimming), and an action into tokens."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .values import TemplateError


@functools.cache
def _token_pattern() -> re.Pattern[str]:
    # Compiled on first use: importing the engine costs nothing for commands that render no template.
    return re.compile(r"""
        (?P<ws>\s+)
      | (?P<str>"(?:[^"\\\n]|\\[^\n])*")
      | (?P<raw>`[^`]*`)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.|\$[A-Za-z0-9_]*)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<decl>:=|=|,)
      | (?P<punct>[|()])
    """, re.VERBOSE)


@functools.cache
def _action_pattern() -> re.Pattern[str]:
    return re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


@dataclass
class Token:
    kind: str  # str, raw, num, field, ident, decl or punct
    text: str
    spaced: bool = True  # whitespace (or the action's start) precedes it: `(x).f` chains, `(x) .f` does not


def tokenize(action: str) -> list[Token]:
    pattern = _token_pattern()
    out, pos, spaced = [], 0, True
    while pos < len(action):
        match = pattern.match(action, pos)
        if match is None:
            raise TemplateError(f"unexpected {action[pos]!r} in action")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind == "ws":
            spaced = True
        else:
            out.append(Token(kind, match.group(), spaced))
            spaced = False
    return out


def segments(source: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", s) pieces with Go's trim markers applied; comments dropped."""
    out: list[tuple[str, str]] = []
    pos = 0
    for match in _action_pattern().finditer(source):
        piece = source[pos:match.start()]
        if match.group(1):
            piece = piece.rstrip(" \t\r\n")
        out.append(("text", piece))
        body = match.group(2).strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            out.append(("action", body))
        pos = match.end()
        if match.group(3):
            while pos < len(source) and source[pos] in " \t\r\n":
                pos += 1
    out.append(("text", source[pos:]))
    if "{{" in "".join(t for k, t in out if k == "text"):
        raise TemplateError("unclosed action")
    return out
