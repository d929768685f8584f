"""`secrets-kit operator run`: one asyncio loop holding kopf (watches, indexes), the work queue's
workers, the key renewal timer and the HTTP servers; SIGTERM/SIGINT stop it gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

import kopf

from secrets_kit.errors import SecretsKitError

from .controller import SealedSecretController
from .keystate import KeyState
from .kube import Kube, KubeError, load_credentials
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


async def run_async(options: Options) -> int:
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

    runners = [await serve(api_app(keys, metrics, lambda: keys.loaded and kopf_ready.is_set()),
                           *options.listen_addr),
               await serve(metrics_app(metrics), *options.listen_metrics_addr)]
    log.info("listening", extra={"fields": {"api": "{}:{}".format(*options.listen_addr),
                                            "metrics": "{}:{}".format(*options.listen_metrics_addr)}})
    tasks: list[asyncio.Task[Any]] = []
    try:
        if not await _bootstrap_keys(keys, stop):
            return 0
        registry = kopf.OperatorRegistry()

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=creds.server, ca_path=creds.ca_path, token=creds.token,
                                       scheme="Bearer" if creds.token else None,
                                       certificate_path=creds.cert_path, private_key_path=creds.key_path,
                                       insecure=creds.insecure, default_namespace=options.namespace)

        controller.register(registry)
        tasks = [loop.create_task(controller.work()) for _ in range(options.workers)]
        tasks.append(loop.create_task(keys.renew_forever()))
        namespaces = options.watched_namespaces
        log.info("starting", extra={"fields": {"namespaces": ",".join(namespaces) if namespaces else "*",
                                               "keys_namespace": options.namespace}})
        await kopf.operator(registry=registry, standalone=True, clusterwide=namespaces is None,
                            namespaces=namespaces or (), stop_flag=stop, ready_flag=kopf_ready,
                            settings=_settings())
        return 0
    except SecretsKitError:
        raise
    finally:
        await controller.queue.close()
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


def run(options: Options) -> int:
    profile_to = os.environ.get("SECRETS_KIT_OPERATOR_PROFILE")
    if not profile_to:
        return asyncio.run(run_async(options))
    # for bench/: where the event loop's time goes (kopf, JSON, HTTP); the reconcile threads are
    # measured by the bench itself
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(asyncio.run, run_async(options))
    finally:
        profiler.dump_stats(profile_to)
