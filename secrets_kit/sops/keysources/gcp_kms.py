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

Credentials, clients and the error map are `secrets_kit.clients.gcp`'s; this module reads
sops's settings and says what KMS's answers mean for a data key. google-cloud-kms and grpc
are imported only when a key is used (extra `gcp`).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ...clients import gcp
from ...clients.failure import Failure, Kind
from ...errors import ConfigError, DecryptionError, KeyMaterialError, SecretsKitError
from .base import MasterKey, base64_enc

__all__ = ["GcpKmsKey", "from_cli"]

RESOURCE_ID_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
ENV_CREDENTIALS = "GOOGLE_CREDENTIALS"
ENV_ACCESS_TOKEN = "GOOGLE_OAUTH_ACCESS_TOKEN"
ENV_ENDPOINT = "SOPS_GCP_KMS_ENDPOINT"
ENV_CLIENT_TYPE = "SOPS_GCP_KMS_CLIENT_TYPE"
ENV_UNIVERSE_DOMAIN = "SOPS_GCP_KMS_UNIVERSE_DOMAIN"
_T = TypeVar("_T")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        self._gcp: gcp.GcpSession | None = None

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
        response = self._call("encrypt", lambda kms, options: kms.encrypt(
            request={"name": self.resource_id, "plaintext": bytes(data_key)}, **options))
        return self.to_stanza(base64.b64encode(bytes(response.ciphertext)).decode("ascii"))

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        ciphertext = base64_enc(stanza, "gcp_kms", self._where())
        response = self._call("decrypt", lambda kms, options: kms.decrypt(
            request={"name": self.resource_id, "ciphertext": ciphertext}, **options))
        return bytes(response.plaintext)

    # --------------------------------------------------------------------- plumbing

    def _where(self) -> str:
        return f"GCP KMS key {self.resource_id}"

    def _session(self) -> gcp.GcpSession:
        if self._gcp is None:
            self.check()
            self._gcp = gcp.GcpSession(self._settings())
        return self._gcp

    def _settings(self) -> gcp.GcpSettings:
        """The settings sops reads (gcpkms/keysource.go), with this key's own overrides."""
        endpoint = self.endpoint or os.environ.get(ENV_ENDPOINT) or None
        if self.insecure and not endpoint:
            raise ConfigError("an insecure GCP KMS channel needs an endpoint", where=self._where(),
                              hint=f"pass endpoint= or set {ENV_ENDPOINT}")
        raw = os.environ.get(ENV_CREDENTIALS, "")
        text = None
        if raw and not self.insecure:
            try:
                text = Path(raw).read_text() if os.path.isfile(raw) else raw
            except OSError as exc:
                raise KeyMaterialError(f"cannot read {ENV_CREDENTIALS} file ({exc.strerror})",
                                       where=self._where()) from None
        return gcp.GcpSettings(
            credentials_json=text, credentials_source=ENV_CREDENTIALS,
            access_token=os.environ.get(ENV_ACCESS_TOKEN) or None,
            transport="rest" if os.environ.get(ENV_CLIENT_TYPE, "").lower() == "rest" else "grpc",
            endpoint=endpoint, universe_domain=os.environ.get(ENV_UNIVERSE_DOMAIN) or None,
            insecure=self.insecure, root_certificates=self.root_certificates, timeout=self.timeout)

    def _call(self, action: str, fn: Callable[[Any, dict[str, Any]], _T]) -> _T:
        """Run `fn(kms client, call options)`; failures become our errors, naming the key and never the data."""
        def run() -> _T:
            session = self._session()
            return fn(session.kms(), session.call_options())

        return gcp.call(run, service="GCP KMS", what=action, where=self._where(),
                        refine=lambda failure: self._refine(action, failure), hints={
                            Kind.CREDENTIALS_MISSING: f"set {ENV_CREDENTIALS}, {ENV_ACCESS_TOKEN} or "
                                                      "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth "
                                                      "application-default login`",
                            Kind.CREDENTIALS_REFUSED: "check the credentials and the key's IAM policy",
                            Kind.UNREACHABLE: f"check the network and {ENV_ENDPOINT}"})

    def _refine(self, action: str, failure: Failure) -> SecretsKitError | None:
        """What KMS's answers mean for a data key."""
        where, detail = self._where(), failure.detail
        if failure.kind is Kind.DENIED:
            if action == "decrypt":
                return DecryptionError(f"GCP KMS refused to decrypt the data key ({detail})", where=where,
                                       hint="your identity may not use this key (roles/cloudkms.cryptoKeyDecrypter)")
            return KeyMaterialError(f"GCP KMS refused the credentials for {action} ({detail})", where=where,
                                    hint="check the credentials and the key's IAM policy")
        if failure.kind in (Kind.INVALID, Kind.NOT_FOUND, Kind.PRECONDITION):
            if action == "decrypt":
                return DecryptionError(f"GCP KMS could not decrypt the data key ({detail})", where=where,
                                       hint="wrong key, or a tampered `enc`")
            return KeyMaterialError(f"GCP KMS refused to {action} with this key ({detail})", where=where,
                                    hint="check that the key exists and is enabled")
        return None


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
