"""dotenv store, as sops reads and writes it.

Lines split on `\\n` only; empty lines dropped; `#` starts a comment; the key is
everything before the first `=` and the value everything after it, verbatim (no
trimming, no quote handling), with a literal `\\n` read as a newline and written back as
`\\n`. The metadata is flattened into `sops_...` entries after the data.
"""

from __future__ import annotations

from typing import Any

from ...errors import InputError
from ..gofmt import val_to_string
from ..reasons import Reason
from ..tree import Branch, Comment
from .base import FLAT_FULL, Document, Store


class DotenvStore(Store):
    name = "dotenv"
    metadata_style = FLAT_FULL

    def load(self, data: bytes) -> Document:
        text = data.decode("utf-8", "surrogateescape")
        branch = Branch()
        for number, line in enumerate(text.split("\n"), start=1):
            if not line:
                continue
            if line[0] == "#":
                branch.append((Comment(line[1:]), None))
                continue
            pos = line.find("=")
            if pos < 0:
                raise InputError("invalid dotenv input line", where=f"line {number}",
                                 hint="each line must be KEY=VALUE or a # comment",
                                 reason=Reason.MALFORMED_INPUT)
            value = line[pos + 1:]
            if "\\n" in value:
                value = value.replace("\\n", "\n")
            branch.append((line[:pos], value))
        return Document([branch])

    def emit(self, doc: Document) -> bytes:
        out: list[str] = []
        for key, value in doc.branches[0] if doc.branches else []:
            if isinstance(value, list):
                raise InputError(f"cannot use complex value in dotenv file; offending key {key}",
                                 reason=Reason.CANNOT_EMIT)
            if isinstance(key, Comment):
                out.append(f"#{key.value}\n")
                continue
            if isinstance(value, str):
                text = value.replace("\n", "\\n") if "\n" in value else value
            else:
                text = val_to_string(value)
            out.append(f"{key}={text}\n")
        return "".join(out).encode("utf-8", "surrogateescape")

    def emit_value(self, value: Any) -> bytes:
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        raise InputError(f"the dotenv store only supports emitting strings, got {type(value).__name__}",
                         reason=Reason.CANNOT_EMIT)
