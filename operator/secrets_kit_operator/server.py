"""HTTP on upstream's ports and paths: the API kubeseal calls (through the API server's service
proxy) and, on the metrics port, /metrics. Bodies come from the core (secrets_kit.sealed.service);
this module only speaks HTTP. Like upstream, the handlers accept any method."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from secrets_kit.sealed import service

from .keystate import KeyState
from .metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.Response]]
MAX_BODY = 2 * 1024 * 1024


def _response(result: tuple[int, str, bytes]) -> web.Response:
    status, content_type, body = result
    return web.Response(status=status, body=body, headers={"Content-Type": content_type})


def api_app(keys: KeyState, metrics: Metrics, ready: Callable[[], bool]) -> web.Application:
    def instrument(path: str, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.Response:
            started = time.perf_counter()
            response = await handler(request)
            metrics.http_requests.labels(path, str(response.status), request.method.lower()).inc()
            metrics.http_duration.labels(path, request.method.lower()).observe(time.perf_counter() - started)
            return response
        return wrapped

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n", content_type="text/plain")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ok\n", content_type="text/plain")
        return web.Response(status=503, text="not ready: keys or the initial listing are not loaded yet\n",
                            content_type="text/plain")

    async def cert(_: web.Request) -> web.Response:
        return _response(service.cert_pem(keys.keys, keys.options.key_order_priority))

    async def verify(request: web.Request) -> web.Response:
        body = await request.read()
        return _response(await asyncio.to_thread(service.verify, body, keys.keyring,
                                                 accept_v1_data=keys.options.accept_v1_data))

    async def rotate(request: web.Request) -> web.Response:
        body = await request.read()
        return _response(await asyncio.to_thread(service.rotate, body, keys.keyring, keys.newest))

    app = web.Application(client_max_size=MAX_BODY)
    for path, handler in (("/healthz", healthz), ("/readyz", readyz), ("/v1/cert.pem", instrument("/v1/cert.pem", cert)),
                          ("/v1/verify", instrument("/v1/verify", verify)),
                          ("/v1/rotate", instrument("/v1/rotate", rotate))):
        app.router.add_route("*", path, handler)
    return app


class Exposes(Protocol):
    def exposition(self) -> bytes: ...


def metrics_app(*sources: Exposes, ready: Callable[[], bool] | None = None) -> web.Application:
    """/metrics of one or more registries (the sealed and the ExternalSecret controller may share a port);
    with `ready`, also /healthz and /readyz (the ExternalSecret controller alone has no other server)."""
    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=b"".join(source.exposition() for source in sources),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n", content_type="text/plain")

    async def readyz(_: web.Request) -> web.Response:
        if ready is None or ready():
            return web.Response(text="ok\n", content_type="text/plain")
        return web.Response(status=503, text="not ready: the initial listing is not loaded yet\n",
                            content_type="text/plain")

    app = web.Application()
    app.router.add_route("GET", "/metrics", scrape)
    if ready is not None:
        app.router.add_route("GET", "/healthz", healthz)
        app.router.add_route("GET", "/readyz", readyz)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
