"""ESO's Vault provider (pkg/provider/vault, v0.16.2) on the shared `clients.vault.VaultClient`.

Facts kept from ESO:
- paths: `buildPath` (the mount in `path` is stripped from a key and put back with `/data` for
  KV v2; without `path`, v2 inserts `data` after the first segment unless `/data/` is there) and
  `buildMetadataPath` (v2 without `path` needs `data` in the key); version v2 by default;
- a read is GET /v1/<path>?version=N; a 404 (or v2 `data: null`: deleted/destroyed) is
  NoSecretError; the map is `.data.data` (v2) or `.data` (v1); numbers are Vault's literals
  (the Go client decodes with UseNumber);
- property: empty -> the whole map as Go's json.Marshal; an exact top-level key first (maps and
  arrays as JSON, numbers as written, bools); else a gjson path; missing -> "cannot find secret
  data for key: %q";
- extract: the GetSecret bytes decoded as a JSON object (numbers become float64: FormatFloat 'f');
- metadataPolicy Fetch (v2 only): the secret's custom_metadata;
- find: LIST <mount>/metadata/<path>/ recursively, then by name (RE2) a GET per match, or by tags
  (v2 only) a metadata GET per candidate and a GET per match; keys are the relative paths;
- auth: tokenSecretRef, appRole (roleId|roleRef + secretRef), kubernetes (serviceAccountRef ->
  TokenRequest, 600 s; secretRef, key `token` by default; else the pod's own token), ldap,
  userPass, jwt (secretRef | kubernetesServiceAccountToken, audiences default ["vault"], 600 s);
  `auth.namespace` applies to the login only; `namespace`, `headers`, `caBundle`, `caProvider`.

Differences on purpose: the client (and its token) is kept across reconciles and renewed with
`ensure_token` instead of a login + revoke per reconcile; raw reads are single-flight and cached
for `cache_seconds`, so concurrent reconciles reading one path cost one request; errors never
quote a value. Not supported (refused with a clear error): cert, iam and gcp auth, mTLS
(`tls`), retrySettings (hvac does not retry).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...clients import vault as shared
from ...clients.extras import require
from ...clients.failure import Kind
from ...errors import ProviderError, SecretsKitError
from ..refs import METADATA_FETCH, FindRef, NoSecretError, RemoteRef, Validation
from . import _gojson
from ._context import ProviderThreads, StoreContext, compile_regexp
from ._context import on_loop as _on_loop
from ._reads import SharedReads

NAME = "vault"
PROVIDER = "HashiCorp/Vault"  # ESO's provider label in externalsecret_provider_api_calls_count
CACHE_SECONDS = 1.0  # how long a raw read answers again without a request
FIND_CONCURRENCY = 8
TOKEN_REQUEST_SECONDS = 600

ERR_AUTH_FORMAT = "cannot initialize Vault client: no valid auth method specified"
ERR_APPROLE_ID = "invalid Auth.AppRole: neither `roleId` nor `roleRef` was supplied"
ERR_JWT_SOURCE = ("neither `secretRef` nor `kubernetesServiceAccountToken` was supplied as token source for "
                  "jwt authentication")
ERR_DATA_FIELD = "failed to find data field"
ERR_JSON = "failed to unmarshall JSON"
ERR_PATH_INVALID = "provided Path isn't a valid kv v2 path"
ERR_METADATA_V1 = "cannot perform metadata fetch operations with kv version v1"
ERR_TAGS_V1 = "cannot perform find by tag operations with kv version v1"
ERR_NOT_FOUND = "secret not found"
UNSUPPORTED_AUTH = ("cert", "iam", "gcp")
AUTH_METHODS = ("tokenSecretRef", "appRole", "kubernetes", "ldap", "userPass", "jwt", *UNSUPPORTED_AUTH)

_T = TypeVar("_T")


def go_quote(text: str) -> str:
    """Go's %q for the texts ESO quotes in its errors (a property name, a service account)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


