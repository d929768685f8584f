"""HashiCorp Vault / OpenBao: connection settings, logins, a kept token, one error map.

`VaultClient(VaultSettings(...), auth)` is built once and kept: it logs in on first use,
remembers the token's lease (TTL, renewable) from the login answer, and `ensure_token()`
renews it when it is about to expire, or logs in again when it cannot be renewed (or was
revoked), so a long-lived caller (the operator, one client per SecretStore) does not log
in per call. A token obtained by a login is revoked on `close()`.

Auth methods: `TokenAuth`, `AppRoleAuth`, `KubernetesAuth`, `UserpassAuth`, `JwtAuth`.
Kubernetes and JWT read their token file at every login (projected tokens rotate).

`VaultSettings.from_env` reads Vault's own variables (VAULT_NAMESPACE, VAULT_CACERT,
VAULT_SKIP_VERIFY) the way the Vault CLI does; the SOPS transit key source and the Vault
provider share them.

hvac is imported only when a client is first used (extra `vault`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..errors import KeyMaterialError, SecretsKitError
from .extras import require
from .failure import Failure, Kind, Refine, guarded, to_error

__all__ = ["AppRoleAuth", "JwtAuth", "KubernetesAuth", "TokenAuth", "TokenLease", "UserpassAuth", "VaultClient",
           "VaultSettings", "call", "classify", "map_error", "truthy"]

_T = TypeVar("_T")

# VAULT_SKIP_VERIFY is parsed by Vault's CLI with Go's strconv.ParseBool; "yes"/"on" are
# accepted too, as people write them in Kubernetes manifests.
_TRUE = frozenset({"1", "t", "true", "yes", "on"})
K8S_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def truthy(text: str) -> bool:
    """A VAULT_SKIP_VERIFY-style boolean."""
    return text.strip().lower() in _TRUE


@dataclass(frozen=True)
class VaultSettings:
    address: str
    namespace: str | None = None
    cacert: str | None = None  # a CA bundle file, for a server with a private CA
    skip_verify: bool = False
    timeout: float = 15.0  # seconds per request

    @classmethod
    def from_env(cls, address: str, environ: Mapping[str, str], *, timeout: float = 15.0) -> VaultSettings:
        """The settings Vault's own variables give (as the Vault CLI reads them)."""
        return cls(address=address, namespace=environ.get("VAULT_NAMESPACE") or None,
                   cacert=environ.get("VAULT_CACERT") or None,
                   skip_verify=truthy(environ.get("VAULT_SKIP_VERIFY", "")), timeout=timeout)

    @property
    def verify(self) -> bool | str:
        """requests' `verify`: False when skip_verify, else the CA bundle path, else True."""
        if self.skip_verify:
            return False
        return self.cacert or True


# ------------------------------------------------------------------------------------ auth


def _mount(path: str) -> str:
    """hvac's mount point from a mount path as people write it (`auth/approle`, `/auth/approle`, `approle`)."""
    text = path.strip("/")
    return text[len("auth/"):] if text.startswith("auth/") else text


def _read_jwt(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read the service-account token: {exc.strerror}", where=path,
                               hint="mount a projected service-account token or set its path") from None
    if not token:
        raise KeyMaterialError("the service-account token file is empty", where=path)
    return token


@dataclass(frozen=True)
class TokenAuth:
    token: str = field(repr=False)
    label = "token"

    def login(self, client: Any) -> dict[str, Any] | None:
        client.token = self.token
        return None  # nothing to renew by logging in again


@dataclass(frozen=True)
class AppRoleAuth:
    role_id: str
    secret_id: str = field(repr=False)
    mount: str = "approle"
    label = "AppRole login"

    def login(self, client: Any) -> dict[str, Any] | None:
        return dict(client.auth.approle.login(self.role_id, self.secret_id, mount_point=_mount(self.mount)))


@dataclass(frozen=True)
class KubernetesAuth:
    role: str
    token_path: str = K8S_TOKEN_PATH
    mount: str = "kubernetes"
    label = "Kubernetes login"

    def login(self, client: Any) -> dict[str, Any] | None:
        jwt = _read_jwt(self.token_path)
        return dict(client.auth.kubernetes.login(self.role, jwt, mount_point=_mount(self.mount)))


