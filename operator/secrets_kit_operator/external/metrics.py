"""ESO's metric names and labels (`externalsecret_*`, `secretstore_*`, `clustersecretstore_*`,
`clusterexternalsecret_*`, `externalsecret_provider_api_calls_count`), in their own registry."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

NAME_NS = ["name", "namespace"]


class GoCounter:
    """A counter exposed under exactly its Go name (prometheus_client would add `_total`, which ESO's
    `externalsecret_sync_calls_error` and `externalsecret_provider_api_calls_count` do not have)."""

    def __init__(self, name: str, documentation: str, labelnames: list[str], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self.values: dict[tuple[str, ...], float] = {}
        self.lock = threading.Lock()  # Vault's on_call runs in worker threads
        registry.register(self)

    def labels(self, *values: str) -> _Child:
        return _Child(self, tuple(str(v) for v in values))

    def remove(self, *values: str) -> None:
        del self.values[tuple(str(v) for v in values)]

    def describe(self) -> list[Metric]:
        return [Metric(self.name, self.documentation, "counter")]

    def collect(self) -> list[Metric]:
        metric = Metric(self.name, self.documentation, "counter")
        for values, value in sorted(self.values.items()):
            metric.add_sample(self.name, dict(zip(self.labelnames, values, strict=True)), value)
        return [metric]


class _Child:
    def __init__(self, parent: GoCounter, key: tuple[str, ...]) -> None:
        self.parent, self.key = parent, key

    def inc(self, amount: float = 1.0) -> None:
        with self.parent.lock:
            self.parent.values[self.key] = self.parent.values.get(self.key, 0.0) + amount
CONDITION = ["name", "namespace", "condition", "status"]


class ExternalMetrics:
    def __init__(self, *, process: bool = True) -> None:
        self.registry = CollectorRegistry()
        if process:
            prometheus_client.ProcessCollector(registry=self.registry)
            prometheus_client.PlatformCollector(registry=self.registry)
        r = self.registry
        self.sync_calls = Counter("externalsecret_sync_calls_total", "Total number of the External Secret sync calls",
                                  NAME_NS, registry=r)
        self.sync_errors = GoCounter("externalsecret_sync_calls_error", "Total number of the External Secret sync errors",
                                   NAME_NS, registry=r)
        self.es_condition = Gauge("externalsecret_status_condition",
                                  "The status condition of a specific External Secret", CONDITION, registry=r)
        self.es_duration = Gauge("externalsecret_reconcile_duration",
                                 "The duration time to reconcile the External Secret", NAME_NS, registry=r)
        self.provider_calls = GoCounter("externalsecret_provider_api_calls_count",
                                      "Number of API calls towards the secret provider",
                                      ["provider", "call", "status"], registry=r)
        self.store_condition = {
            kind: Gauge(f"{prefix}_status_condition", f"The status condition of a specific {kind}", CONDITION,
                        registry=r)
            for kind, prefix in (("SecretStore", "secretstore"), ("ClusterSecretStore", "clustersecretstore"))}
        self.store_duration = {
            kind: Gauge(f"{prefix}_reconcile_duration", f"The duration time to reconcile the {kind}", NAME_NS,
                        registry=r)
            for kind, prefix in (("SecretStore", "secretstore"), ("ClusterSecretStore", "clustersecretstore"))}
        self.ces_condition = Gauge("clusterexternalsecret_status_condition",
                                   "The status condition of a specific Cluster External Secret",
                                   ["name", "namespace", "condition", "status"], registry=r)
        self.ces_duration = Gauge("clusterexternalsecret_reconcile_duration",
                                  "The duration time to reconcile the Cluster External Secret", NAME_NS, registry=r)
        self.queue_depth = Gauge("workqueue_depth", "Current depth of workqueue", ["name"], registry=r)
        self._ready: dict[tuple[str, str, str], str] = {}
        self._shards: Gauge | None = None

    def shards_held(self, held: int) -> None:
        """--shards: how many shards this replica holds (only exported when sharding is on)."""
        if self._shards is None:
            self._shards = Gauge("secrets_kit_external_shards_held",
                                 "Shards (--shards) of the ExternalSecret controller this replica holds",
                                 registry=self.registry)
        self._shards.set(held)

    def observe_es(self, namespace: str, name: str, status: dict[str, Any] | None) -> None:
        """As ESO: the current Ready status at 1, the opposite one at 0."""
        self._condition(self.es_condition, "ExternalSecret", namespace, name, status)

    def observe_store(self, kind: str, namespace: str, name: str, status: dict[str, Any] | None) -> None:
        self._condition(self.store_condition[kind], kind, namespace, name, status)

    def observe_ces(self, name: str, status: dict[str, Any] | None) -> None:
        self._condition(self.ces_condition, "ClusterExternalSecret", "", name, status)

    def _condition(self, gauge: Gauge, kind: str, namespace: str, name: str, status: dict[str, Any] | None) -> None:
        for condition in (status or {}).get("conditions") or []:
            if condition.get("type") != "Ready":
                continue
            value = str(condition.get("status"))
            gauge.labels(name, namespace, "Ready", value).set(1)
            other = {"True": "False", "False": "True"}.get(value)
            if other:
                gauge.labels(name, namespace, "Ready", other).set(0)
            self._ready[(kind, namespace, name)] = value

    def forget_es(self, namespace: str, name: str) -> None:
        self._ready.pop(("ExternalSecret", namespace, name), None)
        for status in ("True", "False", "Unknown"):
            with contextlib.suppress(KeyError):
                self.es_condition.remove(name, namespace, "Ready", status)
        for metric in (self.es_duration, self.sync_calls, self.sync_errors):
            with contextlib.suppress(KeyError):
                metric.remove(name, namespace)

    def provider_call(self, provider: str, call: str, ok: bool) -> None:
        self.provider_calls.labels(provider, call, "success" if ok else "error").inc()

    def exposition(self) -> bytes:
        return bytes(prometheus_client.generate_latest(self.registry))
