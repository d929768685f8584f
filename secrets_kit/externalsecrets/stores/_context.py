"""What a provider module gets to build its client: the store's identity and scoped Kubernetes reads.

Namespace isolation lives here (ESO's resolvers.SecretKeyRef / createServiceAccountToken and
utils.ValidateReferent*Selector): a SecretStore reads its refs in its own namespace only (a ref
naming another namespace is refused); a ClusterSecretStore reads a ref in the ref's namespace, or,
when it has none ("referent auth"), in the ExternalSecret's namespace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ...errors import ProviderError

SECRET_STORE, CLUSTER_SECRET_STORE = "SecretStore", "ClusterSecretStore"
_T = TypeVar("_T")
NAMESPACE_NOT_ALLOWED = ("namespace should either be empty or match the namespace of the SecretStore "
                         "for a namespaced SecretStore")


class KubeReads(Protocol):
    """The Kubernetes reads a store needs (implemented by the operator's runtime)."""

    async def secret_value(self, namespace: str, name: str, key: str) -> bytes:
        """`data[key]` of Secret namespace/name; a ConfigError-family error naming ns/name/key when missing."""
        ...

    async def service_account_token(self, namespace: str, name: str, audiences: list[str],
                                    expiration_seconds: int) -> str:
        """A TokenRequest for ServiceAccount namespace/name."""
        ...


class ServiceAccountReads(Protocol):
    """Optional: AWS `auth.jwt` and GCP workload identity read the ServiceAccount's annotations
    (eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account; KubeReads implementations may add it)."""

    async def service_account(self, namespace: str, name: str) -> Mapping[str, Any]:
        """The ServiceAccount object; a ConfigError-family error naming ns/name when it does not exist."""
        ...


class ConfigMapReads(Protocol):
    """Optional: `caProvider.type: ConfigMap` needs it (KubeReads implementations may add it)."""

    async def config_map_value(self, namespace: str, name: str, key: str) -> bytes:
        ...


@dataclass(frozen=True)
class StoreContext:
    kind: str  # SecretStore | ClusterSecretStore
    name: str
    namespace: str  # the store's namespace ("" for a ClusterSecretStore)
    es_namespace: str  # the ExternalSecret's namespace ("" when validating a ClusterSecretStore)
    kube: KubeReads | None

    @property
    def where(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def cluster(self) -> bool:
        return self.kind == CLUSTER_SECRET_STORE

    def ref_namespace(self, ref: Mapping[str, Any], field: str) -> str:
        """The namespace a SecretKeySelector / ServiceAccountSelector is read in."""
        ns = ref.get("namespace")
        if not self.cluster:
            if ns and ns != self.namespace:
                raise ProviderError(f"{field}: {NAMESPACE_NOT_ALLOWED}", where=self.where)
            return self.namespace
        if ns:
            return str(ns)
        if not self.es_namespace:
            raise ProviderError(f"{field}: cluster scope requires namespace", where=self.where,
                                hint="set the ref's namespace, or use the store from an ExternalSecret "
                                     "(referent auth)")
        return self.es_namespace

    def _kube(self) -> KubeReads:
        if self.kube is None:
            raise ProviderError("this store needs Kubernetes reads but none were given", where=self.where)
        return self.kube

    async def secret_ref(self, ref: Any, field: str, *, default_key: str = "") -> str:
        """Resolve a SecretKeySelector to its value (as ESO: the bytes as a Go string)."""
        if not isinstance(ref, Mapping) or not ref.get("name"):
            raise ProviderError(f"{field}: a secret name is required", where=self.where)
        key = ref.get("key") or default_key
        if not key:
            raise ProviderError(f"{field}: a secret key is required", where=self.where)
        ns = self.ref_namespace(ref, field)
        value = await self._kube().secret_value(ns, str(ref["name"]), str(key))
        return value.decode("utf-8", "replace")

    async def service_account_token(self, ref: Any, field: str, audiences: list[str],
                                    expiration_seconds: int) -> str:
        if not isinstance(ref, Mapping) or not ref.get("name"):
            raise ProviderError(f"{field}: a service account name is required", where=self.where)
        ns = self.ref_namespace(ref, field)
        return await self._kube().service_account_token(ns, str(ref["name"]), audiences, expiration_seconds)

    async def service_account(self, ref: Any, field: str) -> tuple[str, Mapping[str, Any]]:
        """(namespace it was read in, the ServiceAccount) for a ServiceAccountSelector."""
        if not isinstance(ref, Mapping) or not ref.get("name"):
            raise ProviderError(f"{field}: a service account name is required", where=self.where)
        ns = self.ref_namespace(ref, field)
        reader = getattr(self._kube(), "service_account", None)
        if reader is None:
            raise ProviderError(f"{field} needs ServiceAccount reads, which this runtime lacks", where=self.where)
        found: Mapping[str, Any] = await reader(ns, str(ref["name"]))
        return ns, found

    async def service_account_annotations(self, ref: Any, field: str) -> dict[str, str]:
        _, account = await self.service_account(ref, field)
        return dict((account.get("metadata") or {}).get("annotations") or {})

    async def config_map_value(self, namespace: str, name: str, key: str) -> bytes:
        kube = self._kube()
        reader = getattr(kube, "config_map_value", None)
        if reader is None:
            raise ProviderError("caProvider type ConfigMap needs ConfigMap reads, which this runtime lacks",
                                where=self.where)
        value: bytes = await reader(namespace, name, key)
        return value


def on_loop(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, _T]],
            timeout: float = 60.0) -> _T:
    """Run a Kubernetes read on the event loop from a worker thread (logins and STS refreshes run in threads)."""
    return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout)


class ProviderThreads:
    """A provider SDK's own thread pool (boto3, google-cloud: blocking clients), made on first use, so
    their calls never queue behind the loop's default executor; the caller's context variables
    (READ_MAX_AGE, the write guard) travel with each call."""

    def __init__(self, size: int, name: str) -> None:
        self.size, self.name = size, name
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(self.size, thread_name_prefix=self.name)
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: ctx.run(fn, *args))


def compile_regexp(pattern: str, *, where: str) -> Any:
    """Go's regexp.Compile (RE2 syntax); `.search` is Go's MatchString."""
    import re2

    try:
        return re2.compile(pattern)
    except Exception:
        raise ProviderError(f"could not compile find.name.regexp [{pattern}]: not a valid RE2 regular expression",
                            where=where) from None
