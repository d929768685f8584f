"""One smoke test per upstream peer: it is there, it is the pinned version, and it runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.peers import versions


def run(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def test_kubeseal_seals_offline_with_a_cert(kubeseal_bin: Path, tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert versions.KUBESEAL.lstrip("v") in run(kubeseal_bin, "--version").stdout
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(x509.Name([]))
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
              "data": {"k": "dmFsdWU="}}
    out = run(kubeseal_bin, "--cert", tmp_path / "cert.pem", "-o", "json", input=json.dumps(secret)).stdout
    sealed = json.loads(out)
    assert sealed["kind"] == "SealedSecret"
    assert set(sealed["spec"]["encryptedData"]) == {"k"}


def test_sops_encrypts_and_decrypts_with_age(sops_bin: Path, age_keygen_bin: Path, tmp_path: Path) -> None:
    assert versions.SOPS.lstrip("v") in run(sops_bin, "--version", "--disable-version-check").stdout
    run(age_keygen_bin, "-o", tmp_path / "keys.txt")
    recipient = next(line.split(": ")[1] for line in (tmp_path / "keys.txt").read_text().splitlines()
                     if line.startswith("# public key"))
    (tmp_path / "s.yaml").write_text("password: hunter2\n")
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(tmp_path / "keys.txt")}
    enc = run(sops_bin, "encrypt", "--age", recipient, tmp_path / "s.yaml", env=env).stdout
    assert "hunter2" not in enc and "ENC[AES256_GCM," in enc
    (tmp_path / "s.enc.yaml").write_text(enc)
    assert run(sops_bin, "decrypt", tmp_path / "s.enc.yaml", env=env).stdout == "password: hunter2\n"


def test_sops_311_is_the_older_release(sops311_bin: Path) -> None:
    assert "3.11.0" in run(sops311_bin, "--version", "--disable-version-check").stdout


def test_age_round_trip(age_bin: Path, age_keygen_bin: Path, tmp_path: Path) -> None:
    run(age_keygen_bin, "-o", tmp_path / "k.txt")
    recipient = run(age_keygen_bin, "-y", tmp_path / "k.txt").stdout.strip()
    (tmp_path / "p").write_text("plain")
    run(age_bin, "-r", recipient, "-o", tmp_path / "p.age", tmp_path / "p")
    assert run(age_bin, "-d", "-i", tmp_path / "k.txt", tmp_path / "p.age").stdout == "plain"


def test_gpg_test_key_encrypts_and_decrypts(gpg_home: dict[str, object]) -> None:
    fp = str(gpg_home["fingerprint"])
    armored = run("gpg", "--batch", "--trust-model", "always", "-a", "-e", "-r", fp, input="plain").stdout
    assert "BEGIN PGP MESSAGE" in armored
    assert run("gpg", "--batch", "-d", input=armored).stdout == "plain"


def test_moto_server_serves_secrets_manager_ssm_kms_sts(aws_env: str) -> None:
    import boto3

    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="smoke", SecretString="v1")
    assert sm.get_secret_value(SecretId="smoke")["SecretString"] == "v1"
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/smoke/p", Value="x", Type="SecureString")
    assert ssm.get_parameter(Name="/smoke/p", WithDecryption=True)["Parameter"]["Value"] == "x"
    kms = boto3.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"k")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"k"
    assert boto3.client("sts").get_caller_identity()["Account"]
