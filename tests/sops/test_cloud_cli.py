"""The drop-in with cloud keys end to end: AWS KMS on moto's real KMS server, with real sops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml


def _kms() -> Any:
    import boto3

    make: Any = boto3.client
    return make("kms", region_name="us-east-1")


@pytest.fixture
def kms_arn(aws_env: str) -> str:
    return str(_kms().create_key(Description="secrets-kit cli test")["KeyMetadata"]["Arn"])


_PLAIN = {"yaml": ("yaml", "db_password: fake-kms-secret\nport: 5432\n"),
          "json": ("json", '{"db_password": "fake-kms-secret", "port": 5432}\n'),
          "dotenv": ("env", "DB_PASSWORD=fake-kms-secret\nPORT=5432\n"),
          "ini": ("ini", "[db]\npassword = fake-kms-secret\n")}


def _same_plain(fmt: str, got: bytes, want: bytes) -> None:
    if fmt == "json":
        assert json.loads(got) == json.loads(want)
    elif fmt == "yaml":
        assert yaml.safe_load(got) == yaml.safe_load(want)
    else:
        assert got == want


@pytest.mark.parametrize("fmt", list(_PLAIN))
def test_kms_flags_both_directions(fmt: str, kms_arn: str, ours, real_sops, isolated_env: Path) -> None:
    ext, text = _PLAIN[fmt]
    plain = isolated_env / f"kms.{ext}"
    plain.write_text(text)
    mine = ours("encrypt", "--kms", kms_arn, "--encryption-context", "app:demo,env:test", str(plain))
    assert mine.returncode == 0, mine.err
    assert b"fake-kms-secret" not in mine.stdout
    if fmt == "yaml":
        stanza = yaml.safe_load(mine.stdout)["sops"]["kms"][0]
        assert stanza["arn"] == kms_arn and stanza["context"] == {"app": "demo", "env": "test"}
    path = isolated_env / f"kms.enc.{ext}"
    path.write_bytes(mine.stdout)
    theirs = real_sops("decrypt", str(path))
    assert theirs.returncode == 0, theirs.err
    _same_plain(fmt, theirs.stdout, text.encode())
    theirs_enc = real_sops("encrypt", "--kms", kms_arn, "--encryption-context", "app:demo", str(plain),
                           env={"SOPS_KMS_ARN": ""})
    assert theirs_enc.returncode == 0, theirs_enc.err
    path.write_bytes(theirs_enc.stdout)
    back = ours("decrypt", str(path))
    assert back.returncode == 0, back.err
    check = real_sops("decrypt", str(path))
    assert back.stdout == check.stdout
    _same_plain(fmt, back.stdout, text.encode())


def test_kms_and_age_key_groups_from_config(kms_arn: str, age_id, ours, real_sops, isolated_env: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_env / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - kms:\n          - arn: {kms_arn}\n            context: {{team: a}}\n"
        f"      - age: [{age_id.recipient}]\n")
    plain = isolated_env / "groups.json"
    plain.write_text('{"token": "fake-group-secret"}')
    mine = ours("encrypt", str(plain))
    assert mine.returncode == 0, mine.err
    path = isolated_env / "groups.enc.json"
    path.write_bytes(mine.stdout)
    for runner in (ours, real_sops):
        result = runner("decrypt", str(path))
        assert result.returncode == 0, result.err
        assert b"fake-group-secret" in result.stdout
    # Without the age identity only one of the two required groups opens: exit 128 for both.
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(isolated_env / "missing.txt"))
    mine = ours("decrypt", str(path))
    theirs = real_sops("decrypt", str(path))
    assert mine.returncode == theirs.returncode == 128
    assert "Group 0: OK" in mine.err and "Group 1: FAILED" in mine.err


# ------------------------------------------------------------------------- Vault transit


@pytest.fixture
def vault_uri(vault_dev: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh transit key on the OpenBao/Vault dev peer, and VAULT_TOKEN/VAULT_ADDR for both programs."""
    import secrets

    name = "cli-" + secrets.token_hex(4)
    vault_dev.server.client().secrets.transit.create_key(name, mount_point="transit")
    monkeypatch.setenv("VAULT_TOKEN", vault_dev.server.root_token)
    monkeypatch.setenv("VAULT_ADDR", vault_dev.server.url)
    monkeypatch.delenv("SOPS_HC_VAULT_ALLOWLIST", raising=False)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    return f"{vault_dev.server.url}/v1/transit/keys/{name}"


