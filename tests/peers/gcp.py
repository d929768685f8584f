"""The GCP Secret Manager peer: drongo's standalone server on loopback, speaking the v1 REST API.

drongo (PyPI, "the moto for GCP") keeps Secret Manager state in memory: secrets with labels,
numbered versions, `latest` = the newest ENABLED version, enable/disable/destroy, and Google's
error statuses (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION).

It serves REST, not gRPC: no gRPC Secret Manager emulator can be had from the registries
here (see the note beside `DRONGO` in versions.py), so clients use the REST transport
(`transport="rest"`, an `http://` api_endpoint, anonymous credentials).

The server runs as its own process: the test interpreter with PYTHONPATH set to the peer
cache folders. drongo is never importable in the test process itself, because its wheel
registers a pytest plugin that patches every Secret Manager client it sees.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.peers import versions
from tests.peers.cache import cache_dir, log, pip_target
from tests.peers.kube import stop_child, wait_until_ready

if TYPE_CHECKING:
    from google.cloud.secretmanager import SecretManagerServiceClient

INSTALL_HINT = "run `python -m tests.peers.install gcp`"
HOST = "127.0.0.1"
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


# --------------------------------------------------------------------------------------------- build


def drongo_dir() -> Path:
    return cache_dir() / f"drongo-{versions.DRONGO}"


def responses_dir() -> Path:
    return cache_dir() / f"drongo-responses-{versions.DRONGO_RESPONSES}"


def build_gcp_emulator() -> Path:
    """Install (or find cached) drongo and its `responses` dependency; return drongo's folder."""
    root = pip_target(f"drongo=={versions.DRONGO}", drongo_dir().name)
    pip_target(f"responses=={versions.DRONGO_RESPONSES}", responses_dir().name)
    probe = subprocess.run(
        [sys.executable, "-c", "import drongo, drongo.server; print(drongo.__version__)"],
        env=server_env(), capture_output=True, text=True,
    )
    if probe.returncode != 0:
        raise RuntimeError(f"drongo {versions.DRONGO} does not import from {root}: {probe.stderr.strip()}")
    log(f"drongo: {probe.stdout.strip()} (Secret Manager v1 REST) at {root}")
    return root


def emulator_installed() -> bool:
    return (drongo_dir() / "drongo" / "server.py").is_file() and (responses_dir() / ".requirement").is_file()


def server_env() -> dict[str, str]:
    """The environment of the server process: the test's own, plus the peer cache on PYTHONPATH."""
    env = dict(os.environ)
    paths = [str(drongo_dir()), str(responses_dir())]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ------------------------------------------------------------------------------------------- server


@dataclass
class GcpEmulator:
    """A running drongo server, bound to 127.0.0.1 only."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.url}/drongo/health", timeout=2) as resp:
            return dict(json.loads(resp.read()))

    def reset(self) -> None:
        """Forget every secret (drongo's management API, like moto's /moto-api/reset)."""
        request = urllib.request.Request(f"{self.url}/drongo/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def stop(self) -> None:
        stop_child(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_gcp_emulator(*, timeout: float = 30.0) -> GcpEmulator:
    """Start drongo on a free port of 127.0.0.1 (it picks one: port 0) and wait until it answers."""
    if not emulator_installed():
        raise RuntimeError(f"GCP Secret Manager emulator (drongo {versions.DRONGO}) not installed: {INSTALL_HINT}")
    workdir = Path(tempfile.mkdtemp(prefix="secrets-kit-gcp-"))
    log_path = workdir / "server.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "drongo.cli", "server", "--host", HOST, "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=workdir, env=server_env(),
        )
    server = GcpEmulator(port=0, workdir=workdir, process=process)

    def ready() -> bool:
        if server.port == 0 and (match := _LISTENING.search(log_path.read_text(errors="replace"))):
            server.port = int(match.group(1))
        return bool(server.port) and _answers(server)

    try:
        wait_until_ready(ready, "drongo", process, log_path, timeout=timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _answers(server: GcpEmulator) -> bool:
    try:
        services = server.health().get("services")
    except (OSError, urllib.error.URLError, ValueError):
        return False
    if not isinstance(services, list) or "secretmanager" not in services:
        raise RuntimeError(f"drongo on {server.endpoint} serves no Secret Manager: {services!r}")
    return True


# ------------------------------------------------------------------------------------------- client


def rest_client(endpoint: str) -> SecretManagerServiceClient:
    """A google-cloud-secret-manager client for the emulator at `host:port` (REST transport)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.secretmanager import SecretManagerServiceClient

    return SecretManagerServiceClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options=ClientOptions(api_endpoint=f"http://{endpoint}"),
    )
