"""AWS: one boto3 session per account setup, fail-fast clients, one error map.

`AwsSession(AwsSettings(...))` holds the session and one client per service, built on
first use and kept; with a role (`AssumeRole`) or a web identity (`WebIdentity`) the
credentials refresh themselves before they expire, so a session can be kept for hours
(the operator keeps one per SecretStore). Credentials come, in this order, from static
keys in the settings, a named profile, or boto3's own chain (AWS_* variables, IRSA, pod
identity, instance roles); a web identity and then a role are assumed on top of them.

`call(fn, ...)` runs one API call and turns botocore's failures into our errors
(`map_error`); `classify` is the single place that reads botocore's exceptions.

boto3 is imported only when a session is first used (extra `aws`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError, KeyMaterialError, SecretsKitError
from .extras import require
from .failure import Failure, Kind, Refine, guarded, to_error

__all__ = ["AssumeRole", "AwsSession", "AwsSettings", "WebIdentity", "call", "classify", "map_error"]

_T = TypeVar("_T")

# Error codes meaning "these credentials are missing, wrong or expired" (authentication).
CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "MissingAuthenticationToken",
    "InvalidAccessKeyId", "IncompleteSignature",
})
# "authenticated, but not allowed" (authorization).
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
UNAVAILABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
    "ServiceUnavailable", "ServiceUnavailableException", "InternalFailure", "InternalServiceError",
    "InternalServerError", "KMSInternalException", "DependencyTimeoutException",
})
# AWS's validation messages quote the offending input value: keep only their code.
_ECHOING_CODES = frozenset({"ValidationException", "ValidationError"})


@dataclass(frozen=True)
class AssumeRole:
    """sts:AssumeRole on top of the session's credentials (ESO's `role`, sops's `ARN+ROLE`)."""

    role_arn: str
    session_name: str = "secrets-kit"
    external_id: str | None = None
    session_tags: Mapping[str, str] = field(default_factory=dict)
    duration_seconds: int = 3600


@dataclass(frozen=True)
class WebIdentity:
    """sts:AssumeRoleWithWebIdentity with a token fetched afresh at every refresh (tokens rotate): read
    from `token_file`, or asked of `token_source` (e.g. a Kubernetes TokenRequest; called in a worker
    thread, so it may block; not part of equality, so re-built settings with the same role compare equal)."""

    role_arn: str
    token_file: str = ""
    session_name: str = "secrets-kit"
    token_source: Callable[[], str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AwsSettings:
    region: str | None = None  # None: boto3's (AWS_REGION, the profile's)
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    web_identity: WebIdentity | None = None
    assume_role: AssumeRole | None = None
    endpoint_url: str | None = None  # every service, STS included; None: boto3's (AWS_ENDPOINT_URL...)
    endpoint_urls: Mapping[str, str] = field(default_factory=dict)  # per service, wins over endpoint_url
    ca_bundle: str | None = None  # a CA bundle for a private endpoint's TLS; None: boto3's (AWS_CA_BUNDLE)
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    retries: int = 2  # after the first attempt (botocore's max_attempts). Fail fast: a render has about 60 s


class AwsSession:
    """A boto3 session for one account setup and its clients, built once and kept."""

    def __init__(self, settings: AwsSettings | None = None) -> None:
        self.settings = settings or AwsSettings()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """The kept client for `service` ("kms", "sts", "ssm", "secretsmanager")."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = self._make(service, self._boto3_session())
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()

    # ----------------------------------------------------------------------------- building

    def _config(self) -> Any:
        from botocore.config import Config

        s = self.settings
        return Config(connect_timeout=s.connect_timeout, read_timeout=s.read_timeout,
                      retries={"max_attempts": s.retries, "mode": "standard"})

    def _make(self, service: str, session: Any) -> Any:
        endpoint = self.settings.endpoint_urls.get(service) or self.settings.endpoint_url
        kwargs: dict[str, Any] = {"config": self._config()}
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        if self.settings.region:
            kwargs["region_name"] = self.settings.region
        if self.settings.ca_bundle:
            kwargs["verify"] = self.settings.ca_bundle
        return session.client(service, **kwargs)

    def _boto3_session(self) -> Any:
        if self._session is None:
            boto3 = require("boto3", "aws")
            s = self.settings
            if s.access_key_id or s.secret_access_key:
                if not (s.access_key_id and s.secret_access_key):
                    raise KeyMaterialError("static AWS keys need both an access key id and a secret access key",
                                           where="AWS credentials")
                session = boto3.session.Session(aws_access_key_id=s.access_key_id,
                                                aws_secret_access_key=s.secret_access_key,
                                                aws_session_token=s.session_token, region_name=s.region)
            else:
                session = boto3.session.Session(profile_name=s.profile or None, region_name=s.region)
            for step in (s.web_identity, s.assume_role):
                if step is not None:
                    session = self._assumed(session, step)
            self._session = session
        return self._session

    def _assumed(self, base: Any, step: AssumeRole | WebIdentity) -> Any:
        """A session whose credentials come from STS through `base`, refreshed before they expire."""
        import boto3
        import botocore.session
        from botocore.credentials import DeferredRefreshableCredentials

        sts = self._make("sts", base)

        def fetch() -> dict[str, str]:
            if isinstance(step, WebIdentity):
                token = step.token_source() if step.token_source is not None else _read_token(step.token_file)
                answer = sts.assume_role_with_web_identity(RoleArn=step.role_arn, RoleSessionName=step.session_name,
                                                           WebIdentityToken=token)
            else:
                kwargs: dict[str, Any] = {"RoleArn": step.role_arn, "RoleSessionName": step.session_name,
                                          "DurationSeconds": step.duration_seconds}
                if step.external_id:
                    kwargs["ExternalId"] = step.external_id
                if step.session_tags:
                    kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(step.session_tags.items())]
                answer = sts.assume_role(**kwargs)
            creds = answer["Credentials"]
            return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

        core = botocore.session.Session()
        # botocore has no public setter for ready-made refreshable credentials; this is how they attach.
        core._credentials = DeferredRefreshableCredentials(refresh_using=fetch, method="sts-assume-role")
        return boto3.session.Session(botocore_session=core, region_name=self.settings.region or base.region_name)


def _read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read the web identity token ({exc.strerror})", where=path,
                               hint="mount a projected service-account token there") from None
    if not token:
        raise KeyMaterialError("the web identity token file is empty", where=path)
    return token


# --------------------------------------------------------------------------------- error map


def classify(exc: BaseException) -> Failure | None:
    """What a botocore exception means; None when `exc` is not one of botocore's."""
    try:
        from botocore import exceptions as bex
    except ModuleNotFoundError:
        return None
    if isinstance(exc, bex.ProfileNotFound):
        return Failure(Kind.CREDENTIALS_MISSING, f"AWS profile {exc.kwargs.get('profile')!r} not found")
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError, bex.CredentialRetrievalError,
                        bex.TokenRetrievalError, bex.SSOError)):
        return Failure(Kind.CREDENTIALS_MISSING, type(exc).__name__)
    if isinstance(exc, (bex.ConnectionError, bex.HTTPClientError)):
        kind = Kind.TLS if isinstance(exc, bex.SSLError) else Kind.UNREACHABLE
        return Failure(kind, type(exc).__name__)
    if isinstance(exc, bex.ClientError):
        error = exc.response.get("Error", {})
        code, raw_message = _code_and_message(error)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = "" if code in _ECHOING_CODES else " ".join(raw_message.split())[:300]
        detail = f"{code}: {message}" if message else code
        operation = str(getattr(exc, "operation_name", "") or "")
        if operation.startswith("AssumeRole"):
            return Failure(Kind.CREDENTIALS_REFUSED, f"{operation} refused: {detail}", operation)
        if code in CREDENTIAL_CODES:
            kind = Kind.CREDENTIALS_REFUSED
        elif code in DENIED_CODES:
            kind = Kind.DENIED
        elif code.endswith(("NotFound", "NotFoundException")):
            kind = Kind.NOT_FOUND
        elif code in UNAVAILABLE_CODES or status >= 500:
            kind = Kind.UNAVAILABLE
        else:
            kind = Kind.FAILED
        return Failure(kind, detail, operation)
    if isinstance(exc, bex.BotoCoreError):
        return Failure(Kind.FAILED, type(exc).__name__)
    return None


