"""`spec.template.data`: Go text/template strings rendered over the decrypted items.

Upstream renders these with Go's text/template and the Sprig functions (minus env,
expandenv and getHostByName). This is the subset that SealedSecret templates use:
- actions `{{ pipeline }}` with `{{-`/`-}}` trimming and `{{/* comments */}}`;
- operands: `.`, `.item`, `$`, `$.item`, `$x`, `$x.item`, strings ("..." and `...`), numbers,
  true/false/nil, parenthesised pipelines, and `|` pipes (the piped value is the last argument);
- variables: `{{ $x := pipeline }}`, `{{ $x = pipeline }}`, scoped as in Go (to the `end` of the
  enclosing control structure) and checked when parsing;
- `if` / `else if` / `with` / `else with` / `else` / `end`;
- `range` over maps (sorted keys), lists and integers, with `$v :=` / `$k, $v :=`, `else`,
  `break` and `continue`;
- Go built-ins and a Sprig subset, listed in FUNCTIONS.
`define`, `template` and `block` are refused. Anything else is an error naming the template
key; a template never sees anything but the items of its own SealedSecret.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError


class TemplateError(Exception):
    pass


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


# ---------------------------------------------------------------------------------------- values


def go_str(value: Any) -> str:
    """How Go's fmt prints a value with %v."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def truthy(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | dict | bytes):
        return len(value) > 0
    return True


def _text(value: Any) -> str:
    return value if isinstance(value, str) else go_str(value)


def _go_quote(value: Any) -> str:
    return json.dumps(_text(value), ensure_ascii=False)


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %x %X %f %c %t %%."""
    out: list[str] = []
    pos, arg_index = 0, 0
    for match in _VERB.finditer(fmt):
        out.append(fmt[pos:match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if arg_index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[arg_index]
        arg_index += 1
        if verb in "sv":
            text = _text(arg)
            if precision is not None and verb == "s":
                text = text[:int(precision)]
        elif verb == "d":
            text = str(int(arg)) if isinstance(arg, int | float) and not isinstance(arg, bool) else f"%!d({go_str(arg)})"
        elif verb == "q":
            text = _go_quote(arg)
        elif verb in "xX":
            raw = arg.encode() if isinstance(arg, str) else arg
            text = raw.hex() if isinstance(raw, bytes) else format(int(raw), "x")
            text = text.upper() if verb == "X" else text
        elif verb == "f":
            text = f"{float(arg):.{int(precision) if precision else 6}f}"
        elif verb == "c" and isinstance(arg, int) and not isinstance(arg, bool):
            text = chr(arg)
        elif verb == "t":
            text = go_str(bool(arg))
        else:
            raise TemplateError(f"printf verb %{verb} is not supported")
        if width:
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width), "0" if "0" in flags else " ")
        out.append(text)
    out.append(fmt[pos:])
    if arg_index < len(args):
        out.append("%!(EXTRA " + ", ".join(go_str(a) for a in args[arg_index:]) + ")")
    return "".join(out)


class _StringMap(dict[str, str]):
    """The items: Go's map[string]string, whose missing keys index to "" (Sprig's dicts give <no value>)."""


def _index(container: Any, *keys: Any) -> Any:
    """Go's index: maps by key; lists and strings by integer, a string giving a byte (an int)."""
    if container is MISSING or container is None:
        raise TemplateError("index of untyped nil")
    for key in keys:
        if isinstance(container, dict):
            if not isinstance(key, str):
                raise TemplateError(f"value has type {_go_type(key)}; should be string")
            container = container.get(key, "" if isinstance(container, _StringMap) else MISSING)
        elif isinstance(container, list | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"cannot index slice/array with type {_go_type(key)}")
            seq = container.encode() if isinstance(container, str) else container
            if not 0 <= key < len(seq):
                raise TemplateError(f"index out of range: {key}")
            container = seq[key]
        else:
            raise TemplateError(f"can't index item of type {_go_type(container)}")
    return container


def _go_type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}"}
    return "nil" if value is None or value is MISSING else names.get(type(value), "map")


def _parse_int(text: str, base0: bool) -> int | None:
    """strconv.ParseInt(text, 0 or 10, 64): None when Go would return an error."""
    pattern = _GO_INT if base0 else r"[+-]?[0-9]+"
    if not re.fullmatch(pattern, text):
        return None
    digits = text.lstrip("+-").replace("_", "")
    if base0 and len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        digits = "0o" + digits[1:]  # a leading 0 means octal in Go
    number = int(digits, 0 if base0 else 10) * (-1 if text.startswith("-") else 1)
    return number if -(2**63) <= number < 2**63 else None


