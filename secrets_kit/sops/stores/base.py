"""The format-store interface: bytes <-> document (branches), plus where metadata lives.

A store loads bytes into a `Document` (the tree, with any `sops` entries still in it) and
emits a `Document` back. How the metadata is embedded differs per format: nested under a
top-level `sops` key (YAML, JSON, binary), fully flattened with a `sops_` prefix
(dotenv), or flattened below a `[sops]` section (INI). `extract_metadata` and
`embed_metadata` implement sops's `ExtractMetadata`/`SerializeMetadata` for all three.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...errors import InputError
from ..metadata import Metadata, flat_value, flatten, metadata_from_tree, metadata_to_dict, unflatten
from ..reasons import Reason
from ..tree import Branch, Comment

SOPS_KEY = "sops"
SOPS_PREFIX = "sops_"

NESTED, FLAT_FULL, FLAT_BELOW_TOP = "nested", "flat", "below-top"


class MetadataNotFound(InputError):
    """The input has no sops metadata (sops: "sops metadata not found", exit 1)."""

    def __init__(self, where: str | None = None) -> None:
        super().__init__("sops metadata not found", where=where, reason=Reason.NO_METADATA,
                         hint="the file is not encrypted; use `encrypt` first")


class Document:
    """The branches of a file; `source` is store-specific state that lets a store rewrite the
    original text in place."""

    __slots__ = ("branches", "extra", "source")

    def __init__(self, branches: list[Branch], source: Any = None, extra: dict[str, Any] | None = None) -> None:
        self.branches = branches
        self.source = source
        self.extra: dict[str, Any] = extra if extra is not None else {}


class Store:
    name: ClassVar[str] = ""
    metadata_style: ClassVar[str] = NESTED
    single_value: ClassVar[bool] = False  # the binary store: one value, no selection rules

    def __init__(self, indent: int | None = None) -> None:
        self.indent = indent

    # --- to implement
    def load(self, data: bytes) -> Document:
        raise NotImplementedError

    def emit(self, doc: Document) -> bytes:
        raise NotImplementedError

    def emit_value(self, value: Any) -> bytes:
        raise NotImplementedError

    # --- shared
    def load_plain(self, data: bytes) -> Document:
        return self.load(data)

    def load_encrypted(self, data: bytes) -> tuple[Document, Metadata]:
        doc = self.load(data)
        raw = extract_metadata(doc, self.metadata_style)
        return doc, metadata_from_tree(raw)

    def has_sops_key(self, branch: Branch) -> bool:
        if self.metadata_style == FLAT_FULL:
            return any(isinstance(k, str) and k.startswith(SOPS_PREFIX) for k, _ in branch)
        return any(isinstance(k, str) and k == SOPS_KEY for k, _ in branch)

    def emit_encrypted(self, doc: Document, md: Metadata, layout: str = "3.13") -> bytes:
        embedded = embed_metadata(doc, md, self.metadata_style, layout)
        return self.emit(embedded)

    def emit_plain(self, doc: Document) -> bytes:
        return self.emit(doc)


def extract_metadata(doc: Document, style: str) -> Any:
    """Remove the sops entries from the document; return the metadata value (nested form)."""
    meta: Any = None
    branches = doc.branches
    if style == FLAT_FULL:
        if branches:
            first = branches[0]
            flat = [(k[len(SOPS_PREFIX):], v) for k, v in first if isinstance(k, str) and k.startswith(SOPS_PREFIX)]
            if flat:
                first[:] = [(k, v) for k, v in first if not (isinstance(k, str) and k.startswith(SOPS_PREFIX))]
                meta = unflatten(flat)
        if meta is None:
            raise MetadataNotFound()
        doc.extra["metadata_order"] = "flat"
        return meta
    for bi, branch in enumerate(branches):
        found = [i for i, (k, _) in enumerate(branch) if isinstance(k, str) and k == SOPS_KEY]
        if not found:
            continue
        if bi == 0:
            if len(found) > 1:
                raise InputError("Found duplicate sops entry", where="sops metadata")
            value = branch[found[0]][1]
            if not isinstance(value, Branch):
                raise InputError("Found sops entry that is not a mapping", where="sops metadata")
            meta = value
        for i in reversed(found):
            del branch[i]
    if meta is None:
        raise MetadataNotFound()
    if style == FLAT_BELOW_TOP:
        items = []
        for k, v in meta:
            if isinstance(k, Comment):
                continue
            if isinstance(v, str):
                v = v.replace("\\n", "\n")
            items.append((k, v))
        return unflatten(items)
    return meta


def embed_metadata(doc: Document, md: Metadata, style: str, layout: str) -> Document:
    """A copy of the document with the metadata added to every branch (SerializeMetadata)."""
    as_dict = metadata_to_dict(md, layout)
    if style == NESTED:
        entries: list[tuple[str, Any]] = [(SOPS_KEY, _branch(as_dict))]
    else:
        flat = flatten(as_dict, SOPS_PREFIX if style == FLAT_FULL else "")
        if style == FLAT_FULL:
            entries = [(k, flat_value(v)) for k, v in flat]
        else:
            entries = [(SOPS_KEY, Branch((k, flat_value(v).replace("\n", "\\n")) for k, v in flat))]
    new_branches = []
    for branch in doc.branches:
        for k, _ in branch:
            if not isinstance(k, str):
                continue
            if style == FLAT_FULL and k.startswith(SOPS_PREFIX):
                raise InputError(f"Found key {k!r} in encrypted data, which starts with the reserved key prefix "
                                 f"'{SOPS_PREFIX}' for SOPS metadata", reason=Reason.ALREADY_ENCRYPTED)
            if style != FLAT_FULL and k == SOPS_KEY:
                raise InputError("Found key 'sops' in encrypted data, which is a reserved key used for SOPS "
                                 "metadata", reason=Reason.ALREADY_ENCRYPTED)
        new_branches.append(Branch([*branch, *entries]))
    return Document(new_branches, source=doc.source, extra={**doc.extra, "metadata_entries": entries})


def _branch(value: Any) -> Any:
    if isinstance(value, dict):
        return Branch((k, _branch(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_branch(v) for v in value]
    return value