@dataclass(frozen=True)
class UserpassAuth:
    username: str
    password: str = field(repr=False)
    mount: str = "userpass"
    label = "userpass login"

    def login(self, client: Any) -> dict[str, Any] | None:
        return dict(client.auth.userpass.login(self.username, self.password, mount_point=_mount(self.mount)))


@dataclass(frozen=True)
class JwtAuth:
    role: str
    token_path: str
    mount: str = "jwt"
    label = "JWT login"

    def login(self, client: Any) -> dict[str, Any] | None:
        return dict(client.auth.jwt.jwt_login(self.role, _read_jwt(self.token_path), path=_mount(self.mount)))


Auth = TokenAuth | AppRoleAuth | KubernetesAuth | UserpassAuth | JwtAuth


@dataclass(frozen=True)
class TokenLease:
    """What Vault said about the token: seconds to live when asked (0: never expires) and renewability."""

    ttl: float
    renewable: bool
    seen_at: float  # time.monotonic() of the answer

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left now; None for a token that never expires (a root token)."""
        if self.ttl <= 0:
            return None
        return self.ttl - ((time.monotonic() if now is None else now) - self.seen_at)


# ---------------------------------------------------------------------------------- client


class VaultClient:
    """One Vault connection with its token, built once and kept."""

    def __init__(self, settings: VaultSettings, auth: Auth, *, where: str | None = None) -> None:
        self.settings = settings
        self.auth = auth
        self.where = where or f"vault {settings.address}"
        self.lease: TokenLease | None = None
        self.logins = 0
        self._client: Any = None
        self._lock = threading.RLock()

    @property
    def logs_in(self) -> bool:
        """True when the token comes from a login (so it can be renewed by logging in again, and is ours)."""
        return not isinstance(self.auth, TokenAuth)

    def hvac(self) -> Any:
        """The hvac client, logged in."""
        with self._lock:
            if self._client is None:
                hvac = require("hvac", "vault")
                s = self.settings
                client = hvac.Client(url=s.address, namespace=s.namespace, verify=s.verify, timeout=s.timeout)
                client.token = None  # hvac falls back to VAULT_TOKEN / ~/.vault-token: log in explicitly
                self._login(client)
                self._client = client  # only once logged in: a failed login is retried on next use
            return self._client

    def _login(self, client: Any) -> None:
        answer = self.call(self.auth.label, lambda: self.auth.login(client), login=True)
        self.logins += 1
        auth = (answer or {}).get("auth") or {}
        if auth.get("client_token"):
            client.token = auth["client_token"]
            self.lease = TokenLease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")),
                                    time.monotonic())
        else:
            self.lease = None  # a given token: unknown until looked up

    def relogin(self) -> None:
        """Log in again now (after a token was revoked); the old token is revoked when it was ours."""
        with self._lock:
            if self._client is None:
                self.hvac()
                return
            self._revoke()
            try:
                self._login(self._client)
            except SecretsKitError:
                self._client = None  # the next use tries a fresh login
                raise

    def check_token(self) -> TokenLease:
        """Ask Vault about the token (auth/token/lookup-self) and remember the answer."""
        client = self.hvac()
        answer = self.call("token check (auth/token/lookup-self)", lambda: client.auth.token.lookup_self())
        data = (answer or {}).get("data") or {}
        self.lease = TokenLease(float(data.get("ttl") or 0), bool(data.get("renewable")), time.monotonic())
        return self.lease

    def ensure_token(self, min_ttl: float = 60.0, *, verify: bool = False) -> None:
        """Make the token good for at least `min_ttl` seconds: renew it, or log in again if it cannot be.

        Without `verify` this trusts the remembered lease and makes no request while it is fresh;
        with it, the token is looked up first (one request), which also notices a revoked token.
        """
        with self._lock:
            self.hvac()
            if verify or self.lease is None:
                try:
                    self.check_token()
                except SecretsKitError:
                    if not self.logs_in:
                        raise
                    self.relogin()
                    return
            assert self.lease is not None
            left = self.lease.remaining()
            if left is None or left >= min_ttl:
                return
            if self.lease.renewable:
                with contextlib.suppress(SecretsKitError):  # not renewable after all: log in below
                    self._renew()
                    renewed = self.lease.remaining()
                    if renewed is None or renewed >= min_ttl:
                        return
            if self.logs_in:
                self.relogin()  # at its max TTL (or not renewable): only a new login helps

    def _renew(self) -> None:
        client = self.hvac()
        answer = self.call("token renewal (auth/token/renew-self)", lambda: client.auth.token.renew_self())
        auth = (answer or {}).get("auth") or {}
        self.lease = TokenLease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")),
                                time.monotonic())

    # ---------------------------------------------------------------------------- requests

    def read(self, path: str, *, params: Mapping[str, Any] | None = None, what: str = "read",
             refine: Refine | None = None, hints: Mapping[Kind, str] | None = None) -> Any:
        """GET /v1/{path} as JSON."""
        client = self.hvac()
        return self.call(what, lambda: _json(client.adapter.get(f"/v1/{path}", params=params)), path=path,
                         refine=refine, hints=hints)

    def list(self, path: str, *, what: str = "list", refine: Refine | None = None) -> Any:
        """LIST /v1/{path} as JSON."""
        client = self.hvac()
        return self.call(what, lambda: _json(client.adapter.list(f"/v1/{path}")), path=path, refine=refine)

    def call(self, what: str, fn: Callable[[], _T], *, path: str | None = None, login: bool = False,
             refine: Refine | None = None, hints: Mapping[Kind, str] | None = None) -> _T:
        where = self.where + (f": {path}" if path else "")
        if login:
            refine = refine or _login_refused(what, where)
        return call(fn, what=what, where=where, refine=refine, hints=hints)

    def close(self) -> None:
        with self._lock:
            if self._client is None:
                return
            self._revoke()
            with contextlib.suppress(Exception):
                self._client.adapter.close()
            self._client = None

    def _revoke(self) -> None:
        if self.logs_in and self._client.token:
            with contextlib.suppress(Exception):  # best effort: the token expires on its own
                self._client.auth.token.revoke_self()
        self._client.token = None
        self.lease = None


def _json(response: Any) -> Any:
    return response.json() if hasattr(response, "json") else response


def _login_refused(what: str, where: str) -> Refine:
    def refine(failure: Failure) -> SecretsKitError | None:
        if failure.kind in (Kind.DENIED, Kind.CREDENTIALS_REFUSED, Kind.INVALID):
            from ..errors import ProviderError

            return ProviderError(f"{what} refused the credentials ({failure.detail})", where=where,
                                 hint="check the role, its bound identity and the credentials")
        return None

    return refine


# ------------------------------------------------------------------------------- error map


def _errors(exc: Any) -> str:
    """Vault's own error strings (they name paths and reasons, never request data)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return " ".join("; ".join(str(e) for e in errors).split())[:300]
    return type(exc).__name__


