"""Hook: argocd-vault-plugin-compatible placeholders, resolved through a secret provider.

Syntax (as AVP defines it, so existing manifests work unchanged):
- inline: `<path:some/path#key>` or `<path:some/path#key#version>`, anywhere;
- generic: `<key>`, only in resources annotated `avp.kubernetes.io/path: some/path`
  (version from `avp.kubernetes.io/secret-version`); without that annotation `<...>`
  is left alone, so text like `<KEY>` in CRD descriptions survives;
- modifiers after `|`: `base64encode`, `base64decode`, `jsonParse`, `yamlParse`,
  `jsonPath {.a.b}`, `indent N`, `sha256sum`;
- in a Secret's `data`, placeholders inside the base64 value are found and re-encoded;
- `avp.kubernetes.io/ignore: "true"` skips a resource; `avp.kubernetes.io/remove-missing:
  "true"` (Secret/ConfigMap only) drops keys whose value is missing instead of failing;
- `avp.kubernetes.io/kv-version: "1"|"2"` sets the Vault KV engine version for every
  placeholder of that resource (inline ones too, as AVP), overriding AVP_KV_VERSION.

Each (path, version, KV version) is read once per render, all of them in parallel before any
substitution (Argo CD gives a plugin about 60 s). A missing value fails the render; the
message names the placeholder, never a value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ...errors import ProviderError, RenderError, SecretsKitError
from ...k8s.manifests import string_values
from ...providers.base import Provider, RemoteRef
from ..model import Manifest, RenderContext, is_secret, resource_id

PATH_ANNOTATION = "avp.kubernetes.io/path"
VERSION_ANNOTATION = "avp.kubernetes.io/secret-version"
IGNORE_ANNOTATION = "avp.kubernetes.io/ignore"
REMOVE_MISSING_ANNOTATION = "avp.kubernetes.io/remove-missing"
KV_VERSION_ANNOTATION = "avp.kubernetes.io/kv-version"

GENERIC = re.compile(r"<([^<>\n]+?)>")
INLINE = re.compile(r"<(path:[^<>\n]+?)>")
_INLINE_BODY = re.compile(r"path:(?P<path>[^#]+)#(?P<key>[^#]+?)(?:#(?P<version>[^#]+))?\Z")
MAX_PARALLEL = 8


class _Missing(Exception):
    pass


@dataclass(frozen=True)
class Placeholder:
    path: str
    key: str
    version: str | None
    modifiers: tuple[str, ...]
    text: str  # as written, for messages


def _annotations(doc: Manifest) -> dict[str, Any]:
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    annotations = meta.get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _parse(body: str, doc_path: str | None, doc_version: str | None) -> Placeholder | None:
    fields = body.split("|")
    head = fields[0].strip()
    modifiers = tuple(f.strip() for f in fields[1:])
    match = _INLINE_BODY.match(head)
    if match:
        return Placeholder(match["path"].strip(), match["key"].strip(),
                           match["version"].strip() if match["version"] else None, modifiers, body)
    if doc_path is None or head.startswith("path:"):
        return None
    return Placeholder(doc_path, head, doc_version, modifiers, body)


def _decoded(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


# ----------------------------------------------------------------------------------- modifiers


def _jsonpath(expr: str, value: Any) -> Any:
    """The kubectl JSONPath subset AVP users write: `{.a.b}`, `{.a[0].b}`, `{.a['k.x']}`."""
    text = expr.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise RenderError(f"jsonPath expression must be wrapped in braces: {expr}")
    text = text[1:-1].strip()
    node = json.loads(value) if isinstance(value, str) else value
    for token in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]", text):
        name, index, quoted1, quoted2 = token
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                raise _Missing(expr)
            node = node[int(index)]
        else:
            key = name or quoted1 or quoted2
            if not isinstance(node, dict) or key not in node:
                raise _Missing(expr)
            node = node[key]
    if isinstance(node, str):
        return node
    return json.dumps(node, separators=(",", ":"))


def _indent(level: str, value: Any) -> str:
    lines = str(value).split("\n")
    out = [lines[0].strip()]
    pad = " " * int(level)
    out.extend(pad + line.strip() for line in lines[1:] if line)
    return "\n".join(out)


def apply_modifier(statement: str, value: Any) -> Any:
    parts = statement.split(None, 1)
    if not parts:
        raise RenderError("empty modifier after '|'")
    name, arg = parts[0], (parts[1] if len(parts) > 1 else "")
    try:
        if name == "base64encode":
            return base64.b64encode(_text(value).encode("utf-8")).decode("ascii")
        if name == "base64decode":
            return base64.b64decode(_text(value)).decode("utf-8")
        if name == "jsonParse":
            return json.loads(_text(value))
        if name == "yamlParse":
            from ...k8s.manifests import load_documents

            docs = load_documents(_text(value), source="yamlParse")
            return docs[0] if docs else None
        if name == "jsonPath":
            return _jsonpath(arg, value)
        if name == "indent":
            return _indent(arg, value)
        if name == "sha256sum":
            return hashlib.sha256(_text(value).encode("utf-8")).hexdigest()
    except (ValueError, binascii.Error, UnicodeDecodeError, SecretsKitError) as ex:
        raise RenderError(f"modifier {name} failed: {type(ex).__name__}") from None
    raise RenderError(f"unknown modifier {name!r}",
                      hint="known: base64encode, base64decode, jsonParse, yamlParse, jsonPath, indent, sha256sum")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("expected a string")


# ----------------------------------------------------------------------------------- the hook


class _Resolver:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.maps: dict[RemoteRef, dict[str, bytes]] = {}

    def ref(self, placeholder: Placeholder, kv_version: str | None) -> RemoteRef:
        """The read behind a placeholder, in the provider's canonical form (equal reads coalesce)."""
        return self.provider.canonical(RemoteRef(key=placeholder.path, version=placeholder.version,
                                                 kv_version=kv_version))

    def prefetch(self, refs: set[RemoteRef]) -> None:
        wanted = sorted((r for r in refs if r not in self.maps),
                        key=lambda r: (r.key, r.version or "", r.kv_version or ""))

        def fetch(ref: RemoteRef) -> dict[str, bytes]:
            return self.provider.get_secret_map(ref)

        if len(wanted) == 1:
            self.maps[wanted[0]] = fetch(wanted[0])
            return
        with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
            for ref, result in zip(wanted, pool.map(fetch, wanted), strict=True):
                self.maps[ref] = result

    def value(self, placeholder: Placeholder, kv_version: str | None) -> str:
        found = self.maps[self.ref(placeholder, kv_version)].get(placeholder.key)
        if found is None:
            raise _Missing(placeholder.text)
        return found.decode("utf-8")


