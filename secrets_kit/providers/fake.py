"""A fake secret store read from a local YAML file, for demos and tests. Never for real secrets.

    apiVersion: secrets-kit.io/v1alpha1
    kind: FakeSecretStore
    secrets:
      - key: apps/demo/db               # the remote key (a path, a name)
        value: {username: demo, password: not-a-real-password}   # a mapping is stored as JSON
        version: "2"                    # the current version (default "1")
        tags: {team: demo}
        history:                        # older versions, by version id
          "1": {username: demo, password: older-fake-password}

A string value is stored as is. Every read copies, so callers can't change the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ProviderError
from .base import FindSpec, Provider, RemoteRef, as_bytes, extract_property, require_str, value_map

STORE_KIND = "FakeSecretStore"


@dataclass
class _Entry:
    versions: dict[str, bytes]
    current: str
    tags: dict[str, str] = field(default_factory=dict)


def _parse(data: Any, source: str) -> dict[str, _Entry]:
    if not isinstance(data, dict) or data.get("kind") != STORE_KIND:
        raise ConfigError(f"not a {STORE_KIND} document", where=source)
    entries: dict[str, _Entry] = {}
    secrets = data.get("secrets") or []
    if not isinstance(secrets, list):
        raise ConfigError("secrets must be a list", where=source)
    for index, item in enumerate(secrets):
        where = f"{source}: secrets[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or "value" not in item:
            raise ConfigError("each secret needs a string key and a value", where=where)
        current = str(item.get("version", "1"))
        versions = {current: as_bytes(item["value"])}
        history = item.get("history") or {}
        if not isinstance(history, dict):
            raise ConfigError("history must map version ids to values", where=where)
        for version, value in history.items():
            versions.setdefault(str(version), as_bytes(value))
        tags = item.get("tags") or {}
        if not isinstance(tags, dict):
            raise ConfigError("tags must be a mapping", where=where)
        if item["key"] in entries:
            raise ConfigError(f"duplicate key {item['key']!r}", where=where)
        entries[item["key"]] = _Entry(versions, current, {str(k): str(v) for k, v in tags.items()})
    return entries


class FakeProvider(Provider):
    kind = "fake"

    def __init__(self, entries: Mapping[str, _Entry], source: str = "<memory>") -> None:
        self._entries = dict(entries)
        self.source = source
        self.reads = 0  # how many remote reads were made (tests check coalescing)
        self.closed = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FakeProvider:
        if "secrets" in config:  # inline store (tests)
            return cls(_parse({"kind": STORE_KIND, **config}, "<inline fake store>"))
        path = Path(require_str(config, "file", "fake provider"))
        from ..k8s.manifests import load_documents

        try:
            raw = path.read_bytes()
        except OSError as ex:
            raise ConfigError(f"cannot read the fake store: {ex.strerror}", where=str(path)) from None
        docs = load_documents(raw, source=str(path))
        if len(docs) != 1:
            raise ConfigError(f"expected one {STORE_KIND} document, found {len(docs)}", where=str(path))
        return cls(_parse(docs[0], str(path)), str(path))

    def _value(self, ref: RemoteRef) -> bytes:
        self._check_open()
        entry = self._entries.get(ref.key)
        where = f"fake store {self.source}: {ref.key}"
        if entry is None:
            raise ProviderError("secret not found", where=where)
        version = ref.version or entry.current
        if version not in entry.versions:
            raise ProviderError(f"version {version!r} not found", where=where,
                                hint="versions: " + ", ".join(sorted(entry.versions)))
        self.reads += 1
        return entry.versions[version]

    def get_secret(self, ref: RemoteRef) -> bytes:
        return extract_property(self._value(ref), ref.property, f"fake store: {ref.describe()}")

    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        return value_map(self._value(ref), ref.property, f"fake store: {ref.describe()}")

    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        self._check_open()
        pattern = re.compile(spec.name_regex) if spec.name_regex else None
        found: dict[str, bytes] = {}
        for key in sorted(self._entries):
            entry = self._entries[key]
            if spec.path and not key.startswith(spec.path):
                continue
            if pattern is not None and not pattern.search(key):
                continue
            if any(entry.tags.get(k) != v for k, v in spec.tags.items()):
                continue
            found[key] = self._value(RemoteRef(key))
        return found

    def validate(self) -> None:
        self._check_open()

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise ProviderError("the fake store is closed", where=self.source)
