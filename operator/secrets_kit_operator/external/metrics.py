"""ESO's metric names and labels (`externalsecret_*`, `secretstore_*`, `clustersecretstore_*`,
`clusterexternalsecret_*`, `externalsecret_provider_api_calls_count`), in their own registry."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.utils import floatToGoString

NAME_NS = ["name", "namespace"]


class Family:
    """One metric family held as a plain dict (label values → value) and written in Go's text format
    under exactly ESO's name. Why not prometheus_client's Counter/Gauge: a child object with its own
    lock per series is about 0.7 KiB, and ESO's per-ExternalSecret series at 10,000 objects were 28 MiB;
    and prometheus_client renames counters (`_total` in HELP/TYPE, `_created` series), which ESO's
    `externalsecret_sync_calls_error` and `externalsecret_provider_api_calls_count` do not have."""

    def __init__(self, name: str, documentation: str, kind: str, labelnames: list[str]) -> None:
        self.name, self.documentation, self.kind, self.labelnames = name, documentation, kind, tuple(labelnames)
        self.values: dict[tuple[str, ...], float] = {}
        self.lock = threading.Lock()  # Vault's on_call runs in worker threads

    def labels(self, *values: str) -> _Child:
        return _Child(self, tuple(str(v) for v in values))

    def remove(self, *values: str) -> None:
        with self.lock:
            del self.values[tuple(str(v) for v in values)]

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.documentation}", f"# TYPE {self.name} {self.kind}"]
        with self.lock:
            items = sorted(self.values.items())
        order = sorted(range(len(self.labelnames)), key=lambda i: self.labelnames[i])  # by name, as Go's client
        for values, value in items:
            labels = ",".join(f'{self.labelnames[i]}="{_escape(values[i])}"' for i in order)
            lines.append(f"{self.name}{{{labels}}} {floatToGoString(value)}" if labels
                         else f"{self.name} {floatToGoString(value)}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Child:
    __slots__ = ("key", "parent")

    def __init__(self, parent: Family, key: tuple[str, ...]) -> None:
        self.parent, self.key = parent, key

    def inc(self, amount: float = 1.0) -> None:
        with self.parent.lock:
            self.parent.values[self.key] = self.parent.values.get(self.key, 0.0) + amount

    def set(self, value: float) -> None:
        with self.parent.lock:
            self.parent.values[self.key] = float(value)


CONDITION = ["name", "namespace", "condition", "status"]


class ExternalMetrics:
    def __init__(self, *, process: bool = True) -> None:
        self.registry = CollectorRegistry()  # the process and platform collectors
        if process:
            prometheus_client.ProcessCollector(registry=self.registry)
            prometheus_client.PlatformCollector(registry=self.registry)
        self.families: list[Family] = []
        f = self._family
        self.sync_calls = f("externalsecret_sync_calls_total", "Total number of the External Secret sync calls",
                            "counter", NAME_NS)
        self.sync_errors = f("externalsecret_sync_calls_error", "Total number of the External Secret sync errors",
                             "counter", NAME_NS)
        self.es_condition = f("externalsecret_status_condition", "The status condition of a specific External Secret",
                              "gauge", CONDITION)
        self.es_duration = f("externalsecret_reconcile_duration", "The duration time to reconcile the External Secret",
                             "gauge", NAME_NS)
        self.provider_calls = f("externalsecret_provider_api_calls_count",
                                "Number of API calls towards the secret provider", "counter",
                                ["provider", "call", "status"])
        kinds = (("SecretStore", "secretstore"), ("ClusterSecretStore", "clustersecretstore"))
        self.store_condition = {kind: f(f"{prefix}_status_condition", f"The status condition of a specific {kind}",
                                        "gauge", CONDITION) for kind, prefix in kinds}
        self.store_duration = {kind: f(f"{prefix}_reconcile_duration", f"The duration time to reconcile the {kind}",
                                       "gauge", NAME_NS) for kind, prefix in kinds}
        self.ces_condition = f("clusterexternalsecret_status_condition",
                               "The status condition of a specific Cluster External Secret", "gauge", CONDITION)
        self.ces_duration = f("clusterexternalsecret_reconcile_duration",
                              "The duration time to reconcile the Cluster External Secret", "gauge", NAME_NS)
        self.queue_depth = f("workqueue_depth", "Current depth of workqueue", "gauge", ["name"])
        self._ready: dict[tuple[str, str, str], str] = {}
        self._shards: Family | None = None

    def _family(self, name: str, documentation: str, kind: str, labelnames: list[str]) -> Family:
        family = Family(name, documentation, kind, labelnames)
        self.families.append(family)
        return family

    def shards_held(self, held: int) -> None:
        """--shards: how many shards this replica holds (only exported when sharding is on)."""
        if self._shards is None:
            self._shards = self._family("secrets_kit_external_shards_held",
                                        "Shards (--shards) of the ExternalSecret controller this replica holds",
                                        "gauge", [])
        self._shards.labels().set(held)

    def observe_es(self, namespace: str, name: str, status: dict[str, Any] | None) -> None:
        """As ESO: the current Ready status at 1, the opposite one at 0."""
        self._condition(self.es_condition, "ExternalSecret", namespace, name, status)

    def observe_store(self, kind: str, namespace: str, name: str, status: dict[str, Any] | None) -> None:
        self._condition(self.store_condition[kind], kind, namespace, name, status)

    def observe_ces(self, name: str, status: dict[str, Any] | None) -> None:
        self._condition(self.ces_condition, "ClusterExternalSecret", "", name, status)

    def _condition(self, gauge: Family, kind: str, namespace: str, name: str, status: dict[str, Any] | None) -> None:
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
        ours = "".join(family.render() for family in self.families).encode()
        return bytes(prometheus_client.generate_latest(self.registry)) + ours
