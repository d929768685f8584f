"""Go's text/template with Sprig functions: one engine for SealedSecret and ExternalSecret templates.

    template = gotemplate.parse(source, funcs={**BUILTINS, **SPRIG, **extra})
    output = template.execute(data)

The caller passes the whole function table (plain dicts compose); Go's parser-time checks apply to
it: a function the table lacks is a parse error, as in Go. What the engine covers:
- actions `{{ pipeline }}` with `{{-`/`-}}` trimming and `{{/* comments */}}`;
- operands: `.`, `.item`, `$`, `$.item`, `$x`, `$x.item`, strings ("..." and `...`), numbers,
  true/false/nil, parenthesised pipelines, and `|` pipes (the piped value is the last argument);
- variables: `{{ $x := pipeline }}`, `{{ $x = pipeline }}`, scoped as in Go and checked when parsing;
- `if` / `else if` / `with` / `else with` / `else` / `end`;
- `range` over maps (sorted keys), lists and integers, with `$v :=` / `$k, $v :=`, `else`,
  `break` and `continue`.
`define`, `template` and `block` are refused. Error messages never quote the data.
Layout: lexer (text → actions → tokens), parser (tree, scopes), executor (run), builtins and
sprig (function tables), values (Go's printing and truth).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .builtins import BUILTINS, go_sprintf
from .executor import Execution
from .parser import Node, parse_tree
from .sprig import SPRIG
from .values import MISSING, StringMap, TemplateError, go_str, truthy

__all__ = ["BUILTINS", "MISSING", "SPRIG", "StringMap", "Template", "TemplateError", "go_sprintf", "go_str",
           "parse", "truthy"]


class Template:
    """A parsed template: execute it over any number of data values."""

    def __init__(self, tree: list[Node], funcs: Mapping[str, Callable[..., Any]]) -> None:
        self._tree, self._funcs = tree, funcs

    def execute(self, data: Any) -> str:
        run = Execution(data, self._funcs)
        try:
            run.walk(self._tree, data)
        except RecursionError:  # the one resource limit: nesting deeper than Python's stack
            raise TemplateError("nested too deeply") from None
        return "".join(run.out)


def parse(source: str, funcs: Mapping[str, Callable[..., Any]] = BUILTINS) -> Template:
    """Parse `source`, whose functions come from `funcs` (Go's built-ins are not added: pass them)."""
    try:
        return Template(parse_tree(source, funcs), dict(funcs))
    except RecursionError:
        raise TemplateError("nested too deeply") from None