# ---------------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class VaultStoreSpec:
    server: str
    path: str | None
    version: str  # "v1" | "v2"
    namespace: str | None
    headers: Mapping[str, str]
    auth: Mapping[str, Any]
    auth_method: str | None

    @property
    def v2(self) -> bool:
        return self.version == "v2"

    def build_path(self, key: str) -> str:
        """ESO's buildPath."""
        out = key
        if self.path is not None:
            cut = self.path + "/"
            if out.startswith(cut):
                out = out.split(cut, 1)[1]
                if out.startswith("data/") and self.v2:
                    out = out.split("data/", 1)[1]
            mount = self.path.split("/") + (["data"] if self.v2 else [])
            return "/".join(mount + out.split("/"))
        if "/data/" not in out and self.v2:
            parts = out.split("/")
            return "/".join([parts[0], "data", *parts[1:]])
        return out

    def metadata_path(self, key: str, where: str) -> str:
        """ESO's buildMetadataPath."""
        if not self.v2:
            return f"{self.path}/{key}"
        if self.path is None:
            if "data" not in key:
                raise ProviderError(ERR_PATH_INVALID, where=where)
            return key.replace("/data/", "/metadata/", 1)
        return f"{self.path}/metadata/{key}"


def parse_spec(spec: Mapping[str, Any], where: str) -> VaultStoreSpec:
    server = spec.get("server")
    if not isinstance(server, str) or not server:
        raise ProviderError("spec.provider.vault.server is required", where=where)
    version = spec.get("version") or "v2"
    if version not in ("v1", "v2"):
        raise ProviderError(f"spec.provider.vault.version must be v1 or v2, not {version!r}", where=where)
    path = spec.get("path")
    if path is not None and not isinstance(path, str):
        raise ProviderError("spec.provider.vault.path must be a string", where=where)
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise ProviderError("spec.provider.vault.headers must map names to strings", where=where)
    headers = dict(headers)
    if spec.get("readYourWrites") and spec.get("forwardInconsistent"):
        headers["X-Vault-Inconsistent"] = "forward-active-node"
    auth = spec.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ProviderError("spec.provider.vault.auth must be an object", where=where)
    methods = [m for m in AUTH_METHODS if auth.get(m) is not None]
    if len(methods) > 1:
        raise ProviderError("spec.provider.vault.auth takes exactly one method, not "
                            + ", ".join(methods), where=where)
    return VaultStoreSpec(server=server, path=path, version=version, namespace=spec.get("namespace") or None,
                          headers=headers, auth=auth, auth_method=methods[0] if methods else None)


def _selector_ns_check(ctx: StoreContext, ref: Any, message: str) -> None:
    """utils.ValidateReferent*Selector: a namespaced store's ref may only name the store's namespace."""
    if isinstance(ref, Mapping) and not ctx.cluster and ref.get("namespace") and ref["namespace"] != ctx.namespace:
        from ._context import NAMESPACE_NOT_ALLOWED

        raise ProviderError(f"{message}: {NAMESPACE_NOT_ALLOWED}", where=ctx.where)


