"""Prometheus metrics with the upstream controller's names and labels (prefix sealed_secrets_controller_)."""

from __future__ import annotations

import contextlib
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from secrets_kit import __version__

PREFIX = "sealed_secrets_controller"
CONDITION_VALUE = {"False": -1.0, "Unknown": 0.0, "True": 1.0}
INSTANCE_LABEL = "app.kubernetes.io/instance"

prometheus_client.disable_created_metrics()  # Go's client has no *_created series


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prometheus_client.ProcessCollector(registry=self.registry)
        prometheus_client.PlatformCollector(registry=self.registry)
        build = Gauge(f"{PREFIX}_build_info", "Build information.", ["revision"], registry=self.registry)
        build.labels(revision=__version__).set(1)
        self.unseal_requests = Counter(f"{PREFIX}_unseal_requests", "Total number of sealed secret unseal requests",
                                       registry=self.registry)
        self.unseal_errors = Counter(f"{PREFIX}_unseal_errors", "Total number of sealed secret unseal errors by reason",
                                     ["reason", "namespace"], registry=self.registry)
        self.condition_info = Gauge(
            f"{PREFIX}_condition_info",
            "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)",
            ["namespace", "name", "condition", "ss_app_kubernetes_io_instance"], registry=self.registry)
        self.http_requests = Counter(f"{PREFIX}_http_requests", "A counter for requests to the wrapped handler.",
                                     ["path", "code", "method"], registry=self.registry)
        self.http_duration = Histogram(f"{PREFIX}_http_request_duration_seconds",
                                       "A histogram of latencies for requests.", ["path", "method"],
                                       registry=self.registry)
        self._conditions: dict[tuple[str, str], tuple[str, str]] = {}

    def observe_conditions(self, sealed: dict[str, Any], status: dict[str, Any] | None) -> None:
        meta = sealed.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        instance = (meta.get("labels") or {}).get(INSTANCE_LABEL, "")
        for condition in (status or {}).get("conditions") or []:
            kind = str(condition.get("type", ""))
            self.condition_info.labels(ns, name, kind, instance).set(
                CONDITION_VALUE.get(str(condition.get("status")), 0.0))
            self._conditions[(ns, name)] = (kind, instance)

    def forget(self, namespace: str, name: str) -> None:
        known = self._conditions.pop((namespace, name), None)
        if known is not None:
            kind, instance = known
            with contextlib.suppress(KeyError):
                self.condition_info.remove(namespace, name, kind, instance)

    def exposition(self) -> bytes:
        return bytes(prometheus_client.generate_latest(self.registry))
