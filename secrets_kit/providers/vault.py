"""HashiCorp Vault / OpenBao KV v1 and v2 through hvac, with argocd-vault-plugin's path semantics.

Paths are API paths as AVP writes them, mount included:
- KV v2: `<path:secret/data/app#key>` (the `data/` segment is part of the path), an optional
  `#version` pins a KV v2 version; the secret's `data.data` object is the map;
- KV v1: `<path:kv/app#key>`; versions do not exist there.
The engine version comes from `kv_version` (AVP_KV_VERSION, default 2, as AVP); a read's
`RemoteRef.kv_version` (AVP's per-resource `avp.kubernetes.io/kv-version`) overrides it.

Connection and credentials come from the sidecar's trusted environment only (the names
argocd-vault-plugin and the Vault CLI use; the `ARGOCD_ENV_` copies AVP also reads are
written by application authors and are ignored here):
- VAULT_ADDR (required), VAULT_NAMESPACE, VAULT_CACERT, VAULT_SKIP_VERIFY;
- AVP_AUTH_TYPE = token | approle | k8s | userpass; when unset, the first of VAULT_TOKEN,
  AVP_ROLE_ID, AVP_K8S_ROLE, AVP_USERNAME that is set picks it;
- token: VAULT_TOKEN; approle: AVP_ROLE_ID, AVP_SECRET_ID, AVP_MOUNT_PATH (default
  auth/approle); k8s: AVP_K8S_ROLE, AVP_K8S_MOUNT_PATH (else AVP_MOUNT_PATH, default
  auth/kubernetes), AVP_K8S_TOKEN_PATH (default the pod's service-account token);
  userpass: AVP_USERNAME, AVP_PASSWORD, AVP_MOUNT_PATH (default auth/userpass);
- AVP_PATH_VALIDATION: a regex every path must match (AVP's guard against traversal).
Nothing is cached on disk (unlike AVP's ~/.avp/config.json); a token obtained by a login is
revoked on `close()` (External Secrets Operator does the same to avoid lease pile-ups).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..clients import vault
from ..clients.failure import Failure, Kind
from ..errors import ConfigError, KeyMaterialError, ProviderError, SecretsKitError
from .base import FindSpec, Provider, RemoteRef, as_bytes, extract_property, value_map

AUTH_TYPES = ("token", "approle", "k8s", "userpass")
TIMEOUT = 15  # seconds per request: Argo CD gives a render about 60 s

# config key -> environment variable
ENV_SETTINGS = {
    "address": "VAULT_ADDR",
    "token": "VAULT_TOKEN",
    "namespace": "VAULT_NAMESPACE",
    "cacert": "VAULT_CACERT",
    "skip_verify": "VAULT_SKIP_VERIFY",
    "avp_type": "AVP_TYPE",
    "auth_type": "AVP_AUTH_TYPE",
    "role_id": "AVP_ROLE_ID",
    "secret_id": "AVP_SECRET_ID",
    "mount_path": "AVP_MOUNT_PATH",
    "k8s_role": "AVP_K8S_ROLE",
    "k8s_mount_path": "AVP_K8S_MOUNT_PATH",
    "k8s_token_path": "AVP_K8S_TOKEN_PATH",
    "username": "AVP_USERNAME",
    "password": "AVP_PASSWORD",
    "kv_version": "AVP_KV_VERSION",
    "path_validation": "AVP_PATH_VALIDATION",
}


def settings_from(config: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Config keys win over the environment; empty values count as unset."""
    out: dict[str, str] = {}
    for key, var in ENV_SETTINGS.items():
        value = config.get(key)
        if value is None or value == "":
            value = env.get(var)
        if value is not None and str(value) != "":
            out[key] = str(value)
    return out