def check_spec(spec: Mapping[str, Any], ctx: StoreContext) -> None:
    """ESO's ValidateStore, plus the fields we need (server, one auth method, supported methods)."""
    s = parse_spec(spec, ctx.where)
    a = s.auth
    if s.auth_method is None:
        raise ProviderError(ERR_AUTH_FORMAT, where=ctx.where)
    if s.auth_method in UNSUPPORTED_AUTH:
        raise ProviderError(f"Vault auth method {s.auth_method!r} is not supported by secrets-kit",
                            where=ctx.where, hint="use tokenSecretRef, appRole, kubernetes, ldap, userPass or jwt")
    if spec.get("tls") and (spec["tls"].get("certSecretRef") or spec["tls"].get("keySecretRef")):
        raise ProviderError("Vault client TLS (spec.provider.vault.tls) is not supported by secrets-kit",
                            where=ctx.where)
    if a.get("appRole") is not None:
        app = a["appRole"]
        _selector_ns_check(ctx, app.get("secretRef"), "invalid Auth.AppRole.SecretRef")
        if not app.get("roleId"):
            if app.get("roleRef") is None:
                raise ProviderError(ERR_APPROLE_ID, where=ctx.where)
            _selector_ns_check(ctx, app.get("roleRef"), "invalid Auth.AppRole.RoleRef")
    if a.get("jwt") is not None:
        jwt = a["jwt"]
        if jwt.get("secretRef") is not None:
            _selector_ns_check(ctx, jwt["secretRef"], "invalid Auth.Jwt.SecretRef")
        elif jwt.get("kubernetesServiceAccountToken") is not None:
            _selector_ns_check(ctx, jwt["kubernetesServiceAccountToken"].get("serviceAccountRef"),
                               "invalid Auth.Jwt.KubernetesServiceAccountToken.ServiceAccountRef")
        else:
            raise ProviderError(ERR_JWT_SOURCE, where=ctx.where)
    if a.get("kubernetes") is not None:
        kube = a["kubernetes"]
        _selector_ns_check(ctx, kube.get("serviceAccountRef"), "invalid Auth.Kubernetes.ServiceAccountRef")
        _selector_ns_check(ctx, kube.get("secretRef"), "invalid Auth.Kubernetes.SecretRef")
    if a.get("ldap") is not None:
        _selector_ns_check(ctx, a["ldap"].get("secretRef"), "invalid Auth.Ldap.SecretRef")
    if a.get("userPass") is not None:
        _selector_ns_check(ctx, a["userPass"].get("secretRef"), "invalid Auth.UserPass.SecretRef")
    if a.get("tokenSecretRef") is not None:
        _selector_ns_check(ctx, a["tokenSecretRef"], "invalid Auth.TokenSecretRef")


def _no_ns(ref: Any) -> bool:
    return isinstance(ref, Mapping) and not ref.get("namespace")


def is_referent(spec: Mapping[str, Any]) -> bool:
    """ESO's isReferentSpec: a ClusterSecretStore credential ref without a namespace."""
    a = spec.get("auth") or {}
    if a.get("tokenSecretRef") is not None and _no_ns(a["tokenSecretRef"]):
        return True
    if a.get("appRole") is not None and not (a["appRole"].get("secretRef") or {}).get("namespace"):
        return True
    kube = a.get("kubernetes")
    if kube is not None and (_no_ns(kube.get("secretRef")) or _no_ns(kube.get("serviceAccountRef"))):
        return True
    for method in ("ldap", "userPass", "cert"):
        if a.get(method) is not None and not (a[method].get("secretRef") or {}).get("namespace"):
            return True
    jwt = a.get("jwt")
    if jwt is not None:
        if _no_ns(jwt.get("secretRef")):
            return True
        ksat = jwt.get("kubernetesServiceAccountToken")
        if ksat is not None and not (ksat.get("serviceAccountRef") or {}).get("namespace"):
            return True
    return False


# ---------------------------------------------------------------------------------- logins
# The shared auth dataclasses, with credentials fetched at each login (a rotated Secret or a fresh
# TokenRequest is used by the next login) and the login sent in `auth.namespace` when set.

Source = Callable[[], Any]


def _login_in(client: Any, namespace: str | None, fn: Callable[[], _T]) -> _T:
    if namespace is None:
        return fn()
    adapter = client.adapter
    saved = adapter.namespace
    adapter.namespace = namespace
    try:
        return fn()
    finally:
        adapter.namespace = saved


def _strip_auth(mount: str) -> str:
    text = mount.strip("/")
    return text[len("auth/"):] if text.startswith("auth/") else text


@dataclass(frozen=True)
class StoreTokenAuth(shared.TokenAuth):
    source: Source | None = field(default=None, repr=False, compare=False)

    def login(self, client: Any) -> dict[str, Any] | None:
        client.token = self.source() if self.source is not None else self.token
        return None


