"""AWS KMS key source: the `kms` stanza of a sops file.

The data key (or Shamir share) is sent to KMS `Encrypt` under the key's ARN, with the
optional encryption context; `enc` is the standard base64 of the returned CiphertextBlob.
With a role (`arn:aws:kms:...:key/id+arn:aws:iam::...:role/name` on the command line) the
KMS calls use credentials from STS AssumeRole, session name `sops@<hostname>` as sops uses.
The region comes from the ARN. Credentials, profile and endpoint follow boto3's usual
chain, so `AWS_PROFILE`, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KMS` work as they do for
the Go SDK in sops. Sessions and the error map are `secrets_kit.clients.aws`'s; this module
says what KMS's answers mean for a data key.

boto3 is imported only when a key is used (extra `aws`).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import socket
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from ...clients import aws
from ...clients.failure import Failure, Kind
from ...errors import ConfigError, DecryptionError, KeyMaterialError, SecretsKitError
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


_SESSIONS: dict[tuple[Any, ...], aws.AwsSession] = {}


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
        self._aws: aws.AwsSession | None = None

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
        response = self._call("encrypt", lambda kms: kms.encrypt(
            KeyId=self.arn, Plaintext=bytes(data_key), EncryptionContext=self.context))
        blob = response["CiphertextBlob"]
        return self.to_stanza(base64.b64encode(blob).decode("ascii"))

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        blob = base64_enc(stanza, "kms", self._where())
        response = self._call("decrypt", lambda kms: kms.decrypt(
            KeyId=self.arn, CiphertextBlob=blob, EncryptionContext=self.context))
        return bytes(response["Plaintext"])

    # --------------------------------------------------------------------- plumbing

    def _where(self) -> str:
        return f"AWS KMS key {self.identifier}"

    def _session(self) -> aws.AwsSession:
        if self._aws is None:
            # Key objects are rebuilt from the file's stanzas at each step (unwrap, then rewrap on
            # rotate/updatekeys): share one session per account setup, so a role is assumed once per
            # process (a command runs for seconds; the assumed credentials last an hour).
            setup = (self.aws_profile, self.region, self.role, self.endpoint_url,
                     tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))
            session = _SESSIONS.get(setup)
            if session is None:
                # STS is found the usual way (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL / AWS's own).
                session = _SESSIONS[setup] = aws.AwsSession(aws.AwsSettings(
                    region=self.region, profile=self.aws_profile or None,
                    assume_role=aws.AssumeRole(self.role, session_name=session_name()) if self.role else None,
                    endpoint_urls={"kms": self.endpoint_url} if self.endpoint_url else {},
                    connect_timeout=10, read_timeout=60, retries=3))
            self._aws = session
        return self._aws

    def _call(self, action: str, fn: Callable[[Any], _T]) -> _T:
        """Run `fn(kms client)`; its failures become our errors, naming the key and never the data."""
        return aws.call(lambda: fn(self._session().client("kms")), service="KMS", what=action,
                        where=self._where(), refine=lambda failure: self._refine(action, failure),
                        hints={Kind.UNREACHABLE: "check the network, AWS_ENDPOINT_URL and the region in the ARN"})

    def _refine(self, action: str, failure: Failure) -> SecretsKitError | None:
        """What KMS's answers mean for a data key: which ones say "this key cannot open this file"."""
        where, detail = self._where(), failure.detail
        code = detail.split(":", 1)[0]
        if failure.operation.startswith("AssumeRole"):
            return KeyMaterialError(f"could not assume role {self.role} ({detail})", where=where,
                                    hint="check the role's trust policy and your credentials")
        if failure.kind is Kind.DENIED:
            if action == "decrypt":
                # KMS answers AccessDenied both for "not allowed" and for a ciphertext of a key that
                # does not exist here (another account or region): this key cannot open this `enc`.
                return DecryptionError(f"KMS refused to decrypt the data key ({detail})", where=where,
                                       hint="the ciphertext belongs to another key, account or region, "
                                            "or your identity may not use this key")
            return KeyMaterialError(f"AWS refused the credentials for {action} ({detail})", where=where,
                                    hint="check AWS credentials, profile and the key policy")
        if code in _DECRYPT_CODES:
            if action == "decrypt":
                return DecryptionError(f"KMS could not decrypt the data key ({detail})", where=where,
                                       hint="wrong key, wrong encryption context, or a tampered `enc`")
            return KeyMaterialError(f"KMS refused to {action} with this key ({detail})", where=where,
                                    hint="check that the key exists, is enabled and is in this region")
        return None


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
