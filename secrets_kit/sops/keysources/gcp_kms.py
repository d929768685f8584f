"""Google Cloud KMS key source: the `gcp_kms` stanza of a sops file.

The data key (or Shamir share) goes to `KeyManagementService.Encrypt` under the CryptoKey
resource id (`projects/P/locations/L/keyRings/R/cryptoKeys/K`); `enc` is the standard base64
of the returned ciphertext. No additional authenticated data is sent, as in sops.

Configuration follows sops (gcpkms/keysource.go):
- credentials: `GOOGLE_CREDENTIALS` (a path to, or the text of, a credentials JSON), else
  `GOOGLE_OAUTH_ACCESS_TOKEN` (a bare access token), else Application Default Credentials;
- `SOPS_GCP_KMS_ENDPOINT` (host:port) replaces the API endpoint, else
  `SOPS_GCP_KMS_UNIVERSE_DOMAIN` selects a Cloud universe other than googleapis.com;
- `SOPS_GCP_KMS_CLIENT_TYPE=rest` uses the REST transport instead of gRPC.
Keyword options on the key override these for programmatic use and tests: `endpoint`,
`insecure` (plaintext gRPC, no credentials: local emulators and stand-ins only),
`root_certificates` (PEM CA bundle for TLS to a private endpoint), `timeout` (seconds).

google-cloud-kms and grpc are imported only when a key is used.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ...errors import (
    ConfigError,
    DecryptionError,
    KeyMaterialError,
    ProviderError,
    SecretsKitError,
)
from .base import MasterKey, base64_enc

__all__ = ["GcpKmsKey", "from_cli"]

RESOURCE_ID_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
ENV_CREDENTIALS = "GOOGLE_CREDENTIALS"
ENV_ACCESS_TOKEN = "GOOGLE_OAUTH_ACCESS_TOKEN"
ENV_ENDPOINT = "SOPS_GCP_KMS_ENDPOINT"
ENV_CLIENT_TYPE = "SOPS_GCP_KMS_CLIENT_TYPE"
ENV_UNIVERSE_DOMAIN = "SOPS_GCP_KMS_UNIVERSE_DOMAIN"
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_T = TypeVar("_T")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _credentials_from_info(info: Any) -> Any:
    """Credentials from the JSON sops accepts in GOOGLE_CREDENTIALS, by its `type` field."""
    if not isinstance(info, dict):
        raise TypeError("credentials JSON is not an object")
    kind = info.get("type")
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=list(_SCOPES))
    if kind == "authorized_user":
        from google.oauth2 import credentials as oauth2_credentials

        return oauth2_credentials.Credentials.from_authorized_user_info(info, scopes=list(_SCOPES))
    if kind == "external_account":
        if str(info.get("credential_source", {}).get("environment_id", "")).startswith("aws"):
            from google.auth import aws

            return aws.Credentials.from_info(info, scopes=list(_SCOPES))
        from google.auth import identity_pool

        return identity_pool.Credentials.from_info(info, scopes=list(_SCOPES))
    raise KeyMaterialError(f"{ENV_CREDENTIALS} holds credentials of unsupported type {str(kind)[:40]!r}",
                           hint="use a service_account, authorized_user or external_account JSON, "
                                "or GOOGLE_APPLICATION_CREDENTIALS")


class GcpKmsKey(MasterKey):
    """One Google Cloud KMS CryptoKey, by resource id."""

    stanza: ClassVar[str] = "gcp_kms"

    def __init__(
        self,
        resource_id: str,
        *,
        created_at: str | None = None,
        endpoint: str | None = None,
        insecure: bool = False,
        root_certificates: bytes | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.resource_id = resource_id
        self.created_at = created_at or _now()
        self.endpoint = endpoint
        self.insecure = insecure
        self.root_certificates = root_certificates
        self.timeout = timeout
        self._client: Any = None

    @property
    def identifier(self) -> str:
        return self.resource_id

    def __repr__(self) -> str:
        return f"GcpKmsKey({self.resource_id!r})"

    @classmethod
    def from_stanza(cls, stanza: dict[str, Any]) -> GcpKmsKey:
        resource_id = stanza.get("resource_id")
        if not isinstance(resource_id, str) or not resource_id:
            raise KeyMaterialError("gcp_kms key stanza without a resource_id", where="sops metadata",
                                   hint="the file's metadata is corrupt")
        created = stanza.get("created_at")
        if isinstance(created, dt.datetime):
            created = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(resource_id, created_at=str(created) if created else None)

    def to_stanza(self, enc: str) -> dict[str, Any]:
        """The stanza as sops 3.13 writes it (keys sorted)."""
        return {"created_at": self.created_at, "enc": enc, "resource_id": self.resource_id}

    def check(self) -> None:
        """Raise ConfigError unless the resource id has the CryptoKey form sops accepts."""
        if not RESOURCE_ID_RE.match(self.resource_id):
            raise ConfigError(
                "no valid GCP KMS resource ID",
                where=f"GCP KMS key {self.resource_id!r}",
                hint="expected projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>",
            )

    # ---------------------------------------------------------------- wrap / unwrap

    def wrap(self, data_key: bytes) -> dict[str, Any]:
        client = self._kms()
        response = self._call("encrypt", lambda: client.encrypt(
            request={"name": self.resource_id, "plaintext": bytes(data_key)}, **self._call_options()))
        return self.to_stanza(base64.b64encode(bytes(response.ciphertext)).decode("ascii"))

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        ciphertext = base64_enc(stanza, "gcp_kms", self._where())
        client = self._kms()
        response = self._call("decrypt", lambda: client.decrypt(
            request={"name": self.resource_id, "ciphertext": ciphertext}, **self._call_options()))
        return bytes(response.plaintext)

    # --------------------------------------------------------------------- plumbing

    def _where(self) -> str:
        return f"GCP KMS key {self.resource_id}"

    def _call_options(self) -> dict[str, Any]:
        from google.api_core import retry as retries

        retry = retries.Retry(initial=0.1, maximum=2.0, multiplier=2.0, timeout=self.timeout,
                              predicate=retries.if_transient_error)
        return {"retry": retry, "timeout": self.timeout}

    def _kms(self) -> Any:
        if self._client is None:
            self.check()
            self._client = self._call("connect", self._make_client)
        return self._client

    def _credentials(self) -> Any:
        """Credentials the way sops finds them: GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, then ADC."""
        import google.auth
        from google.oauth2 import credentials as oauth2_credentials

        raw = os.environ.get(ENV_CREDENTIALS, "")
        if raw:
            try:
                text = Path(raw).read_text() if os.path.isfile(raw) else raw
            except OSError as exc:
                raise KeyMaterialError(f"cannot read {ENV_CREDENTIALS} file ({exc.strerror})",
                                       where=self._where()) from None
            try:
                return _credentials_from_info(json.loads(text))
            except SecretsKitError as exc:
                raise exc.at(self._where()) from None
            except (ValueError, TypeError, KeyError) as exc:
                raise KeyMaterialError(f"{ENV_CREDENTIALS} holds no usable credentials ({exc.__class__.__name__})",
                                       where=self._where(),
                                       hint=f"set {ENV_CREDENTIALS} to a service-account JSON or its path") from None
        token = os.environ.get(ENV_ACCESS_TOKEN, "")
        if token:
            return oauth2_credentials.Credentials(token=token)
        creds, _ = google.auth.default(scopes=list(_SCOPES))
        return creds

    def _make_client(self) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.cloud import kms_v1
        from google.cloud.kms_v1.services.key_management_service.transports.grpc import (
            KeyManagementServiceGrpcTransport,
        )

        endpoint = self.endpoint or os.environ.get(ENV_ENDPOINT) or None
        if self.insecure:
            import grpc

            if not endpoint:
                raise ConfigError("an insecure GCP KMS channel needs an endpoint", where=self._where(),
                                  hint=f"pass endpoint= or set {ENV_ENDPOINT}")
            transport = KeyManagementServiceGrpcTransport(channel=grpc.insecure_channel(endpoint))
            return kms_v1.KeyManagementServiceClient(transport=transport)

        credentials = self._credentials()
        if not credentials.valid:
            # Fetch the access token now: inside a gRPC call a token failure only shows up as
            # UNAVAILABLE, which would hide a refused grant (credentials) behind "unreachable".
            from google.auth.transport.requests import Request

            credentials.refresh(Request())
        if self.root_certificates is not None:
            import grpc

            transport = KeyManagementServiceGrpcTransport(
                host=endpoint or kms_v1.KeyManagementServiceClient.DEFAULT_ENDPOINT,
                credentials=credentials,
                ssl_channel_credentials=grpc.ssl_channel_credentials(root_certificates=self.root_certificates),
            )
            return kms_v1.KeyManagementServiceClient(transport=transport)

        universe = os.environ.get(ENV_UNIVERSE_DOMAIN)
        if endpoint:
            options = ClientOptions(api_endpoint=endpoint)
        elif universe:
            options = ClientOptions(universe_domain=universe)
        else:
            options = None
        rest = os.environ.get(ENV_CLIENT_TYPE, "").lower() == "rest"
        return kms_v1.KeyManagementServiceClient(credentials=credentials, client_options=options,
                                                 transport="rest" if rest else "grpc")

    def _call(self, action: str, fn: Callable[[], _T]) -> _T:
        """Run a client call; turn its failures into our errors, naming the key and never the data."""
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc

        where = self._where()
        try:
            return fn()
        except SecretsKitError:
            raise
        except auth_exc.DefaultCredentialsError:
            raise KeyMaterialError("no Google Cloud credentials found", where=where,
                                   hint=f"set {ENV_CREDENTIALS}, {ENV_ACCESS_TOKEN} or "
                                        "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth "
                                        "application-default login`") from None
        except (auth_exc.RefreshError, auth_exc.MalformedError) as exc:
            raise KeyMaterialError(f"Google Cloud credentials are unusable ({type(exc).__name__})",
                                   where=where, hint="renew or replace the credentials") from None
        except auth_exc.TransportError as exc:
            raise ProviderError(f"could not reach the Google token endpoint ({type(exc).__name__})",
                                where=where, hint="check the network and the credentials' token_uri") from None
        except (gexc.Unauthenticated, gexc.PermissionDenied) as exc:
            if action == "decrypt" and isinstance(exc, gexc.PermissionDenied):
                raise DecryptionError(f"GCP KMS refused to decrypt the data key ({exc.message})", where=where,
                                      hint="your identity may not use this key "
                                           "(roles/cloudkms.cryptoKeyDecrypter)") from None
            raise KeyMaterialError(f"GCP KMS refused the credentials for {action} ({exc.message})",
                                   where=where, hint="check the credentials and the key's IAM policy") from None
        except (gexc.InvalidArgument, gexc.NotFound, gexc.FailedPrecondition) as exc:
            if action == "decrypt":
                raise DecryptionError(f"GCP KMS could not decrypt the data key ({exc.message})", where=where,
                                      hint="wrong key, or a tampered `enc`") from None
            raise KeyMaterialError(f"GCP KMS refused to {action} with this key ({exc.message})", where=where,
                                   hint="check that the key exists and is enabled") from None
        except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError) as exc:
            raise ProviderError(f"GCP KMS is unreachable during {action} ({type(exc).__name__})", where=where,
                                hint=f"check the network and {ENV_ENDPOINT}") from None
        except gexc.GoogleAPICallError as exc:
            raise ProviderError(f"GCP KMS {action} failed ({type(exc).__name__}: {exc.message})",
                                where=where) from None


def from_cli(value: str, **opts: Any) -> list[MasterKey]:
    """Keys from `--gcp-kms` / SOPS_GCP_KMS_IDS: comma-separated resource ids (spaces dropped).

    Options: `endpoint`, `insecure`, `root_certificates`, `timeout`; others are ignored.
    """
    known = {name: opts[name] for name in ("endpoint", "insecure", "root_certificates", "timeout") if name in opts}
    keys: list[MasterKey] = []
    for entry in value.split(","):
        resource_id = entry.replace(" ", "")
        if not resource_id:
            continue
        key = GcpKmsKey(resource_id, **known)
        key.check()
        keys.append(key)
    return keys