@dataclass(frozen=True)
class StoreAppRoleAuth(shared.AppRoleAuth):
    source: Source | None = field(default=None, repr=False, compare=False)  # -> (role_id, secret_id)
    namespace: str | None = None
    label = "AppRole login"

    def login(self, client: Any) -> dict[str, Any] | None:
        role_id, secret_id = self.source() if self.source is not None else (self.role_id, self.secret_id)
        return _login_in(client, self.namespace, lambda: dict(
            client.auth.approle.login(role_id, secret_id, mount_point=_strip_auth(self.mount))))


@dataclass(frozen=True)
class StoreKubernetesAuth(shared.KubernetesAuth):
    source: Source | None = field(default=None, repr=False, compare=False)  # -> jwt; None: the token file
    namespace: str | None = None
    label = "Kubernetes login"

    def login(self, client: Any) -> dict[str, Any] | None:
        if self.source is None:
            return _login_in(client, self.namespace, lambda: super(StoreKubernetesAuth, self).login(client))
        jwt = self.source()
        return _login_in(client, self.namespace, lambda: dict(
            client.auth.kubernetes.login(self.role, jwt, mount_point=_strip_auth(self.mount))))


@dataclass(frozen=True)
class StoreUserpassAuth(shared.UserpassAuth):
    source: Source | None = field(default=None, repr=False, compare=False)  # -> password
    namespace: str | None = None
    ldap: bool = False
    label = "userpass login"

    def login(self, client: Any) -> dict[str, Any] | None:
        password = self.source() if self.source is not None else self.password
        method = client.auth.ldap if self.ldap else client.auth.userpass
        return _login_in(client, self.namespace, lambda: dict(
            method.login(self.username, password, mount_point=_strip_auth(self.mount))))


@dataclass(frozen=True)
class StoreJwtAuth(shared.JwtAuth):
    source: Source | None = field(default=None, repr=False, compare=False)  # -> jwt
    namespace: str | None = None
    label = "JWT login"

    def login(self, client: Any) -> dict[str, Any] | None:
        jwt = self.source() if self.source is not None else shared._read_jwt(self.token_path)
        return _login_in(client, self.namespace, lambda: dict(
            client.auth.jwt.jwt_login(self.role, jwt, path=_strip_auth(self.mount))))


VAULT_THREADS = 16
# blocking hvac calls: not the loop's default executor, so a login waiting there for a Kubernetes read
# (which may use the default executor) can never starve it
in_vault_thread = ProviderThreads(VAULT_THREADS, "secrets-kit-vault").run


