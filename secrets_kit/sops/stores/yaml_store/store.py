"""The sops YAML store: bytes <-> sops's tree, keeping the file's own layout where it can.

Loading (`loader.py`) walks the parser's events into the tree and records where every leaf
and comment sits in the text (`source.py`); comments are placed as yaml.v3 places them for
sops (`comments.py`). Emitting first tries to edit the original text in place
(`splice.py`), so a file keeps its indentation, quoting, flow style and comments; when it
cannot (aliases, a changed shape, another input format) the yaml.v3-style emitter
(`emitter.py`) writes the document. Scalars are typed and written as yaml.v3 does
(`scalars.py`).
"""

from __future__ import annotations

from typing import Any

from ....errors import InputError
from ...metadata import Metadata, metadata_from_tree, metadata_to_branch
from ...reasons import Reason
from ...tree import Branch
from ..base import NESTED, SOPS_KEY, Document, Store, extract_metadata
from .emitter import Emitter
from .loader import Loader
from .scalars import render_scalar
from .source import DEFAULT_INDENT, YamlSource
from .splice import comment_shape, splice


class YamlStore(Store):
    name = "yaml"
    metadata_style = NESTED

    def __init__(self, indent: int | None = None) -> None:
        super().__init__(indent)
        if indent is not None and indent < 0:
            raise InputError("YAML Negative indentation not accepted", reason=Reason.CANNOT_EMIT)

    # ------------------------------------------------------------ loading
    def _parse(self, data: bytes, sops_follows: bool = False) -> tuple[list[Branch], YamlSource]:
        text = data.decode("utf-8", "surrogateescape")
        if text.startswith("\ufeff"):
            text = text[1:]
        crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
        if crlf:
            text = text.replace("\r\n", "\n")
        loader = Loader(text, sops_follows=sops_follows)
        branches = loader.load()
        source = YamlSource(text, crlf, loader.docs, loader.slots, indent=loader.indent_step or DEFAULT_INDENT,
                            spliceable=loader.spliceable, maps=loader.maps)
        source.snapshot(loader.containers + [d.branch for d in loader.docs])
        return branches, source

    def load(self, data: bytes) -> Document:
        return self._load(data, sops_follows=False)

    def load_plain(self, data: bytes) -> Document:
        # Comments at the end of a document are placed as sops will read them in the file we
        # write, where the sops block follows them (so sops can decrypt them there).
        return self._load(data, sops_follows=True)

    def _load(self, data: bytes, sops_follows: bool) -> Document:
        branches, source = self._parse(data, sops_follows)
        if data and not branches:
            # sops: a non-empty input without a document (only comments or blanks) fails to decode.
            raise InputError("Error unmarshaling input YAML: EOF", reason=Reason.MALFORMED_INPUT)
        return Document(branches, source=source)

    def load_encrypted(self, data: bytes) -> tuple[Document, Metadata]:
        branches, source = self._parse(data)
        doc = Document(branches, source=source)
        md = metadata_from_tree(extract_metadata(doc, NESTED))
        # Every document must have had its sops block removed for the text rewrite to be exact.
        if any(d.sops_range is None or d.sops_range[1] < 0 for d in source.docs):
            source.spliceable = False
        source.snapshot([c for c, _ in source.containers])
        return doc, md

    # ------------------------------------------------------------ emitting
    def _indent(self, source: YamlSource | None) -> int:
        if self.indent is not None and self.indent > 0:
            return self.indent
        return source.indent if source is not None else DEFAULT_INDENT

    def emit(self, doc: Document) -> bytes:
        return self._emit(doc, None, "3.13")

    def emit_plain(self, doc: Document) -> bytes:
        return self._emit(doc, None, "3.13")

    def emit_encrypted(self, doc: Document, md: Metadata, layout: str = "3.13") -> bytes:
        for branch in doc.branches:
            if any(isinstance(k, str) and k == SOPS_KEY for k, _ in branch):
                raise InputError("Found key 'sops' in encrypted data, which is a reserved key used for SOPS "
                                 "metadata", reason=Reason.ALREADY_ENCRYPTED)
        return self._emit(doc, md, layout)

    def _emit(self, doc: Document, md: Metadata | None, layout: str) -> bytes:
        source = doc.source if isinstance(doc.source, YamlSource) else None
        meta_branch = metadata_to_branch(md, layout) if md is not None else None
        if source is not None and (self.indent is None or self.indent == 0) \
                and source.same_documents(doc.branches):
            text = splice(source, meta_branch)
            if text is not None and meta_branch is not None and "type:comment]" in text \
                    and not _reads_back_as(text, doc.branches):
                # A comment turned into a list item moved another comment to a new owner in
                # sops's eyes: keep every comment a comment line then.
                text = splice(source, meta_branch, list_items=False)
            if text is not None:
                return _finish(text, source.crlf)
        emitter = Emitter(self._indent(source))
        parts = []
        for branch in doc.branches:
            body = emitter.document(branch) if branch or meta_branch is None else ""
            if meta_branch is not None:
                if body == "{}\n":
                    body = ""
                body += Emitter(self._indent(source)).document(Branch([(SOPS_KEY, meta_branch)]))
            parts.append(body)
        return _finish("---\n".join(parts), source.crlf if source else False)

    def emit_value(self, value: Any) -> bytes:
        if isinstance(value, Branch):
            return _finish(Emitter(self._indent(None)).document(value), False)
        if isinstance(value, list):
            return _finish(Emitter(self._indent(None)).sequence(value) or "[]\n", False)
        return _finish(render_scalar(value, indent=self._indent(None)) + "\n", False)


def _finish(text: str, crlf: bool) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8", "surrogateescape")


def _reads_back_as(text: str, branches: list[Branch]) -> bool:
    """Does `text` load as these branches, every comment in the same container and place?"""
    try:
        loaded = Loader(text).load()
    except InputError:
        return False
    return [comment_shape(b) for b in loaded] == [comment_shape(b) for b in branches]
