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
from collections.abc import Mapping
from typing import Any

from ..errors import KeyMaterialError, ProviderError
from .base import FindSpec, Provider, RemoteRef, extract_property, value_map

BATCH = 10  # GetParameters accepts at most 10 names


class AwsParameterStoreProvider(Provider):
    kind = "aws-ssm"

    def __init__(self, session: Any, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self._session = session
        self._region = region
        self._endpoint = endpoint_url
        self._client: Any = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AwsParameterStoreProvider:
        import boto3

        session = boto3.session.Session(profile_name=config.get("profile") or None,
                                        region_name=config.get("region") or None)
        return cls(session, region=config.get("region") or None, endpoint_url=config.get("endpoint_url") or None)

    def _make(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
        return self._session.client(service, region_name=self._region, endpoint_url=self._endpoint, config=config)

    def _ssm(self) -> Any:
        if self._client is None:
            self._client = self._make("ssm")
        return self._client

    def _call(self, what: str, where: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )

        try:
            return fn(**kwargs)
        except (NoCredentialsError, PartialCredentialsError):
            raise KeyMaterialError("no AWS credentials found", where=where,
                                   hint="give the sidecar credentials (IRSA, pod identity, or AWS_* env)") from None
        except NoRegionError:
            raise KeyMaterialError("no AWS region configured", where=where, hint="set AWS_REGION") from None
        except ClientError as ex:
            code = ex.response.get("Error", {}).get("Code", "error")
            hint = None
            if code in ("ParameterNotFound", "ParameterVersionNotFound"):
                hint = "check the parameter name and the version"
            elif code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId"):
                hint = "check the sidecar's IAM permissions (ssm:GetParameter*, kms:Decrypt)"
            raise ProviderError(f"AWS Parameter Store {what} failed: {code}", where=where, hint=hint) from None
        except BotoCoreError as ex:
            raise ProviderError(f"AWS Parameter Store {what} failed: {type(ex).__name__}", where=where) from None

    def _value(self, ref: RemoteRef) -> bytes:
        name = f"{ref.key}:{ref.version}" if ref.version else ref.key
        where = f"aws-ssm: {name}"
        out = self._call("GetParameter", where, self._ssm().get_parameter, Name=name, WithDecryption=True)
        value = out.get("Parameter", {}).get("Value")
        if value is None:
            raise ProviderError("the parameter has no value", where=where)
        return str(value).encode("utf-8")

    def get_secret(self, ref: RemoteRef) -> bytes:
        return extract_property(self._value(ref), ref.property, f"aws-ssm: {ref.describe()}")

    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        return value_map(self._value(ref), ref.property, f"aws-ssm: {ref.describe()}")

    def _pages(self, what: str, fn: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            args = dict(kwargs)
            if token:
                args["NextToken"] = token
            page = self._call(what, "aws-ssm", fn, **args)
            items.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items

    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        pattern = re.compile(spec.name_regex) if spec.name_regex else None
        values: dict[str, bytes] = {}
        if spec.path and not spec.tags:
            path = spec.path if spec.path.startswith("/") else "/" + spec.path
            params = self._pages("GetParametersByPath", self._ssm().get_parameters_by_path, "Parameters",
                                 Path=path.rstrip("/") or "/", Recursive=True, WithDecryption=True)
            for param in params:
                name = param["Name"]
                if pattern is None or pattern.search(name):
                    values[name] = str(param.get("Value", "")).encode("utf-8")
            return dict(sorted(values.items()))
        filters = [{"Key": f"tag:{key}", "Values": [value]} for key, value in sorted(spec.tags.items())]
        kwargs: dict[str, Any] = {"ParameterFilters": filters} if filters else {}
        described = self._pages("DescribeParameters", self._ssm().describe_parameters, "Parameters", **kwargs)
        names = sorted(
            p["Name"] for p in described
            if (pattern is None or pattern.search(p["Name"])) and (not spec.path or p["Name"].startswith(spec.path))
        )
        for start in range(0, len(names), BATCH):
            batch = names[start:start + BATCH]
            out = self._call("GetParameters", "aws-ssm", self._ssm().get_parameters, Names=batch, WithDecryption=True)
            for param in out.get("Parameters", []):
                values[param["Name"]] = str(param.get("Value", "")).encode("utf-8")
        return dict(sorted(values.items()))

    def validate(self) -> None:
        sts = self._make("sts")
        self._call("credential check (sts:GetCallerIdentity)", "aws-ssm", sts.get_caller_identity)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
