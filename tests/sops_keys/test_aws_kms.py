"""AWS KMS key source against moto's real KMS/STS server, and interop with the real sops."""

from __future__ import annotations

import base64
import json
import random
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from secrets_kit.errors import ConfigError, DecryptionError, KeyMaterialError, ProviderError
from secrets_kit.sops import shamir
from secrets_kit.sops.keysources import aws_kms
from secrets_kit.sops.keysources.aws_kms import AwsKmsKey
from tests.sops_keys.sopsfile import build_json_file, clean_env, decrypt_value, run_sops

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
OTHER_ACCOUNT_ROLE = "arn:aws:iam::111111111111:role/sops-decrypt"


def _boto(service: str, **kwargs: Any) -> Any:
    import boto3

    make: Any = boto3.client  # the stubs' per-service overloads do not take a plain str
    return make(service, region_name="us-east-1", **kwargs)


@pytest.fixture
def kms_arn(aws_env: str) -> str:
    return _boto("kms").create_key(Description="secrets-kit test")["KeyMetadata"]["Arn"]


@pytest.fixture
def other_account_arn(aws_env: str) -> str:
    """A key in another account, reachable only through OTHER_ACCOUNT_ROLE (moto switches account on AssumeRole)."""
    creds = _boto("sts").assume_role(RoleArn=OTHER_ACCOUNT_ROLE, RoleSessionName="fixture")["Credentials"]
    kms = _boto("kms", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"])
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    assert ":111111111111:" in arn
    return arn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ wrap/unwrap


def test_round_trip_and_stanza_layout(kms_arn: str) -> None:
    data_key = random.randbytes(32)
    stanza = AwsKmsKey(kms_arn).wrap(data_key)
    assert list(stanza) == ["arn", "aws_profile", "created_at", "enc"]
    assert stanza["arn"] == kms_arn
    assert stanza["aws_profile"] == ""
    assert RFC3339_Z.match(stanza["created_at"])
    blob = base64.b64decode(stanza["enc"], validate=True)
    assert data_key not in blob
    assert AwsKmsKey.from_stanza(stanza).unwrap(stanza) == data_key


def test_shamir_share_round_trip(kms_arn: str) -> None:
    share = shamir.split(random.randbytes(32), 2, 2)[1]
    stanza = AwsKmsKey(kms_arn).wrap(share)
    assert AwsKmsKey.from_stanza(stanza).unwrap(stanza) == share


def test_encryption_context_is_bound(kms_arn: str) -> None:
    data_key = random.randbytes(32)
    stanza = AwsKmsKey(kms_arn, context={"tenant": "a", "app": "web"}).wrap(data_key)
    assert stanza["context"] == {"app": "web", "tenant": "a"}
    assert AwsKmsKey.from_stanza(stanza).unwrap(stanza) == data_key
    changed = dict(stanza, context={"tenant": "b", "app": "web"})
    with pytest.raises(DecryptionError, match="KMS could not decrypt") as info:
        AwsKmsKey.from_stanza(changed).unwrap(changed)
    assert kms_arn in str(info.value)
    dropped = {k: v for k, v in stanza.items() if k != "context"}
    with pytest.raises(DecryptionError):
        AwsKmsKey.from_stanza(dropped).unwrap(dropped)


def test_tampered_or_garbled_enc_is_a_decryption_error(kms_arn: str) -> None:
    data_key = random.randbytes(32)
    stanza = AwsKmsKey(kms_arn).wrap(data_key)
    blob = bytearray(base64.b64decode(stanza["enc"]))
    blob[-5] ^= 0x40
    tampered = dict(stanza, enc=base64.b64encode(bytes(blob)).decode())
    key = AwsKmsKey.from_stanza(stanza)
    with pytest.raises(DecryptionError) as info:
        key.unwrap(tampered)
    assert kms_arn in str(info.value)
    assert data_key.hex() not in str(info.value)
    with pytest.raises(DecryptionError, match="not valid base64"):
        key.unwrap(dict(stanza, enc="***not base64***"))
    with pytest.raises(DecryptionError, match="no encrypted data key"):
        key.unwrap(dict(stanza, enc=""))


def test_wrong_key_is_a_decryption_error(kms_arn: str) -> None:
    other = _boto("kms").create_key()["KeyMetadata"]["Arn"]
    stanza = AwsKmsKey(kms_arn).wrap(random.randbytes(32))
    wrong = dict(stanza, arn=other)
    with pytest.raises(DecryptionError) as info:
        AwsKmsKey.from_stanza(wrong).unwrap(wrong)
    assert other in str(info.value)


def test_wrap_with_an_unknown_key_names_it(aws_env: str) -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    with pytest.raises(KeyMaterialError, match="NotFoundException") as info:
        AwsKmsKey(arn).wrap(random.randbytes(32))
    assert arn in str(info.value)


def test_unreachable_endpoint_is_a_provider_error(
    kms_arn: str, aws_env: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    data_key = random.randbytes(32)
    with pytest.raises(ProviderError, match="unreachable") as info:
        AwsKmsKey(kms_arn).wrap(data_key)
    assert kms_arn in str(info.value)
    # An explicit endpoint wins over the environment, both ways.
    stanza = AwsKmsKey(kms_arn, endpoint_url=aws_env).wrap(data_key)
    with pytest.raises(ProviderError):
        AwsKmsKey(kms_arn, endpoint_url=closed).unwrap(stanza)
    assert AwsKmsKey(kms_arn, endpoint_url=aws_env).unwrap(stanza) == data_key


def test_missing_credentials_are_a_key_material_error(
    kms_arn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    with pytest.raises(KeyMaterialError, match="no AWS credentials found") as info:
        AwsKmsKey(kms_arn).wrap(random.randbytes(32))
    assert kms_arn in str(info.value)


def _write_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    config = tmp_path / "aws-config"
    config.write_text(f"[profile {name}]\nregion = us-east-1\n"
                      "aws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


def test_named_profile(kms_arn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_profile(tmp_path, monkeypatch, "sops-test")
    data_key = random.randbytes(32)
    stanza = AwsKmsKey(kms_arn, aws_profile="sops-test").wrap(data_key)
    assert stanza["aws_profile"] == "sops-test"
    assert AwsKmsKey.from_stanza(stanza).unwrap(stanza) == data_key
    with pytest.raises(KeyMaterialError, match="'nope' not found") as info:
        AwsKmsKey(kms_arn, aws_profile="nope").wrap(data_key)
    assert kms_arn in str(info.value)


def test_role_is_assumed_for_the_kms_calls(other_account_arn: str) -> None:
    """The key lives in account 1111...; only credentials from the role reach it."""
    data_key = random.randbytes(32)
    with pytest.raises(KeyMaterialError, match="NotFoundException"):
        AwsKmsKey(other_account_arn).wrap(data_key)
    key = AwsKmsKey(other_account_arn, role=OTHER_ACCOUNT_ROLE)
    stanza = key.wrap(data_key)
    assert stanza["role"] == OTHER_ACCOUNT_ROLE
    assert list(stanza) == ["arn", "aws_profile", "created_at", "enc", "role"]
    assert AwsKmsKey.from_stanza(stanza).unwrap(stanza) == data_key
    no_role = {k: v for k, v in stanza.items() if k != "role"}
    with pytest.raises(DecryptionError):
        AwsKmsKey.from_stanza(no_role).unwrap(no_role)


def test_session_name_follows_sops() -> None:
    name = aws_kms.session_name()
    assert name.startswith("sops@")
    assert len(name) <= 64
    assert re.fullmatch(r"sops@[a-zA-Z0-9=,.@_-]*", name)


# ----------------------------------------------------------------------------------- CLI form


def test_from_cli_parses_the_sops_forms() -> None:
    arn1 = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    arn2 = "arn:aws:kms:us-east-2:123456789012:alias/sops"
    role = "arn:aws:iam::123456789012:role/deploy"
    keys = aws_kms.from_cli(f"{arn1}, {arn2}+{role},", encryption_context="app:web,env:prod", aws_profile="p")
    assert [type(k) for k in keys] == [AwsKmsKey, AwsKmsKey]
    first, second = keys
    assert isinstance(first, AwsKmsKey) and isinstance(second, AwsKmsKey)
    assert (first.arn, first.role, first.region) == (arn1, "", "eu-west-1")
    assert (second.arn, second.role, second.region) == (arn2, role, "us-east-2")
    assert second.identifier == f"{arn2}+{role}"
    assert first.context == second.context == {"app": "web", "env": "prod"}
    assert first.aws_profile == "p"
    assert aws_kms.from_cli("") == []


@pytest.mark.parametrize("context", ["app", "app:web:x", "app:web,", "a:b,c"])
def test_from_cli_rejects_a_bad_encryption_context(context: str) -> None:
    with pytest.raises(ConfigError, match="Invalid KMS encryption context format"):
        aws_kms.from_cli("arn:aws:kms:us-east-1:123456789012:key/abc", encryption_context=context)


def test_from_cli_rejects_a_non_arn() -> None:
    with pytest.raises(ConfigError, match="no valid AWS KMS ARN") as info:
        aws_kms.from_cli("alias/sops")
    assert "alias/sops" in str(info.value)


def test_from_stanza_accepts_weakly_typed_metadata() -> None:
    key = AwsKmsKey.from_stanza({"arn": "arn:aws:kms:us-east-1:1:key/a", "context": {"n": 5, "b": True},
                                 "created_at": "2024-01-01T00:00:00Z", "enc": "x", "aws_profile": None})
    assert key.context == {"n": "5", "b": "1"}
    assert key.aws_profile == ""
    assert key.created_at == "2024-01-01T00:00:00Z"
    with pytest.raises(KeyMaterialError, match="without an arn"):
        AwsKmsKey.from_stanza({"enc": "x"})


# --------------------------------------------------------------------------- real sops interop


def _sops_env(tmp_path: Path, endpoint: str, **extra: str) -> dict[str, str]:
    env = clean_env(tmp_path, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                    AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", **extra)
    env.pop("AWS_PROFILE", None)
    return env


def _sops_encrypt(sops_bin: Path, tmp_path: Path, endpoint: str, args: list[str]) -> dict[str, Any]:
    (tmp_path / "plain.yaml").write_text("password: hunter2\ndb:\n    user: admin\n")
    done = run_sops(sops_bin, ["encrypt", *args, "plain.yaml"], env=_sops_env(tmp_path, endpoint), cwd=tmp_path)
    return YAML(typ="safe").load(done.stdout)


def _check_sops_doc(doc: dict[str, Any], data_key: bytes) -> None:
    assert decrypt_value(doc["password"], data_key, "password:") == "hunter2"
    assert decrypt_value(doc["db"]["user"], data_key, "db:user:") == "admin"


def test_we_unwrap_what_real_sops_wrapped(sops_bin: Path, tmp_path: Path, kms_arn: str, aws_env: str) -> None:
    doc = _sops_encrypt(sops_bin, tmp_path, aws_env, ["--kms", kms_arn, "--encryption-context", "app:web,env:ci"])
    (stanza,) = doc["sops"]["kms"]
    assert stanza["arn"] == kms_arn
    assert stanza["context"] == {"app": "web", "env": "ci"}
    assert stanza["aws_profile"] == ""
    key = AwsKmsKey.from_stanza(stanza)
    assert key.context == {"app": "web", "env": "ci"}
    data_key = key.unwrap(stanza)
    assert len(data_key) == 32
    _check_sops_doc(doc, data_key)


def test_we_unwrap_what_real_sops_wrapped_through_a_role(
    sops_bin: Path, tmp_path: Path, other_account_arn: str, aws_env: str,
) -> None:
    doc = _sops_encrypt(sops_bin, tmp_path, aws_env, ["--kms", f"{other_account_arn}+{OTHER_ACCOUNT_ROLE}"])
    (stanza,) = doc["sops"]["kms"]
    assert stanza["role"] == OTHER_ACCOUNT_ROLE
    data_key = AwsKmsKey.from_stanza(stanza).unwrap(stanza)
    _check_sops_doc(doc, data_key)


@pytest.mark.parametrize("variant", ["plain", "context", "role"])
def test_real_sops_unwraps_what_we_wrapped(
    sops_bin: Path, tmp_path: Path, kms_arn: str, other_account_arn: str, aws_env: str, variant: str,
) -> None:
    if variant == "plain":
        key = AwsKmsKey(kms_arn)
    elif variant == "context":
        key = AwsKmsKey(kms_arn, context={"app": "web", "env": "ci"})
    else:
        key = AwsKmsKey(other_account_arn, role=OTHER_ACCOUNT_ROLE)
    data_key = random.randbytes(32)
    groups = [{"kms": [key.wrap(data_key)]}]
    (tmp_path / "ours.json").write_text(build_json_file({"password": "hunter2"}, data_key, groups))
    done = run_sops(sops_bin, ["decrypt", "ours.json"], env=_sops_env(tmp_path, aws_env), cwd=tmp_path)
    assert json.loads(done.stdout) == {"password": "hunter2"}


def test_real_sops_refuses_our_stanza_with_a_changed_context(
    sops_bin: Path, tmp_path: Path, kms_arn: str, aws_env: str,
) -> None:
    """Control for the test above: the context we send is the one sops checks."""
    data_key = random.randbytes(32)
    stanza = AwsKmsKey(kms_arn, context={"app": "web"}).wrap(data_key)
    stanza["context"] = {"app": "other"}
    (tmp_path / "ours.json").write_text(build_json_file({"password": "hunter2"}, data_key, [{"kms": [stanza]}]))
    done = run_sops(sops_bin, ["decrypt", "ours.json"], env=_sops_env(tmp_path, aws_env), cwd=tmp_path,
                    check=False)
    assert done.returncode == 128, done.stderr
    assert "hunter2" not in done.stdout
