"""The drop-in with cloud keys end to end: AWS KMS on moto's real KMS server, with real sops."""

from __future__ import annotations

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


def test_kms_flags_both_directions(kms_arn: str, ours, real_sops, isolated_env: Path) -> None:
    plain = isolated_env / "kms.yaml"
    plain.write_text("db_password: fake-kms-secret\n")
    mine = ours("encrypt", "--kms", kms_arn, "--encryption-context", "app:demo,env:test", str(plain))
    assert mine.returncode == 0, mine.err
    stanza = yaml.safe_load(mine.stdout)["sops"]["kms"][0]
    assert stanza["arn"] == kms_arn and stanza["context"] == {"app": "demo", "env": "test"}
    path = isolated_env / "kms.enc.yaml"
    path.write_bytes(mine.stdout)
    theirs = real_sops("decrypt", str(path))
    assert theirs.returncode == 0, theirs.err
    assert yaml.safe_load(theirs.stdout) == {"db_password": "fake-kms-secret"}
    theirs_enc = real_sops("encrypt", "--kms", kms_arn, str(plain), env={"SOPS_KMS_ARN": ""})
    assert theirs_enc.returncode == 0, theirs_enc.err
    path.write_bytes(theirs_enc.stdout)
    back = ours("decrypt", str(path))
    assert back.returncode == 0, back.err
    assert yaml.safe_load(back.stdout) == {"db_password": "fake-kms-secret"}


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
