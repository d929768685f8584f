"""pytest fixtures for the real Bitnami sealed-secrets controller (on the kube-apiserver peer).

    sealed_controller   session: one running controller (SealedController) whose keys live in
                        kube-system and whose Service kube-system/sealed-secrets-controller is
                        reachable through the API server's service proxy, as kubeseal expects
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.sealed_controller import SealedController, missing, start_controller


@pytest.fixture(scope="session")
def sealed_controller(kube_cluster: KubeCluster) -> Iterator[SealedController]:
    reason = missing()
    if reason:
        message = f"real sealed-secrets controller peer unavailable: {reason}"
        # A missing build fails a run that requires every peer (conftest turns the install
        # hint into a failure); a machine that cannot host it (no `unshare`, no routable
        # address) skips with the reason, and the skip stays visible in the summary.
        pytest.skip(message)
    controller = start_controller(kube_cluster)
    try:
        yield controller
    finally:
        controller.stop()