_XML_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{0,500})</Message>")


def _code_and_message(error: Mapping[str, Any]) -> tuple[str, str]:
    """botocore's parsed code and message. Some endpoints (moto, proxies in front of AWS) answer a JSON
    API's authentication failure with a query-style XML body, which botocore leaves as code "403" and
    the XML as the message: the code and message inside are what the caller needs to read."""
    code, message = str(error.get("Code", "Unknown")), str(error.get("Message", ""))
    if code.isdigit() and "<ErrorResponse" in message:
        inner_code, inner_message = _XML_CODE.search(message), _XML_MESSAGE.search(message)
        if inner_code:
            return inner_code.group(1), inner_message.group(1) if inner_message else ""
    return code, message


def map_error(exc: BaseException, *, service: str, what: str, where: str,
              hints: Mapping[Kind, str] | None = None, refine: Refine | None = None) -> SecretsKitError | None:
    """Our error for a botocore failure of call `what` on `service`; None for other exceptions."""
    if isinstance(exc, SecretsKitError):
        return exc
    try:
        from botocore.exceptions import NoRegionError, ProfileNotFound
    except ModuleNotFoundError:
        return None
    if isinstance(exc, NoRegionError):
        return ConfigError("no AWS region configured", where=where, hint="set AWS_REGION or the region setting")
    failure = classify(exc)
    if failure is None:
        return None
    if isinstance(exc, ProfileNotFound):
        return KeyMaterialError(failure.detail, where=where, hint="define it in ~/.aws/config or change the profile")
    return to_error(failure, service=service, what=what, where=where, cloud="AWS", hints=hints, refine=refine)


def call(fn: Callable[[], _T], *, service: str, what: str, where: str,
         hints: Mapping[Kind, str] | None = None, refine: Refine | None = None) -> _T:
    """Run one AWS call (client building included); failures become our errors, naming `where`, never data."""
    return guarded(fn, where, lambda exc: map_error(exc, service=service, what=what, where=where, hints=hints,
                                                    refine=refine))