_GO_INT = r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)"


def _trim_zero_decimal(text: str) -> str:
    """spf13/cast's trimZeroDecimal: "1.0" -> "1"; a loop ported as is, quirks included."""
    found_zero = False
    for i in range(len(text), 0, -1):
        if text[i - 1] == ".":
            if found_zero:
                return text[:i - 1]
        elif text[i - 1] == "0":
            found_zero = True
        else:
            return text
    return text


def _to_int64(value: Any) -> int:
    """Sprig's toInt64 (spf13/cast v1.7 ToInt64): what cannot be converted counts as 0."""
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        return _parse_int(_trim_zero_decimal(value), base0=True) or 0
    return 0


def _sprint(args: tuple[Any, ...]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(_text(arg))
    return "".join(out)


def _json(value: Any) -> str:
    """Go's json.Marshal, as Sprig's toJson uses it: compact, sorted keys, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _b64dec(text: Any) -> str:
    try:
        return base64.b64decode(_text(text), validate=True).decode("utf-8", "replace")
    except ValueError:
        return ""


def _indent(n: Any, text: Any) -> str:
    pad = " " * int(n)
    return pad + _text(text).replace("\n", "\n" + pad)


def _default(fallback: Any, *given: Any) -> Any:
    return given[0] if given and truthy(given[0]) else fallback


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, b: Any) -> bool:
        return op(a, b)
    return compare


def _eq(first: Any, *others: Any) -> bool:
    return any(first == other for other in others)


def _and(*args: Any) -> Any:
    for arg in args:
        if not truthy(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truthy(arg):
            return arg
    return args[-1]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go built-ins
    "and": _and, "or": _or, "not": lambda v: not truthy(v), "len": lambda v: len(v),
    "index": _index, "print": lambda *a: _sprint(a),
    "println": lambda *a: " ".join(_text(v) for v in a) + "\n", "printf": go_sprintf,
    "eq": _eq, "ne": _cmp(lambda a, b: a != b), "lt": _cmp(lambda a, b: a < b), "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b), "ge": _cmp(lambda a, b: a >= b),
    "urlquery": lambda *a: urllib.parse.quote_plus("".join(_text(v) for v in a)),
    "html": lambda v: _text(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    .replace('"', "&#34;").replace("'", "&#39;"),
    # Sprig: strings
    "upper": lambda s: _text(s).upper(), "lower": lambda s: _text(s).lower(),
    "title": lambda s: _text(s).title(), "trim": lambda s: _text(s).strip(),
    "trimAll": lambda cut, s: _text(s).strip(_text(cut)),
    "trimPrefix": lambda p, s: _text(s).removeprefix(_text(p)),
    "trimSuffix": lambda p, s: _text(s).removesuffix(_text(p)),
    "trunc": lambda n, s: _text(s)[:int(n)] if int(n) >= 0 else _text(s)[int(n):],
    "replace": lambda old, new, s: _text(s).replace(_text(old), _text(new)),
    "repeat": lambda n, s: _text(s) * int(n), "nospace": lambda s: re.sub(r"\s", "", _text(s)),
    "contains": lambda sub, s: _text(sub) in _text(s),
    "hasPrefix": lambda p, s: _text(s).startswith(_text(p)),
    "hasSuffix": lambda p, s: _text(s).endswith(_text(p)),
    "quote": lambda *a: " ".join(_go_quote(v) for v in a if v is not None),
    "squote": lambda *a: " ".join(f"'{_text(v)}'" for v in a if v is not None),
    "cat": lambda *a: " ".join(_text(v) for v in a if v is not None),
    "indent": _indent, "nindent": lambda n, s: "\n" + _indent(n, s),
    "toString": _text, "join": lambda sep, items: _text(sep).join(_text(i) for i in items),
    "splitList": lambda sep, s: _text(s).split(_text(sep)), "list": lambda *a: list(a),
    # Sprig: defaults and logic
    "default": _default, "empty": lambda v: not truthy(v),
    "coalesce": lambda *a: next((v for v in a if truthy(v)), None),
    "ternary": lambda yes, no, cond: yes if truthy(cond) else no,
    # Sprig: encodings and digests
    "b64enc": lambda s: base64.b64encode(_text(s).encode()).decode(), "b64dec": _b64dec,
    "b32enc": lambda s: base64.b32encode(_text(s).encode()).decode(),
    "sha1sum": lambda s: hashlib.sha1(_text(s).encode()).hexdigest(),
    "sha256sum": lambda s: hashlib.sha256(_text(s).encode()).hexdigest(),
    "toJson": lambda v: _json(v),
    "toPrettyJson": lambda v: json.dumps(v, indent="  ", ensure_ascii=False, sort_keys=True),
    "toRawJson": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=True),
    "dict": lambda *a: {_text(a[i]): a[i + 1] if i + 1 < len(a) else "" for i in range(0, len(a), 2)},
    "get": lambda d, k: d.get(_text(k), "") if isinstance(d, dict) else "",
    "hasKey": lambda d, k: isinstance(d, dict) and _text(k) in d,
    "keys": lambda *ds: [k for d in ds for k in d], "add": lambda *a: sum(_to_int64(x) for x in a),
    "atoi": lambda s: _parse_int(_text(s), base0=False) or 0,
}


# ---------------------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.|\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<decl>:=|=|,)
  | (?P<punct>[|()])
""", re.VERBOSE)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(action: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(action):
        match = _TOKEN.match(action, pos)
        if match is None:
            raise TemplateError(f"unexpected {action[pos]!r} in action")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, match.group()))
    return out


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    try:
        return str(json.loads(text))
    except ValueError:
        raise TemplateError(f"bad string literal {text}") from None


