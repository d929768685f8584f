"""Actions and text into a tree, checking structure, variable scopes and function names as Go's parser does.

A tree node is ("text", str), ("action", Pipe), ("if" | "with" | "range", Pipe, body, else_body or None),
("break",) or ("continue",); a body is a list of nodes. A command is a list of operands, each
(token kind, text), ("pipe", commands) for a parenthesised pipeline, or ("chain", (operand, ".f.g")) for
a field read of a term's value: `(pipeline).f`, `fn.f`.
"""

from __future__ import annotations

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


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def unquote(literal: str) -> str:
    """Go's strconv.Unquote of a template string: raw strings drop \r; "..." takes Go's escapes."""
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")
    body, out, i = literal[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char == "\n":
            raise TemplateError("unterminated quoted string")
        if char != "\\":
            out += char.encode()
            i += 1
            continue
        escape = body[i + 1: i + 2]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            i += 2
        elif escape in _HEX_ESCAPES:
            digits = body[i + 2: i + 2 + _HEX_ESCAPES[escape]]
            if len(digits) != _HEX_ESCAPES[escape] or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise TemplateError(f"bad string literal {literal}")
            code = int(digits, 16)
            if escape == "x":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise TemplateError(f"bad string literal {literal}")
            else:
                out += chr(code).encode()
            i += 2 + len(digits)
        elif escape in "01234567" and escape:
            digits = body[i + 1: i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise TemplateError(f"bad string literal {literal}")
            out.append(int(digits, 8))
            i += 4
        else:
            raise TemplateError(f"bad string literal {literal}")
    return out.decode("utf-8", "replace")


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
                commands[-1].append(self.chain(("pipe", inner)))
            elif tok.kind == "decl":
                raise TemplateError(f"unexpected {tok.text!r} in operand")
            else:
                if tok.text.startswith("$"):
                    _check_variable(tok.text.partition(".")[0], self.variables)
                if tok.kind == "ident" and tok.text not in LITERALS and tok.text not in self.funcs:
                    raise TemplateError(f'function "{tok.text}" not defined')
                commands[-1].append(self.chain((tok.kind, tok.text)))
        if not commands[-1]:
            raise TemplateError("missing value for command")
        return commands

    def chain(self, operand: tuple[str, Any]) -> tuple[str, Any]:
        """Go's chain node: `.f` written right after a term (no space) reads a field of the term's value."""
        fields: list[str] = []
        while (self.pos < len(self.tokens) and not self.tokens[self.pos].spaced
               and self.tokens[self.pos].kind == "field" and self.tokens[self.pos].text.startswith(".")
               and self.tokens[self.pos].text != "."):
            fields.append(self.tokens[self.pos].text)
            self.pos += 1
        if not fields:
            return operand
        kind, text = operand
        if kind in ("str", "raw", "num") or (kind == "ident" and text in LITERALS) or (kind, text) == ("field", "."):
            raise TemplateError(f"unexpected . after term {text!r}")
        if kind == "field":  # `$x.a` then `.b` is one field path (the lexer already joins `.a.b`)
            return ("field", text + "".join(fields))
        return ("chain", (operand, "".join(fields)))


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
