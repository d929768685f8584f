"""The ExternalSecret controller's settings: ESO's controller flags (same names where the knob
exists), with defaults chosen for speed rather than copied (ESO: --concurrent 1, qps 50, burst 100)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

LEADER_ELECTION_ID = "external-secrets-controller"


@dataclass(frozen=True)
class ExternalOptions:
    namespace: str | None = None  # ESO's --namespace: watch only this namespace (None: every one)
    kubeconfig: str | None = None
    controller_class: str = "default"
    concurrent: int = 64
    client_qps: float = 0.0  # 0: no client-side limit (the API server's priority & fairness applies)
    client_burst: int = 400
    metrics_addr: tuple[str, int] | None = ("0.0.0.0", 8080)  # None: share the sealed controller's
    enable_leader_election: bool = False
    leader_election_namespace: str = "default"  # the Lease's namespace: the controller's own
    # --shards: replicas split the namespaces, one Lease per shard (in leader_election_namespace)
    shards: int = 1
    shard_lease_duration: float = 15.0  # renew deadline 2/3 of it, retry 2/15 (15 s → 10 s, 2 s as ESO's)
    store_requeue_interval: dt.timedelta = dt.timedelta(minutes=5)
    enable_flood_gate: bool = True
    template_left_delimiter: str = "{{"
    template_right_delimiter: str = "}}"
    queue_size: int = 100_000
    # refreshes are spread over [interval - jitter, interval] so 1,000 ExternalSecrets created together
    # do not all refresh in the same second forever (ESO #4231); a fraction of the interval, capped
    refresh_jitter: float = 0.1
    refresh_jitter_max: dt.timedelta = dt.timedelta(minutes=5)
    # provider-error backoff: ESO's per-item exponential 1 s → 7 min (here with full jitter)
    error_backoff_base: float = 1.0
    error_backoff_max: float = 420.0
    # reads of one remote key within this many seconds share one provider request (0: every reconcile reads)
    provider_read_window: float = 30.0
    credentials_cache_ttl: float = 10.0  # credentials Secrets and TokenRequests: short read-through cache

    @property
    def watched_namespaces(self) -> tuple[str, ...] | None:
        return (self.namespace,) if self.namespace else None
