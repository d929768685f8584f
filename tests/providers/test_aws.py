"""The AWS providers, Secrets Manager and Parameter Store, against moto in server mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secrets_kit.errors import KeyMaterialError, ProviderError
from secrets_kit.providers import FindSpec, RemoteRef, open_provider
from tests.providers.fixtures import CLOSED


@pytest.fixture
def aws(aws_env: str) -> dict[str, str]:
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=aws_env, region_name="us-east-1")
    names = {}
    for name, value, tags in (("shop/db", json.dumps({"user": "shop", "password": "aws-pass-1"}), {"team": "shop"}),
                              ("shop/token", "aws-token-value", {"team": "shop"}),
                              ("billing/key", "billing-key", {"team": "billing"})):
        try:
            client.create_secret(Name=name, SecretString=value, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)
        names[name] = value
    client.create_secret(Name=f"bin-{id(client)}", SecretBinary=b"\x00\x01binary")
    names["binary"] = f"bin-{id(client)}"
    return names


def test_aws_secrets_manager(aws: dict[str, str], aws_env: str) -> None:
    provider = open_provider("aws-secretsmanager", {"region": "us-east-1", "endpoint_url": aws_env})
    with provider:
        provider.validate()
        assert provider.get_secret(RemoteRef("shop/token")) == b"aws-token-value"
        assert provider.get_secret(RemoteRef("shop/db", property="password")) == b"aws-pass-1"
        assert provider.get_secret_map(RemoteRef("shop/db")) == {"user": b"shop", "password": b"aws-pass-1"}
        assert provider.get_secret(RemoteRef(aws["binary"])) == b"\x00\x01binary"
        assert provider.get_secret(RemoteRef("shop/token", version="AWSCURRENT")) == b"aws-token-value"
        found = provider.find_secrets(FindSpec(tags={"team": "shop"}))
        assert sorted(found) == ["shop/db", "shop/token"]
        assert sorted(provider.find_secrets(FindSpec(name_regex="^billing/"))) == ["billing/key"]
        with pytest.raises(ProviderError, match="ResourceNotFoundException"):
            provider.get_secret(RemoteRef("shop/missing"))
        with pytest.raises(ProviderError, match="GetSecretValue failed"):
            provider.get_secret(RemoteRef("shop/token", version="NOSUCHSTAGE"))


def test_aws_unreachable(aws_env: str) -> None:
    provider = open_provider("aws-secretsmanager", {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"})
    with pytest.raises(ProviderError, match="failed"):
        provider.validate()


@pytest.mark.peer("moto")
def test_aws_ssm(ssm_data: str, aws_env: str) -> None:
    p = ssm_data
    with open_provider("aws-ssm", {"region": "us-east-1"}) as ssm:  # endpoint from AWS_ENDPOINT_URL
        ssm.validate()
        assert ssm.get_secret(RemoteRef(f"{p}/db", property="password")) == b"ssm-pw-2"  # decrypted
        assert ssm.get_secret(RemoteRef(f"{p}/db", property="password", version="1")) == b"ssm-pw-1"
        assert ssm.get_secret(RemoteRef(f"{p}/db:1", property="password")) == b"ssm-pw-1"
        assert ssm.get_secret(RemoteRef(f"{p}/db", property="password", version="stable")) == b"ssm-pw-1"
        assert ssm.get_secret_map(RemoteRef(f"{p}/db")) == {"user": b"u", "password": b"ssm-pw-2"}
        assert ssm.get_secret(RemoteRef(f"{p}/plain")) == b"ssm-plain-3"
        assert ssm.get_secret(RemoteRef(f"{p}/deep/list")) == b"a,b,c"
        by_path = ssm.find_secrets(FindSpec(path=p))
        assert sorted(by_path) == [f"{p}/db", f"{p}/deep/list", f"{p}/plain"]
        assert json.loads(by_path[f"{p}/db"])["password"] == "ssm-pw-2"
        assert sorted(ssm.find_secrets(FindSpec(path=p, name_regex="/pl"))) == [f"{p}/plain"]
        assert sorted(ssm.find_secrets(FindSpec(path=p, tags={"team": "billing"}))) == [f"{p}/deep/list"]
        with pytest.raises(ProviderError, match="ParameterNotFound") as missing:
            ssm.get_secret(RemoteRef(f"{p}/missing"))
        assert f"{p}/missing" in str(missing.value)
        with pytest.raises(ProviderError, match="GetParameter failed"):
            ssm.get_secret(RemoteRef(f"{p}/db", version="7"))
        with pytest.raises(ProviderError, match="not JSON"):
            ssm.get_secret_map(RemoteRef(f"{p}/plain"))


@pytest.mark.peer("moto")
def test_aws_ssm_unreachable_and_no_credentials(aws_env: str, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    down = open_provider("aws-ssm", {"region": "us-east-1", "endpoint_url": CLOSED})
    with pytest.raises(ProviderError, match="failed") as err:
        down.get_secret(RemoteRef("/app/x"))
    assert "/app/x" in str(err.value)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(KeyMaterialError, match="no AWS credentials"):
        open_provider("aws-ssm", {"region": "us-east-1"}).validate()

