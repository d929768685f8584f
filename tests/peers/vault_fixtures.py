"""pytest fixtures for the real Vault-API server (dev mode, configured with hvac).

    vault_dev        session: VaultSetup (server, root token, AppRole/userpass/JWT credentials,
                     KV v1 at kv-v1/, KV v2 at kv-v2/ and secret/, transit key)
    vault_kube_auth  session: Kubernetes auth on vault_dev, against the kube_cluster fixture
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.vault import (
    INSTALL_HINT,
    KubeAuth,
    VaultSetup,
    configure,
    configure_kubernetes_auth,
    start_vault,
    vault_binary,
)


@pytest.fixture(scope="session")
def vault_dev() -> Iterator[VaultSetup]:
    if vault_binary() is None:
        pytest.skip(f"real Vault-API server (OpenBao/Vault) missing: {INSTALL_HINT}")
    server = start_vault()
    try:
        yield configure(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def vault_kube_auth(vault_dev: VaultSetup, kube_cluster: KubeCluster) -> KubeAuth:
    return configure_kubernetes_auth(vault_dev, kube_cluster)