def _placeholders_in(text: str, doc_path: str | None, doc_version: str | None) -> list[Placeholder]:
    pattern = GENERIC if doc_path is not None else INLINE
    found = []
    for match in pattern.finditer(text):
        parsed = _parse(match.group(1), doc_path, doc_version)
        if parsed is not None:
            found.append(parsed)
    return found


def _replace(text: str, doc_path: str | None, doc_version: str | None, resolver: _Resolver,
             sensitive: list[bool], kv_version: str | None) -> Any:
    pattern = GENERIC if doc_path is not None else INLINE
    whole: list[Any] = []

    def substitute(match: re.Match[str]) -> str:
        placeholder = _parse(match.group(1), doc_path, doc_version)
        if placeholder is None:
            return match.group(0)
        value: Any = resolver.value(placeholder, kv_version)
        for statement in placeholder.modifiers:
            value = apply_modifier(statement, value)
        if not (placeholder.modifiers and placeholder.modifiers[-1].split()[0] == "sha256sum"):
            sensitive.append(True)
        if isinstance(value, str):
            return value
        whole.append(value)
        return match.group(0)

    result = pattern.sub(substitute, text)
    if whole:
        if len(whole) == 1 and pattern.fullmatch(text):
            return whole[0]
        raise RenderError("a placeholder that yields a non-string value must be the whole value")
    return result


