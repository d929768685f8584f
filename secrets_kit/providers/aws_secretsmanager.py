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
from typing import Any

from ..errors import ProviderError
from .aws_base import AwsProvider
from .base import FindSpec, RemoteRef, extract_property, value_map

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


class AwsSecretsManagerProvider(AwsProvider):
    kind = "aws-secretsmanager"
    service = "secretsmanager"
    label = "AWS Secrets Manager"
    not_found_hint = "check the secret name and the version"
    denied_hint = "check the sidecar's IAM permissions (secretsmanager:GetSecretValue, kms:Decrypt)"

    def _value(self, ref: RemoteRef) -> bytes:
        where = f"aws-secretsmanager: {ref.key}"
        kwargs: dict[str, Any] = {"SecretId": ref.key}
        if ref.version:
            kwargs["VersionId" if _UUID.match(ref.version) else "VersionStage"] = ref.version
        out = self._call("GetSecretValue", where, "get_secret_value", **kwargs)
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
            page = self._call("ListSecrets", "aws-secretsmanager", "list_secrets", **kwargs)
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
