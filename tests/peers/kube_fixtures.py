"""pytest fixtures for the real Kubernetes control plane (etcd + kube-apiserver).

    kube_cluster    session: a running cluster (KubeCluster: url, kubeconfig, admin token,
                    request()/apply()/kubectl(), create_service_account() for RBAC tests)
    kube_namespace  function: a fresh namespace for one test
    kubectl         session: the kubectl on PATH (the machine's 1.32); skips without one
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.kube import KubeCluster, running_cluster


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def kube_namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> str:
    """A new namespace named after the test. Not deleted: no namespace controller runs, and the
    whole cluster goes away with the session."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{secrets.token_hex(3)}"
    kube_cluster.ensure_namespace(name)
    return name


@pytest.fixture(scope="session")
def kubectl() -> Path:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl not on PATH: install kubectl 1.32 (Debian's kubernetes-client is 1.20, too old)")
    return Path(found)
