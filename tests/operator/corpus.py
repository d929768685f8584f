"""One corpus of SealedSecrets (and the Secrets some of them meet), sealed for one certificate in one
namespace: every case the side-by-side and migration tests run through both controllers."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from secrets_kit.sealed.model import SealOptions, seal_secret
from secrets_kit.sealed.scopes import Scope
from tests.sealed.helpers import secret

from .support import b64
from .support import marker as new_marker


@dataclass
class Case:
    name: str
    sealed: dict[str, Any]
    existing: dict[str, Any] | None = None  # a Secret that is there before the SealedSecret
    plaintexts: list[str] = field(default_factory=list)


def _moved(doc: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["metadata"]["name"] = name
    meta = (out["spec"].get("template") or {}).get("metadata") or {}
    meta.pop("name", None)
    return out


def build(ns: str, cert_pem: bytes, foreign_cert_pem: bytes, plain: dict[str, str] | None = None) -> list[Case]:
    """The corpus for namespace ns; pass the same `plain` dict to build another namespace's copy with
    the same plaintexts (so both controllers must produce the same data)."""
    values = {} if plain is None else plain

    def marker(what: str) -> str:
        if what not in values:
            values[what] = new_marker(what)
        return values[what]

    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    foreign = x509.load_pem_x509_certificate(foreign_cert_pem).public_key()
    cases: list[Case] = []

    def add(name: str, src: dict[str, Any], *, scope: Scope = Scope.STRICT, existing: dict[str, Any] | None = None,
            rename: str | None = None, public: Any = key, tweak: Any = None, values: list[str]) -> None:
        doc = seal_secret(src, public, SealOptions(scope=scope))
        if rename:
            doc = _moved(doc, rename)
        if tweak:
            tweak(doc)
        cases.append(Case(doc["metadata"]["name"], doc, existing, values))

    v = [marker("plain"), marker("binary")]
    add("plain", secret("plain", ns, string_data={"password": v[0], "empty": ""},
                        data={"blob": b64(b"\x00\xff" + v[1].encode())},
                        labels={"app": "web"}, annotations={"team": "payments"}), values=v)
    v = [marker("docker")]
    docker = secret("docker", ns, string_data={".dockerconfigjson": '{"auths":{"r":{"auth":"' + v[0] + '"}}}'})
    docker["type"] = "kubernetes.io/dockerconfigjson"
    add("docker", docker, values=v)
    v = [marker("user"), marker("pw")]

    def template_data(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["data"] = {"url": "postgres://{{ .user }}:{{ .password }}@db:5432/app"}

    add("templated", secret("templated", ns, string_data={"user": v[0], "password": v[1]}), tweak=template_data,
        values=v)
    v = [marker("noowner")]
    add("no-owner", secret("no-owner", ns, string_data={"k": v[0]},
                           annotations={"sealedsecrets.bitnami.com/skip-set-owner-references": "true"}), values=v)
    v = [marker("nswide")]
    add("nswide", secret("nswide-orig", ns, string_data={"k": v[0]}), scope=Scope.NAMESPACE_WIDE,
        rename="nswide", values=v)
    v = [marker("cluster")]
    add("cluster", secret("cluster-orig", "elsewhere", string_data={"k": v[0]}), scope=Scope.CLUSTER_WIDE,
        tweak=lambda d: (d["metadata"].update(namespace=ns, name="cluster"),
                         (d["spec"]["template"].get("metadata") or {}).pop("namespace", None),
                         (d["spec"]["template"].get("metadata") or {}).pop("name", None)), values=v)
    v = [marker("immutable")]
    frozen = secret("frozen", ns, string_data={"k": v[0]})
    frozen["immutable"] = True
    add("frozen", frozen, values=v)
    v = [marker("foreign")]
    add("foreign", secret("foreign", ns, string_data={"k": v[0]}), public=foreign, values=v)
    v = [marker("moved")]
    add("moved", secret("orig", ns, string_data={"k": v[0]}), rename="moved", values=v)
    v = [marker("taken")]
    add("taken", secret("taken", ns, string_data={"k": v[0]}), values=v,
        existing={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taken", "namespace": ns},
                  "data": {"theirs": b64("kept")}})
    for mode in ("managed", "patch"):
        v = [marker(mode)]
        add(mode, secret(mode, ns, string_data={"k": v[0]}, labels={"new": "1"}), values=v, existing={
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": mode, "namespace": ns, "labels": {"old": "1"},
                         "annotations": {f"sealedsecrets.bitnami.com/{mode}": "true"}},
            "data": {"old": b64("kept")}})
    cases.append(Case("garbled", {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                                  "metadata": {"name": "garbled", "namespace": ns},
                                  "spec": {"encryptedData": {"k": "%%% not base64 %%%"}}}))
    return cases
