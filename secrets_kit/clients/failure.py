"""What a failed cloud call means, in one vocabulary for every cloud, and its default error.

Each cloud module classifies its library's exceptions into a `Failure` (its one error map);
`to_error` turns that into a `secrets_kit.errors` error naming the service, the call and
the item. A caller for whom a kind means something more precise (a KMS decrypt that is
refused means "this key cannot open this file") passes `refine`, which may return its own
error for some failures and None for the rest.

`detail` holds what the service said (an error code, Vault's error strings): names and
reasons, never request data, credentials or values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from ..errors import KeyMaterialError, ProviderError, SecretsKitError


class Kind(Enum):
    CREDENTIALS_MISSING = "credentials-missing"  # nothing to authenticate with
    CREDENTIALS_REFUSED = "credentials-refused"  # the service does not accept them (wrong, expired)
    DENIED = "denied"  # authenticated, but not allowed to do this
    NOT_FOUND = "not-found"
    INVALID = "invalid"  # the service refused the request itself (bad ciphertext, bad argument)
    PRECONDITION = "precondition"  # the item is in a state that forbids this (disabled, destroyed)
    UNAVAILABLE = "unavailable"  # answered, but cannot serve now (sealed, throttled, 5xx)
    UNREACHABLE = "unreachable"  # no answer: connection refused, timeout, DNS
    TLS = "tls"  # the server's certificate was not accepted
    FAILED = "failed"  # anything else the service reported


@dataclass(frozen=True)
class Failure:
    kind: Kind
    detail: str  # the service's own code/message, or the exception type
    operation: str = ""  # the API operation that failed, when the library says (e.g. "AssumeRole")


Refine = Callable[[Failure], SecretsKitError | None]
_T = TypeVar("_T")


def guarded(fn: Callable[[], _T], where: str, translate: Callable[[BaseException], SecretsKitError | None]) -> _T:
    """Run `fn`; an exception `translate` knows becomes our error (from None: the library's traceback
    may quote request data), ours get `where`, anything else passes unchanged."""
    try:
        return fn()
    except SecretsKitError as err:
        raise err.at(where) from None
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from None


def to_error(failure: Failure, *, service: str, what: str, where: str, cloud: str,
             hints: Mapping[Kind, str] | None = None, refine: Refine | None = None) -> SecretsKitError:
    """The error for `failure` of call `what` on `service` (e.g. "AWS Parameter Store", "GetParameter")."""
    if refine is not None:
        refined = refine(failure)
        if refined is not None:
            return refined
    hint = (hints or {}).get(failure.kind) or DEFAULT_HINTS.get(failure.kind, {}).get(cloud)
    kind, detail = failure.kind, failure.detail
    if kind is Kind.CREDENTIALS_MISSING:
        return KeyMaterialError(f"no {cloud} credentials found ({detail})", where=where, hint=hint)
    if kind is Kind.CREDENTIALS_REFUSED:
        return KeyMaterialError(f"{service} refused the credentials for {what} ({detail})", where=where, hint=hint)
    reason = {
        Kind.DENIED: "permission denied",
        Kind.NOT_FOUND: "not found",
        Kind.INVALID: "invalid request",
        Kind.PRECONDITION: "refused in the item's current state",
        Kind.UNAVAILABLE: f"{service} is unavailable",
        Kind.UNREACHABLE: f"{service} is unreachable",
        Kind.TLS: f"TLS verification of {service} failed",
    }.get(kind)
    text = f"{what} failed: {reason} ({detail})" if reason else f"{what} failed ({detail})"
    return ProviderError(f"{service} {text}", where=where, hint=hint)


DEFAULT_HINTS: dict[Kind, dict[str, str]] = {
    Kind.CREDENTIALS_MISSING: {
        "AWS": "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or give the pod an IAM role "
               "(IRSA, EKS pod identity)",
        "Google Cloud": "set GOOGLE_APPLICATION_CREDENTIALS, use workload identity, or run "
                        "`gcloud auth application-default login`",
        "Vault": "set VAULT_TOKEN or configure a login method",
    },
    Kind.CREDENTIALS_REFUSED: {
        "AWS": "check the AWS credentials and profile",
        "Google Cloud": "renew or replace the Google credentials",
        "Vault": "check the token or the login credentials",
    },
    Kind.UNREACHABLE: {
        "AWS": "check the network, the region and AWS_ENDPOINT_URL",
        "Google Cloud": "check the network and the endpoint",
        "Vault": "check VAULT_ADDR and the network path",
    },
    Kind.TLS: {"Vault": "set VAULT_CACERT to the server's CA bundle"},
    Kind.UNAVAILABLE: {"Vault": "the server is sealed, overloaded or behind a failing proxy"},
}
