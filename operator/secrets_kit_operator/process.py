"""`secrets-kit operator run`: one asyncio loop holding the watches (kopf's for SealedSecrets, the
ExternalSecret controller's own informers), the work queues' workers, the key renewal timer and the
HTTP servers; SIGTERM/SIGINT stop it gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

import kopf

from .controller import SealedSecretController
from .external.options import ExternalOptions
from .keystate import KeyState
from .kube import Credentials, Kube, KubeError, load_credentials
from .metrics import Metrics
from .options import Options
from .server import api_app, metrics_app, serve

log = logging.getLogger("secrets_kit_operator")


def kopf_settings(settings: kopf.OperatorSettings) -> None:
    settings.posting.enabled = False  # we post our own events, with upstream's component and reasons
    settings.peering.standalone = True
    settings.peering.clusterwide = False
    settings.scanning.disabled = True  # the CRD and namespaces are known: no discovery watches
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10


def _log_in_with(registry: kopf.OperatorRegistry, creds: Credentials, namespace: str | None) -> None:
    """kopf's watches log in with the same credentials as our own client."""

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=creds.server, ca_path=creds.ca_path, token=creds.token,
                                   scheme="Bearer" if creds.token else None,
                                   certificate_path=creds.cert_path, private_key_path=creds.key_path,
                                   insecure=creds.insecure, default_namespace=namespace)


async def _bootstrap_keys(keys: KeyState, stop: asyncio.Event) -> bool:
    """Load (or mint) the keys; an unreachable or refusing API server is logged and retried."""
    delay = 1.0
    while not stop.is_set():
        try:
            await keys.bootstrap()
            return True
        except KubeError as err:
            log.error("cannot load the sealing keys; retrying", extra={"fields": {
                "namespace": keys.options.namespace, "status": err.status, "reason": err.reason,
                "error": err.message, "retry_in_s": delay}})
        except OSError as err:  # connection refused, DNS, TLS
            log.error("API server unreachable; retrying", extra={"fields": {"error": str(err), "retry_in_s": delay}})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 30.0)
    return False


async def run_async(options: Options | None, external: ExternalOptions | None = None) -> int:
    """Run the sealed controller (`options`), the ExternalSecret controller (`external`), or both on one
    loop, one API client and one kopf operator."""
    if options is None:
        assert external is not None
        return await _run_external_only(external)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    configuration, creds = await load_credentials(options.kubeconfig)
    kube = Kube(configuration)
    metrics = Metrics()
    keys = KeyState(options, kube)
    controller = SealedSecretController(options, kube, keys, metrics)
    kopf_ready = asyncio.Event()
    eso = _external_controller(external, kube)
    shared = [eso[1]] if eso is not None and external is not None and external.metrics_addr is None else []

    runners = [await serve(api_app(keys, metrics, lambda: keys.loaded and kopf_ready.is_set()),
                           *options.listen_addr),
               await serve(metrics_app(metrics, *shared), *options.listen_metrics_addr)]
    if eso is not None and external is not None and external.metrics_addr is not None:
        runners.append(await serve(metrics_app(eso[1], ready=lambda: kopf_ready.is_set()), *external.metrics_addr))
    log.info("listening", extra={"fields": {"api": "{}:{}".format(*options.listen_addr),
                                            "metrics": "{}:{}".format(*options.listen_metrics_addr)}})
    tasks: list[asyncio.Task[Any]] = []
    try:
        if not await _bootstrap_keys(keys, stop):
            return 0
        registry = kopf.OperatorRegistry()
        _log_in_with(registry, creds, options.namespace)

        controller.register(registry)
        tasks = [loop.create_task(controller.work()) for _ in range(options.workers)]
        tasks.append(loop.create_task(keys.renew_forever()))
        namespaces = options.watched_namespaces
        if eso is not None and external is not None:
            tasks += _external_tasks(eso[0], external, stop)  # its own informers: kopf watches SealedSecrets only
        log.info("starting", extra={"fields": {"namespaces": ",".join(namespaces) if namespaces else "*",
                                               "keys_namespace": options.namespace}})
        await kopf.operator(registry=registry, standalone=True, clusterwide=namespaces is None,
                            namespaces=namespaces or (), stop_flag=stop, ready_flag=kopf_ready,
                            settings=_settings())
        return 0
    finally:
        await controller.queue.close()
        if eso is not None:
            await eso[0].close()
        await _shut_down(tasks, runners, kube)


