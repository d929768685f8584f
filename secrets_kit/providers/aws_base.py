"""What the AWS providers share: a boto3 session, fail-fast clients, and error mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from ..errors import KeyMaterialError, ProviderError
from .base import Provider

_P = TypeVar("_P", bound="AwsProvider")


class AwsProvider(Provider):
    """Base of the AWS providers: subclasses name their service and their error hints."""

    service: ClassVar[str]  # boto3 service name
    label: ClassVar[str]  # how messages name the service
    not_found_codes: ClassVar[frozenset[str]] = frozenset()
    not_found_hint: ClassVar[str] = ""
    denied_hint: ClassVar[str | None] = None

    def __init__(self, session: Any, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self._session = session
        self._region = region
        self._endpoint = endpoint_url
        self._client: Any = None

    @classmethod
    def from_config(cls: type[_P], config: Mapping[str, Any]) -> _P:
        import boto3

        session = boto3.session.Session(profile_name=config.get("profile") or None,
                                        region_name=config.get("region") or None)
        return cls(session, region=config.get("region") or None, endpoint_url=config.get("endpoint_url") or None)

    def _make(self, service: str) -> Any:
        from botocore.config import Config

        # Argo CD gives a render about 60 s: fail fast rather than retry for minutes.
        config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
        return self._session.client(service, region_name=self._region, endpoint_url=self._endpoint, config=config)

    def client(self) -> Any:
        if self._client is None:
            self._client = self._make(self.service)
        return self._client

    def _call(self, what: str, where: str, fn: Any, **kwargs: Any) -> Any:
        """Run one API call; name the service, the call and the item, never a value."""
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
            if code in self.not_found_codes:
                hint = self.not_found_hint
            elif code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId"):
                hint = self.denied_hint
            raise ProviderError(f"{self.label} {what} failed: {code}", where=where, hint=hint) from None
        except BotoCoreError as ex:
            raise ProviderError(f"{self.label} {what} failed: {type(ex).__name__}", where=where) from None

    def validate(self) -> None:
        sts = self._make("sts")
        self._call("credential check (sts:GetCallerIdentity)", self.kind, sts.get_caller_identity)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
