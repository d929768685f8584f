"""Run a parsed tree over data, as Go's text/template executes: variables, pipes, control flow."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from .. import limits
from .parser import Command, Node, Pipe, unquote
from .values import MISSING, TemplateError, go_str, go_type, truthy, within

Funcs = Mapping[str, Callable[..., Any]]


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_NOTHING = object()  # no piped value


def _range_pairs(value: Any, n_variables: int) -> list[tuple[Any, Any]]:
    """The (key or index, element) pairs Go's range visits: maps in sorted key order, lists, integers."""
    if isinstance(value, dict):
        return sorted(value.items(), key=lambda pair: pair[0])
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, int) and not isinstance(value, bool):
        if n_variables > 1:
            # Go prints the number; it may come from a secret (`range $i, $v := .n | atoi`).
            raise TemplateError("can't use an integer to iterate over more than one variable")
        return [(None, i) for i in range(within(limits.TEMPLATE_LOOP, value))]
    if value is MISSING or value is None:
        return []  # Go: an invalid value ranges like an empty map
    # Go prints the value here; it may be a secret, so only its type is named.
    raise TemplateError(f"range can't iterate over a value of type {go_type(value)}")


def _last_evaluated(operand: tuple[str, Any]) -> str:
    """The node Go's error context names when a chain's field fails: the last one its base evaluated
    (for `(.x | fromJson).k` that is fromJson; for `(f "a").k` the argument "a")."""
    kind, source = operand
    if kind == "pipe":
        last = source[-1]
        return _last_evaluated(last[-1] if len(last) > 1 else last[0])
    if kind == "chain":
        return _last_evaluated(source[0])
    return str(source)


def _describe(operand: tuple[str, Any]) -> str:
    kind, source = operand
    if kind == "chain":
        return f"{_describe(source[0])}{source[1]}"
    return "(pipeline)" if kind == "pipe" else str(source)


class Execution:
    """One run: the output, the function table and Go's variable stack (`:=` pushes; {{end}} pops)."""

    def __init__(self, root: Any, funcs: Funcs) -> None:
        self.out: list[str] = []
        self.funcs = funcs
        self.variables: list[list[Any]] = [["$", root]]
        self.size = 0  # characters written so far
        self.iterations = 0  # range iterations so far, over all loops of this run
        self.max_size, self.max_iterations = limits.TEMPLATE_OUTPUT.value, limits.TEMPLATE_LOOP.value

    def write(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > self.max_size:
            within(limits.TEMPLATE_OUTPUT, self.size)
        self.out.append(piece)

    def variable(self, name: str) -> list[Any]:
        for slot in reversed(self.variables):
            if slot[0] == name:
                return slot
        raise TemplateError(f"undefined variable: {name}")

    def pipe(self, pipe: Pipe, dot: Any) -> Any:
        value = self.commands(pipe.commands, dot)
        for name in pipe.decls:
            if pipe.assign:
                self.variable(name)[1] = value
            else:
                self.variables.append([name, value])
        return value

    def walk(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.write(node[1])
            elif kind == "action":
                value = self.pipe(node[1], dot)
                if not node[1].decls:
                    self.write(go_str(value))
            elif kind in ("if", "with"):
                mark = len(self.variables)
                value = self.pipe(node[1], dot)
                if truthy(value):
                    self.walk(node[2], value if kind == "with" else dot)
                elif node[3] is not None:
                    self.walk(node[3], dot)
                del self.variables[mark:]
            elif kind == "range":
                self.range(node[1], node[2], node[3], dot)
            else:
                raise _Break() if kind == "break" else _Continue()

    def range(self, pipe: Pipe, body: list[Node], else_body: list[Node] | None, dot: Any) -> None:
        mark = len(self.variables)
        pairs = _range_pairs(self.pipe(pipe, dot), len(pipe.decls))
        inner = len(self.variables)
        with contextlib.suppress(_Break):
            for key, elem in pairs:
                self.iterations += 1
                if self.iterations > self.max_iterations:
                    within(limits.TEMPLATE_LOOP, self.iterations)
                if pipe.assign:  # with two variables the key comes first; with one, the element
                    values = (key, elem) if len(pipe.decls) > 1 else (elem,)
                    for name, value in zip(pipe.decls, values, strict=True):
                        self.variable(name)[1] = value
                elif pipe.decls:
                    self.variables[-1][1] = elem
                    if len(pipe.decls) > 1:
                        self.variables[-2][1] = key
                with contextlib.suppress(_Continue):
                    self.walk(body, elem)
                del self.variables[inner:]
        if not pairs and else_body is not None:
            self.walk(else_body, dot)
        del self.variables[mark:]

    def commands(self, commands: list[Command], dot: Any) -> Any:
        value: Any = _NOTHING
        for command in commands:
            head = command[0]
            if head == ("ident", "nil"):
                raise TemplateError("nil is not a command")
            if head[0] == "ident" and head[1] not in ("true", "false"):
                args = [self.operand(node, dot) for node in command[1:]]
                value = self.call(head[1], args, value)
            else:
                if len(command) > 1:
                    raise TemplateError(f"can't give argument to non-function {_describe(head)}")
                if value is not _NOTHING:
                    raise TemplateError(f"can't pipe into non-function {_describe(head)}")
                value = self.operand(head, dot)
        return value

    def operand(self, node: tuple[str, Any], dot: Any) -> Any:
        kind, source = node
        if kind == "str" or kind == "raw":
            return unquote(source)
        if kind == "num":
            return float(source) if "." in source else int(source)
        if kind == "pipe":
            return self.commands(source, dot)
        if kind == "field":
            return self.field(source, dot)
        if kind == "chain":
            base, path = source
            return self.field_path(self.operand(base, dot), path, _last_evaluated(base))
        if kind == "ident":
            if source in ("true", "false"):
                return source == "true"
            if source == "nil":
                return None
            return self.call(source, [], _NOTHING)
        raise TemplateError(f"unexpected {source!r}")

    def field(self, source: str, dot: Any) -> Any:
        if source.startswith("$"):
            var, _, path = source.partition(".")
            value = self.variable(var)[1]
        else:
            value, path = dot, source[1:]
        return self.field_path(value, path, source)

    def field_path(self, value: Any, path: str, source: str) -> Any:
        """`.a.b` read from value (`source` names the operand for errors): map keys, a missing one is
        MISSING; refused on anything else."""
        del source
        for part in [p for p in path.split(".") if p]:
            if isinstance(value, dict):
                value = value.get(part, MISSING)
            elif value is MISSING:
                return MISSING
            else:
                raise TemplateError(f"can't evaluate field {part} in type {go_type(value)}")
        return value

    def call(self, name: str, args: list[Any], piped: Any) -> Any:
        func = self.funcs.get(name)
        if func is None:
            raise TemplateError(f'function "{name}" not defined')
        if piped is not _NOTHING:
            args = [*args, piped]  # the piped value is the last argument
        try:
            result = func(*args)
        except TemplateError:
            raise
        except MemoryError:  # a function this table does not bound (yet): refused like a limit
            raise TemplateError(f"error calling {name}: out of memory") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as ex:
            # Only the exception's type: its text may quote a secret argument.
            raise TemplateError(f"error calling {name}: {type(ex).__name__}") from None
        if isinstance(result, str | list | dict) and len(result) > self.max_size:
            within(limits.TEMPLATE_OUTPUT, len(result))  # what a later step would build on
        return result
