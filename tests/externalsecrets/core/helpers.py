"""Shared fixtures of the core ExternalSecret tests: manifests, a fake StoreClient, a template stand-in."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secrets_kit.externalsecrets.refs import FindRef, NoSecretError, RemoteRef, Validation

ORACLE = json.loads((Path(__file__).parent / "go_oracle" / "oracle.json").read_text())
NOW = dt.datetime(2026, 12, 3, 12, 0, 0, tzinfo=dt.UTC)
SECRET_VALUE = "s3cr3t-Pl41nt3xt-value"  # must never appear in an error, event or status


def es_manifest(name: str = "my-es", namespace: str = "default", *, spec: Mapping[str, Any] | None = None,
                api_version: str = "external-secrets.io/v1", status: Mapping[str, Any] | None = None,
                labels: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None,
                generation: int = 1, uid: str = "uid-1") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid, "generation": generation}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": "ExternalSecret", "metadata": meta,
                           "spec": dict(spec) if spec is not None else {
                               "secretStoreRef": {"name": "store", "kind": "SecretStore"},
                               "data": [{"secretKey": "password", "remoteRef": {"key": "db", "property": "pw"}}]}}
    if status is not None:
        obj["status"] = dict(status)
    return obj


def b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


class FakeClient:
    """A StoreClient over {key: bytes | dict}; records calls."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)
        self.calls: list[tuple[str, Any]] = []

    async def get_secret(self, ref: RemoteRef) -> bytes:
        self.calls.append(("get_secret", ref))
        if ref.key not in self.values:
            raise NoSecretError(f"remote key {ref.key} not found")
        value = self.values[ref.key]
        if isinstance(value, dict):
            if ref.property:
                if ref.property not in value:
                    raise NoSecretError(f"property {ref.property} of {ref.key} not found")
                return value[ref.property] if isinstance(value[ref.property], bytes) else str(
                    value[ref.property]).encode()
            return json.dumps({k: v.decode() if isinstance(v, bytes) else v for k, v in value.items()}).encode()
        return value

    async def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        self.calls.append(("get_secret_map", ref))
        if ref.key not in self.values:
            raise NoSecretError(f"remote key {ref.key} not found")
        value = self.values[ref.key]
        return {k: v if isinstance(v, bytes) else str(v).encode() for k, v in value.items()}

    async def get_all_secrets(self, find: FindRef) -> dict[str, bytes]:
        import re
        self.calls.append(("get_all_secrets", find))
        out = {k: v for k, v in self.values.items() if isinstance(v, bytes)
               and k.startswith(find.path) and re.search(find.name_regexp or "", k)}
        if not out:
            raise NoSecretError("no secrets matched")
        return out

    async def validate(self) -> Validation:
        return Validation("Valid")

    async def close(self) -> None:
        return None


def client_for(client: FakeClient) -> Any:
    async def get(_ref: Any) -> FakeClient:
        return client
    return get


# ----------------------------------------------------------------------------- a template stand-in
# secrets_kit/externalsecrets/template.py is tested on its own; these stand-ins do only what the tests need:
# `{{ .key }}` substitution and the `upper` function.

def _sub(text: str, values: Mapping[str, str]) -> str:
    import re

    def one(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith(".value | upper") or expr.startswith("upper .value"):
            return values["value"].upper()
        if not expr.startswith("."):
            raise ValueError(f"stand-in cannot render {expr!r}")
        key = expr[1:]
        if key not in values:
            from secrets_kit.errors import RenderError
            raise RenderError(f'template: {key}: map has no entry for key "{key}"')
        return values[key]
    return re.sub(r"\{\{(.*?)\}\}", one, text)


def render_rewrite(template_text: str, key: str) -> str:
    return _sub(template_text, {"value": key})


@dataclass
class Rendered:
    data: dict[str, bytes]
    labels: dict[str, str]
    annotations: dict[str, str]
    type: str | None = None


def render(template: Mapping[str, Any] | None, data: Mapping[str, bytes], sources: Mapping[Any, Any], *,
           es_name: str, es_labels: Mapping[str, str] | None = None, es_annotations: Mapping[str, str] | None = None,
           existing: Mapping[str, Any] | None = None, creation_policy: str = "Owner") -> Rendered:
    """`template.render`'s contract (the whole of applyTemplate), for `template.data` and metadata only."""
    meta = (existing or {}).get("metadata") or {}
    labels, annotations = dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})
    secret_data = ({k: base64.b64decode(v) for k, v in (existing or {}).get("data", {}).items()}
                   if creation_policy == "Merge" else {})
    kind = (existing or {}).get("type") or None
    if template is None:
        labels.update(es_labels or {})
        annotations.update(es_annotations or {})
        return Rendered({**secret_data, **data}, labels, annotations, kind)
    values = {k: v.decode() for k, v in data.items()}
    tmeta = template.get("metadata") or {}
    if template.get("type"):
        kind = template["type"]
    if template.get("mergePolicy") == "Merge" or not (template.get("data") or template.get("templateFrom")):
        secret_data.update(data)
    for key, text in (template.get("data") or {}).items():
        secret_data[key] = _sub(text, values).encode()
    for key, text in (tmeta.get("labels") or {}).items():
        labels[key] = _sub(text, values)
    for key, text in (tmeta.get("annotations") or {}).items():
        annotations[key] = _sub(text, values)
    return Rendered(secret_data, labels, annotations, kind)
