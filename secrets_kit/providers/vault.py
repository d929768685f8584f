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

import contextlib
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, KeyMaterialError, ProviderError
from ..vault_client import open_client
from .base import FindSpec, Provider, RemoteRef, as_bytes, extract_property, value_map

K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
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


def _mount(path: str | None, default: str) -> str:
    """hvac's mount_point from AVP's mount path (`auth/approle`, `/auth/approle` or `approle`)."""
    text = (path or default).strip("/")
    return text[len("auth/"):] if text.startswith("auth/") else text


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
        self._check_credentials()
        self._client: Any = None
        self._logged_in = False  # True when the token came from a login (and is ours to revoke)
        self._lock = threading.Lock()
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

    def _check_credentials(self) -> None:
        needed = {"token": ("token",), "approle": ("role_id", "secret_id"), "k8s": ("k8s_role",),
                  "userpass": ("username", "password")}[self.auth_type]
        missing = [ENV_SETTINGS[key] for key in needed if key not in self._settings]
        if missing:
            raise KeyMaterialError(f"{self.auth_type} authentication needs {' and '.join(missing)}",
                                   where=f"vault {self.address}")

    def _k8s_jwt(self) -> str:
        path = Path(self._settings.get("k8s_token_path", K8S_TOKEN_PATH))
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as ex:
            raise KeyMaterialError(f"cannot read the service-account token: {ex.strerror}", where=str(path),
                                   hint="mount a projected service-account token or set AVP_K8S_TOKEN_PATH") from None
        if not token:
            raise KeyMaterialError("the service-account token file is empty", where=str(path))
        return token

    def _login(self, client: Any) -> None:
        s = self._settings
        if self.auth_type == "token":
            client.token = s["token"]
            return
        if self.auth_type == "approle":
            self._call("AppRole login", lambda: client.auth.approle.login(
                s["role_id"], s["secret_id"], mount_point=_mount(s.get("mount_path"), "auth/approle")), login=True)
        elif self.auth_type == "k8s":
            mount = _mount(s.get("k8s_mount_path") or s.get("mount_path"), "auth/kubernetes")
            jwt = self._k8s_jwt()
            self._call("Kubernetes login", lambda: client.auth.kubernetes.login(
                s["k8s_role"], jwt, mount_point=mount), login=True)
        else:
            self._call("userpass login", lambda: client.auth.userpass.login(
                s["username"], s["password"], mount_point=_mount(s.get("mount_path"), "auth/userpass")), login=True)
        self._logged_in = True

    def _hvac(self) -> Any:
        with self._lock:
            if self._client is None:
                client = open_client(self.address, self._settings, token=None, timeout=TIMEOUT)
                client.token = None  # hvac falls back to VAULT_TOKEN / ~/.vault-token: log in explicitly
                self._login(client)
                self._client = client
            return self._client

    # ------------------------------------------------------------------------------ calls

    def _call(self, what: str, fn: Any, *, path: str | None = None, login: bool = False,
              kv_version: str | None = None) -> Any:
        import hvac.exceptions
        import requests

        where = f"vault {self.address}" + (f": {path}" if path else "")
        try:
            return fn()
        except hvac.exceptions.Forbidden:
            hint = ("check the role, its bound service account and the credentials" if login
                    else "the token's policy does not allow this path")
            raise ProviderError(f"{what}: permission denied", where=where, hint=hint) from None
        except hvac.exceptions.InvalidRequest:
            if login:
                raise ProviderError(f"{what} refused the credentials", where=where) from None
            raise ProviderError(f"{what}: invalid request", where=where) from None
        except hvac.exceptions.InvalidPath:
            raise ProviderError(f"{what}: not found", where=where, hint=self._not_found_hint(path, kv_version)) from None
        except hvac.exceptions.VaultError as ex:
            raise ProviderError(f"{what} failed: {type(ex).__name__}", where=where) from None
        except requests.exceptions.SSLError:
            raise ProviderError(f"{what}: TLS verification failed", where=where,
                                hint="set VAULT_CACERT to the server's CA bundle") from None
        except requests.exceptions.RequestException as ex:
            raise ProviderError(f"{what}: Vault is unreachable ({type(ex).__name__})", where=where,
                                hint="check VAULT_ADDR and the network path from the sidecar") from None

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
        client = self._hvac()
        params = {"version": version} if version else None

        def read() -> Any:
            response = client.adapter.get(f"/v1/{path}", params=params)
            return response.json() if hasattr(response, "json") else response

        return self._call("read", read, path=path, kv_version=kv_version)

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
        client = self._hvac()

        def listing() -> Any:
            response = client.adapter.list(f"/v1/{path}")
            return response.json() if hasattr(response, "json") else response

        try:
            body = self._call("list", listing, path=path)
        except ProviderError as err:
            if err.message.endswith("not found"):
                return []
            raise
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
        client = self._hvac()

        def read() -> Any:
            response = client.adapter.get(f"/v1/{metadata_path}")
            return response.json() if hasattr(response, "json") else response

        body = self._call("read metadata", read, path=metadata_path)
        custom = (body or {}).get("data", {}).get("custom_metadata") or {}
        return all(custom.get(k) == v for k, v in tags.items())

    def validate(self) -> None:
        client = self._hvac()
        self._call("token check (auth/token/lookup-self)", lambda: client.auth.token.lookup_self())

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is None:
            return
        if self._logged_in:
            with contextlib.suppress(Exception):  # best effort: the token expires on its own
                client.auth.token.revoke_self()
        with contextlib.suppress(Exception):
            client.adapter.close()

