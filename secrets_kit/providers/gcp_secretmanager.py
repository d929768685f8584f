"""GCP Secret Manager through google-cloud-secret-manager.

Paths, as argocd-vault-plugin writes them: `<path:projects/P/secrets/S#key>`, optionally
`#version` (a number or `latest`, the default); `projects/P/secrets/S/versions/V` is accepted
too, and a bare secret id `S` uses the default project. AVP maps a secret to
`{S: <payload>}`, so `<path:projects/P/secrets/S#S>` is the whole value; when the payload is a
JSON object its keys are in the map as well (`<path:projects/P/secrets/S#password>`).

- `get_secret(ref)`: AccessSecretVersion; `ref.property` reads one JSON property;
- `get_secret_map(ref)`: as above;
- `find_secrets(spec)`: ListSecrets in the project (`spec.path` = `projects/P`, else the default),
  labels as tags, a regex on the secret id; then the latest version of each;
- `validate()`: fetches an access token (ADC), or, against an emulator, lists one secret.

Settings from the sidecar's trusted environment:
- SECRETS_KIT_GCP_SM_ENDPOINT: an endpoint override. `http://host:port` or a bare `host:port`
  is an emulator: REST transport over plain HTTP with anonymous credentials. `https://...`
  keeps Application Default Credentials and uses the REST transport;
- SECRETS_KIT_GCP_PROJECT (else GOOGLE_CLOUD_PROJECT): the default project;
- credentials otherwise through Application Default Credentials (workload identity,
  GOOGLE_APPLICATION_CREDENTIALS).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from ..clients import gcp
from ..clients.failure import Kind
from ..errors import ConfigError, ProviderError
from .base import FindSpec, Provider, RemoteRef, as_bytes, extract_property, value_map

TIMEOUT = 15.0
_PATH = re.compile(r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)(?:/versions/(?P<version>[^/]+))?\Z")
_ID = re.compile(r"[A-Za-z0-9_-]{1,255}\Z")


class GcpSecretManagerProvider(Provider):
    kind = "gcp-secretmanager"

    def __init__(self, *, endpoint: str | None = None, project: str | None = None) -> None:
        self.endpoint = endpoint or None
        self.project = project or None
        self._emulator = False
        if self.endpoint:
            if "://" not in self.endpoint:
                self.endpoint = "http://" + self.endpoint
            if not self.endpoint.startswith(("http://", "https://")):
                raise ConfigError("SECRETS_KIT_GCP_SM_ENDPOINT must be http://HOST:PORT or https://HOST",
                                  where="gcp-secretmanager")
            self._emulator = self.endpoint.startswith("http://")
        # An endpoint override speaks REST; plain http:// is an emulator (anonymous).
        self._gcp = gcp.GcpSession(gcp.GcpSettings(
            anonymous=self._emulator, transport="rest" if self.endpoint else "grpc", endpoint=self.endpoint,
            timeout=TIMEOUT, retry=False))
        self.reads = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GcpSecretManagerProvider:
        env = config.get("env")
        source: Mapping[str, str] = env if isinstance(env, Mapping) else os.environ
        endpoint = config.get("endpoint") or source.get("SECRETS_KIT_GCP_SM_ENDPOINT") or None
        project = (config.get("project") or source.get("SECRETS_KIT_GCP_PROJECT")
                   or source.get("GOOGLE_CLOUD_PROJECT") or None)
        return cls(endpoint=endpoint, project=project)

    @property
    def _where(self) -> str:
        return f"gcp-secretmanager {self.endpoint}" if self.endpoint else "gcp-secretmanager"

    def _call(self, what: str, where: str, operation: str, **kwargs: Any) -> Any:
        """Run one API call (`operation` is the client method), the client built inside; never a value."""
        def run() -> Any:
            result = getattr(self._gcp.secret_manager(), operation)(**kwargs, **self._gcp.call_options())
            if self.project is None and self._gcp.project:
                self.project = self._gcp.project  # ADC's project is the default, as for gcloud
            return result

        return gcp.call(run, service="Secret Manager", what=what, where=where, hints=HINTS)

    def _name(self, ref: RemoteRef) -> tuple[str, str, str]:
        """(resource name of the version, secret id, where) for `ref`."""
        key = ref.key.strip().strip("/")
        match = _PATH.match(key)
        if match:
            project, secret, version = match["project"], match["secret"], match["version"]
        elif _ID.match(key):
            if not self.project:
                raise ConfigError(f"secret {key!r} has no project and no default project is set",
                                  where="gcp-secretmanager",
                                  hint="write projects/P/secrets/S, or set SECRETS_KIT_GCP_PROJECT")
            project, secret, version = self.project, key, None
        else:
            raise ProviderError("the path is not projects/PROJECT/secrets/SECRET[/versions/V]",
                                where=f"gcp-secretmanager: {key}")
        if ref.version and version and ref.version != version:
            raise ProviderError("two different versions given", where=f"gcp-secretmanager: {key}")
        version = ref.version or version or "latest"
        secret_path = f"projects/{project}/secrets/{secret}"
        return f"{secret_path}/versions/{version}", secret, f"gcp-secretmanager: {secret_path} (version {version})"

    def _value(self, ref: RemoteRef) -> tuple[bytes, str]:
        name, secret, where = self._name(ref)
        out = self._call("AccessSecretVersion", where, "access_secret_version", name=name)
        self.reads += 1
        return bytes(out.payload.data), secret

    def get_secret(self, ref: RemoteRef) -> bytes:
        value, _ = self._value(ref)
        return extract_property(value, ref.property, f"gcp-secretmanager: {ref.describe()}")

    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        value, secret = self._value(ref)
        where = f"gcp-secretmanager: {ref.describe()}"
        if ref.property:
            return value_map(value, ref.property, where)
        out: dict[str, bytes] = {}
        try:
            document = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            document = None
        if isinstance(document, dict):
            out.update({str(k): as_bytes(v) for k, v in document.items()})
        out.setdefault(secret, value)  # AVP: {secret id: payload}
        return out

    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        parent = (spec.path or (f"projects/{self.project}" if self.project else "")).strip("/")
        if not re.fullmatch(r"projects/[^/]+", parent):
            raise ConfigError("finding GCP secrets needs a project: path projects/P or SECRETS_KIT_GCP_PROJECT",
                              where="gcp-secretmanager")
        pattern = re.compile(spec.name_regex) if spec.name_regex else None
        request: dict[str, Any] = {"parent": parent}
        if spec.tags:
            request["filter"] = " AND ".join(f"labels.{k}={v}" for k, v in sorted(spec.tags.items()))
        where = f"gcp-secretmanager: {parent}"
        pager = self._call("ListSecrets", where, "list_secrets", request=request)
        # Later pages are fetched lazily, while iterating: the same error map applies.
        secrets = gcp.call(lambda: list(pager), service="Secret Manager", what="ListSecrets", where=where,
                           hints=HINTS)
        names: list[str] = []
        for secret in secrets:
            name = str(secret.name)
            secret_id = name.rsplit("/", 1)[-1]
            labels = dict(secret.labels)
            if pattern is not None and not pattern.search(secret_id):
                continue
            if any(labels.get(k) != v for k, v in spec.tags.items()):
                continue
            names.append(name)
        return {name: self._value(RemoteRef(name))[0] for name in sorted(names)}

    def validate(self) -> None:
        if self._emulator:
            parent = f"projects/{self.project or 'secrets-kit-probe'}"
            self._call("reachability check (ListSecrets)", self._where, "list_secrets",
                       request={"parent": parent, "page_size": 1})
            return
        gcp.call(self._gcp.refresh, service="Secret Manager", what="credential check (access token)",
                 where=self._where, hints=HINTS)

    def close(self) -> None:
        self._gcp.close()


HINTS = {
    Kind.NOT_FOUND: "check the project, the secret id and the version",
    Kind.DENIED: "grant the sidecar's identity roles/secretmanager.secretAccessor",
    Kind.CREDENTIALS_MISSING: "use workload identity or set GOOGLE_APPLICATION_CREDENTIALS",
    Kind.PRECONDITION: "the version is disabled or destroyed",
    Kind.UNREACHABLE: "check the endpoint and the network path from the sidecar",
}
