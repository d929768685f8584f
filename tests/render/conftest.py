"""Fixtures for the render-step tests: an age identity, a sealing key pair, real sops, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers.cache import find_binary


@dataclass
class Age:
    identity: Path
    recipient: str


@dataclass
class Sealing:
    folder: Path
    cert: Path
    key: Path


def _keygen(folder: Path, age_keygen_bin: Path) -> Age:
    """An age identity made by the real age-keygen."""
    identity = folder / "key.txt"
    subprocess.run([str(age_keygen_bin), "-o", str(identity)], check=True, capture_output=True)
    recipient = next(line.split(":", 1)[1].strip() for line in identity.read_text().splitlines()
                     if line.startswith("# public key:"))
    return Age(identity, recipient)


@pytest.fixture(scope="session")
def age_identity(tmp_path_factory: pytest.TempPathFactory, age_keygen_bin: Path) -> Age:
    return _keygen(tmp_path_factory.mktemp("age"), age_keygen_bin)


@pytest.fixture(scope="session")
def other_age_identity(tmp_path_factory: pytest.TempPathFactory, age_keygen_bin: Path) -> Age:
    return _keygen(tmp_path_factory.mktemp("age-other"), age_keygen_bin)


@pytest.fixture(scope="session")
def sealing(tmp_path_factory: pytest.TempPathFactory) -> Sealing:
    """A controller-shaped key pair (2048 bits: the tests need many of them to be quick)."""
    from secrets_kit.sealed.keys import KeyFolder

    folder = tmp_path_factory.mktemp("sealing")
    pair = KeyFolder(folder).create(name="cluster", bits=2048)
    assert pair.key_path is not None
    return Sealing(folder, pair.cert_path, pair.key_path)


@pytest.fixture(scope="session")
def other_sealing(tmp_path_factory: pytest.TempPathFactory) -> Sealing:
    from secrets_kit.sealed.keys import KeyFolder

    folder = tmp_path_factory.mktemp("sealing-other")
    pair = KeyFolder(folder).create(name="other", bits=2048)
    assert pair.key_path is not None
    return Sealing(folder, pair.cert_path, pair.key_path)


def _peer_binary(name: str, hint: str) -> Path:
    found = find_binary(name)
    if found is None:
        pytest.skip(f"{name} not found: {hint}")
    return found


@pytest.fixture(scope="session")
def kustomize_bin() -> Path:
    return _peer_binary("kustomize", "run `python -m tests.peers.install kustomize` (standalone kustomize)")


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return _peer_binary("helm", "run `python -m tests.peers.install helm`")


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    return _peer_binary("kubectl", "install kubectl (it embeds kustomize)")


@pytest.fixture
def render_env(tmp_path: Path, age_identity: Age) -> dict[str, str]:
    """The environment a render runs in: the age identity, a private state dir, no Argo CD variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARGOCD_", "PARAM_", "SOPS_", "SECRETS_KIT_", "KUBE_"))}
    env["SOPS_AGE_KEY_FILE"] = str(age_identity.identity)
    env["SECRETS_KIT_STATE_DIR"] = str(tmp_path / "state")
    return env


@pytest.fixture
def lib_env(monkeypatch: pytest.MonkeyPatch, render_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The same environment for in-process (library) renders; the age identity cache is reset."""
    from secrets_kit.sops.keysources import age

    for key in list(os.environ):
        if key not in render_env:
            monkeypatch.delenv(key)
    for key, value in render_env.items():
        monkeypatch.setenv(key, value)
    age.clear_cache()
    yield render_env
    age.clear_cache()


def run_cli(args: list[str], *, env: dict[str, str], cwd: Path | None = None,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "secrets_kit_cli", *args], env=env, cwd=cwd, input=stdin,
                          capture_output=True, timeout=120, check=False)
