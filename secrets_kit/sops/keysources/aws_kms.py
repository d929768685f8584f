"""AWS KMS key source: the `kms` stanza of a sops file.

The data key (or Shamir share) is sent to KMS `Encrypt` under the key's ARN, with the
optional encryption context; `enc` is the standard base64 of the returned CiphertextBlob.
With a role (`arn:aws:kms:...:key/id+arn:aws:iam::...:role/name` on the command line) the
KMS calls use credentials from STS AssumeRole, session name `sops@<hostname>` as sops uses.
The region comes from the ARN. Credentials, profile and endpoint follow boto3's usual
chain, so `AWS_PROFILE`, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KMS` work as they do for
the Go SDK in sops.

boto3 is imported only when a key is used.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import socket
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from ...errors import (
    ConfigError,
    DecryptionError,
    KeyMaterialError,
    ProviderError,
    SecretsKitError,
)
from ..reasons import Reason
from .base import MasterKey, base64_enc

__all__ = ["AwsKmsKey", "from_cli", "parse_encryption_context"]

_ARN_RE = re.compile(r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$")
_SESSION_NAME_DROP = re.compile(r"[^a-zA-Z0-9=,.@_-]+")
_SESSION_NAME_LIMIT = 64

# KMS error codes that mean "this ciphertext does not open with this key and context".
_DECRYPT_CODES = frozenset({
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "InvalidKeyUsageException",
    "KMSInvalidStateException",
    "DisabledException",
    "NotFoundException",
})
# Error codes that mean "these credentials are missing, wrong or not allowed".
_CREDENTIAL_CODES = frozenset({
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
})

_T = TypeVar("_T")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _context_value(value: Any) -> str:
    # sops decodes metadata with mapstructure's weak typing: numbers and booleans become strings.
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def parse_encryption_context(text: str) -> dict[str, str]:
    """The `--encryption-context` form: `k1:v1,k2:v2` (exactly one `:` per pair)."""
    context: dict[str, str] = {}
    if not text:
        return context
    for pair in text.split(","):
        fields = pair.split(":")
        if len(fields) != 2:
            raise ConfigError(
                "Invalid KMS encryption context format",
                where="--encryption-context",
                hint="use comma-separated key:value pairs, e.g. app:web,env:prod",
                reason=Reason.BAD_ENCRYPTION_CONTEXT,
            )
        context[fields[0]] = fields[1]
    return context


def session_name() -> str:
    """`sops@<hostname>` with the characters STS refuses removed, at most 64 characters."""
    name = "sops@" + _SESSION_NAME_DROP.sub("", socket.gethostname())
    return name[:_SESSION_NAME_LIMIT]


_CLIENTS: dict[tuple[Any, ...], Any] = {}


class AwsKmsKey(MasterKey):
    """One AWS KMS key (by ARN), optionally through an IAM role, with an encryption context."""

    stanza: ClassVar[str] = "kms"

    def __init__(
        self,
        arn: str,
        *,
        role: str = "",
        context: Mapping[str, Any] | None = None,
        aws_profile: str = "",
        created_at: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.arn = arn
        self.role = role
        self.context = {str(k): _context_value(v) for k, v in (context or {}).items()}
        self.aws_profile = aws_profile
        self.created_at = created_at or _now()
        self.endpoint_url = endpoint_url  # None: boto3's own resolution (AWS_ENDPOINT_URL...)
        self._client: Any = None

    # ------------------------------------------------------------------ description

    @property
    def identifier(self) -> str:
        return f"{self.arn}+{self.role}" if self.role else self.arn

    def __repr__(self) -> str:
        return f"AwsKmsKey({self.identifier!r})"

    @property
    def region(self) -> str:
        match = _ARN_RE.match(self.arn)
        if match is None:
            raise ConfigError(
                "no valid AWS KMS ARN",
                where=f"AWS KMS key {self.arn!r}",
                hint="expected arn:aws:kms:<region>:<account>:key/<id> (or alias/<name>)",
            )
        return match.group(1)

    @classmethod
    def from_arn(cls, text: str, *, context: Mapping[str, Any] | None = None,
                 aws_profile: str = "") -> AwsKmsKey:
        """One CLI entry: `ARN` or `ARN+ROLE_ARN`; spaces are dropped as sops does."""
        text = text.replace(" ", "")
        arn, role = text, ""
        plus = text.find("+arn:")
        if plus > 0:
            arn, role = text[:plus], text[plus + 1:]
        return cls(arn, role=role, context=context, aws_profile=aws_profile)

    @classmethod
    def from_stanza(cls, stanza: dict[str, Any]) -> AwsKmsKey:
        arn = stanza.get("arn")
        if not isinstance(arn, str) or not arn:
            raise KeyMaterialError("kms key stanza without an arn", where="sops metadata",
                                   hint="the file's metadata is corrupt")
        context = stanza.get("context") or {}
        if not isinstance(context, Mapping):
            raise KeyMaterialError("kms key context is not a map", where=f"AWS KMS key {arn!r}",
                                   hint="the file's metadata is corrupt")
        created = stanza.get("created_at")
        if isinstance(created, dt.datetime):
            created = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(
            arn,
            role=str(stanza.get("role") or ""),
            context=context,
            aws_profile=str(stanza.get("aws_profile") or ""),
            created_at=str(created) if created else None,
        )

    def to_stanza(self, enc: str) -> dict[str, Any]:
        """The stanza as sops 3.13 writes it (keys sorted; `aws_profile` always present)."""
        out: dict[str, Any] = {"arn": self.arn, "aws_profile": self.aws_profile}
        if self.context:
            out["context"] = dict(sorted(self.context.items()))
        out["created_at"] = self.created_at
        out["enc"] = enc
        if self.role:
            out["role"] = self.role
        return out

    # ---------------------------------------------------------------- wrap / unwrap

    def wrap(self, data_key: bytes) -> dict[str, Any]:
        client = self._kms()
        response = self._call("encrypt", lambda: client.encrypt(
            KeyId=self.arn, Plaintext=bytes(data_key), EncryptionContext=self.context))
        blob = response["CiphertextBlob"]
        return self.to_stanza(base64.b64encode(blob).decode("ascii"))

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        blob = base64_enc(stanza, "kms", self._where())
        client = self._kms()
        response = self._call("decrypt", lambda: client.decrypt(
            KeyId=self.arn, CiphertextBlob=blob, EncryptionContext=self.context))
        return bytes(response["Plaintext"])

    # --------------------------------------------------------------------- plumbing

    def _where(self) -> str:
        return f"AWS KMS key {self.identifier}"

    def _kms(self) -> Any:
        if self._client is None:
            # Key objects are rebuilt from the file's stanzas at each step (unwrap, then rewrap on
            # rotate/updatekeys): share one client per account setup, so a role is assumed once per
            # process (a command runs for seconds; the assumed credentials last an hour).
            setup = (self.aws_profile, self.region, self.role, self.endpoint_url,
                     tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))
            client = _CLIENTS.get(setup)
            if client is None:
                region = self.region
                client = _CLIENTS[setup] = self._call("connect", lambda: self._make_client(region))
            self._client = client
        return self._client

    def _make_client(self, region: str) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.aws_profile or None, region_name=region)
        config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})
        kwargs: dict[str, Any] = {"config": config}
        if self.role:
            # STS is found the usual way (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL / AWS's own).
            sts = session.client("sts", **kwargs)
            assumed = sts.assume_role(RoleArn=self.role, RoleSessionName=session_name())
            creds = assumed["Credentials"]
            kwargs.update(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return session.client("kms", **kwargs)

    def _call(self, action: str, fn: Callable[[], _T]) -> _T:
        """Run a boto3 call; turn its failures into our errors, naming the key and never the data."""
        from botocore import exceptions as bex

        where = self._where()
        try:
            return fn()
        except SecretsKitError:
            raise
        except bex.ProfileNotFound:
            raise KeyMaterialError(f"AWS profile {self.aws_profile!r} not found", where=where,
                                   hint="define it in ~/.aws/config or change aws_profile") from None
        except (bex.NoCredentialsError, bex.PartialCredentialsError, bex.CredentialRetrievalError,
                bex.TokenRetrievalError, bex.SSOError) as exc:
            raise KeyMaterialError(f"no usable AWS credentials ({type(exc).__name__})", where=where,
                                   hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
        except (bex.ConnectionError, bex.HTTPClientError) as exc:
            raise ProviderError(f"AWS is unreachable during {action}: {type(exc).__name__}", where=where,
                                hint="check the network, AWS_ENDPOINT_URL and the region in the ARN") from None
        except bex.ClientError as exc:
            raise self._client_error(action, exc) from None
        except bex.BotoCoreError as exc:
            raise ProviderError(f"AWS call failed during {action}: {type(exc).__name__}", where=where) from None

    def _client_error(self, action: str, exc: Any) -> SecretsKitError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = f"{code}: {error.get('Message', '')}".rstrip(": ")
        operation = getattr(exc, "operation_name", "") or action
        where = self._where()
        if operation == "AssumeRole":
            return KeyMaterialError(f"could not assume role {self.role} ({detail})", where=where,
                                    hint="check the role's trust policy and your credentials")
        if action == "decrypt" and code in {"AccessDenied", "AccessDeniedException"}:
            # KMS answers AccessDenied both for "not allowed" and for a ciphertext of a key that
            # does not exist here (another account or region): this key cannot open this `enc`.
            return DecryptionError(f"KMS refused to decrypt the data key ({detail})", where=where,
                                   hint="the ciphertext belongs to another key, account or region, "
                                        "or your identity may not use this key")
        if code in _CREDENTIAL_CODES:
            return KeyMaterialError(f"AWS refused the credentials for {action} ({detail})", where=where,
                                    hint="check AWS credentials, profile and the key policy")
        if action == "decrypt" and code in _DECRYPT_CODES:
            return DecryptionError(f"KMS could not decrypt the data key ({detail})", where=where,
                                   hint="wrong key, wrong encryption context, or a tampered `enc`")
        if code in _DECRYPT_CODES:
            return KeyMaterialError(f"KMS refused to {action} with this key ({detail})", where=where,
                                    hint="check that the key exists, is enabled and is in this region")
        return ProviderError(f"KMS {action} failed ({detail})", where=where)


def from_cli(value: str, **opts: Any) -> list[MasterKey]:
    """Keys from `--kms` / SOPS_KMS_ARN: comma-separated `ARN` or `ARN+ROLE_ARN`.

    Options: `encryption_context` (the `k:v,...` text or a mapping), `aws_profile`, `endpoint_url`;
    others are ignored.
    """
    context_opt = opts.get("encryption_context") or {}
    context = parse_encryption_context(context_opt) if isinstance(context_opt, str) else dict(context_opt)
    profile = str(opts.get("aws_profile") or "")
    keys: list[MasterKey] = []
    for entry in value.split(","):
        if not entry.strip():
            continue
        key = AwsKmsKey.from_arn(entry, context=context, aws_profile=profile)
        key.endpoint_url = opts.get("endpoint_url") or None
        key.region  # noqa: B018 - validate the ARN now, while the user is looking at the command line
        keys.append(key)
    return keys
