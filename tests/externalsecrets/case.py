"""One differential case: the same store, remote values, objects and ExternalSecret, given to the
real ESO v0.16.2 and to ours; `expect` says what the managed Secret must look like.

The corpus (tests/externalsecrets/corpus.py, `CASES: list[Case]`) is written in this shape; the
harness (tests/externalsecrets/harness.py) runs a case in one namespace per controller.

Placeholders, replaced by the harness in every string of `store`, `external_secret` and
`extra_objects` before anything is created:
    {{VAULT_ADDR}}   the OpenBao peer's address (http://127.0.0.1:<port>)
    {{VAULT_TOKEN}}  a token the store may use (a Secret `vault-token`/`token` is created for it
                     in each namespace when the case is tagged "vault")
    {{NAMESPACE}}    the namespace the case runs in (differs per controller)
Names inside a case are namespace-local: the SecretStore is named `store` (the ES spec's
`secretStoreRef` may omit `name`/`kind`; the harness fills `{"name": "store", "kind": "SecretStore"}`),
the ExternalSecret is named after the case id unless `external_secret` carries `metadata`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, repr=False)
class Case:
    id: str
    # The SecretStore's spec.provider, e.g. {"fake": {"data": [{"key": "k", "value": "v"}]}} or a
    # Vault provider with "{{VAULT_ADDR}}" placeholders.
    store: dict[str, Any]
    # The ExternalSecret's spec only (target, data, dataFrom, refreshInterval, ...). A top-level
    # "metadata" key, if present, is used as the ES metadata (labels/annotations) and removed from
    # the spec.
    external_secret: dict[str, Any]
    # Vault cases: values to write before the run, {path: {key: value}}, path as `bao kv put`
    # takes it: "<mount>/<key>", e.g. {"secret/foo": {"user": "u"}} (kv v2 at "secret", kv v1 at
    # "secret_v1", as ESO's e2e configures Vault). Values may be any JSON.
    # AWS cases (tag "aws"; the store reads moto with the keys of the Secret `aws-creds` the harness
    # creates): {"secretsmanager:<name>": {"versions": [{"value": str, "id": uuid?}, ...], "tags": {}},
    #  "ssm:<name>": {"versions": [str, ...]}}; a secret's last version is AWSCURRENT and the one
    # before AWSPREVIOUS, a parameter's versions are 1, 2, ...; names live under corpus/<case id>/.
    remote: dict[str, dict[str, Any]] | None = None
    # ConfigMaps/Secrets (full objects without metadata.namespace) to create before the store.
    extra_objects: list[dict[str, Any]] = field(default_factory=list)
    # The managed Secret expected: {"type": ..., "data": {key: str}, "labels": {subset},
    # "annotations": {subset}}; None = no Secret expected (or not checked).
    expect: dict[str, Any] | None = None
    # Expected ExternalSecret status: Ready condition status ("True"/"False") and reason.
    ready: str = "True"
    reason: str = "SecretSynced"
    tags: frozenset[str] = frozenset()
    # More of the store's spec beside `provider`, placeholders replaced (e.g. a ClusterSecretStore's
    # "conditions"; without it the harness gives a ClusterSecretStore `conditions: [{namespaces: [ns]}]`).
    store_spec: dict[str, Any] | None = None

    def __repr__(self) -> str:
        # pytest shows a failing test's parameters: the id only, never the remote values
        return f"Case(id={self.id!r})"