def build_auth(s: VaultStoreSpec, ctx: StoreContext, loop: asyncio.AbstractEventLoop) -> shared.Auth:
    a, method = s.auth, s.auth_method
    auth_ns = a.get("namespace") or None
    if auth_ns == s.namespace:
        auth_ns = None

    def secret(ref: Any, what: str, default_key: str = "") -> Source:
        return lambda: _on_loop(loop, lambda: ctx.secret_ref(ref, what, default_key=default_key))

    if method is None:
        raise ProviderError(ERR_AUTH_FORMAT, where=ctx.where)
    if method == "tokenSecretRef":
        return StoreTokenAuth("", source=secret(a["tokenSecretRef"], "auth.tokenSecretRef"))
    if method == "appRole":
        app = a["appRole"]
        role_id = str(app.get("roleId") or "").strip()
        role_src = (lambda: role_id) if role_id else secret(app.get("roleRef"), "auth.appRole.roleRef")
        if not role_id and app.get("roleRef") is None:
            raise ProviderError(ERR_APPROLE_ID, where=ctx.where)
        secret_src = secret(app.get("secretRef"), "auth.appRole.secretRef")
        return StoreAppRoleAuth("", "", mount=app.get("path") or "approle", namespace=auth_ns,
                                source=lambda: (role_src(), secret_src()))
    if method == "kubernetes":
        kube = a["kubernetes"]
        mount, role = kube.get("mountPath") or "kubernetes", str(kube.get("role") or "")
        sa = kube.get("serviceAccountRef")
        if sa is not None:
            audiences = [str(x) for x in sa.get("audiences") or []]
            src: Source | None = lambda: _on_loop(loop, lambda: ctx.service_account_token(  # noqa: E731
                sa, "auth.kubernetes.serviceAccountRef", audiences, TOKEN_REQUEST_SECONDS))
        elif kube.get("secretRef") is not None:
            src = secret(kube["secretRef"], "auth.kubernetes.secretRef", default_key="token")
        else:
            src = None
        return StoreKubernetesAuth(role, mount=mount, namespace=auth_ns, source=src)
    if method in ("userPass", "ldap"):
        up = a[method]
        return StoreUserpassAuth(str(up.get("username") or "").strip(), "",
                                 mount=up.get("path") or ("ldap" if method == "ldap" else "userpass"),
                                 namespace=auth_ns, ldap=method == "ldap",
                                 source=secret(up.get("secretRef"), f"auth.{method}.secretRef"))
    if method == "jwt":
        jwt = a["jwt"]
        role, mount = str(jwt.get("role") or "").strip(), jwt.get("path") or "jwt"
        if jwt.get("secretRef") is not None:
            src = secret(jwt["secretRef"], "auth.jwt.secretRef")
        elif jwt.get("kubernetesServiceAccountToken") is not None:
            ksat = jwt["kubernetesServiceAccountToken"]
            sa = ksat.get("serviceAccountRef") or {}
            extra = ksat.get("audiences")
            audiences = [str(x) for x in sa.get("audiences") or []] + [
                str(x) for x in (extra if extra is not None else ["vault"])]
            seconds = int(ksat.get("expirationSeconds") or TOKEN_REQUEST_SECONDS)
            src = lambda: _on_loop(loop, lambda: ctx.service_account_token(  # noqa: E731
                sa, "auth.jwt.kubernetesServiceAccountToken.serviceAccountRef", audiences, seconds))
        else:
            raise ProviderError(ERR_JWT_SOURCE, where=ctx.where)
        return StoreJwtAuth(role, token_path="", mount=mount, namespace=auth_ns, source=src)
    raise ProviderError(f"Vault auth method {method!r} is not supported by secrets-kit", where=ctx.where)


# ---------------------------------------------------------------------------------- client


OnCall = Callable[[str, str, bool], None]  # (provider label, call, ok): one per HTTP request


def call_of(method: str, url: str) -> str:
    """ESO's call label (pkg/constants CallHCVault*) for one Vault HTTP request."""
    path = urllib.parse.urlsplit(url).path.removeprefix("/v1/")
    query = urllib.parse.urlsplit(url).query
    parts = path.split("/")
    if parts[0] == "auth" and parts[1:2] == ["token"]:
        return {"lookup-self": "LookupSelf", "revoke-self": "RevokeSelf",
                "renew-self": "RenewSelf"}.get(parts[2] if len(parts) > 2 else "", "Token")
    if parts[0] == "auth" and "login" in parts[2:]:
        return "Login"
    method = method.upper()
    if method == "LIST" or "list=true" in query:
        return "ListSecrets"
    if method == "GET":
        return "ReadSecretData"
    if method == "DELETE":
        return "DeleteSecret"
    return "WriteSecretData"


