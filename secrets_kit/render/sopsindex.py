"""SOPS sources verified before the build, and the lookup that decrypts the built output.

Why two phases: `kustomize build` re-emits every resource with its keys sorted and may
change metadata (namespace, name prefix, labels), and a secretGenerator `envs:` file is
split into one Secret item per line. The SOPS MAC covers values in document order, so it
can no longer be checked on the built output (this is why Flux skips it there).

So, before the build, every SOPS file the kustomization (or plain folder) uses is
decrypted in memory from the bytes as committed, MAC verified. The index keeps, for each
encrypted value string `ENC[...]`, where it sat and what it decrypts to. After the build,
an `ENC[...]` found at the same path is replaced by its verified plaintext: the ciphertext
is identical and AES-GCM binds it to that path (the AAD), so no second decryption is
needed. Anything the index does not know is decrypted on its own, MAC verified, or the
render fails.

Nothing is written to disk; plaintext lives in this object for the duration of a render.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DecryptionError, InputError, RenderError
from ..k8s.manifests import load_documents
from . import sops_bridge
from .dotenv import parse_env_lines
from .redact import Redactor
from .sopsfiles import MAX_ENCRYPTED_SIZE, format_for_name, is_sops_document

ENC_PREFIX = "ENC[AES256_GCM,"
PathKey = tuple[Any, ...]


def is_enc(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENC_PREFIX)


@dataclass
class EnvFile:
    source: str
    encrypted: list[tuple[str, str]]  # as kustomize reads the committed file
    plain: dict[str, str]


@dataclass
class SopsIndex:
    redactor: Redactor
    leaves: dict[str, tuple[PathKey, Any]] = field(default_factory=dict)  # ENC string -> (path, plaintext)
    macs: dict[str, str] = field(default_factory=dict)  # encrypted MAC -> source
    envs: dict[str, EnvFile] = field(default_factory=dict)  # encrypted MAC -> env file
    files: dict[str, bytes] = field(default_factory=dict)  # sha256 of encrypted bytes -> plaintext
    sources: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ phase 1: verify sources

    def add_file(self, path: Path, role: str, *, label: str, data: bytes | None = None) -> list[dict[str, Any]]:
        """Decrypt one committed file in memory (MAC verified) and index it for `role`:
        "resource" (manifests), "env" (secretGenerator envs), "file" (secretGenerator files).

        For a resource file, returns its encrypted documents (with their `sops` block)."""
        if data is None:
            data = _read(path, label)
        if len(data) > MAX_ENCRYPTED_SIZE:
            raise RenderError(f"encrypted file is larger than {MAX_ENCRYPTED_SIZE >> 20} MiB", where=label)
        if role == "env":
            plain = sops_bridge.decrypt_bytes(data, "dotenv", source=label)
            self._index_env(data, plain, label)
        elif role == "resource":
            fmt = format_for_name(path.name, default="yaml")
            if fmt not in ("yaml", "json"):
                raise RenderError(f"a SOPS-encrypted resource must be YAML or JSON, not {fmt}", where=label)
            encrypted, plain_docs = sops_bridge.decrypt_documents(data, fmt, source=label)
            self._index_documents(encrypted, plain_docs, label)
            self.sources.append(label)
            return encrypted
        elif role == "file":
            plain = sops_bridge.decrypt_bytes(data, format_for_name(path.name), source=label)
            self.files[hashlib.sha256(data).hexdigest()] = plain
            self.redactor.add(plain)
        else:  # pragma: no cover - callers pass one of the three
            raise ValueError(role)
        self.sources.append(label)
        return []

    def _index_documents(self, encrypted_docs: list[dict[str, Any]], plain_docs: list[dict[str, Any]],
                         label: str) -> None:
        if len(encrypted_docs) != len(plain_docs):
            raise DecryptionError("decrypted file has a different number of documents", where=label)
        for enc_doc, plain_doc in zip(encrypted_docs, plain_docs, strict=True):
            if not is_sops_document(enc_doc):
                raise InputError("a document of this SOPS file has no sops metadata", where=label)
            self.macs[enc_doc["sops"]["mac"]] = label
            body = {k: v for k, v in enc_doc.items() if k != "sops"}
            self._pair(body, plain_doc, (), label)

    def _pair(self, enc: Any, plain: Any, path: PathKey, label: str) -> None:
        if isinstance(enc, dict):
            if not isinstance(plain, dict):
                raise DecryptionError("decrypted document does not match its encrypted form", where=label)
            for key, value in enc.items():
                if key in plain:
                    self._pair(value, plain[key], (*path, key), label)
        elif isinstance(enc, list):
            if not isinstance(plain, list) or len(plain) != len(enc):
                raise DecryptionError("decrypted document does not match its encrypted form", where=label)
            for index, (a, b) in enumerate(zip(enc, plain, strict=True)):
                self._pair(a, b, (*path, index), label)
        elif is_enc(enc):
            self.leaves[enc] = (path, plain)
            self.redactor.add(plain if isinstance(plain, str | bytes) else str(plain))

    def _index_env(self, data: bytes, plain: bytes, label: str) -> None:
        encrypted = parse_env_lines(data.decode("utf-8", "replace"), source=label)
        mac = dict(encrypted).get("sops_mac")
        if not mac:
            raise InputError("encrypted env file has no sops_mac line", where=label)
        values = dict(parse_env_lines(plain.decode("utf-8", "surrogateescape"), source=label))
        for value in values.values():
            self.redactor.add(value)
        self.envs[mac] = EnvFile(label, encrypted, values)
        self.macs[mac] = label

    # ------------------------------------------------------------------ phase 2: built output

    def decrypt_document(self, doc: dict[str, Any], where: str) -> dict[str, Any]:
        """A built resource with a `sops` block, decrypted: from the index when every `ENC[...]`
        is known, else by decrypting the resource itself (MAC verified)."""
        body = {k: v for k, v in doc.items() if k != "sops"}
        if doc["sops"]["mac"] in self.macs:
            try:
                substituted: dict[str, Any] = self._substitute(body, ())
                return substituted
            except KeyError:
                pass  # an ENC value this source did not have here: decrypt it the slow way
        return self._decrypt_whole(doc, where)

    def _substitute(self, node: Any, path: PathKey) -> Any:
        if isinstance(node, dict):
            return {k: self._substitute(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self._substitute(v, (*path, i)) for i, v in enumerate(node)]
        if is_enc(node):
            known = self.leaves.get(node)
            if known is None or known[0] != path:
                raise KeyError(node)
            return known[1]
        return node

    def _decrypt_whole(self, doc: dict[str, Any], where: str) -> dict[str, Any]:
        import json

        data = json.dumps(doc).encode("utf-8")
        try:
            plain = sops_bridge.decrypt_bytes(data, "json", source=where)
        except DecryptionError as err:
            err.hint = err.hint or ("the resource did not come from a SOPS file of this repository as committed "
                                    "(e.g. a remote base, or rewritten by kustomize), so its MAC cannot be checked")
            raise
        docs = load_documents(plain, source=where)
        if len(docs) != 1:
            raise DecryptionError("decrypted resource is not one document", where=where)
        self._pair({k: v for k, v in doc.items() if k != "sops"}, docs[0], (), where)
        return docs[0]

    def env_file(self, mac: str) -> EnvFile | None:
        return self.envs.get(mac)

    def decrypt_item(self, data: bytes, key: str, where: str) -> bytes:
        """A Secret item holding a whole SOPS file (secretGenerator `files:`): format from the key name."""
        known = self.files.get(hashlib.sha256(data).hexdigest())
        if known is not None:
            return known
        plain = sops_bridge.decrypt_bytes(data, format_for_name(key), source=where)
        self.redactor.add(plain)
        return plain


def _read(path: Path, label: str) -> bytes:
    try:
        if path.stat().st_size > MAX_ENCRYPTED_SIZE:
            raise RenderError(f"encrypted file is larger than {MAX_ENCRYPTED_SIZE >> 20} MiB", where=label)
        return path.read_bytes()
    except OSError as ex:
        raise RenderError(f"cannot read: {ex.strerror}", where=label) from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
