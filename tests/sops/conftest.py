"""Shared fixtures for the SOPS tests: isolated identities, and runners for real sops and ours."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from secrets_kit.sops.keysources import age as age_source

REPO = Path(__file__).resolve().parents[2]
# The peer cache is found through HOME, which the tests replace: pin it first.
_PEERS = os.environ.get("SECRETS_KIT_PEERS") or str(Path.home() / ".cache" / "secrets-kit-peers")


@dataclass
class AgeIdentity:
    secret: str
    recipient: str
    keys_file: Path


def make_age_identity(directory: Path, name: str = "keys.txt") -> AgeIdentity:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    keys_file = directory / name
    keys_file.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    keys_file.chmod(0o600)
    return AgeIdentity(str(identity), str(identity.to_public()), keys_file)


_ISOLATE = ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "SOPS_AGE_SSH_PRIVATE_KEY_CMD", "SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "SOPS_KMS_ARN", "SOPS_GCP_KMS_IDS",
            "SOPS_VAULT_URIS", "SOPS_CONFIG", "SOPS_DECRYPTION_ORDER", "SOPS_EDITOR", "EDITOR",
            "SECRETS_KIT_SOPS_LAYOUT")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No identity or config of the machine leaks into a test; cwd is a fresh folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SECRETS_KIT_PEERS", _PEERS)
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("SOPS_DISABLE_VERSION_CHECK", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    age_source.clear_cache()
    yield work
    age_source.clear_cache()


@pytest.fixture
def age_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AgeIdentity:
    """An age identity, made available through SOPS_AGE_KEY_FILE."""
    keys = tmp_path / "keys"
    keys.mkdir()
    ident = make_age_identity(keys)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(ident.keys_file))
    age_source.clear_cache()
    return ident


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def run_cmd(cmd: list[str], input: bytes | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: int = 120) -> Result:
    done = subprocess.run(cmd, input=input, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd,
                          timeout=timeout, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def ours_cmd() -> list[str]:
    return [sys.executable, "-m", "secrets_kit_cli", "sops"]


def _runner(prefix: list[str]) -> object:
    """A `run(*args, input=, env=, cwd=)` for one program (exit codes and streams as a user sees them)."""

    def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Result:
        return run_cmd([*prefix, *args], input=input, env=env, cwd=cwd)

    return run


@pytest.fixture
def ours() -> object:
    """`secrets-kit sops ARGS...` in a subprocess."""
    return _runner(ours_cmd())


@pytest.fixture
def real_sops(sops_bin: Path) -> object:
    return _runner([str(sops_bin)])


@pytest.fixture
def real_sops311(sops311_bin: Path) -> object:
    return _runner([str(sops311_bin)])
