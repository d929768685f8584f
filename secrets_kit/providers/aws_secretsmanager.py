"""AWS Secrets Manager through boto3 (credentials, region and endpoint from the SDK's usual chain).

Mapping, as External Secrets Operator's AWS provider does it:
- `get_secret(ref)`: GetSecretValue; `ref.version` is a VersionId when it looks like a UUID,
  else a VersionStage (default AWSCURRENT); SecretString, else SecretBinary; `ref.property`
  reads one JSON property of the value;
- `get_secret_map(ref)`: the value as a JSON object;
- `find_secrets(spec)`: ListSecrets (filtered by tag keys/values and name prefix), then a
  name regex and exact tag match here, then GetSecretValue per match;
- `validate()`: STS GetCallerIdentity (are the credentials accepted at all).
Settings: `region`, `endpoint_url` (tests and private endpoints), `profile`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ProviderError
from .base import FindSpec, Provider, RemoteRef, extract_property, value_map

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


class AwsSecretsManagerProvider(Provider):
    kind = "aws-secretsmanager"

    def __init__(self, session: Any, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self._session = session
        self._region = region
        self._endpoint = endpoint_url
        self._client: Any = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AwsSecretsManagerProvider:
        import boto3

        session = boto3.session.Session(profile_name=config.get("profile") or None,
                                        region_name=config.get("region") or None)
        return cls(session, region=config.get("region") or None, endpoint_url=config.get("endpoint_url") or None)

    def _make(self, service: str) -> Any:
        from botocore.config import Config

        # Argo CD gives a render about 60 s: fail fast rather than retry for minutes.
        config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
        return self._session.client(service, region_name=self._region, endpoint_url=self._endpoint, config=config)

    def _sm(self) -> Any:
        if self._client is None:
            self._client = self._make("secretsmanager")
        return self._client

    def _call(self, what: str, where: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as ex:
            code = ex.response.get("Error", {}).get("Code", "error")
            hint = "check the secret name and the version" if code == "ResourceNotFoundException" else None
            raise ProviderError(f"AWS Secrets Manager {what} failed: {code}", where=where, hint=hint) from None
        except BotoCoreError as ex:
            raise ProviderError(f"AWS Secrets Manager {what} failed: {type(ex).__name__}", where=where) from None

    def _value(self, ref: RemoteRef) -> bytes:
        where = f"aws-secretsmanager: {ref.key}"
        kwargs: dict[str, Any] = {"SecretId": ref.key}
        if ref.version:
            kwargs["VersionId" if _UUID.match(ref.version) else "VersionStage"] = ref.version
        out = self._call("GetSecretValue", where, self._sm().get_secret_value, **kwargs)
        if out.get("SecretString") is not None:
            return str(out["SecretString"]).encode("utf-8")
        if out.get("SecretBinary") is not None:
            return bytes(out["SecretBinary"])
        raise ProviderError("the secret has no value", where=where)

    def get_secret(self, ref: RemoteRef) -> bytes:
        return extract_property(self._value(ref), ref.property, f"aws-secretsmanager: {ref.describe()}")

    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        return value_map(self._value(ref), ref.property, f"aws-secretsmanager: {ref.describe()}")

    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        filters: list[dict[str, Any]] = []
        for key, value in sorted(spec.tags.items()):
            filters += [{"Key": "tag-key", "Values": [key]}, {"Key": "tag-value", "Values": [value]}]
        if spec.path:
            filters.append({"Key": "name", "Values": [spec.path]})
        pattern = re.compile(spec.name_regex) if spec.name_regex else None
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Filters": filters} if filters else {}
            if token:
                kwargs["NextToken"] = token
            page = self._call("ListSecrets", "aws-secretsmanager", self._sm().list_secrets, **kwargs)
            for entry in page.get("SecretList", []):
                tags = {t["Key"]: t["Value"] for t in entry.get("Tags", [])}
                name = entry["Name"]
                if pattern is not None and not pattern.search(name):
                    continue
                if any(tags.get(k) != v for k, v in spec.tags.items()):
                    continue
                if spec.path and not name.startswith(spec.path):
                    continue
                names.append(name)
            token = page.get("NextToken")
            if not token:
                break
        return {name: self._value(RemoteRef(name)) for name in sorted(names)}

    def validate(self) -> None:
        sts = self._make("sts")
        self._call("credential check (sts:GetCallerIdentity)", "aws-secretsmanager", sts.get_caller_identity)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