@pytest.mark.peer("vault")
@pytest.mark.parametrize("fmt", ["yaml", "json", "dotenv"])
def test_vault_transit_flags_both_directions(fmt: str, vault_uri: str, ours, real_sops, isolated_env: Path) -> None:
    """`secrets-kit sops encrypt --hc-vault-transit` against the real Vault-API server; real sops reads
    our file, and we read real sops's file, to the same plaintext."""
    ext = {"yaml": "yaml", "json": "json", "dotenv": "env"}[fmt]
    plain = isolated_env / f"vault.{ext}"
    plain.write_text({"yaml": "db_password: fake-vault-secret\nport: 5432\n",
                      "json": '{"db_password": "fake-vault-secret", "port": 5432}\n',
                      "dotenv": "DB_PASSWORD=fake-vault-secret\nPORT=5432\n"}[fmt])
    mine = ours("encrypt", "--hc-vault-transit", vault_uri, str(plain))
    assert mine.returncode == 0, mine.err
    assert b"fake-vault-secret" not in mine.stdout
    assert b"vault:v1:" in mine.stdout
    path = isolated_env / f"vault.enc.{ext}"
    path.write_bytes(mine.stdout)
    theirs = real_sops("decrypt", str(path))
    assert theirs.returncode == 0, theirs.err
    if fmt == "json":
        assert json.loads(theirs.stdout) == json.loads(plain.read_bytes())
    else:
        assert theirs.stdout == plain.read_bytes()
    theirs_enc = real_sops("encrypt", "--hc-vault-transit", vault_uri, str(plain))
    assert theirs_enc.returncode == 0, theirs_enc.err
    path.write_bytes(theirs_enc.stdout)
    back = ours("decrypt", str(path))
    check = real_sops("decrypt", str(path))
    assert back.returncode == 0, back.err
    assert check.returncode == 0, check.err
    assert back.stdout == check.stdout
    # A token the server refuses: both fail to get the data key (exit 128), and ours says which key.
    refused = {"VAULT_TOKEN": "hvs.not-a-real-token"}
    mine_no = ours("decrypt", str(path), env=refused)
    theirs_no = real_sops("decrypt", str(path), env=refused)
    assert mine_no.returncode == theirs_no.returncode == 128, (mine_no.err, theirs_no.err)
    assert vault_uri.rsplit("/", 1)[1] in mine_no.err
    assert "fake-vault-secret" not in mine_no.err + mine_no.out
    assert "hvs.not-a-real-token" not in mine_no.err


@pytest.mark.peer("vault")
def test_vault_and_age_key_groups_from_config(vault_uri: str, age_id, ours, real_sops, isolated_env: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_env / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - hc_vault:\n          - {vault_uri}\n"
        f"      - age: [{age_id.recipient}]\n")
    plain = isolated_env / "groups.yaml"
    plain.write_text("token: fake-vault-group-secret\n")
    for writer in (ours, real_sops):
        enc = writer("encrypt", str(plain))
        assert enc.returncode == 0, enc.err
        path = isolated_env / "groups.enc.yaml"
        path.write_bytes(enc.stdout)
        for reader in (ours, real_sops):
            result = reader("decrypt", str(path))
            assert result.returncode == 0, result.err
            assert yaml.safe_load(result.stdout) == {"token": "fake-vault-group-secret"}
        mine = ours("decrypt", str(path), env={"VAULT_TOKEN": "hvs.not-a-real-token"})
        theirs = real_sops("decrypt", str(path), env={"VAULT_TOKEN": "hvs.not-a-real-token"})
        assert mine.returncode == theirs.returncode == 128
        assert "Group 0: FAILED" in mine.err and "Group 1: OK" in mine.err
