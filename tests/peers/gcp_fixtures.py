"""pytest fixtures for the GCP Secret Manager peer (drongo's server, v1 REST API, loopback only).

    gcp_sm_endpoint  session: "127.0.0.1:PORT" of a running emulator, stopped at the end
    gcp_sm_client    a google-cloud-secret-manager SecretManagerServiceClient wired to it

The emulator speaks REST, not gRPC (no gRPC one is obtainable here; see tests/peers/gcp.py),
so the client uses the REST transport: `http://` api_endpoint, anonymous credentials.
State lives for the session, so tests use their own secret ids; a test that needs an empty
store starts its own server with `start_gcp_emulator()` (or calls its `reset()`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.peers import versions
from tests.peers.gcp import INSTALL_HINT, emulator_installed, rest_client, start_gcp_emulator

if TYPE_CHECKING:
    from google.cloud.secretmanager import SecretManagerServiceClient


@pytest.fixture(scope="session")
def gcp_sm_endpoint() -> Iterator[str]:
    if not emulator_installed():
        pytest.skip(f"GCP Secret Manager emulator (PyPI drongo {versions.DRONGO}) missing: {INSTALL_HINT}")
    server = start_gcp_emulator()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def gcp_sm_client(gcp_sm_endpoint: str) -> Iterator[SecretManagerServiceClient]:
    pytest.importorskip("google.cloud.secretmanager")
    client = rest_client(gcp_sm_endpoint)
    try:
        yield client
    finally:
        client.transport.close()
