"""What the AWS providers share: settings from the provider config, one kept session, the error map.

Settings: `region`, `endpoint_url` (tests and private endpoints), `profile`; credentials follow
boto3's chain. No role can be named here: provider settings may come from an app's own config,
and assuming roles with the sidecar's identity is the platform's choice (its environment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from ..clients import aws
from ..clients.failure import Kind
from .base import Provider

_P = TypeVar("_P", bound="AwsProvider")
_T = TypeVar("_T")


class AwsProvider(Provider):
    """Base of the AWS providers: subclasses name their service and their error hints."""

    service: ClassVar[str]  # boto3 service name
    label: ClassVar[str]  # how messages name the service
    not_found_hint: ClassVar[str] = ""
    denied_hint: ClassVar[str | None] = None

    def __init__(self, session: aws.AwsSession) -> None:
        self._session = session

    @classmethod
    def from_config(cls: type[_P], config: Mapping[str, Any]) -> _P:
        return cls(aws.AwsSession(aws.AwsSettings(
            region=config.get("region") or None, profile=config.get("profile") or None,
            endpoint_url=config.get("endpoint_url") or None)))

    def client(self) -> Any:
        return self._session.client(self.service)

    def _call(self, what: str, where: str, operation: str, **kwargs: Any) -> Any:
        """Run one API call (`operation` is the client method); name the service, the call and the
        item, never a value. The client is built inside, so a bad profile is mapped too."""
        return self._run(what, where, lambda: getattr(self.client(), operation)(**kwargs))

    def _run(self, what: str, where: str, fn: Callable[[], _T]) -> _T:
        hints = {Kind.NOT_FOUND: self.not_found_hint, Kind.DENIED: self.denied_hint or ""}
        return aws.call(fn, service=self.label, what=what, where=where,
                        hints={kind: hint for kind, hint in hints.items() if hint})

    def validate(self) -> None:
        self._run("credential check (sts:GetCallerIdentity)", self.kind,
                  lambda: self._session.client("sts").get_caller_identity())

    def close(self) -> None:
        self._session.close()