class VaultProvider(Provider):
    kind = "vault"

    def __init__(self, settings: Mapping[str, str]) -> None:
        self._settings = dict(settings)
        self.address = self._settings.get("address", "")
        if not self.address:
            raise ConfigError("the vault provider needs VAULT_ADDR", where="vault",
                              hint="set VAULT_ADDR in the sidecar's environment")
        avp_type = self._settings.get("avp_type")
        if avp_type and avp_type != "vault":
            raise ConfigError(f"AVP_TYPE is {avp_type!r} but the vault provider was chosen", where="vault")
        self.kv_version = self._settings.get("kv_version", "2")
        if self.kv_version not in ("1", "2"):
            raise ConfigError(f"AVP_KV_VERSION must be 1 or 2, not {self.kv_version!r}", where="vault")
        pattern = self._settings.get("path_validation")
        try:
            self._path_check = re.compile(pattern) if pattern else None
        except re.error:
            raise ConfigError("AVP_PATH_VALIDATION is not a valid regular expression", where="vault") from None
        self.auth_type = self._auth_type()
        self.client = vault.VaultClient(
            vault.VaultSettings(address=self.address, namespace=self._settings.get("namespace"),
                                cacert=self._settings.get("cacert"),
                                skip_verify=vault.truthy(self._settings.get("skip_verify", "")), timeout=TIMEOUT),
            self._auth())
        self.reads = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VaultProvider:
        env = config.get("env")
        return cls(settings_from(config, env if isinstance(env, Mapping) else os.environ))

    # ------------------------------------------------------------------------------ auth

    def _auth_type(self) -> str:
        explicit = self._settings.get("auth_type")
        if explicit:
            if explicit not in AUTH_TYPES:
                raise ConfigError(f"unsupported AVP_AUTH_TYPE {explicit!r}", where="vault",
                                  hint="supported: " + ", ".join(AUTH_TYPES))
            return explicit
        for key, kind in (("token", "token"), ("role_id", "approle"), ("k8s_role", "k8s"), ("username", "userpass")):
            if key in self._settings:
                return kind
        raise KeyMaterialError("no Vault credentials configured", where=f"vault {self.address}",
                               hint="set VAULT_TOKEN, AVP_ROLE_ID/AVP_SECRET_ID, AVP_K8S_ROLE or "
                                    "AVP_USERNAME/AVP_PASSWORD (with AVP_AUTH_TYPE) in the sidecar's environment")

    def _auth(self) -> vault.Auth:
        """The login AVP's settings describe (after checking that each one it needs is set)."""
        needed = {"token": ("token",), "approle": ("role_id", "secret_id"), "k8s": ("k8s_role",),
                  "userpass": ("username", "password")}[self.auth_type]
        missing = [ENV_SETTINGS[key] for key in needed if key not in self._settings]
        if missing:
            raise KeyMaterialError(f"{self.auth_type} authentication needs {' and '.join(missing)}",
                                   where=f"vault {self.address}")
        s = self._settings
        if self.auth_type == "token":
            return vault.TokenAuth(s["token"])
        if self.auth_type == "approle":
            return vault.AppRoleAuth(s["role_id"], s["secret_id"], mount=s.get("mount_path", "auth/approle"))
        if self.auth_type == "k8s":
            return vault.KubernetesAuth(s["k8s_role"], token_path=s.get("k8s_token_path", vault.K8S_TOKEN_PATH),
                                        mount=s.get("k8s_mount_path") or s.get("mount_path") or "auth/kubernetes")
        return vault.UserpassAuth(s["username"], s["password"], mount=s.get("mount_path", "auth/userpass"))

    # ------------------------------------------------------------------------------ calls

    def _hints(self, path: str | None, kv_version: str | None = None) -> dict[Kind, str]:
        hints = {Kind.DENIED: "the token's policy does not allow this path"}
        not_found = self._not_found_hint(path, kv_version)
        if not_found:
            hints[Kind.NOT_FOUND] = not_found
        return hints

    def _kv(self, ref: RemoteRef) -> str:
        """The KV engine version for one read: the ref's override, else AVP_KV_VERSION."""
        if ref.kv_version is None:
            return self.kv_version
        kv = str(ref.kv_version).strip()
        if kv not in ("1", "2"):
            raise ProviderError(f"the KV version must be 1 or 2, not {ref.kv_version!r}",
                                where=f"vault {self.address}: {ref.key}",
                                hint='set avp.kubernetes.io/kv-version to "1" or "2"')
        return kv

    def canonical(self, ref: RemoteRef) -> RemoteRef:
        kv = None if ref.kv_version is None else str(ref.kv_version).strip()
        return RemoteRef(ref.key, ref.property, ref.version, None if kv in (None, self.kv_version) else kv)

    def _not_found_hint(self, path: str | None, kv_version: str | None = None) -> str | None:
        if path is None:
            return None
        if (kv_version or self.kv_version) == "2" and "/data/" not in f"/{path}":
            return "KV v2 paths include data/ after the mount, e.g. secret/data/app (or set AVP_KV_VERSION=1)"
        return "check the path and the version"

    def _read(self, path: str, version: str | None, kv_version: str) -> Any:
        return self.client.read(path, params={"version": version} if version else None,
                                hints=self._hints(path, kv_version))

    def _data(self, ref: RemoteRef) -> dict[str, Any]:
        path = ref.key.strip().strip("/")
        where = f"vault {self.address}: {path}"
        if not path or ".." in path.split("/"):
            raise ProviderError("invalid Vault path", where=where)
        if self._path_check is not None and not self._path_check.search(path):
            raise ProviderError("the path does not match AVP_PATH_VALIDATION", where=where)
        kv_version = self._kv(ref)
        if ref.version and kv_version == "1":
            raise ProviderError("KV v1 has no versions", where=where, hint="drop the #version, or use KV v2")
        if ref.version and not ref.version.isdigit():
            raise ProviderError(f"KV v2 version must be a number, not {ref.version!r}", where=where)
        body = self._read(path, ref.version, kv_version)
        self.reads += 1
        data = body.get("data") if isinstance(body, dict) else None
        if kv_version == "2":
            if isinstance(data, dict) and isinstance(data.get("data"), dict):
                return dict(data["data"])
            if isinstance(data, dict) and "data" in data and data["data"] is None:
                raise ProviderError("this version is deleted or destroyed", where=where)
            raise ProviderError("not a KV v2 secret", where=where, hint=self._not_found_hint(path, kv_version)
                                or "check that the mount is KV v2, or set AVP_KV_VERSION=1")
        if not isinstance(data, dict):
            raise ProviderError("no secret data at this path", where=where)
        return dict(data)

    # ------------------------------------------------------------------------------ interface

    def get_secret(self, ref: RemoteRef) -> bytes:
        data = self._data(ref)
        return extract_property(as_bytes(data), ref.property, f"vault: {ref.describe()}")

    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        data = self._data(ref)
        if not ref.property:
            return {str(key): as_bytes(value) for key, value in data.items()}
        return value_map(as_bytes(data), ref.property, f"vault: {ref.describe()}")

    def _list(self, path: str) -> list[str]:
        def missing_is_empty(failure: Failure) -> SecretsKitError | None:
            return _Empty("nothing listed") if failure.kind is Kind.NOT_FOUND else None

        try:
            body = self.client.list(path, refine=missing_is_empty)
        except _Empty:
            return []
        keys = (body or {}).get("data", {}).get("keys", []) if isinstance(body, dict) else []
        return [str(k) for k in keys]

    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        """Every secret under `spec.path` (written as in a placeholder: `secret/data/apps/` for KV v2),
        filtered by a regex on the full path and, on KV v2, by custom_metadata tags."""
        if not spec.path:
            raise ProviderError("finding Vault secrets needs a path (the mount and a prefix)", where="vault")
        base = spec.path.strip("/")
        if self.kv_version == "2":
            mount, sep, rest = base.partition("/data")
            if not sep or (rest and not rest.startswith("/")):
                raise ProviderError("a KV v2 find path includes data/ after the mount", where=f"vault: {base}")
            list_root, data_root = f"{mount}/metadata{rest}", f"{mount}/data{rest}"
        elif spec.tags:
            raise ProviderError("KV v1 secrets carry no tags (custom_metadata is KV v2 only)", where=f"vault: {base}")
        else:
            list_root = data_root = base
        pattern = re.compile(spec.name_regex) if spec.name_regex else None
        found: dict[str, bytes] = {}
        pending = [""]
        while pending:
            prefix = pending.pop()
            for key in self._list(f"{list_root}/{prefix}".rstrip("/")):
                if key.endswith("/"):
                    pending.append(prefix + key)
                    continue
                full = f"{data_root}/{prefix}{key}"
                if pattern is not None and not pattern.search(full):
                    continue
                if spec.tags and not self._tags_match(f"{list_root}/{prefix}{key}", spec.tags):
                    continue
                found[full] = as_bytes(self._data(RemoteRef(full)))
        return dict(sorted(found.items()))

    def _tags_match(self, metadata_path: str, tags: Mapping[str, str]) -> bool:
        body = self.client.read(metadata_path, what="read metadata", hints=self._hints(metadata_path))
        custom = (body or {}).get("data", {}).get("custom_metadata") or {}
        return all(custom.get(k) == v for k, v in tags.items())

    def validate(self) -> None:
        self.client.check_token()

    def close(self) -> None:
        self.client.close()


class _Empty(ProviderError):
    """A listing that found nothing (Vault answers 404): an empty result, not an error."""