class StoreVaultClient(shared.VaultClient):
    """The shared client, with the store's headers on every request, a request counter and an
    `on_call` hook told of every HTTP request (logins and token checks included) with ESO's labels."""

    def __init__(self, settings: shared.VaultSettings, auth: shared.Auth, *, where: str,
                 headers: Mapping[str, str], on_call: OnCall | None = None) -> None:
        super().__init__(settings, auth, where=where)
        self.headers = dict(headers)
        self.requests = 0  # HTTP requests sent (logins and token checks included)
        self.on_call = on_call

    def hvac(self) -> Any:
        with self._lock:
            if self._client is None:
                hvac = require("hvac", "vault")
                requests = require("requests", "vault")
                session = requests.Session()
                session.headers.update(self.headers)
                session.hooks["response"].append(self._count)
                session.request = self._observed(session.request)
                s = self.settings
                client = hvac.Client(url=s.address, namespace=s.namespace, verify=s.verify, timeout=s.timeout,
                                     session=session)
                client.token = None
                self._login(client)
                self._client = client
            return self._client

    @property
    def connected(self) -> bool:
        """Logged in (or given its token) already."""
        return self._client is not None

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        return response

    def _observed(self, send: Callable[..., Any]) -> Callable[..., Any]:
        """`session.request` reporting each call to `on_call`: success for an answer below 400 or a
        404 (Vault's nil secret, a success for ESO's Go client), error otherwise or without an answer."""

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            try:
                response = send(method, url, *args, **kwargs)
            except BaseException:
                self._report(method, url, False)
                raise
            self._report(method, url, response.status_code < 400 or response.status_code == 404)
            return response

        return request

    def _report(self, method: str, url: str, ok: bool) -> None:
        if self.on_call is not None:
            with contextlib.suppress(Exception):  # a metric never breaks a read
                self.on_call(PROVIDER, call_of(method, url), ok)

    def raw(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One request; the JSON body with raw literals kept, or None for a 404 (Vault's nil secret)."""
        hvac = require("hvac", "vault")
        client = self.hvac()
        response = hvac.adapters.RawAdapter.request(client.adapter, method, f"/v1/{path}", params=params,
                                                    raise_exception=False)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                errors = response.json().get("errors")
            except ValueError:
                errors = None
            hvac.utils.raise_for_error(method, f"/v1/{path}", response.status_code, "", errors=errors)
        text = response.text
        return _gojson.parse(text) if text.strip() else None


class VaultStoreClient:
    """ESO's Vault SecretsClient, kept across reconciles (one per store)."""

    def __init__(self, spec: VaultStoreSpec, client: StoreVaultClient, *, where: str,
                 cache_seconds: float = CACHE_SECONDS, ca_file: str | None = None) -> None:
        self.spec = spec
        self.client = client
        self.where = where
        self.cache_seconds = cache_seconds
        self._ca_file = ca_file
        self._shared = SharedReads(cache_seconds)
        self._login_lock = asyncio.Lock()

    # ------------------------------------------------------------------------------ raw reads

    def _min_ttl(self) -> float:
        """Renew when less than a minute is left, or a third of a short token's TTL (a 30 s token is
        renewed at 10 s left, not at every read)."""
        lease = self.client.lease
        if lease is None or lease.ttl <= 0:
            return 60.0
        return min(60.0, lease.ttl / 3)

    def _request(self, method: str, path: str, params: Mapping[str, Any] | None) -> Any:
        hexc = require("hvac", "vault").exceptions
        what = "list" if method == "LIST" else "read"

        def once() -> Any:
            if self.client.logs_in or getattr(self.client.auth, "source", None) is not None:
                self.client.ensure_token(self._min_ttl())
            try:
                return self.client.raw(method, path, params)
            except hexc.Forbidden:
                if not self.client.logs_in:
                    raise
                logins = self.client.logins
                self.client.ensure_token(verify=True)  # a revoked token: log in again
                if self.client.logins == logins:
                    raise  # the token is fine: the policy denies this path
                return self.client.raw(method, path, params)

        return self.client.call(what, once, path=path, hints={
            Kind.DENIED: "the token's policy does not allow this path"})

    @property
    def reads(self) -> int:
        """Raw reads sent to Vault (after sharing)."""
        return self._shared.reads

    async def _raw(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        key = (method, path, tuple(sorted((params or {}).items())))
        joined = self._shared.joinable(key)
        if joined is not None:
            return await asyncio.shield(joined)
        if not self.client.connected:
            # the first login once, before any read takes a worker thread (concurrent reads wait here)
            async with self._login_lock:
                if not self.client.connected:
                    await in_vault_thread(self.client.hvac)
        return await self._shared.read(key, lambda: in_vault_thread(self._request, method, path, params))

    async def _read_secret(self, key: str, version: str) -> Any:
        path = self.spec.build_path(key)
        where = f"{self.where}: {path}"
        try:
            body = await self._raw("GET", path, {"version": version} if version else None)
        except SecretsKitError as exc:
            raise ProviderError(f"cannot read secret data from Vault: {exc.message}", where=where) from None
        if body is None:
            raise NoSecretError("Secret does not exist", where=where)
        data = body.get("data") if isinstance(body, Mapping) else None
        if self.spec.v2:
            if not isinstance(data, Mapping) or "data" not in data:
                raise ProviderError(ERR_DATA_FIELD, where=where)
            if data["data"] is None:
                raise NoSecretError("Secret does not exist", where=where)
            if not isinstance(data["data"], Mapping):
                raise ProviderError(ERR_JSON, where=where)
            return data["data"]
        return data

    async def _read_metadata(self, key: str) -> dict[str, str] | None:
        path = self.spec.metadata_path(key, self.where)
        where = f"{self.where}: {path}"
        try:
            body = await self._raw("GET", path)
        except SecretsKitError as exc:
            raise ProviderError(f"cannot read secret data from Vault: {exc.message}", where=where) from None
        if body is None:
            raise ProviderError(ERR_NOT_FOUND, where=where)
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping) or "custom_metadata" not in data:
            return None
        custom = data["custom_metadata"]
        if not isinstance(custom, Mapping):
            return {}
        return {str(k): str(v) for k, v in custom.items()}

    # ------------------------------------------------------------------------------ contract

    async def get_secret(self, ref: RemoteRef) -> bytes:
        if ref.metadata_policy == METADATA_FETCH:
            if not self.spec.v2:
                raise ProviderError(ERR_METADATA_V1, where=self.where)
            metadata = await self._read_metadata(ref.key)
            if not metadata:
                return b""
            data: Any = metadata
        else:
            data = await self._read_secret(ref.key, ref.version)
        return secret_value(data, ref.property, where=f"{self.where}: {ref.key}")

    async def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        raw = await self.get_secret(ref)
        return decode_map(raw, where=f"{self.where}: {ref.key}")

    async def get_all_secrets(self, find: FindRef) -> dict[str, bytes]:
        if not self.spec.v2 and find.tags:
            raise ProviderError(ERR_TAGS_V1, where=self.where)
        candidates = await self._list(find.path + "/" if find.path else "")
        matcher = compile_regexp(find.name_regexp, where=self.where) if find.name_regexp else None
        gate = asyncio.Semaphore(FIND_CONCURRENCY)

        async def one(name: str) -> tuple[str, bytes | None]:
            async with gate:
                if matcher is None:
                    metadata = await self._read_metadata(name) or {}
                    if any(metadata.get(k) != v for k, v in find.tags.items()):
                        return name, None
                try:
                    return name, await self.get_secret(RemoteRef(key=name))
                except NoSecretError:
                    return name, None

        chosen = [n for n in candidates if matcher is None or matcher.search(n)]
        found = await asyncio.gather(*(one(n) for n in chosen))
        return {name: value for name, value in found if value is not None}

    async def _list(self, path: str) -> list[str]:
        url = self.spec.metadata_path(path, self.where)
        try:
            body = await self._raw("LIST", url)
        except SecretsKitError as exc:
            raise ProviderError(f"cannot read secret data from Vault: {exc.message}", where=f"{self.where}: {url}"
                                ) from None
        if body is None:
            raise NoSecretError("Secret does not exist", where=f"{self.where}: {url}")
        data = body.get("data") if isinstance(body, Mapping) else None
        keys = data.get("keys") if isinstance(data, Mapping) else None
        out: list[str] = []
        for item in keys or []:
            full = path + str(item)
            if str(item).endswith("/"):
                out.extend(await self._list(full))
            else:
                out.append(full)
        return out

    async def validate(self) -> Validation:
        """ESO's Validate: a token lookup (also the first login, when there was none yet)."""
        try:
            await in_vault_thread(self.client.check_token)
        except SecretsKitError as exc:
            return Validation("Error", f"invalid vault credentials: {exc.message}")
        return Validation("Valid")

    async def close(self) -> None:
        await in_vault_thread(self.client.close)
        if self._ca_file:
            with contextlib.suppress(OSError):
                os.unlink(self._ca_file)
            self._ca_file = None


# ------------------------------------------------------------------------------ values


def byte_value(value: Any) -> bytes:
    """ESO's utils.GetByteValue for what a Vault map holds."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if value is True or value is False:
        return b"true" if value else b"false"
    if isinstance(value, _gojson.RawInt | _gojson.RawFloat) and value.raw:
        return value.raw.encode()  # json.Number
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return _gojson.format_float_f(value).encode()
    return _gojson.marshal(value).encode()


def secret_value(data: Any, prop: str, *, where: str) -> bytes:
    """ESO's getSecretValue."""
    if data is None:
        raise NoSecretError("Secret does not exist", where=where)
    text = _gojson.marshal(data)
    if not prop:
        return text.encode()
    if prop in data:
        return byte_value(data[prop])
    found = _gojson.gjson_get(_gojson.parse(text), prop, raw=True)  # gjson over the marshalled map, as ESO
    if found is None:
        raise ProviderError(f"cannot find secret data for key: {go_quote(prop)}", where=where)
    return found.encode()


def _as_float64(value: Any) -> Any:
    """What Go's json.Unmarshal into `any` makes of a value: every number a float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _as_float64(v) for k, v in value.items()}
    return [_as_float64(v) for v in value]


def decode_map(raw: bytes, *, where: str) -> dict[str, bytes]:
    """GetSecretMap's json.Unmarshal into map[string]any, then GetByteValue per key."""
    try:
        document = _gojson.parse(raw.decode("utf-8", "replace"))
    except _gojson.JSONSyntaxError as exc:
        raise ProviderError(str(exc), where=where) from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        kind = "array" if isinstance(document, list) else "string" if isinstance(document, str) else (
            "bool" if isinstance(document, bool) else "number")
        raise ProviderError(f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}",
                            where=where)
    return {k: byte_value(v) for k, v in _as_float64(document).items()}


# ------------------------------------------------------------------------------ building


async def _ca_bundle(spec: Mapping[str, Any], ctx: StoreContext) -> bytes:
    pem = b""
    if spec.get("caBundle"):
        try:
            pem += base64.b64decode(spec["caBundle"], validate=True)
        except ValueError:
            raise ProviderError("spec.provider.vault.caBundle is not valid base64", where=ctx.where) from None
    provider = spec.get("caProvider")
    if provider:
        kind, name, key = provider.get("type"), provider.get("name"), provider.get("key")
        if kind not in ("Secret", "ConfigMap") or not name or not key:
            raise ProviderError("spec.provider.vault.caProvider needs type Secret|ConfigMap, name and key",
                                where=ctx.where)
        ns = ctx.ref_namespace(provider, "caProvider")
        if kind == "Secret":
            pem += (await ctx.secret_ref({"name": name, "key": key, "namespace": ns if ctx.cluster else None},
                                         "caProvider")).encode()
        else:
            pem += await ctx.config_map_value(ns, name, key)
    return pem


async def new_client(spec: Mapping[str, Any], ctx: StoreContext, *,
                     cache_seconds: float = CACHE_SECONDS, on_call: OnCall | None = None) -> VaultStoreClient:
    """The store's client; no request is made until the first read (or validate)."""
    s = parse_spec(spec, ctx.where)
    check_spec(spec, ctx)
    loop = asyncio.get_running_loop()
    auth = build_auth(s, ctx, loop)
    pem = await _ca_bundle(spec, ctx)
    ca_file = None
    if pem:
        fd, ca_file = tempfile.mkstemp(prefix="secrets-kit-vault-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    settings = shared.VaultSettings(address=s.server, namespace=s.namespace, cacert=ca_file)
    client = StoreVaultClient(settings, auth, where=f"{ctx.where} (vault {s.server})", headers=s.headers,
                              on_call=on_call)
    return VaultStoreClient(s, client, where=ctx.where, cache_seconds=cache_seconds, ca_file=ca_file)
