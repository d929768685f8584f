"""The runtime's one seam to the pure sync engine (`secrets_kit.externalsecrets`: spec/fetch/
reconcile/fanout, the stores' StoreClients, the template's render). Every call into the engine goes
through here, so its exact signatures are adapted in one place; the store checks the runtime owns
(ClusterSecretStore conditions, store status) are written here too, from ESO v0.16.2's
pkg/controllers/secretstore/{client_manager,common}.go.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from secrets_kit.errors import SecretsKitError
from secrets_kit.externalsecrets.fanout import external_secret_name, owned_by, plan_fanout
from secrets_kit.externalsecrets.fanout import fanout_status as core_status
from secrets_kit.externalsecrets.fetch import fetch as core_fetch
from secrets_kit.externalsecrets.hashing import synced_resource_version
from secrets_kit.externalsecrets.reconcile import needs_refresh as core_needs_refresh
from secrets_kit.externalsecrets.reconcile import plan as core_plan
from secrets_kit.externalsecrets.reconcile import write_failed as core_write_failed
from secrets_kit.externalsecrets.refs import NoSecretError
from secrets_kit.externalsecrets.spec import parse_external_secret, parse_go_duration
from secrets_kit.externalsecrets.stores import StoreClients, cluster_store_allows
from secrets_kit.externalsecrets.stores import denied_message as stores_denied

from . import core as facts

MSG_STORE_VALIDATED = "store validated"
MSG_UNABLE_CREATE_CLIENT = "unable to create client"
MSG_UNABLE_VALIDATE = "unable to validate store: {}"


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def is_expected_error(err: BaseException) -> bool:
    """An error the engine reports as a status (provider, config, template): anything else is a bug."""
    return isinstance(err, SecretsKitError)


# -- the engine's entry points ---------------------------------------------------------------------


def store_clients(reads: Any, metrics: Any, options: Any) -> Any:
    # Vault reports every HTTP request itself (logins and token lookups included, after its read cache)
    on_call = getattr(metrics, "provider_call", None)
    return StoreClients(reads, vault_cache_seconds=options.provider_read_window, on_call=on_call)


def read_max_age(es: Mapping[str, Any], window: float) -> float:
    """How old a shared provider read may be for this ExternalSecret's sync (refs.READ_MAX_AGE): the
    window for a first sync (the burst it exists for), at most half the refreshInterval for a periodic
    refresh, and 0 — a fresh read, as ESO — after a failure or when its labels/annotations changed
    (force-sync)."""
    status = es.get("status") or {}
    synced = status.get("syncedResourceVersion")
    if not synced:
        return window
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "True" or synced != synced_resource_version(es.get("metadata") or {}):
        return 0.0
    refresh = retry_cap(es, window * 2)  # the refreshInterval, capped
    return min(window, refresh / 2)


def retry_cap(es: Mapping[str, Any], cap: float) -> float:
    """The error backoff's ceiling for one ExternalSecret: never past its refreshInterval (ESO's CRD
    default 1h; 0 = sync once keeps `cap`), so a provider that comes back is synced within one refresh
    however long it was down (ESO's rate limiter grows to 1000 s regardless of the refresh)."""
    text = (es.get("spec") or {}).get("refreshInterval")
    try:
        seconds = parse_go_duration(str(text)) / 1e9 if text is not None else 3600.0
    except (SecretsKitError, ValueError):
        return cap
    return min(cap, seconds) if seconds > 0 else cap


def needs_refresh(es: dict[str, Any], existing: dict[str, Any] | None, now: dt.datetime) -> Any:
    return core_needs_refresh(es, existing, now)


async def fetch(es_obj: dict[str, Any], client_for: Callable[[Any], Awaitable[Any]]) -> Any:
    # ESO's controller: the admission webhook's rules are not the controller's (plan() reports them its way)
    es = parse_external_secret(es_obj, webhook_checks=False)
    return await core_fetch(es, client_for)


async def plan(es: dict[str, Any], existing: dict[str, Any] | None, fetched: Any,
               sources: Mapping[tuple[str, str], Mapping[str, bytes]], now: dt.datetime, options: Any) -> Any:
    kwargs: dict[str, Any] = {}
    delimiters = (options.template_left_delimiter, options.template_right_delimiter)
    if delimiters != ("{{", "}}"):  # --template-left/right-delimiter
        # the Go template engine loads only when it is used
        from secrets_kit.externalsecrets import template as _template

        def render(*args: Any, **kw: Any) -> Any:
            return _template.render(*args, delimiters=delimiters, **kw)

        kwargs["render"] = render
    # templates are CPU work: off the event loop, so watches and HTTP keep flowing
    return await asyncio.to_thread(core_plan, es, existing, fetched, sources, now, **kwargs)


def write_failed(es: dict[str, Any], error_text: str, now: dt.datetime, action: str) -> Any:
    return core_write_failed(es, error_text, now, action=action if action in (
        "create", "update", "delete", "cleanup_orphans") else "update")


# -- ClusterSecretStore conditions: the stores' cluster_store_allows / denied_message ---------------


def namespace_allowed(store: Mapping[str, Any], namespace: str, labels: Mapping[str, str]) -> bool:
    return bool(cluster_store_allows(dict(store), namespace, labels))


def denied_message(store: Mapping[str, Any], namespace: str) -> str:
    return str(stores_denied(dict(store), namespace))


# -- store validation (common.go reconcile / validateStore) ---------------------------------------


async def validate_store(clients: Any, store: dict[str, Any], now: dt.datetime) -> tuple[dict[str, Any], list[Event], bool]:
    """(the store's new status, events, ok). As ESO v0.16.2: a store whose client cannot be built is
    Ready=False InvalidProviderConfig "unable to create client" (the error in a Warning event); a failed
    Validate() is Ready=False ValidationFailed; Valid and Unknown results are Ready=True Valid "store
    validated". Deliberate: the Normal `Valid` event is posted when the condition changes, not on every
    re-validation (ESO posts one every --store-requeue-interval per store)."""
    status = facts.status_of(store)
    was = facts.ready_condition(store)
    try:
        result = await clients.validate(store)
    except SecretsKitError as err:
        new = facts.set_condition(status, facts.READY, "False", "InvalidProviderConfig", MSG_UNABLE_CREATE_CLIENT, now)
        return new, [Event("Warning", "InvalidProviderConfig", str(err))], False
    outcome = str(getattr(result, "result", "Valid"))
    if outcome == "Error":
        message = str(getattr(result, "message", "") or "validation failed")
        new = facts.set_condition(status, facts.READY, "False", "ValidationFailed",
                                  MSG_UNABLE_VALIDATE.format(message), now)
        return new, [Event("Warning", "ValidationFailed", message)], False
    new = facts.set_condition(status, facts.READY, "True", "Valid", MSG_STORE_VALIDATED, now)
    new["capabilities"] = "ReadWrite"  # fake and vault: SecretStoreReadWrite in v0.16.2
    events = [] if (was or {}).get("reason") == "Valid" and (was or {}).get("status") == "True" else [
        Event("Normal", "Valid", MSG_STORE_VALIDATED)]
    return new, events, True


def store_interval(store: Mapping[str, Any], default: dt.timedelta) -> float:
    """spec.refreshInterval (seconds, as ESO v0.16.2's int field) or --store-requeue-interval."""
    value = (store.get("spec") or {}).get("refreshInterval")
    try:
        seconds = float(value) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        seconds = 0.0
    return seconds if seconds > 0 else default.total_seconds()


# -- ClusterExternalSecret: the core's fanout.py ---------------------------------------------------


def fanout_plan(ces: dict[str, Any], namespaces: list[dict[str, Any]],
                existing: Mapping[str, Mapping[str, Any] | None]) -> Any:
    return plan_fanout(ces, namespaces, existing)


def fanout_es_name(ces: Mapping[str, Any]) -> str:
    return str(external_secret_name(ces))


def fanout_owned(es: Mapping[str, Any] | None, ces_name: str) -> bool:
    return bool(owned_by(es, ces_name))


def fanout_status(ces: Mapping[str, Any], provisioned: list[str], failed: Mapping[str, str]) -> dict[str, Any]:
    return dict(core_status(ces, provisioned, failed))


# -- provider call counts (externalsecret_provider_api_calls_count) --------------------------------

PROVIDER_LABELS = {"vault": ("HashiCorp/Vault", "ReadSecretData", "ListSecrets"),
                   "fake": ("Fake", "GetSecret", "GetAllSecrets")}
SELF_COUNTING = {"vault", "aws", "gcpsm"}  # providers whose client reports each HTTP request (StoreClients' on_call)


class CountingClient:
    """A StoreClient that counts its reads into the provider-call metric (ESO's provider/call/status
    labels; a provider's own answer that a key does not exist counts as a successful call)."""

    def __init__(self, inner: Any, provider: str, on_call: Callable[[str, str, bool], None]) -> None:
        self.inner, self.on_call = inner, on_call
        self.self_counting = provider in SELF_COUNTING
        self.provider, self.read_call, self.find_call = PROVIDER_LABELS.get(provider, (provider, "GetSecret",
                                                                                        "GetAllSecrets"))

    async def _count(self, call: str, work: Awaitable[Any]) -> Any:
        if self.self_counting:
            return await work
        try:
            result = await work
        except NoSecretError:
            self.on_call(self.provider, call, True)
            raise
        except BaseException:
            self.on_call(self.provider, call, False)
            raise
        self.on_call(self.provider, call, True)
        return result

    async def get_secret(self, ref: Any) -> bytes:
        value: bytes = await self._count(self.read_call, self.inner.get_secret(ref))
        return value

    async def get_secret_map(self, ref: Any) -> dict[str, bytes]:
        value: dict[str, bytes] = await self._count(self.read_call, self.inner.get_secret_map(ref))
        return value

    async def get_all_secrets(self, find: Any) -> dict[str, bytes]:
        value: dict[str, bytes] = await self._count(self.find_call, self.inner.get_all_secrets(find))
        return value

    async def validate(self) -> Any:
        return await self.inner.validate()

    async def close(self) -> None:
        await self.inner.close()


def provider_name(store: Mapping[str, Any]) -> str:
    provider = (store.get("spec") or {}).get("provider") or {}
    return next(iter(provider), "") if isinstance(provider, Mapping) else ""