def _process(doc: Manifest, resolver: _Resolver, remove_missing: bool, sensitive: list[bool],
             doc_path: str | None, doc_version: str | None, kv_version: str | None) -> Manifest:
    secret = is_secret(doc)

    def walk(node: Any, key_path: tuple[Any, ...]) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                try:
                    out[key] = walk(value, (*key_path, key))
                except _Missing:
                    if remove_missing and len(key_path) == 1 and key_path[0] in ("data", "stringData"):
                        continue
                    raise
            return out
        if isinstance(node, list):
            return [walk(v, (*key_path, i)) for i, v in enumerate(node)]
        if isinstance(node, str):
            if secret and key_path[:1] == ("data",) and len(key_path) == 2:
                decoded = _decoded(node)
                if decoded is not None and GENERIC.search(decoded):
                    replaced = _replace(decoded, doc_path, doc_version, resolver, sensitive, kv_version)
                    text = replaced if isinstance(replaced, str) else json.dumps(replaced)
                    return base64.b64encode(text.encode("utf-8")).decode("ascii")
            return _replace(node, doc_path, doc_version, resolver, sensitive, kv_version)
        return node

    result: Manifest = walk(doc, ())
    return result


def resolver_hook(provider_factory: Callable[[], Provider | None]) -> Callable[[list[Manifest], RenderContext],
                                                                               list[Manifest]]:
    """The placeholder hook; `provider_factory` opens the provider only if a placeholder is found."""

    def substitute(docs: list[Manifest], ctx: RenderContext) -> list[Manifest]:
        plan: list[tuple[int, str | None, str | None, str | None]] = []
        wanted: list[tuple[Placeholder, str | None]] = []
        for index, doc in enumerate(docs):
            annotations = _annotations(doc)
            if str(annotations.get(IGNORE_ANNOTATION, "")).lower() == "true":
                continue
            doc_path = annotations.get(PATH_ANNOTATION)
            doc_version = annotations.get(VERSION_ANNOTATION)
            doc_path = str(doc_path) if doc_path else None
            doc_version = str(doc_version) if doc_version else None
            kv_version = annotations.get(KV_VERSION_ANNOTATION)
            kv_version = str(kv_version).strip() if kv_version not in (None, "") else None
            if kv_version is not None and kv_version not in ("1", "2"):
                raise RenderError(f"{KV_VERSION_ANNOTATION} must be \"1\" or \"2\", not {kv_version!r}",
                                  where=str(resource_id(doc)))
            found: list[Placeholder] = []
            for text in string_values(doc):
                found.extend(_placeholders_in(text, doc_path, doc_version))
                if is_secret(doc):
                    decoded = _decoded(text)
                    if decoded:
                        found.extend(_placeholders_in(decoded, doc_path, doc_version))
            if found:
                plan.append((index, doc_path, doc_version, kv_version))
                wanted.extend((p, kv_version) for p in found)
        if not plan:
            return docs
        provider = provider_factory()
        if provider is None:
            first = docs[plan[0][0]]
            raise RenderError("placeholders found but no secret provider is configured", where=str(resource_id(first)),
                              hint="configure a provider (--provider / provider: in .secrets-kit.yaml), or "
                                   "annotate the resource avp.kubernetes.io/ignore: \"true\"")
        resolver = _Resolver(provider)
        try:
            resolver.prefetch({resolver.ref(p, kv) for p, kv in wanted})
        except ProviderError:
            raise
        except SecretsKitError as err:
            raise ProviderError(err.message, where=err.where, hint=err.hint) from None
        finally:
            provider.close()
        out = list(docs)
        for index, doc_path, doc_version, kv_version in plan:
            doc = docs[index]
            where = str(resource_id(doc))
            remove_missing = str(_annotations(doc).get(REMOVE_MISSING_ANNOTATION, "")).lower() == "true"
            if remove_missing and doc.get("kind") not in ("Secret", "ConfigMap"):
                raise RenderError(f"{REMOVE_MISSING_ANNOTATION} is only allowed on a Secret or a ConfigMap", where=where)
            sensitive: list[bool] = []
            try:
                out[index] = _process(doc, resolver, remove_missing, sensitive, doc_path, doc_version, kv_version)
            except _Missing as missing:
                raise RenderError(f"no value for placeholder <{missing.args[0]}>", where=where) from None
            except RenderError as err:
                raise err.at(where) from None
            ctx.count("placeholders_resources")
            if sensitive:
                for value in _fetched_values(resolver):
                    ctx.redactor.add(value)
                ctx.mark_decrypted(out[index], "placeholders")
        return out

    return substitute


def _fetched_values(resolver: _Resolver) -> Iterator[bytes]:
    for values in resolver.maps.values():
        yield from values.values()
