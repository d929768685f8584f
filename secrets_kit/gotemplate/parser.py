"""Actions and text into a tree, checking structure, variable scopes and function names as Go's parser does.

A tree node is ("text", str), ("action", Pipe), ("if" | "with" | "range", Pipe, body, else_body or None),
("break",) or ("continue",); a body is a list of nodes. A command is a list of operands, each
(token kind, text) or ("pipe", commands) for a parenthesised pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from .lexer import Token, segments, tokenize
from .values import TemplateError

Node = tuple[Any, ...]
Command = list[Any]
LITERALS = ("true", "false", "nil")


@dataclass
class Pipe:
    """An action's pipeline and the variables it declares (`$x :=`) or assigns (`$x =`)."""

    decls: list[str]
    assign: bool
    commands: list[Command]


def unquote(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    try:
        return str(json.loads(literal))
    except ValueError:
        raise TemplateError(f"bad string literal {literal}") from None


def _check_variable(name: str, variables: list[str]) -> None:
    if name not in variables:
        raise TemplateError(f'undefined variable "{name}"')


class _PipelineParser:
    """One action's tokens into a pipeline: a list of commands, each a list of operands."""

    def __init__(self, tokens: list[Token], variables: list[str], funcs: Container[str]) -> None:
        self.tokens, self.pos, self.variables, self.funcs = tokens, 0, variables, funcs

    def pipeline(self, closing: str | None = None) -> list[Command]:
        commands: list[Command] = [[]]
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok.kind == "punct" and tok.text == ")":
                if closing != ")":
                    raise TemplateError("unexpected )")
                break
            self.pos += 1
            if tok.kind == "punct" and tok.text == "|":
                if not commands[-1]:
                    raise TemplateError("missing command before |")
                commands.append([])
            elif tok.kind == "punct" and tok.text == "(":
                inner = self.pipeline(")")
                if self.pos >= len(self.tokens):
                    raise TemplateError("unclosed (")
                self.pos += 1
                commands[-1].append(("pipe", inner))
            elif tok.kind == "decl":
                raise TemplateError(f"unexpected {tok.text!r} in operand")
            else:
                if tok.text.startswith("$"):
                    _check_variable(tok.text.partition(".")[0], self.variables)
                if tok.kind == "ident" and tok.text not in LITERALS and tok.text not in self.funcs:
                    raise TemplateError(f'function "{tok.text}" not defined')
                commands[-1].append((tok.kind, tok.text))
        if not commands[-1]:
            raise TemplateError("missing value for command")
        return commands


def _keyword(body: str) -> tuple[str, str]:
    parts = body.split(None, 1)
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "")


class _TreeParser:
    def __init__(self, pieces: list[tuple[str, str]], funcs: Container[str]) -> None:
        self.pieces, self.pos, self.funcs = pieces, 0, funcs
        self.variables = ["$"]  # declared names in scope: a variable lives until the {{end}} of its block
        self.range_depth = 0

    def parse(self) -> list[Node]:
        nodes, stop = self.items()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop}}}}}")
        return nodes

    def items(self) -> tuple[list[Node], str | None]:
        """Nodes up to an {{end}} or {{else ...}} (returned as the action's text) or the end of input (None)."""
        nodes: list[Node] = []
        while self.pos < len(self.pieces):
            kind, body = self.pieces[self.pos]
            self.pos += 1
            word, rest = _keyword(body)
            if kind == "text":
                nodes.append(("text", body))
            elif word in ("end", "else"):
                if word == "end" and rest:
                    raise TemplateError(f"unexpected {rest!r} in end")
                return nodes, body
            elif word in ("if", "with", "range"):
                nodes.append(self.control(word, rest))
            elif word in ("break", "continue"):
                if rest:
                    raise TemplateError(f"unexpected {rest!r} in {word}")
                if not self.range_depth:
                    raise TemplateError(f"{{{{{word}}}}} outside {{{{range}}}}")
                nodes.append((word,))
            elif word in ("define", "template", "block"):
                # One template per string: nothing to define or call.
                raise TemplateError(f"{{{{{word}}}}} is not supported by secrets-kit's template engine")
            else:
                nodes.append(("action", self.pipe(body)))
        return nodes, None

    def control(self, word: str, source: str) -> Node:
        mark = len(self.variables)
        pipe = self.pipe(source, word)
        self.range_depth += word == "range"
        body, stop = self.items()
        self.range_depth -= word == "range"
        else_body = None
        if stop is not None and stop != "end":
            chained, chained_source = _keyword(_keyword(stop)[1])
            if chained == word and word in ("if", "with"):
                # {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}: one shared {{end}}
                else_body, stop = [self.control(word, chained_source)], "end"
            elif chained:
                raise TemplateError(f"unexpected {chained!r} after else in {word}")
            else:
                else_body, stop = self.items()
                if stop is not None and stop != "end":
                    raise TemplateError(f"expected end; found {{{{{stop}}}}}")
        if stop is None:
            raise TemplateError("unexpected EOF: missing {{end}}")
        del self.variables[mark:]
        return (word, pipe, body, else_body)

    def pipe(self, source: str, context: str = "command") -> Pipe:
        tokens = tokenize(source)
        decls: list[str] = []
        assign, pos = False, 0
        while (pos + 1 < len(tokens) and tokens[pos].kind == "field" and tokens[pos].text.startswith("$")
               and "." not in tokens[pos].text and tokens[pos + 1].kind == "decl"):
            decls.append(tokens[pos].text)
            op = tokens[pos + 1].text
            pos += 2
            if op != ",":
                assign = op == "="
                break
            if context != "range" or len(decls) > 1:
                raise TemplateError(f"too many declarations in {context}")
        if decls and tokens[pos - 1].text == ",":
            raise TemplateError("range can only initialize variables")
        commands = _PipelineParser(tokens[pos:], self.variables, self.funcs).pipeline()
        for name in decls:
            if assign:
                _check_variable(name, self.variables)
            else:
                self.variables.append(name)
        return Pipe(decls, assign, commands)


def parse_tree(source: str, funcs: Container[str]) -> list[Node]:
    """The tree of `source`; every function it names must be in `funcs`."""
    return _TreeParser(segments(source), funcs).parse()
