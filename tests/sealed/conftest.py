"""Key pairs shared by the Sealed Secrets tests (2048-bit for speed; one 4096-bit pair like the controller's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secrets_kit.sealed.keys import KeyFolder, KeyPair


@pytest.fixture(scope="session")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> KeyFolder:
    folder = KeyFolder(tmp_path_factory.mktemp("sealed-keys"))
    folder.create(bits=2048, name="main")
    return folder


@pytest.fixture(scope="session")
def pair(key_folder: KeyFolder) -> KeyPair:
    return key_folder.newest()


@pytest.fixture(scope="session")
def other_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyFolder(tmp_path_factory.mktemp("other-keys")).create(bits=2048, name="other")


@pytest.fixture(scope="session")
def pair4096(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyFolder(tmp_path_factory.mktemp("keys4096")).create(name="big")


@pytest.fixture
def cert_file(pair: KeyPair) -> Path:
    return pair.cert_path


@pytest.fixture
def key_file(pair: KeyPair) -> Path:
    assert pair.key_path is not None
    return pair.key_path
