"""Fixtures for the operator tests: a kube-apiserver of their own (the session's has a Bitnami
controller watching every namespace, which would race ours), and our operator on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.peers.kube import KubeCluster, running_cluster
from tests.peers.sealed_controller import missing


@pytest.fixture(scope="session")
def op_cluster() -> Iterator[KubeCluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def proxy_ok() -> None:
    """The service-proxy prerequisites (non-loopback address) the Bitnami peer also needs."""
    from tests.peers.sealed_controller import external_ipv4

    if external_ipv4() is None:
        pytest.skip("no non-loopback IPv4 address: the API server's service proxy refuses loopback endpoints")


@pytest.fixture(scope="session")
def bitnami_ok() -> None:
    reason = missing()
    if reason:
        pytest.skip(f"real sealed-secrets controller peer unavailable: {reason}")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def other_pair(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A key pair no controller has: what it seals, no controller opens."""
    from secrets_kit.sealed.keys import KeyFolder

    return KeyFolder(tmp_path_factory.mktemp("foreign-keys")).create(bits=2048, name="foreign")
