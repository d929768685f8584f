"""pytest fixtures for the real Bitnami sealed-secrets controller (on the kube-apiserver peer).

    sealed_controller   session: one running controller (SealedController) whose keys live in
                        kube-system and whose Service kube-system/sealed-secrets-controller is
                        reachable through the API server's service proxy, as kubeseal expects
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.sealed_controller import SealedController, missing, start_controller


@pytest.fixture(scope="session")
def sealed_controller(kube_cluster: KubeCluster) -> Iterator[SealedController]:
    reason = missing()
    if reason:
        message = f"real sealed-secrets controller peer unavailable: {reason}"
        # Not every reason is a missing build (`unshare` may be refused): a run that requires
        # every peer must fail here rather than skip silently.
        if os.environ.get("SECRETS_KIT_REQUIRE_PEERS", "") not in ("", "0"):
            pytest.fail(message)
        pytest.skip(message)
    controller = start_controller(kube_cluster)
    try:
        yield controller
    finally:
        controller.stop()
