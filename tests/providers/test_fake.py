"""The provider interface and registry, through the fake store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secrets_kit.errors import ConfigError, ProviderError
from secrets_kit.providers import REGISTRY, FindSpec, RemoteRef, open_provider
from secrets_kit.providers.fake import FakeProvider


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


STORE = """\
apiVersion: secrets-kit.io/v1alpha1
kind: FakeSecretStore
secrets:
  - key: apps/db
    value: {username: app, password: fake-pass-1, nested: {port: 5432, tls: true}}
    version: "2"
    tags: {team: a}
    history:
      "1": {username: app, password: fake-pass-0}
  - key: apps/token
    value: plain-token-value
    tags: {team: b}
  - key: other/cert
    value: "-----BEGIN FAKE-----"
"""


@pytest.fixture
def fake(tmp_path: Path) -> FakeProvider:
    provider = open_provider("fake", {"file": str(write(tmp_path / "store.yaml", STORE))})
    assert isinstance(provider, FakeProvider)
    return provider


def test_fake_get_secret(fake: FakeProvider) -> None:
    assert fake.get_secret(RemoteRef("apps/token")) == b"plain-token-value"
    assert json.loads(fake.get_secret(RemoteRef("apps/db")))["password"] == "fake-pass-1"
    assert fake.get_secret(RemoteRef("apps/db", property="password")) == b"fake-pass-1"
    assert fake.get_secret(RemoteRef("apps/db", property="nested.port")) == b"5432"
    assert fake.get_secret(RemoteRef("apps/db", property="nested.tls")) == b"true"
    assert fake.get_secret(RemoteRef("apps/db", property="password", version="1")) == b"fake-pass-0"


def test_fake_get_secret_map(fake: FakeProvider) -> None:
    assert fake.get_secret_map(RemoteRef("apps/db")) == {
        "username": b"app", "password": b"fake-pass-1", "nested": b'{"port":5432,"tls":true}'}
    assert fake.get_secret_map(RemoteRef("apps/db", property="nested")) == {"port": b"5432", "tls": b"true"}


def test_fake_find(fake: FakeProvider) -> None:
    assert sorted(fake.find_secrets(FindSpec(name_regex="^apps/"))) == ["apps/db", "apps/token"]
    assert sorted(fake.find_secrets(FindSpec(tags={"team": "b"}))) == ["apps/token"]
    assert sorted(fake.find_secrets(FindSpec(path="other/"))) == ["other/cert"]
    assert fake.find_secrets(FindSpec(tags={"team": "c"})) == {}


@pytest.mark.parametrize(("ref", "message"), [
    (RemoteRef("missing"), "secret not found"),
    (RemoteRef("apps/db", version="9"), "version '9' not found"),
    (RemoteRef("apps/db", property="nope"), "property 'nope' not found"),
    (RemoteRef("apps/token", property="x"), "not JSON"),
])
def test_fake_errors(fake: FakeProvider, ref: RemoteRef, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        fake.get_secret(ref)


def test_fake_map_of_a_string_fails(fake: FakeProvider) -> None:
    with pytest.raises(ProviderError, match="not JSON"):
        fake.get_secret_map(RemoteRef("apps/token"))


def test_fake_close(fake: FakeProvider) -> None:
    fake.validate()
    with fake:
        pass
    with pytest.raises(ProviderError, match="closed"):
        fake.validate()


@pytest.mark.parametrize("text", [
    "kind: Other\n",
    "kind: FakeSecretStore\nsecrets: {a: b}\n",
    "kind: FakeSecretStore\nsecrets: [{key: a}]\n",
    "kind: FakeSecretStore\nsecrets: [{key: a, value: b}, {key: a, value: c}]\n",
    "kind: FakeSecretStore\nsecrets: [{key: a, value: b, tags: [x]}]\n",
])
def test_bad_fake_stores(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        open_provider("fake", {"file": str(write(tmp_path / "s.yaml", text))})


def test_registry() -> None:
    assert {"fake", "aws-secretsmanager"} <= set(REGISTRY)
    with pytest.raises(ConfigError, match="unknown secret provider"):
        open_provider("nope")
    with pytest.raises(ConfigError, match="file"):
        open_provider("fake", {})


# ----------------------------------------------------------------------------------------- AWS


def test_registry_lists_the_new_providers() -> None:
    assert {"vault", "aws-ssm", "gcp-secretmanager"} <= set(REGISTRY)