def _check_variable(name: str, variables: list[str]) -> None:
    if name not in variables:
        raise TemplateError(f'undefined variable "{name}"')


class _Parser:
    """Parse one action's tokens into a pipeline: a list of commands, each a list of operands."""

    def __init__(self, tokens: list[_Tok], variables: list[str]) -> None:
        self.tokens, self.pos, self.variables = tokens, 0, variables

    def pipeline(self, closing: str | None = None) -> list[list[Any]]:
        commands: list[list[Any]] = [[]]
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
                commands[-1].append((tok.kind, tok.text))
        if not commands[-1]:
            raise TemplateError("missing value for command")
        return commands


@dataclass
class _Pipe:
    """An action's pipeline and the variables it declares (`$x :=`) or assigns (`$x =`)."""

    decls: list[str]
    assign: bool
    commands: list[list[Any]]


# A tree node: ("text", str), ("action", _Pipe), ("if" | "with" | "range", _Pipe, body, else_body or None),
# ("break",) or ("continue",); a body is a list of nodes.
_Node = tuple[Any, ...]


def _keyword(body: str) -> tuple[str, str]:
    parts = body.split(None, 1)
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "")


class _TreeParser:
    """Segments into a tree, checking structure and variable scopes when parsing, as Go's parser does."""

    def __init__(self, segments: list[tuple[str, str]]) -> None:
        self.segments, self.pos = segments, 0
        self.variables = ["$"]  # declared names in scope: a variable lives until the {{end}} of its block
        self.range_depth = 0

    def parse(self) -> list[_Node]:
        nodes, stop = self.items()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop}}}}}")
        return nodes

    def items(self) -> tuple[list[_Node], str | None]:
        """Nodes up to an {{end}} or {{else ...}} (returned as the action's text) or the end of input (None)."""
        nodes: list[_Node] = []
        while self.pos < len(self.segments):
            kind, body = self.segments[self.pos]
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
                raise TemplateError(f"{{{{{word}}}}} is not supported in SealedSecret templates by secrets-kit")
            else:
                nodes.append(("action", self.pipe(body)))
        return nodes, None

    def control(self, word: str, source: str) -> _Node:
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

    def pipe(self, source: str, context: str = "command") -> _Pipe:
        tokens = _tokenize(source)
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
        commands = _Parser(tokens[pos:], self.variables).pipeline()
        for name in decls:
            if assign:
                _check_variable(name, self.variables)
            else:
                self.variables.append(name)
        return _Pipe(decls, assign, commands)


# ---------------------------------------------------------------------------------------- execution


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _range_pairs(value: Any, n_variables: int) -> list[tuple[Any, Any]]:
    """The (key or index, element) pairs Go's range visits: maps in sorted key order, lists, integers."""
    if isinstance(value, dict):
        return sorted(value.items(), key=lambda pair: pair[0])
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, int) and not isinstance(value, bool):
        if n_variables > 1:
            raise TemplateError(f"can't use {value} to iterate over more than one variable")
        return [(None, i) for i in range(value)]
    if value is MISSING or value is None:
        return []  # Go: an invalid value ranges like an empty map
    # Go prints the value here; it may be a decrypted item, so only its type is named.
    raise TemplateError(f"range can't iterate over a value of type {_go_type(value)}")


