"""The cluster registry: which certificate seals for which cluster, for fan-out sealing.

A YAML (or JSON) file, by default `clusters.yaml`:

    # secrets-kit cluster registry
    clusters:
      prod-eu:
        cert: certs/prod-eu.pem                 # a path, relative to this file...
      prod-us:
        cert: https://certs.example.com/us.pem  # ...or an http(s):// or file:// URL
      staging: certs/staging.pem                # shorthand for {cert: ...}
      dev:                                      # no cert: fetch it from the controller
        context: kind-dev                       # kubeconfig context (default: the current one)
        kubeconfig: ~/.kube/dev.yaml            # optional
        server: https://dev.example.com:6443    # optional: overrides the context's API server
        controllerName: sealed-secrets          # default sealed-secrets-controller
        controllerNamespace: kube-system        # default kube-system

The list form `clusters: [{name: prod-eu, cert: ...}, ...]` is read the same way.
Cluster names are used in output paths, so they are limited to letters, digits, `.`, `_`
and `-`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, InputError
from ..k8s.manifests import load_documents
from .fetch import DEFAULT_CONTROLLER_NAME, DEFAULT_CONTROLLER_NAMESPACE, is_local_path

DEFAULT_REGISTRY = "clusters.yaml"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*\Z"  # compiled on first use (re caches it)
_KEYS = {"cert", "context", "kubeconfig", "server", "controllerName", "controllerNamespace"}


@dataclass(frozen=True)
class ClusterEntry:
    name: str
    cert: str | None  # a path (already resolved against the registry's folder) or a URL
    context: str | None = None
    kubeconfig: str | None = None
    server: str | None = None
    controller_name: str = DEFAULT_CONTROLLER_NAME
    controller_namespace: str = DEFAULT_CONTROLLER_NAMESPACE


def load_registry(path: str | Path) -> dict[str, ClusterEntry]:
    file = Path(path)
    where = str(file)
    try:
        data = file.read_bytes()
    except OSError as ex:
        raise ConfigError(f"cannot read the cluster registry: {ex.strerror}", where=where) from None
    try:
        docs = load_documents(data, source=where)
    except InputError as err:
        raise ConfigError(err.message, where=where) from None
    clusters = docs[0].get("clusters") if len(docs) == 1 else None
    if isinstance(clusters, list):
        clusters = _from_list(clusters, where)
    if not isinstance(clusters, dict) or not clusters:
        raise ConfigError("expected one document with a non-empty `clusters:` mapping", where=where,
                          hint="see `secrets-kit seal --help` for the registry format")
    entries: dict[str, ClusterEntry] = {}
    for name, value in clusters.items():
        at = f"{where}: clusters.{name}"
        if not isinstance(name, str) or not re.match(_NAME, name):
            raise ConfigError("cluster names may hold only letters, digits, '.', '_' and '-'", where=at)
        spec = {"cert": value} if isinstance(value, str) else value
        if not isinstance(spec, dict):
            raise ConfigError("expected a cert path/URL or a mapping", where=at)
        unknown = set(spec) - _KEYS
        if unknown:
            raise ConfigError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}", where=at,
                              hint=f"known fields: {', '.join(sorted(_KEYS))}")
        for key, item in spec.items():
            if item is not None and not isinstance(item, str):
                raise ConfigError(f"{key} must be a string", where=at)
        cert = spec.get("cert")
        if cert and is_local_path(cert) and not Path(cert).expanduser().is_absolute():
            cert = str(file.parent / cert)
        entries[name] = ClusterEntry(
            name=name, cert=cert or None, context=spec.get("context"), kubeconfig=spec.get("kubeconfig"),
            server=spec.get("server"),
            controller_name=spec.get("controllerName") or DEFAULT_CONTROLLER_NAME,
            controller_namespace=spec.get("controllerNamespace") or DEFAULT_CONTROLLER_NAMESPACE)
    return entries


def _from_list(items: list[object], where: str) -> dict[str, object]:
    """The list form: each entry a mapping with a `name`."""
    out: dict[str, object] = {}
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"clusters[{index}] needs a `name`", where=where)
        name = item["name"]
        if name in out:
            raise ConfigError(f"cluster {name!r} is listed twice", where=where)
        out[name] = {k: v for k, v in item.items() if k != "name"}
    return out