def classify(exc: BaseException) -> Failure | None:
    """What an hvac or requests exception means; None for anything else."""
    try:
        import requests
        from hvac import exceptions as hexc
    except ModuleNotFoundError:
        return None
    if isinstance(exc, (hexc.Forbidden, hexc.Unauthorized)):
        return Failure(Kind.DENIED, _errors(exc))
    if isinstance(exc, hexc.InvalidPath):
        return Failure(Kind.NOT_FOUND, _errors(exc))
    if isinstance(exc, hexc.InvalidRequest):
        return Failure(Kind.INVALID, _errors(exc))
    if isinstance(exc, (hexc.VaultDown, hexc.BadGateway, hexc.RateLimitExceeded, hexc.InternalServerError)):
        return Failure(Kind.UNAVAILABLE, type(exc).__name__)
    if isinstance(exc, hexc.VaultError):
        return Failure(Kind.FAILED, f"{type(exc).__name__}: {_errors(exc)}")
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure(Kind.TLS, type(exc).__name__)
    if isinstance(exc, requests.exceptions.RequestException):
        return Failure(Kind.UNREACHABLE, type(exc).__name__)
    return None


def map_error(exc: BaseException, *, what: str, where: str, hints: Mapping[Kind, str] | None = None,
              refine: Refine | None = None) -> SecretsKitError | None:
    if isinstance(exc, SecretsKitError):
        return exc
    failure = classify(exc)
    if failure is None:
        return None
    return to_error(failure, service="Vault", what=what, where=where, cloud="Vault", hints=hints, refine=refine)


def call(fn: Callable[[], _T], *, what: str, where: str, hints: Mapping[Kind, str] | None = None,
         refine: Refine | None = None) -> _T:
    """Run one Vault call; failures become our errors, naming `where`, never a token or a value."""
    return guarded(fn, where, lambda exc: map_error(exc, what=what, where=where, hints=hints,
                                                    refine=refine))
