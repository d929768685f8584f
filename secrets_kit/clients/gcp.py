"""Google Cloud: credentials, KMS and Secret Manager clients, one error map.

`GcpSession(GcpSettings(...))` resolves credentials once (a service-account or other
credentials JSON, a bare access token, anonymous for emulators, else Application Default
Credentials) and builds each service client on first use, with the transport (gRPC or
REST), endpoint or universe override, TLS roots and timeouts the settings give; the
clients are kept (google's credentials refresh their own tokens).

`call(fn, ...)` runs one API call and maps failures (`classify` reads google.api_core's
exceptions; google.auth's own failures, which happen before the service is reached, become
"credentials unusable" or "token endpoint unreachable").

google-cloud-kms / google-cloud-secret-manager are imported only when a client is built
(extra `gcp`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ..errors import ConfigError, KeyMaterialError, ProviderError, SecretsKitError
from .extras import require
from .failure import Failure, Kind, Refine, guarded, to_error

__all__ = ["GcpSession", "GcpSettings", "call", "classify", "credentials_from_info", "map_error"]

_T = TypeVar("_T")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


@dataclass(frozen=True)
class GcpSettings:
    credentials_json: str | None = field(default=None, repr=False)  # the JSON text, not a path
    credentials_source: str = "the credentials JSON"  # how messages name where it came from
    access_token: str | None = field(default=None, repr=False)
    # A google.auth Credentials object used as given (e.g. a token obtained by workload identity)
    credentials: Any = field(default=None, repr=False, compare=False)
    anonymous: bool = False  # emulators: no credentials at all
    transport: Literal["grpc", "rest"] = "grpc"
    endpoint: str | None = None  # host:port (gRPC) or a URL (REST; http:// for an emulator)
    universe_domain: str | None = None
    insecure: bool = False  # plaintext gRPC, no credentials: local emulators and stand-ins only
    root_certificates: bytes | None = field(default=None, repr=False)  # PEM CA bundle for a private endpoint
    timeout: float = 30.0  # seconds per call (retries included)
    retry: bool = True  # retry transient errors within `timeout`


class GcpSession:
    """Credentials and service clients for one Google Cloud setup, built once and kept."""

    def __init__(self, settings: GcpSettings | None = None) -> None:
        self.settings = settings or GcpSettings()
        self.project: str | None = None  # the ADC project, once credentials are resolved
        self._credentials: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------- credentials

    def credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = self._resolve()
        return self._credentials

    def _resolve(self) -> Any:
        s = self.settings
        require("google.auth", "gcp")
        if s.anonymous:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        if s.credentials is not None:
            return s.credentials
        if s.credentials_json is not None:
            try:
                info = json.loads(s.credentials_json)
                return credentials_from_info(info, source=s.credentials_source)
            except SecretsKitError:
                raise
            except (ValueError, TypeError, KeyError) as exc:
                raise KeyMaterialError(f"{s.credentials_source} holds no usable credentials ({type(exc).__name__})",
                                       hint="use a service-account key JSON (or its path)") from None
        if s.access_token:
            from google.oauth2 import credentials as oauth2_credentials

            return oauth2_credentials.Credentials(token=s.access_token)
        import google.auth

        creds, project = google.auth.default(scopes=list(SCOPES))
        self.project = project or None
        return creds

    def refresh(self) -> None:
        """Fetch an access token now (a credentials check: refused grants and dead token endpoints show here)."""
        creds = self.credentials()
        if self.settings.anonymous or self.settings.insecure:
            return
        from google.auth.transport.requests import Request

        creds.refresh(Request())

    # ----------------------------------------------------------------------------- clients

    def kms(self) -> Any:
        """The kept KeyManagementServiceClient."""
        return self._client("kms", "google.cloud.kms_v1", "KeyManagementServiceClient",
                            "google.cloud.kms_v1.services.key_management_service.transports.grpc",
                            "KeyManagementServiceGrpcTransport")

    def secret_manager(self) -> Any:
        """The kept SecretManagerServiceClient."""
        return self._client("secretmanager", "google.cloud.secretmanager_v1", "SecretManagerServiceClient",
                            "google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc",
                            "SecretManagerServiceGrpcTransport")

    def _client(self, name: str, module: str, cls_name: str, grpc_module: str, grpc_cls: str) -> Any:
        with self._lock:
            if name not in self._clients:
                client_cls = getattr(require(module, "gcp"), cls_name)
                self._clients[name] = self._build(client_cls, lambda: getattr(require(grpc_module, "gcp"), grpc_cls))
            return self._clients[name]

    def _build(self, client_cls: Any, grpc_transport: Callable[[], Any]) -> Any:
        s = self.settings
        if s.insecure:
            import grpc

            if not s.endpoint:
                raise ConfigError("an insecure Google Cloud channel needs an endpoint")
            return client_cls(transport=grpc_transport()(channel=grpc.insecure_channel(s.endpoint)))
        creds = self.credentials()
        if not s.anonymous and not creds.valid:
            # Fetch the access token now: inside a gRPC call a token failure only shows up as
            # UNAVAILABLE, which would hide a refused grant (credentials) behind "unreachable".
            self.refresh()
        if s.root_certificates is not None:
            import grpc

            return client_cls(transport=grpc_transport()(
                host=s.endpoint or client_cls.DEFAULT_ENDPOINT, credentials=creds,
                ssl_channel_credentials=grpc.ssl_channel_credentials(root_certificates=s.root_certificates)))
        from google.api_core.client_options import ClientOptions

        if s.endpoint:
            options: Any = ClientOptions(api_endpoint=s.endpoint)
        elif s.universe_domain:
            options = ClientOptions(universe_domain=s.universe_domain)
        else:
            options = None
        return client_cls(credentials=creds, client_options=options, transport=s.transport)

    def call_options(self) -> dict[str, Any]:
        """`retry=` and `timeout=` for one call, from the settings."""
        if not self.settings.retry:
            return {"retry": None, "timeout": self.settings.timeout}
        from google.api_core import retry as retries

        retry = retries.Retry(initial=0.1, maximum=2.0, multiplier=2.0, timeout=self.settings.timeout,
                              predicate=retries.if_transient_error)
        return {"retry": retry, "timeout": self.settings.timeout}

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            client.transport.close()


def credentials_from_info(info: Any, *, source: str = "the credentials JSON") -> Any:
    """Credentials from a credentials JSON object, by its `type` (as sops and gcloud accept them)."""
    if not isinstance(info, dict):
        raise TypeError("credentials JSON is not an object")
    kind = info.get("type")
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    if kind == "authorized_user":
        from google.oauth2 import credentials as oauth2_credentials

        return oauth2_credentials.Credentials.from_authorized_user_info(info, scopes=list(SCOPES))
    if kind == "external_account":
        if str(info.get("credential_source", {}).get("environment_id", "")).startswith("aws"):
            from google.auth import aws

            return aws.Credentials.from_info(info, scopes=list(SCOPES))
        from google.auth import identity_pool

        return identity_pool.Credentials.from_info(info, scopes=list(SCOPES))
    raise KeyMaterialError(f"{source} holds credentials of unsupported type {str(kind)[:40]!r}",
                           hint="use a service_account, authorized_user or external_account JSON, "
                                "or GOOGLE_APPLICATION_CREDENTIALS")


# --------------------------------------------------------------------------------- error map


def _message(exc: Any) -> str:
    return " ".join(str(getattr(exc, "message", "") or type(exc).__name__).split())[:300]


def classify(exc: BaseException) -> Failure | None:
    """What a google.api_core exception (or a REST transport's OSError) means; None for anything else."""
    try:
        from google.api_core import exceptions as gexc
    except ModuleNotFoundError:
        return None
    if isinstance(exc, gexc.RetryError) and isinstance(exc.cause, Exception):
        last = classify(exc.cause)  # retries ran out: say what the last attempt met (throttled, unreachable)
        if last is not None:
            return last
    table: tuple[tuple[Any, Kind], ...] = (
        ((gexc.Unauthenticated, gexc.Unauthorized), Kind.CREDENTIALS_REFUSED),  # gRPC and REST (401) spellings
        ((gexc.PermissionDenied, gexc.Forbidden), Kind.DENIED),
        (gexc.NotFound, Kind.NOT_FOUND),
        (gexc.InvalidArgument, Kind.INVALID),
        (gexc.FailedPrecondition, Kind.PRECONDITION),
        (gexc.BadRequest, Kind.INVALID),  # after its subclasses: REST answers a FAILED_PRECONDITION with a bare 400
        ((gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError), Kind.UNREACHABLE),
        ((gexc.ResourceExhausted, gexc.InternalServerError, gexc.TooManyRequests), Kind.UNAVAILABLE),
    )
    for types, kind in table:
        if isinstance(exc, types):
            detail = type(exc).__name__ if kind is Kind.UNREACHABLE else _message(exc)
            return Failure(kind, detail)
    if isinstance(exc, gexc.GoogleAPICallError):
        return Failure(Kind.FAILED, f"{type(exc).__name__}: {_message(exc)}")
    if isinstance(exc, gexc.GoogleAPIError):
        return Failure(Kind.FAILED, type(exc).__name__)
    if isinstance(exc, OSError):  # requests' ConnectionError and timeouts, under the REST transport
        return Failure(Kind.UNREACHABLE, type(exc).__name__)
    return None


def map_error(exc: BaseException, *, service: str, what: str, where: str,
              hints: Mapping[Kind, str] | None = None, refine: Refine | None = None) -> SecretsKitError | None:
    if isinstance(exc, SecretsKitError):
        return exc
    try:
        from google.auth import exceptions as auth_exc
    except ModuleNotFoundError:
        return None
    if isinstance(exc, auth_exc.DefaultCredentialsError):
        failure: Failure | None = Failure(Kind.CREDENTIALS_MISSING, "no Application Default Credentials")
    elif isinstance(exc, auth_exc.TransportError):
        return ProviderError(f"could not reach the Google token endpoint ({type(exc).__name__})", where=where,
                             hint="check the network and the credentials' token_uri")
    elif isinstance(exc, auth_exc.GoogleAuthError):  # RefreshError, MalformedError, ...
        return KeyMaterialError(f"Google Cloud credentials are unusable ({type(exc).__name__})", where=where,
                                hint="renew or replace the credentials")
    else:
        failure = classify(exc)
    if failure is None:
        return None
    return to_error(failure, service=service, what=what, where=where, cloud="Google Cloud", hints=hints,
                    refine=refine)


def call(fn: Callable[[], _T], *, service: str, what: str, where: str,
         hints: Mapping[Kind, str] | None = None, refine: Refine | None = None) -> _T:
    """Run one Google Cloud call (client building included); failures become our errors, never data."""
    return guarded(fn, where, lambda exc: map_error(exc, service=service, what=what, where=where, hints=hints,
                                                    refine=refine))
