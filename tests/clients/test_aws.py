"""The AWS client against moto in server mode: how sessions get their credentials, what reaches STS,
that a kept session assumes its role once, and the error map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secrets_kit.clients import aws
from secrets_kit.clients.failure import Kind
from secrets_kit.errors import ConfigError, KeyMaterialError, ProviderError

OTHER_ROLE = "arn:aws:iam::111111111111:role/reader"  # moto answers AssumeRole into that account


def _identity(session: aws.AwsSession) -> dict[str, Any]:
    return dict(aws.call(lambda: session.client("sts").get_caller_identity(), service="STS",
                         what="GetCallerIdentity", where="test"))


def test_static_keys(aws_env: str) -> None:
    session = aws.AwsSession(aws.AwsSettings(region="us-east-1", access_key_id="AKIASTATICTEST000001",
                                             secret_access_key="static-secret"))
    assert session.client("sts")._request_signer._credentials.access_key == "AKIASTATICTEST000001"
    assert _identity(session)["Account"] == "123456789012"
    assert "static-secret" not in repr(session.settings)
    with pytest.raises(KeyMaterialError, match="both"):
        aws.AwsSession(aws.AwsSettings(access_key_id="AKIA-only")).client("sts")


def test_named_profile_and_a_missing_one(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = eu-west-1\naws_access_key_id = AKIAPROFILETEST00001\n"
                      "aws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    session = aws.AwsSession(aws.AwsSettings(profile="team"))
    client = session.client("sts")
    assert client.meta.region_name == "eu-west-1"
    assert client._request_signer._credentials.access_key == "AKIAPROFILETEST00001"
    with pytest.raises(KeyMaterialError, match="'nope' not found"):
        aws.call(lambda: aws.AwsSession(aws.AwsSettings(profile="nope")).client("sts"), service="STS",
                 what="connect", where="test")


def _spy_assume_role(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The parameters of every AssumeRole request, as botocore sends them, from any session's STS client."""
    calls: list[dict[str, Any]] = []
    make = aws.AwsSession._make

    def spying(self: aws.AwsSession, service: str, session: Any) -> Any:
        client = make(self, service, session)
        if service == "sts":
            client.meta.events.register("provide-client-params.sts.AssumeRole",
                                        lambda params, **_: calls.append(dict(params)))
        return client

    monkeypatch.setattr(aws.AwsSession, "_make", spying)
    return calls


def test_assume_role_sends_external_id_and_session_tags_once(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy_assume_role(monkeypatch)
    session = aws.AwsSession(aws.AwsSettings(region="us-east-1", assume_role=aws.AssumeRole(
        OTHER_ROLE, session_name="store-a", external_id="ext-123", session_tags={"team": "shop", "env": "prod"})))
    first = _identity(session)
    assert first["Account"] == "111111111111" and first["Arn"].endswith(":assumed-role/reader/store-a")
    for _ in range(3):
        _identity(session)
        session.client("kms").list_keys()
    assert len(calls) == 1, calls  # kept: the role is assumed once, not per call or per client
    assert calls[0]["ExternalId"] == "ext-123"
    assert calls[0]["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "shop"}]
    assert calls[0]["RoleSessionName"] == "store-a" and calls[0]["DurationSeconds"] == 3600


def test_web_identity_reads_its_token_file(aws_env: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("eyJ.fake-web-identity.token\n")
    session = aws.AwsSession(aws.AwsSettings(region="us-east-1", web_identity=aws.WebIdentity(
        OTHER_ROLE, str(token), session_name="irsa")))
    assert _identity(session)["Arn"].endswith(":assumed-role/reader/irsa")
    gone = aws.AwsSession(aws.AwsSettings(region="us-east-1", web_identity=aws.WebIdentity(
        OTHER_ROLE, str(tmp_path / "absent"))))
    with pytest.raises(KeyMaterialError, match="cannot read the web identity token") as err:
        _identity(gone)
    assert str(tmp_path / "absent") in str(err.value)


def test_endpoints_region_and_fail_fast_config(aws_env: str) -> None:
    session = aws.AwsSession(aws.AwsSettings(region="eu-central-1", endpoint_url="http://127.0.0.1:9",
                                             endpoint_urls={"sts": aws_env}, connect_timeout=2, read_timeout=3,
                                             retries=1, ca_bundle="/etc/ssl/private-ca.pem"))
    sts, kms = session.client("sts"), session.client("kms")
    assert (sts.meta.endpoint_url, kms.meta.endpoint_url) == (aws_env, "http://127.0.0.1:9")
    assert kms.meta.region_name == "eu-central-1"
    assert (kms.meta.config.connect_timeout, kms.meta.config.read_timeout) == (2, 3)
    assert kms.meta.config.retries["total_max_attempts"] == 2  # one try, one retry
    assert kms._endpoint.http_session._verify == "/etc/ssl/private-ca.pem"
    assert session.client("kms") is kms  # built once, kept
    _identity(session)
    with pytest.raises(ProviderError, match="KMS ListKeys failed: KMS is unreachable") as down:
        aws.call(lambda: kms.list_keys(), service="KMS", what="ListKeys", where="kms test")
    assert "kms test" in str(down.value)


def test_error_map(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = aws.AwsSession(aws.AwsSettings(region="us-east-1"))
    ssm = session.client("ssm")
    with pytest.raises(ProviderError, match=r"SSM GetParameter failed: not found \(ParameterNotFound") as missing:
        aws.call(lambda: ssm.get_parameter(Name="/nope"), service="SSM", what="GetParameter", where="ssm: /nope",
                 hints={Kind.NOT_FOUND: "check the name"})
    assert missing.value.hint == "check the name" and missing.value.where == "ssm: /nope"
    # A caller refines what it knows more about; the rest keeps the default.
    with pytest.raises(ConfigError, match="refined"):
        aws.call(lambda: ssm.get_parameter(Name="/nope"), service="SSM", what="GetParameter", where="x",
                 refine=lambda f: ConfigError("refined") if f.kind is Kind.NOT_FOUND else None)
    # Validation messages quote the input ("Value '99999' at 'numberOfBytes' ..."): only the code is kept.
    kms = session.client("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ProviderError, match="ValidationException") as invalid:
        aws.call(lambda: kms.generate_data_key(KeyId=arn, NumberOfBytes=99999), service="KMS",
                 what="GenerateDataKey", where="x")
    assert "99999" not in str(invalid.value)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(KeyMaterialError, match="no AWS credentials found"):
        _identity(aws.AwsSession(aws.AwsSettings(region="us-east-1")))
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigError, match="no AWS region"):
        aws.call(lambda: aws.AwsSession().client("kms").list_keys(), service="KMS", what="ListKeys", where="x")


def test_classify_leaves_foreign_exceptions_alone() -> None:
    assert aws.classify(ValueError("x")) is None
    with pytest.raises(ValueError, match="not ours"):
        aws.call(lambda: (_ for _ in ()).throw(ValueError("not ours")), service="S", what="w", where="x")
