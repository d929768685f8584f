"""Controller-shaped key pairs and the `secrets-kit keys` folder commands."""

from __future__ import annotations

import datetime as dt
import json
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_kit.errors import InputError
from secrets_kit.k8s.manifests import dump_yaml
from secrets_kit.sealed.keys import KEY_USAGE_ENCIPHER_ONLY_DER, KeyFolder, generate_key_pair

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of


def test_certificate_is_shaped_like_the_controllers():
    _key, cert = generate_key_pair(bits=2048)
    assert cert.subject == x509.Name([]) and cert.issuer == x509.Name([])
    assert 0 < cert.serial_number < 2**128
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=87600)
    raw = _raw_extensions(cert)
    assert [oid.dotted_string for oid in raw] == ["2.5.29.15", "2.5.29.19", "2.5.29.14"]  # Go's order
    assert raw[ExtensionOID.KEY_USAGE] == (True, KEY_USAGE_ENCIPHER_ONLY_DER)
    with pytest.raises(ValueError, match="encipher_only"):  # the cryptography pitfall, on purpose
        _ = cert.extensions
    cert.verify_directly_issued_by(cert)  # self-signed


def _raw_extensions(cert):
    """(critical, DER value) per extension OID, read without cryptography's extension parser."""
    der = cert.public_bytes(Encoding.DER)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text"], input=der,
                          capture_output=True, check=True).stdout.decode()
    assert "Encipher Only" in text and "CA:TRUE" in text and "Subject Key Identifier" in text
    return _parse_extensions(der)