class _State:
    """One execution: the output and Go's variable stack (`:=` pushes; a block's {{end}} pops)."""

    def __init__(self, root: Any) -> None:
        self.out: list[str] = []
        self.variables: list[list[Any]] = [["$", root]]

    def variable(self, name: str) -> list[Any]:
        for slot in reversed(self.variables):
            if slot[0] == name:
                return slot
        raise TemplateError(f"undefined variable: {name}")

    def pipe(self, pipe: _Pipe, dot: Any) -> Any:
        value = _run(pipe.commands, dot, self)
        for name in pipe.decls:
            if pipe.assign:
                self.variable(name)[1] = value
            else:
                self.variables.append([name, value])
        return value

    def walk(self, nodes: list[_Node], dot: Any) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "action":
                value = self.pipe(node[1], dot)
                if not node[1].decls:
                    self.out.append(go_str(value))
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

    def range(self, pipe: _Pipe, body: list[_Node], else_body: list[_Node] | None, dot: Any) -> None:
        mark = len(self.variables)
        pairs = _range_pairs(self.pipe(pipe, dot), len(pipe.decls))
        inner = len(self.variables)
        with contextlib.suppress(_Break):
            for key, elem in pairs:
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


def _operand(node: tuple[str, Any], dot: Any, state: _State) -> Any:
    kind, text = node
    if kind == "str" or kind == "raw":
        return _unquote(text)
    if kind == "num":
        return float(text) if "." in text else int(text)
    if kind == "pipe":
        return _run(text, dot, state)
    if kind == "field":
        if text.startswith("$"):
            var, _, path = text.partition(".")
            base = state.variable(var)[1]
        else:
            base, path = dot, text[1:]
        value = base
        for part in [p for p in path.split(".") if p]:
            if isinstance(value, dict):
                value = value.get(part, MISSING)
            elif value is MISSING:
                return MISSING
            else:
                raise TemplateError(f"can't evaluate field {part} in type {_go_type(value)}")
        return value
    if kind == "ident":
        if text in ("true", "false"):
            return text == "true"
        if text == "nil":
            return None
        return _call(text, [], _NOTHING)
    raise TemplateError(f"unexpected {text!r}")


def _call(name: str, args: list[Any], piped: Any) -> Any:
    func = FUNCTIONS.get(name)
    if func is None:
        raise TemplateError(f'function "{name}" not defined')
    if piped is not _NOTHING:
        args = [*args, piped]
    try:
        return func(*args)
    except TemplateError:
        raise
    except (TypeError, ValueError, KeyError) as ex:
        raise TemplateError(f"error calling {name}: {type(ex).__name__}") from None


_NOTHING = object()


def _run(commands: list[list[Any]], dot: Any, state: _State) -> Any:
    value: Any = _NOTHING
    for command in commands:
        head = command[0]
        if head == ("ident", "nil"):
            raise TemplateError("nil is not a command")
        if head[0] == "ident" and head[1] not in ("true", "false"):
            args = [_operand(node, dot, state) for node in command[1:]]
            value = _call(head[1], args, value)
        else:
            if len(command) > 1:
                raise TemplateError(f"can't give argument to non-function {head[1]}")
            if value is not _NOTHING:
                raise TemplateError(f"can't pipe into non-function {head[1]}")
            value = _operand(head, dot, state)
    return value


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def _segments(source: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", s) pieces with Go's trim markers applied."""
    out: list[tuple[str, str]] = []
    pos = 0
    for match in _ACTION.finditer(source):
        text = source[pos:match.start()]
        if match.group(1):
            text = text.rstrip(" \t\r\n")
        out.append(("text", text))
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


def render(key: str, source: str, items: dict[str, str]) -> str:
    """Render template data `key` over the decrypted `items`."""
    try:
        tree = _TreeParser(_segments(source)).parse()
        data = _StringMap(items)
        state = _State(data)
        state.walk(tree, data)
        return "".join(state.out)
    except TemplateError as ex:
        raise InputError(f"template: {key}: {ex}", where=f"spec.template.data.{key}") from None
    except RecursionError:
        raise InputError(f"template: {key}: nested too deeply", where=f"spec.template.data.{key}") from None
