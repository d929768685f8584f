"""Sealing targets: the certificates one run seals for, each with a name for fan-out output paths.

A target comes from `--cert` (a path or URL), a cluster of the registry, a local key
folder (its newest key), or the controller of the current kubeconfig context.
Every certificate is checked once here: RSA, and not expired unless allowed.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py.

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..errors import ConfigError, KeyMaterialError
from .certs import SealingCert, load_cert
from .fetch import (
    DEFAULT_CONTROLLER_NAME,
    DEFAULT_CONTROLLER_NAMESPACE,
    fetch_cluster_cert,
    is_local_path,
    read_cert_source,
)

if TYPE_CHECKING:  # the cluster and registry code loads only when a run needs it
    from ..k8s.kubeconfig import Overrides
    from .registry import ClusterEntry


class Target(NamedTuple):  # not a dataclass: importing `dataclasses` costs more than a seal
    name: str
    cert: SealingCert


def cert_from_spec(spec: str, *, timeout: float = 30.0) -> SealingCert:
    return load_cert(read_cert_source(spec, timeout=timeout), spec)


def _name_for(spec: str) -> str:
    if is_local_path(spec):
        path = spec
    else:
        import urllib.parse

        path = urllib.parse.urlsplit(spec).path
    stem = os.path.basename(path.rstrip("/"))  # pathlib's `name` (its import costs a seal ~3 ms)
    for suffix in (".pem", ".crt", ".cert"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9._-]", "-", stem).strip(".-") or "cert"


def cert_for_cluster(entry: "ClusterEntry", base: "Overrides | None" = None) -> SealingCert:
    if entry.cert:
        return cert_from_spec(entry.cert)
    from ..k8s.kubeconfig import Overrides

    overrides = Overrides(**{**(base._asdict() if base else {}),
                             "context": entry.context or (base.context if base else None),
                             "kubeconfig": entry.kubeconfig or (base.kubeconfig if base else None),
                             "server": entry.server or (base.server if base else None)})
    pem = fetch_cluster_cert(overrides, namespace=entry.controller_namespace, name=entry.controller_name)
    return load_cert(pem, f"cluster {entry.name}")


def resolve_targets(*, certs: Sequence[str] = (), clusters: Sequence[str] = (), registry: str | None = None,
                    all_clusters: bool = False, keys_dir: str | None = None,
                    from_cluster: "Overrides | None" = None,
                    controller_name: str = DEFAULT_CONTROLLER_NAME,
                    controller_namespace: str = DEFAULT_CONTROLLER_NAMESPACE,
                    discover: bool = True, allow_expired: bool = False) -> list[Target]:
    """Every target asked for, in order, with unique names; certificates checked."""
    targets: list[Target] = []
    for spec in certs:
        targets.append(Target(_name_for(spec), cert_from_spec(spec)))
    if clusters or all_clusters:
        if registry is None:
            raise ConfigError("--cluster needs a cluster registry", hint="pass --clusters FILE")
        from .registry import load_registry

        entries = load_registry(registry)
        chosen = list(entries) if all_clusters else list(clusters)
        for name in chosen:
            if name not in entries:
                raise ConfigError(f"cluster {name!r} is not in the registry", where=registry,
                                  hint=f"known clusters: {', '.join(entries)}")
            targets.append(Target(name, cert_for_cluster(entries[name], from_cluster)))
    if keys_dir is not None:
        from pathlib import Path

        from .keys import KeyFolder

        folder = KeyFolder(keys_dir)
        targets.append(Target(Path(keys_dir).name or "keys", folder.newest().cert))
    if from_cluster is not None and not targets:
        pem = fetch_cluster_cert(from_cluster, namespace=controller_namespace, name=controller_name,
                                 discover=discover)
        targets.append(Target(from_cluster.context or "cluster", load_cert(pem, "cluster")))
    if not targets:
        raise KeyMaterialError("no sealing certificate given",
                               hint="pass --cert FILE|URL, --cluster NAME, --keys-dir DIR or --from-cluster")
    seen: dict[str, int] = {}
    unique = []
    for target in targets:
        target.cert.check_usable(allow_expired=allow_expired)
        count = seen.get(target.name, 0)
        seen[target.name] = count + 1
        unique.append(target if not count else Target(f"{target.name}-{count + 1}", target.cert))
    return unique
