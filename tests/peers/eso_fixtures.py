"""pytest fixtures for the real External Secrets Operator v0.16.2 (on the kube-apiserver peer).

    eso_crds        session: ESO's own CRDs (from the Go module cache) created on kube_cluster;
                    the list of CRD names
    eso_runner      session: start_eso(namespace, *extra_args, env=None) -> EsoController, a callable that
                    starts the real ESO core controller watching one namespace (created if
                    absent); every controller it started is stopped at the end of the session
    eso_controller  function: one ESO controller watching the test's kube_namespace
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.peers.eso import EsoController, missing, register_crds, start_eso
from tests.peers.kube import KubeCluster

EsoRunner = Callable[..., EsoController]


def _need_eso() -> None:
    reason = missing()
    if reason:
        # conftest turns this skip into a failure when SECRETS_KIT_REQUIRE_PEERS is set (CI)
        pytest.skip(f"real ESO controller peer unavailable: {reason}")


@pytest.fixture(scope="session")
def eso_crds(kube_cluster: KubeCluster) -> list[str]:
    _need_eso()
    return register_crds(kube_cluster)


@pytest.fixture(scope="session")
def eso_runner(kube_cluster: KubeCluster, eso_crds: list[str]) -> Iterator[EsoRunner]:
    started: list[EsoController] = []

    def run(namespace: str, *extra_args: str, timeout: float = 60.0,
            env: dict[str, str] | None = None) -> EsoController:
        eso = start_eso(kube_cluster, namespace, extra_args=tuple(extra_args), timeout=timeout, crds=False, env=env)
        started.append(eso)
        return eso

    try:
        yield run
    finally:
        for eso in reversed(started):
            eso.stop()


@pytest.fixture
def eso_controller(eso_runner: EsoRunner, kube_namespace: str) -> Iterator[EsoController]:
    eso = eso_runner(kube_namespace)
    try:
        yield eso
    finally:
        eso.stop_process()