def _parse_extensions(der: bytes):
    """A tiny DER walk: tbsCertificate -> [3] extensions -> (oid, critical, value)."""
    def read(buf, pos):
        tag = buf[pos]
        length = buf[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(buf[pos:pos + n], "big")
            pos += n
        return tag, buf[pos:pos + length], pos + length

    _, cert_body, _ = read(der, 0)
    _, tbs, _ = read(cert_body, 0)
    pos, exts = 0, None
    while pos < len(tbs):
        tag, value, pos = read(tbs, pos)
        if tag == 0xA3:
            _, exts, _ = read(value, 0)
    out = {}
    pos = 0
    while pos < len(exts):
        _, ext, pos = read(exts, pos)
        p = 0
        _, oid_raw, p = read(ext, p)
        critical = False
        tag, val, p2 = read(ext, p)
        if tag == 0x01:
            critical = val == b"\xff"
            tag, val, p2 = read(ext, p2)
        oid = x509.ObjectIdentifier(_oid_text(oid_raw))
        out[oid] = (critical, val)
    return out


def _oid_text(raw: bytes) -> str:
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def test_key_folder_create_list_rotate_export(tmp_path, kubeseal_bin):
    env = {"SECRETS_KIT_KEYS_DIR": str(tmp_path / "keys")}
    first = run_cli("keys", "create", "--bits", "2048", "-o", "json", env=env)
    assert first.code == 0, first.err
    info = json.loads(first.out)
    key_file = tmp_path / "keys" / f"{info['name']}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    rotated = run_cli("keys", "rotate", "--bits", "2048", "--ttl", "30d", "-o", "json", env=env)
    second = json.loads(rotated.out)
    listed = json.loads(run_cli("keys", "list", "-o", "json", env=env).out)
    assert [r["name"] for r in listed] == [info["name"], second["name"]]
    assert [r["status"] for r in listed] == ["active", "newest"]
    table = run_cli("keys", "list", env=env).text
    assert "FINGERPRINT" in table and second["fingerprint"] in table
    cert = run_cli("keys", "export-cert", env=env)
    assert cert.text.startswith("-----BEGIN CERTIFICATE-----")
    (tmp_path / "cert.pem").write_bytes(cert.out)
    sealed = kubeseal(kubeseal_bin, "--cert", tmp_path / "cert.pem", input=yaml_of(secret(string_data={"a": "b"})))
    assert sealed.returncode == 0
    backup = run_cli("keys", "export-secret", env=env)
    docs = docs_of(backup.out)
    assert [d["metadata"]["labels"] for d in docs] == [{"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}] * 2
    assert all(d["type"] == "kubernetes.io/tls" for d in docs)
    (tmp_path / "backup.yaml").write_bytes(backup.out)
    opened = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", tmp_path / "backup.yaml",
                      input=sealed.stdout)
    assert opened.returncode == 0, opened.stderr
    one = run_cli("keys", "export-cert", "--key", info["fingerprint"], env=env)
    assert one.code == 0 and one.out != cert.out


def test_import_a_controller_backup(tmp_path, pair, other_pair):
    from secrets_kit.sealed.keys import key_secret

    backup = tmp_path / "backup.yaml"
    backup.write_text(dump_yaml({"apiVersion": "v1", "kind": "List", "items": [
        key_secret("sealed-secrets-keyaaaaa", pair.key_path.read_bytes(), pair.cert.pem),
        key_secret("sealed-secrets-keybbbbb", other_pair.key_path.read_bytes(), other_pair.cert.pem)]}))
    done = run_cli("keys", "import", "--dir", tmp_path / "keys", backup)
    assert done.code == 0, done.err
    folder = KeyFolder(tmp_path / "keys")
    assert {p.cert.fingerprint for p in folder.pairs()} == {pair.cert.fingerprint, other_pair.cert.fingerprint}
    again = run_cli("keys", "import", "--dir", tmp_path / "keys", backup)
    assert "already in the folder" in again.err and len(folder.pairs()) == 2
    pem_only = tmp_path / "lone.key"
    pem_only.write_bytes(pair.key_path.read_bytes())
    assert run_cli("keys", "import", "--dir", tmp_path / "more", pem_only).code == 0
    assert KeyFolder(tmp_path / "more").newest().cert.fingerprint == pair.cert.fingerprint


def test_keys_errors(tmp_path):
    env = {"SECRETS_KIT_KEYS_DIR": str(tmp_path / "none")}
    assert run_cli("keys", "rotate", env=env).code == 3
    assert run_cli("keys", "export-cert", env=env).code == 5
    assert run_cli("keys", "create", "--ttl", "ten years", env=env).code == 3
    assert run_cli("keys", "create", "--bits", "1024", env=env).code == 2
    assert "no keys in" in run_cli("keys", "list", env=env).err
    with pytest.raises(InputError):
        generate_key_pair(bits=1024)


@pytest.mark.parametrize(("not_before", "days"), [
    (dt.datetime(1999, 12, 31, 23, 59, 58, tzinfo=dt.UTC), 1),  # UTCTime, 19xx
    (dt.datetime(2020, 1, 1, 0, 0, 1, tzinfo=dt.UTC), 3650),  # UTCTime, 20xx
    (dt.datetime(2049, 6, 1, 12, 30, 45, tzinfo=dt.UTC), 3650),  # NotAfter in 2059: GeneralizedTime
])
def test_certificate_dates_read_without_x509_match_x509(tmp_path, not_before, days):
    from secrets_kit.sealed.certs import load_cert

    pair = KeyFolder(tmp_path).create(bits=2048, ttl=dt.timedelta(days=days), not_before=not_before)
    reference = x509.load_pem_x509_certificate(pair.cert.pem)
    ours = load_cert(pair.cert_path.read_bytes(), "test")
    assert (ours.not_before, ours.not_after) == (reference.not_valid_before_utc, reference.not_valid_after_utc)
    assert ours.not_before == not_before


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([0x17, 0x18]), st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
       st.integers(0, 24), st.integers(0, 60), st.integers(0, 60))
def test_certificate_times_are_read_as_datetime_would(tag, year, month, day, hour, minute, second):
    """The DER times are read into tuples (no datetime import on a seal): accepted exactly when
    datetime accepts them, with the same fields; anything refused goes to cryptography's x509."""
    from secrets_kit.sealed.certs import _time

    year = year % 100 if tag == 0x17 else year
    digits = (f"{year:02d}" if tag == 0x17 else f"{year:04d}") + f"{month:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}"
    full_year = (year + (1900 if year >= 50 else 2000)) if tag == 0x17 else year
    try:
        expected = dt.datetime(full_year, month, day, hour, minute, second)
    except ValueError:
        with pytest.raises(ValueError):
            _time(tag, digits.encode() + b"Z")
        return
    fields = _time(tag, digits.encode() + b"Z")
    assert dt.datetime(*fields) == expected


def test_expiry_is_decided_on_whole_seconds(tmp_path):
    from secrets_kit.sealed.certs import load_cert

    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    pair = KeyFolder(tmp_path).create(bits=2048, ttl=dt.timedelta(days=1), not_before=start)
    cert = load_cert(pair.cert_path.read_bytes(), "test")
    assert cert.expired()  # against the clock: 2020 is long past
    assert not cert.expired(start + dt.timedelta(hours=23))
    assert cert.expired(start + dt.timedelta(days=1, microseconds=1))
