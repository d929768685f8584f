"""`spec.template.data`: Go text/template strings rendered over the decrypted items.

Upstream renders these with Go's text/template and the Sprig functions (minus env,
expandenv and getHostByName). This is the subset that SealedSecret templates use:
- actions `{{ pipeline }}` with `{{-`/`-}}` trimming and `{{/* comments */}}`;
- operands: `.`, `.item`, `$`, `$.item`, strings ("..." and `...`), numbers, true/false/nil,
  parenthesised pipelines, and `|` pipes (the piped value is the last argument);
- `if` / `else if` / `else` / `with` / `end`;
- Go built-ins and = a Sprig subset, listed in FUNCTIONS.
Anything else is an error naming the template key; a template never sees anything but
the items of its own SealedSecret.
"""

from __future__ import annotations

import base64
import hashlib
import json
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
    """Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %x %X %f %t %%."""
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


def _index(container: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(container, dict):
            container = container.get(key, "")  # Go's index gives the zero value of map[string]string
        elif isinstance(container, list | str) and isinstance(key, int):
            try:
                container = container[key]
            except IndexError:
                raise TemplateError(f"index out of range: {key}") from None
        else:
            raise TemplateError(f"can't index item of type {type(container).__name__}")
    return container


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
    "keys": lambda *ds: [k for d in ds for k in d], "add": lambda *a: sum(int(x) for x in a),
    "atoi": lambda s: int(_text(s)) if re.fullmatch(r"-?\d+", _text(s)) else 0,
}


# ---------------------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.|\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
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


class _Parser:
    """Parse one action's tokens into a pipeline: a list of commands, each a list of operands."""

    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens, self.pos = tokens, 0

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
            else:
                commands[-1].append((tok.kind, tok.text))
        if not commands[-1]:
            raise TemplateError("missing value for command")
        return commands


def _operand(node: tuple[str, Any], dot: Any, root: Any) -> Any:
    kind, text = node
    if kind == "str" or kind == "raw":
        return _unquote(text)
    if kind == "num":
        return float(text) if "." in text else int(text)
    if kind == "pipe":
        return _run(text, dot, root)
    if kind == "field":
        if text.startswith("$"):
            var, _, path = text.partition(".")
            if var != "$":
                raise TemplateError(f"undefined variable {var}")
            base = root
        else:
            base, path = dot, text[1:]
        value = base
        for part in [p for p in path.split(".") if p]:
            if isinstance(value, dict):
                value = value.get(part, MISSING)
            elif value is MISSING:
                return MISSING
            else:
                raise TemplateError(f"can't evaluate field {part} in type {type(value).__name__}")
        return value
    if kind == "ident":
        if text in ("true", "false"):
            return text == "true"
        if text == "nil":
            return None
        return _call(text, [], None)
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


def _run(commands: list[list[Any]], dot: Any, root: Any) -> Any:
    value: Any = _NOTHING
    for command in commands:
        head = command[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            args = [_operand(node, dot, root) for node in command[1:]]
            value = _call(head[1], args, value)
        else:
            if len(command) > 1:
                raise TemplateError(f"can't give argument to non-function {head[1]}")
            if value is not _NOTHING:
                raise TemplateError(f"can't pipe into non-function {head[1]}")
            value = _operand(head, dot, root)
    return value


# ---------------------------------------------------------------------------------------- execution

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


def _execute(segments: list[tuple[str, str]], dot: Any, root: Any) -> str:
    out: list[str] = []
    # A stack of (active, taken, dot): `taken` means an earlier branch of this if-chain ran.
    stack: list[tuple[bool, bool, Any]] = []

    def active() -> bool:
        return all(frame[0] for frame in stack)

    for kind, body in segments:
        if kind == "text":
            if active():
                out.append(body)
            continue
        word, _, rest = body.partition(" ")
        current_dot = stack[-1][2] if stack else dot
        if word in ("if", "with"):
            cond = _run(_Parser(_tokenize(rest)).pipeline(), current_dot, root) if active() else None
            ok = active() and truthy(cond)
            stack.append((ok, ok, cond if word == "with" and ok else current_dot))
        elif word == "else":
            if not stack:
                raise TemplateError("unexpected {{else}}")
            _, taken, _ = stack.pop()
            outer = all(frame[0] for frame in stack)
            parent_dot = stack[-1][2] if stack else dot
            if rest.startswith(("if ", "with ")):
                sub, _, cond_src = rest.partition(" ")
                cond = _run(_Parser(_tokenize(cond_src)).pipeline(), parent_dot, root) if outer and not taken else None
                ok = outer and not taken and truthy(cond)
                stack.append((ok, taken or ok, cond if sub == "with" and ok else parent_dot))
            else:
                stack.append((outer and not taken, True, parent_dot))
        elif word == "end":
            if not stack:
                raise TemplateError("unexpected {{end}}")
            stack.pop()
        elif word in ("range", "define", "template", "block", "break", "continue") or ":=" in body or (
                body.startswith("$") and "=" in body):
            raise TemplateError(f"{{{{{word}}}}} is not supported in SealedSecret templates by secrets-kit")
        elif active():
            value = _run(_Parser(_tokenize(body)).pipeline(), current_dot, root)
            out.append(go_str(value))
    if stack:
        raise TemplateError("unexpected EOF: missing {{end}}")
    return "".join(out)


def render(key: str, source: str, items: dict[str, str]) -> str:
    """Render template data `key` over the decrypted `items`."""
    try:
        return _execute(_segments(source), items, items)
    except TemplateError as ex:
        raise InputError(f"template: {key}: {ex}", where=f"spec.template.data.{key}") from None
    except RecursionError:
        raise InputError(f"template: {key}: nested too deeply", where=f"spec.template.data.{key}") from None
