"""AWS Systems Manager Parameter Store through boto3 (credentials, region, endpoint from the SDK chain).

Mapping, as External Secrets Operator's Parameter Store provider does it:
- `get_secret(ref)`: GetParameter WithDecryption; `ref.version` selects `name:version` (a version
  number or a label); a key already written `name:3` is passed through as is;
  `ref.property` reads one JSON property of the value;
- `get_secret_map(ref)`: the value as a JSON object;
- `find_secrets(spec)`: GetParametersByPath (recursive) under `spec.path`, or DescribeParameters
  filtered by `tag:KEY` when tags are given; then a name regex here; values via GetParameters;
- `validate()`: STS GetCallerIdentity.
Settings: `region`, `endpoint_url`, `profile` (else AWS_REGION, AWS_ENDPOINT_URL, ... as boto3 reads them).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ProviderError
from .aws_base import AwsProvider
from .base import FindSpec, RemoteRef, extract_property, value_map

BATCH = 10  # GetParameters accepts at most 10 names


class AwsParameterStoreProvider(AwsProvider):
    kind = "aws-ssm"
    service = "ssm"
    label = "AWS Parameter Store"
    not_found_hint = "check the parameter name and the version"
    denied_hint = "check the sidecar's IAM permissions (ssm:GetParameter*, kms:Decrypt)"

    def _value(self, ref: RemoteRef) -> bytes:
        name = f"{ref.key}:{ref.version}" if ref.version else ref.key
        where = f"aws-ssm: {name}"
        out = self._call("GetParameter", where, "get_parameter", Name=name, WithDecryption=True)
        value = out.get("Parameter", {}).get("Value")
        if value is None:
            raise ProviderError("the parameter has no value", where=where)
        return str(value).encode("utf-8")

    def get_secret(self, ref: RemoteRef) -> bytes:
        return extract_property(self._value(ref), ref.property, f"aws-ssm: {ref.describe()}")

    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        return value_map(self._value(ref), ref.property, f"aws-ssm: {ref.describe()}")

    def _pages(self, what: str, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args = dict(kwargs)
            if token:
                args["NextToken"] = token
            page = self._call(what, "aws-ssm", operation, **args)
            items.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items

    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        pattern = re.compile(spec.name_regex) if spec.name_regex else None
        values: dict[str, bytes] = {}
        if spec.path and not spec.tags:
            path = spec.path if spec.path.startswith("/") else "/" + spec.path
            params = self._pages("GetParametersByPath", "get_parameters_by_path", "Parameters",
                                 Path=path.rstrip("/") or "/", Recursive=True, WithDecryption=True)
            for param in params:
                name = param["Name"]
                if pattern is None or pattern.search(name):
                    values[name] = str(param.get("Value", "")).encode("utf-8")
            return dict(sorted(values.items()))
        filters = [{"Key": f"tag:{key}", "Values": [value]} for key, value in sorted(spec.tags.items())]
        kwargs: dict[str, Any] = {"ParameterFilters": filters} if filters else {}
        described = self._pages("DescribeParameters", "describe_parameters", "Parameters", **kwargs)
        names = sorted(
            p["Name"] for p in described
            if (pattern is None or pattern.search(p["Name"])) and (not spec.path or p["Name"].startswith(spec.path))
        )
        for start in range(0, len(names), BATCH):
            batch = names[start:start + BATCH]
            out = self._call("GetParameters", "aws-ssm", "get_parameters", Names=batch, WithDecryption=True)
            for param in out.get("Parameters", []):
                values[param["Name"]] = str(param.get("Value", "")).encode("utf-8")
        return dict(sorted(values.items()))
