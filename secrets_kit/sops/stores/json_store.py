"""JSON store: key order kept, Go `encoding/json` output (tab indent, HTML escaping).

Integers within int64 load as `int`, every other number as `float` (sops 3.13.2+).
The binary store wraps any file as one string under `data` in the same JSON envelope.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
from typing import Any

from ... import limits
from ...errors import InputError
from ..gofmt import format_float_json
from ..reasons import Reason
from ..tree import Branch, Comment, Timestamp
from .base import NESTED, Document, Store

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int(text: str) -> int | float:
    value = int(text)
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    return float(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _go_string(text: str) -> str:
    out = encode_basestring(text)
    if "<" in out or ">" in out or "&" in out or "\u2028" in out or "\u2029" in out:
        out = (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
               .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return out


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _without_surrogates(node: Any) -> Any:
    """A lone UTF-16 surrogate as U+FFFD, as Go's encoding/json (so sops) reads it."""
    if isinstance(node, str):
        return node.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(node, Branch):
        return Branch((_without_surrogates(k), _without_surrogates(v)) for k, v in node)
    if isinstance(node, list):
        return [_without_surrogates(v) for v in node]
    return node


def load_json_object(data: bytes, what: str = "input") -> Branch:
    text = data.decode("utf-8", "replace")
    try:
        value = json.loads(text, object_pairs_hook=Branch, parse_int=_parse_int, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        detail = str(exc) if text.strip() else "EOF"  # nothing at all: Go's decoder (and sops) say EOF
        raise InputError(f"Could not unmarshal {what} data: {detail}", reason=Reason.MALFORMED_INPUT) from None
    if _SURROGATE_ESCAPE.search(text):
        limits.check_tree(value, what)  # the walk below recurses
        value = _without_surrogates(value)
    if not isinstance(value, Branch):
        kind = "arrays or other types" if isinstance(value, list) else "other JSON types"
        raise InputError(f"SOPS only supports JSON files with a top-level object (starting with '{{'), not {kind}",
                         hint='wrap it in an object, e.g. {"data": [...]}', reason=Reason.MALFORMED_INPUT)
    return value


class JsonStore(Store):
    name = "json"
    metadata_style = NESTED

    def load(self, data: bytes) -> Document:
        return Document([load_json_object(data)])

    def _indent_unit(self) -> str:
        if self.indent is None or self.indent == -1:
            return "\t"
        if self.indent < -1:
            raise InputError("JSON Indentation parameter smaller than -1 is not accepted",
                             reason=Reason.CANNOT_EMIT)
        return " " * self.indent

    def emit(self, doc: Document) -> bytes:
        if not doc.branches:
            raise InputError("nothing to write: the document has no branch", reason=Reason.CANNOT_EMIT)
        out: list[str] = []
        self._write(doc.branches[0], out, "\n", self._indent_unit())
        out.append("\n")
        return "".join(out).encode("utf-8", "surrogateescape")

    def emit_value(self, value: Any) -> bytes:
        out: list[str] = []
        self._write(value, out, "\n", self._indent_unit())
        return "".join(out).encode("utf-8", "surrogateescape")

    def _write(self, value: Any, out: list[str], nl: str, unit: str) -> None:
        if isinstance(value, Branch):
            items = [(k, v) for k, v in value if not isinstance(k, Comment)]
            if not items:
                out.append("{}")
                return
            inner = nl + unit
            out.append("{")
            for n, (k, v) in enumerate(items):
                out.append(inner if n == 0 else "," + inner)
                out.append(_go_string(k))
                out.append(": ")
                self._write(v, out, inner, unit)
            out.append(nl + "}")
        elif isinstance(value, list):
            elems = [v for v in value if not isinstance(v, Comment)]
            if not elems:
                out.append("[]")
                return
            inner = nl + unit
            out.append("[")
            for n, v in enumerate(elems):
                out.append(inner if n == 0 else "," + inner)
                self._write(v, out, inner, unit)
            out.append(nl + "]")
        else:
            out.append(scalar_json(value))


def scalar_json(value: Any) -> str:
    if isinstance(value, str):
        return _go_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        try:
            return format_float_json(value)
        except ValueError:
            raise InputError("json: unsupported value: a NaN or infinite float",
                             reason=Reason.CANNOT_EMIT) from None
    if isinstance(value, bytes):
        import base64

        return '"' + base64.b64encode(value).decode() + '"'
    if isinstance(value, Comment | Timestamp):
        return _go_string(str(value))
    raise InputError(f"cannot write a {type(value).__name__} value as JSON", reason=Reason.CANNOT_EMIT)


class BinaryStore(JsonStore):
    """Any file as one string value `data` (AAD `data:`) in a JSON envelope."""

    name = "binary"
    single_value = True

    def load_plain(self, data: bytes) -> Document:
        return Document([Branch([("data", data.decode("utf-8", "surrogateescape"))])])

    def emit_plain(self, doc: Document) -> bytes:
        if len(doc.branches) != 1:
            raise InputError("error emitting binary store: there must be exactly one tree branch",
                             reason=Reason.CANNOT_EMIT)
        for key, value in doc.branches[0]:
            if key == "data":
                if isinstance(value, str):
                    return value.encode("utf-8", "surrogateescape")
                if isinstance(value, bytes):
                    return value
                raise InputError("error emitting binary store: 'data' key in tree does not have a string value",
                                 reason=Reason.CANNOT_EMIT)
        raise InputError("error emitting binary store: no binary data found in tree",
                         hint="the file was not encrypted as binary: pass --output-type json or yaml",
                         reason=Reason.CANNOT_EMIT)

    def emit_value(self, value: Any) -> bytes:
        raise InputError("Binary files are not structured and extracting a single value is not possible",
                         reason=Reason.CANNOT_EMIT)
