"""The age and PGP key sources: where identities come from, and what an error says."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from secrets_kit.errors import KeyMaterialError, SecretsKitError
from secrets_kit.sops.keysources import REGISTRY, key_class, keys_from_cli
from secrets_kit.sops.keysources import age as age_source
from secrets_kit.sops.keysources.age import AgeKey, from_cli

DATA_KEY = bytes(range(32))

# A throwaway identity, generated per run, that opens nothing.
OTHER_IDENTITY = str(pyrage.x25519.Identity.generate())


def test_registry_is_lazy_and_complete() -> None:
    import subprocess

    assert set(REGISTRY) == {"age", "pgp", "kms", "gcp_kms", "hc_vault"}
    assert key_class("age") is AgeKey
    probe = ("import sys; from secrets_kit.sops import ops, config; from secrets_kit.sops.keysources import key_class;"
             " key_class('age'); key_class('pgp');"
             " print([m for m in ('boto3', 'google.cloud.kms', 'hvac', 'click', 'rich') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"imported without a file that uses them: {out}"


def test_age_wrap_unwrap_with_each_identity_source(age_id, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    key = AgeKey(age_id.recipient)
    stanza = key.wrap(DATA_KEY)
    assert stanza["recipient"] == age_id.recipient
    assert stanza["enc"].startswith("-----BEGIN AGE ENCRYPTED FILE-----") and stanza["enc"].endswith("\n")
    assert key.unwrap(stanza) == DATA_KEY  # SOPS_AGE_KEY_FILE
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    age_source.clear_cache()
    monkeypatch.setenv("SOPS_AGE_KEY", f"{OTHER_IDENTITY} "
                                       f"{age_id.secret}")
    assert key.unwrap(stanza) == DATA_KEY  # several keys on one line
    monkeypatch.delenv("SOPS_AGE_KEY")
    age_source.clear_cache()
    script = tmp_path / "keycmd.sh"
    script.write_text(f"#!/bin/sh\ntest -n \"$SOPS_AGE_RECIPIENT\" || exit 3\ncat '{age_id.keys_file}'\n")
    script.chmod(0o700)
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", str(script))
    assert key.unwrap(stanza) == DATA_KEY  # SOPS_AGE_KEY_CMD gets SOPS_AGE_RECIPIENT
    monkeypatch.delenv("SOPS_AGE_KEY_CMD")
    age_source.clear_cache()
    default = Path(os.environ["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt"
    default.parent.mkdir(parents=True)
    default.write_text(age_id.keys_file.read_text())
    assert key.unwrap(stanza) == DATA_KEY  # the default keys.txt


def test_age_errors_name_what_was_tried(age_id, monkeypatch: pytest.MonkeyPatch) -> None:
    stanza = AgeKey(age_id.recipient).wrap(DATA_KEY)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/nonexistent/keys.txt")
    age_source.clear_cache()
    with pytest.raises(SecretsKitError) as err:
        AgeKey(age_id.recipient).unwrap(stanza)
    assert "SOPS_AGE_KEY_FILE /nonexistent/keys.txt" in str(err.value)
    monkeypatch.setenv("SOPS_AGE_KEY", OTHER_IDENTITY)
    age_source.clear_cache()
    with pytest.raises(SecretsKitError) as err:
        AgeKey(age_id.recipient).unwrap(stanza)
    assert "no identity matched" in str(err.value) and "SOPS_AGE_KEY: age1" in str(err.value)
    assert "AGE-SECRET-KEY" not in str(err.value)  # never the identity itself


def test_age_rejects_bad_recipients() -> None:
    with pytest.raises(KeyMaterialError):
        from_cli("age1notarecipient")
    with pytest.raises(KeyMaterialError):
        from_cli("nonsense")
    assert from_cli("") == []


def _ssh_key(tmp_path: Path) -> tuple[Path, str]:
    private = Ed25519PrivateKey.generate()
    path = tmp_path / "id_ed25519"
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    path.chmod(0o600)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    return path, public


def test_ssh_recipient_both_directions(ours, real_sops, isolated_env: Path, tmp_path: Path) -> None:
    key_file, public = _ssh_key(tmp_path)
    plain = isolated_env / "ssh.yaml"
    plain.write_text("token: fake-ssh-protected\n")
    env = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(key_file)}
    mine = ours("encrypt", "--age", public, str(plain))
    assert mine.returncode == 0, mine.err
    path = isolated_env / "ssh.enc.yaml"
    path.write_bytes(mine.stdout)
    theirs = real_sops("decrypt", str(path), env=env)
    assert theirs.returncode == 0, theirs.err
    assert b"fake-ssh-protected" in theirs.stdout
    theirs_enc = real_sops("encrypt", "--age", public, str(plain))
    path.write_bytes(theirs_enc.stdout)
    back = ours("decrypt", str(path), env=env)
    assert back.returncode == 0, back.err
    assert b"fake-ssh-protected" in back.stdout


def test_pgp_key_source(gpg_home) -> None:
    fp = str(gpg_home["fingerprint"])
    [key] = keys_from_cli("pgp", fp)
    stanza = key.wrap(DATA_KEY)
    assert stanza["fp"] == fp and stanza["enc"].startswith("-----BEGIN PGP MESSAGE-----")
    assert not stanza["enc"].endswith("\n")
    assert key.unwrap(stanza) == DATA_KEY


def test_pgp_errors_name_the_key(gpg_home, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fp = str(gpg_home["fingerprint"])
    [key] = keys_from_cli("pgp", fp)
    stanza = key.wrap(DATA_KEY)
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(empty))
    with pytest.raises(SecretsKitError) as err:
        key.unwrap(stanza)
    assert fp in str(err.value)
    monkeypatch.setenv("SOPS_GPG_EXEC", "/nonexistent/gpg")
    with pytest.raises(KeyMaterialError):
        key.unwrap(stanza)


def test_aws_kms_keys_of_one_account_share_a_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """rotate/updatekeys rebuild key objects per step: one account setup connects (and assumes
    its role) once; another role, or other AWS_* credentials, get their own session."""
    from secrets_kit.sops.keysources import aws_kms

    monkeypatch.setattr(aws_kms, "_SESSIONS", {})
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    first = aws_kms.AwsKmsKey(arn, role="arn:aws:iam::111122223333:role/a")._session()
    assert first.settings.assume_role is not None and first.settings.region == "eu-west-1"
    assert aws_kms.AwsKmsKey(arn, role="arn:aws:iam::111122223333:role/a")._session() is first
    assert aws_kms.AwsKmsKey(arn, role="arn:aws:iam::111122223333:role/b")._session() is not first
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "other-test-id")
    assert aws_kms.AwsKmsKey(arn, role="arn:aws:iam::111122223333:role/a")._session() is not first
    assert len(aws_kms._SESSIONS) == 3