def _external_controller(external: ExternalOptions | None, kube: Kube) -> tuple[Any, Any] | None:
    if external is None:
        return None
    from .external.controller import ExternalSecretsController
    from .external.metrics import ExternalMetrics

    metrics = ExternalMetrics(process=external.metrics_addr is not None)
    return ExternalSecretsController(external, kube, metrics), metrics


def _external_tasks(eso: Any, external: ExternalOptions, stop: asyncio.Event) -> list[asyncio.Task[Any]]:
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(eso.work()) for _ in range(external.concurrent)]
    tasks.append(loop.create_task(eso.run_watches(stop)))
    return tasks


async def _run_external_only(external: ExternalOptions) -> int:
    """`--external-secrets --no-sealed-secrets`: no sealing keys, no sealed HTTP API; /metrics, /healthz
    and /readyz on --metrics-addr."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    configuration, _ = await load_credentials(external.kubeconfig)
    kube = Kube(configuration)
    eso = _external_controller(external, kube)
    assert eso is not None
    controller, metrics = eso
    address = external.metrics_addr or ("0.0.0.0", 8080)
    standby = asyncio.Event()  # leader election: waiting for the Lease (ready, as controller-runtime's probes)
    runners = [await serve(metrics_app(metrics, ready=lambda: standby.is_set() or controller.ready.is_set()),
                           *address)]
    log.info("listening", extra={"fields": {"metrics": "{}:{}".format(*address)}})
    tasks: list[asyncio.Task[Any]] = []
    sharding: asyncio.Task[Any] | None = None
    lost = False
    try:
        if external.shards > 1:
            from .external.shards import Sharder

            sharder = Sharder(controller.kube, external.leader_election_namespace, external.shards,
                              lease=external.shard_lease_duration)
            controller.attach(sharder)
            sharding = loop.create_task(sharder.run(stop))
            log.info("sharding", extra={"fields": {"shards": external.shards, "identity": sharder.identity,
                                                   "lease_s": external.shard_lease_duration}})
        if external.enable_leader_election:
            from .external.leader import LeaderElector
            from .external.options import LEADER_ELECTION_ID

            elector = LeaderElector(controller.kube, external.leader_election_namespace, LEADER_ELECTION_ID)
            standby.set()
            acquired = await elector.acquire(stop)
            standby.clear()
            if not acquired:
                return 0

            def on_lost() -> None:
                nonlocal lost
                lost = True
                stop.set()

            tasks.append(loop.create_task(elector.keep(stop, on_lost)))
        tasks += _external_tasks(controller, external, stop)
        namespaces = external.watched_namespaces
        log.info("starting", extra={"fields": {"controller": "external-secrets",
                                               "namespaces": ",".join(namespaces) if namespaces else "*",
                                               "controller_class": external.controller_class,
                                               "concurrent": external.concurrent}})
        await stop.wait()
        return 1 if lost else 0
    finally:
        await controller.close()
        if sharding is not None:  # hand the shards over before the client closes
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(sharding), 10)
            tasks.append(sharding)
        await _shut_down(tasks, runners, kube)


async def _shut_down(tasks: list[asyncio.Task[Any]], runners: list[Any], kube: Any) -> None:
    """After the controllers closed their queues: stop the workers, the HTTP servers, the client."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for runner in runners:
        await runner.cleanup()
    await kube.close()
    log.info("stopped")


def _settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    kopf_settings(settings)
    return settings


def run(options: Options | None, external: ExternalOptions | None = None) -> int:
    profile_to = os.environ.get("SECRETS_KIT_OPERATOR_PROFILE")
    if not profile_to:
        return asyncio.run(run_async(options, external))
    # for bench/: where the event loop's time goes (kopf, JSON, HTTP); the reconcile threads are
    # measured by the bench itself
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(asyncio.run, run_async(options, external))
    finally:
        profiler.dump_stats(profile_to)
