"""GCP KMS key source against a local gRPC STAND-IN (GCP KMS has no emulator), and the real sops.

The stand-in (tests/sops_keys/gcpkms_standin.py) speaks the real KeyManagementService
Encrypt/Decrypt wire format; the real sops reaches it through SOPS_GCP_KMS_ENDPOINT over TLS
(a throwaway CA in SSL_CERT_FILE) with GOOGLE_OAUTH_ACCESS_TOKEN.
"""

from __future__ import annotations

import base64
import http.server
import json
import random
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from ruamel.yaml import YAML

from secrets_kit.errors import ConfigError, DecryptionError, KeyMaterialError, ProviderError
from secrets_kit.sops import shamir
from secrets_kit.sops.keysources import gcp_kms
from secrets_kit.sops.keysources.gcp_kms import GcpKmsKey
from tests.sops_keys.gcpkms_standin import KmsStandIn, RunningStandIn, StandInCA
from tests.sops_keys.sopsfile import build_json_file, clean_env, decrypt_value, run_sops

TOKEN = "stand-in-token"
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@dataclass
class StandIns:
    plain: RunningStandIn  # plaintext gRPC, no auth: for the client's insecure mode
    tls: RunningStandIn  # TLS + bearer token, the same keys: what the real sops talks to
    ca: StandInCA
    ca_file: Path

    def create_key(self) -> str:
        return self.plain.standin.create_key()

    def insecure_key(self, resource_id: str, **kwargs: Any) -> GcpKmsKey:
        return GcpKmsKey(resource_id, endpoint=self.plain.endpoint, insecure=True, **kwargs)


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    store = KmsStandIn()
    ca = StandInCA.create()
    plain = store.start()
    tls = KmsStandIn(token=TOKEN, keys=store.keys).start(tls=ca)
    ca_file = ca.write_ca(tmp_path_factory.mktemp("gcpkms-ca") / "ca.pem")
    yield StandIns(plain=plain, tls=tls, ca=ca, ca_file=ca_file)
    plain.stop()
    tls.stop()


@pytest.fixture
def no_google_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient Google credentials or endpoint, and no metadata-server probe."""
    for name in ("GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
                 "SOPS_GCP_KMS_ENDPOINT", "SOPS_GCP_KMS_CLIENT_TYPE", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


# ------------------------------------------------------------------------------ wrap/unwrap


def test_round_trip_and_stanza_layout(standins: StandIns) -> None:
    resource_id = standins.create_key()
    data_key = random.randbytes(32)
    stanza = standins.insecure_key(resource_id).wrap(data_key)
    assert list(stanza) == ["created_at", "enc", "resource_id"]
    assert stanza["resource_id"] == resource_id
    assert RFC3339_Z.match(stanza["created_at"])
    assert data_key not in base64.b64decode(stanza["enc"], validate=True)
    again = GcpKmsKey.from_stanza(stanza)
    assert again.resource_id == resource_id and again.created_at == stanza["created_at"]
    assert standins.insecure_key(resource_id).unwrap(stanza) == data_key
    assert ("Encrypt", resource_id) in standins.plain.standin.calls
    assert ("Decrypt", resource_id) in standins.plain.standin.calls


def test_shamir_share_round_trip(standins: StandIns) -> None:
    resource_id = standins.create_key()
    share = shamir.split(random.randbytes(32), 3, 2)[2]
    stanza = standins.insecure_key(resource_id).wrap(share)
    assert standins.insecure_key(resource_id).unwrap(stanza) == share


def test_tls_with_token_and_endpoint_from_the_sops_env(
    standins: StandIns, no_google_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOPS_GCP_KMS_ENDPOINT", standins.tls.endpoint)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
    resource_id = standins.create_key()
    data_key = random.randbytes(32)
    before = len(standins.tls.standin.calls)
    stanza = GcpKmsKey(resource_id, root_certificates=standins.ca.ca_pem).wrap(data_key)
    assert GcpKmsKey(resource_id, root_certificates=standins.ca.ca_pem).unwrap(stanza) == data_key
    assert standins.tls.standin.calls[before:] == [("Encrypt", resource_id), ("Decrypt", resource_id)]


def test_a_refused_token_is_a_key_material_error(
    standins: StandIns, no_google_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "wrong-token")
    resource_id = standins.create_key()
    key = GcpKmsKey(resource_id, endpoint=standins.tls.endpoint, root_certificates=standins.ca.ca_pem)
    with pytest.raises(KeyMaterialError, match="refused the credentials") as info:
        key.wrap(random.randbytes(32))
    assert resource_id in str(info.value)


def test_missing_credentials_are_a_key_material_error(standins: StandIns, no_google_env: None) -> None:
    resource_id = standins.create_key()
    key = GcpKmsKey(resource_id, endpoint=standins.tls.endpoint, root_certificates=standins.ca.ca_pem)
    with pytest.raises(KeyMaterialError, match="no Google Cloud credentials found") as info:
        key.wrap(random.randbytes(32))
    assert resource_id in str(info.value)


@pytest.mark.parametrize("value", ["{not json", '{"type": "no_such_type"}', "[]", '{"type": "service_account"}'])
def test_unusable_google_credentials_are_a_key_material_error(
    standins: StandIns, no_google_env: None, monkeypatch: pytest.MonkeyPatch, value: str,
) -> None:
    monkeypatch.setenv("GOOGLE_CREDENTIALS", value)
    resource_id = standins.create_key()
    with pytest.raises(KeyMaterialError, match="GOOGLE_CREDENTIALS") as info:
        GcpKmsKey(resource_id, endpoint=standins.tls.endpoint).wrap(random.randbytes(32))
    assert resource_id in str(info.value)


class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """OAuth token endpoint for a service-account JWT grant: answers every POST with TOKEN."""

    grants: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.grants.append(body)
        payload = json.dumps({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RefusingTokenEndpoint(_TokenEndpoint):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        payload = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _service_account_json(token_uri: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({
        "type": "service_account", "project_id": "test-project", "private_key_id": "k1", "private_key": pem,
        "client_email": "sops@test-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    })


def test_service_account_credentials_from_a_file(
    standins: StandIns, no_google_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """GOOGLE_CREDENTIALS as a path: the JWT grant goes to the file's token_uri, the token to KMS."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        creds = tmp_path / "sa.json"
        creds.write_text(_service_account_json(f"http://127.0.0.1:{server.server_port}/token"))
        monkeypatch.setenv("GOOGLE_CREDENTIALS", str(creds))
        resource_id = standins.create_key()
        data_key = random.randbytes(32)
        key = GcpKmsKey(resource_id, endpoint=standins.tls.endpoint, root_certificates=standins.ca.ca_pem)
        stanza = key.wrap(data_key)
        assert standins.insecure_key(resource_id).unwrap(stanza) == data_key
        assert any("grant_type=urn" in grant for grant in _TokenEndpoint.grants)
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_token_endpoint_is_reported(
    standins: StandIns, no_google_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GOOGLE_CREDENTIALS", _service_account_json(f"http://127.0.0.1:{port}/token"))
    resource_id = standins.create_key()
    key = GcpKmsKey(resource_id, endpoint=standins.tls.endpoint, root_certificates=standins.ca.ca_pem, timeout=3)
    with pytest.raises(ProviderError, match="could not reach the Google token endpoint") as info:
        key.wrap(random.randbytes(32))
    assert resource_id in str(info.value)
    assert "PRIVATE KEY" not in str(info.value)


def test_a_refused_grant_is_a_key_material_error(
    standins: StandIns, no_google_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingTokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GOOGLE_CREDENTIALS",
                           _service_account_json(f"http://127.0.0.1:{server.server_port}/token"))
        resource_id = standins.create_key()
        key = GcpKmsKey(resource_id, endpoint=standins.tls.endpoint, root_certificates=standins.ca.ca_pem)
        with pytest.raises(KeyMaterialError, match="credentials are unusable") as info:
            key.wrap(random.randbytes(32))
        assert resource_id in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


def test_tampered_wrong_key_and_garbled_enc_are_decryption_errors(standins: StandIns) -> None:
    resource_id, other_id = standins.create_key(), standins.create_key()
    data_key = random.randbytes(32)
    stanza = standins.insecure_key(resource_id).wrap(data_key)
    key = standins.insecure_key(resource_id)

    blob = bytearray(base64.b64decode(stanza["enc"]))
    blob[-1] ^= 0x01
    with pytest.raises(DecryptionError, match="Decryption failed") as info:
        key.unwrap(dict(stanza, enc=base64.b64encode(bytes(blob)).decode()))
    assert resource_id in str(info.value)
    assert data_key.hex() not in str(info.value)

    with pytest.raises(DecryptionError) as info:
        standins.insecure_key(other_id).unwrap(stanza)
    assert other_id in str(info.value)

    missing = resource_id.rsplit("/", 1)[0] + "/gone"
    with pytest.raises(DecryptionError, match="not found"):
        standins.insecure_key(missing).unwrap(stanza)
    with pytest.raises(DecryptionError, match="not valid base64"):
        key.unwrap(dict(stanza, enc="%%%"))
    with pytest.raises(DecryptionError, match="no encrypted data key"):
        key.unwrap({"resource_id": resource_id})


def test_wrap_with_an_unknown_key_is_a_key_material_error(standins: StandIns) -> None:
    missing = "projects/test-project/locations/global/keyRings/sops/cryptoKeys/absent"
    with pytest.raises(KeyMaterialError, match="not found") as info:
        standins.insecure_key(missing).wrap(random.randbytes(32))
    assert missing in str(info.value)


def test_unreachable_endpoint_is_a_provider_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    resource_id = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
    key = GcpKmsKey(resource_id, endpoint=f"127.0.0.1:{port}", insecure=True, timeout=2)
    with pytest.raises(ProviderError, match="unreachable") as info:
        key.wrap(random.randbytes(32))
    assert resource_id in str(info.value)


# ----------------------------------------------------------------------------------- CLI form


def test_from_cli_parses_a_comma_list() -> None:
    first = "projects/a/locations/global/keyRings/r/cryptoKeys/k1"
    second = "projects/b/locations/europe-west1/keyRings/r2/cryptoKeys/k2"
    keys = gcp_kms.from_cli(f"{first}, {second},", aws_profile="ignored", timeout=5)
    assert [k.identifier for k in keys] == [first, second]
    assert all(isinstance(k, GcpKmsKey) and k.timeout == 5 for k in keys)
    assert gcp_kms.from_cli("") == []


@pytest.mark.parametrize("bad", ["projects/a/locations/global/keyRings/r",
                                 "projects/a/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
                                 "k1"])
def test_from_cli_rejects_what_is_not_a_crypto_key(bad: str) -> None:
    with pytest.raises(ConfigError, match="no valid GCP KMS resource ID") as info:
        gcp_kms.from_cli(bad)
    assert bad in str(info.value)


def test_from_stanza_needs_a_resource_id() -> None:
    with pytest.raises(KeyMaterialError, match="without a resource_id"):
        GcpKmsKey.from_stanza({"enc": "abc"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "cloudkms.googleapis.com"),
        ({"SOPS_GCP_KMS_UNIVERSE_DOMAIN": "example-universe.test"}, "cloudkms.example-universe.test"),
        ({"SOPS_GCP_KMS_ENDPOINT": "kms.internal:8443", "SOPS_GCP_KMS_UNIVERSE_DOMAIN": "x.test"},
         "kms.internal:8443"),
    ],
)
def test_endpoint_selection_follows_sops(
    no_google_env: None, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str,
) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = GcpKmsKey("projects/p/locations/l/keyRings/r/cryptoKeys/k")._session().kms()
    assert client.api_endpoint == expected


def test_client_type_rest(no_google_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
    resource_id = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
    assert GcpKmsKey(resource_id)._session().kms().transport.kind == "grpc"
    monkeypatch.setenv("SOPS_GCP_KMS_CLIENT_TYPE", "REST")
    assert GcpKmsKey(resource_id)._session().kms().transport.kind == "rest"


# --------------------------------------------------------------------------- real sops interop


def _sops_env(tmp_path: Path, standins: StandIns, token: str = TOKEN) -> dict[str, str]:
    return clean_env(tmp_path, SOPS_GCP_KMS_ENDPOINT=standins.tls.endpoint, GOOGLE_OAUTH_ACCESS_TOKEN=token,
                     SSL_CERT_FILE=str(standins.ca_file))


def test_we_unwrap_what_real_sops_wrapped(sops_bin: Path, tmp_path: Path, standins: StandIns) -> None:
    resource_id = standins.create_key()
    (tmp_path / "plain.yaml").write_text("password: hunter2\napi:\n    token: t0k3n\n")
    done = run_sops(sops_bin, ["encrypt", "--gcp-kms", resource_id, "plain.yaml"],
                    env=_sops_env(tmp_path, standins), cwd=tmp_path)
    doc = YAML(typ="safe").load(done.stdout)
    (stanza,) = doc["sops"]["gcp_kms"]
    assert sorted(stanza) == ["created_at", "enc", "resource_id"]
    assert stanza["resource_id"] == resource_id
    assert GcpKmsKey.from_stanza(stanza).identifier == resource_id
    data_key = standins.insecure_key(resource_id).unwrap(stanza)
    assert len(data_key) == 32
    assert decrypt_value(doc["password"], data_key, "password:") == "hunter2"
    assert decrypt_value(doc["api"]["token"], data_key, "api:token:") == "t0k3n"


def test_real_sops_unwraps_what_we_wrapped(sops_bin: Path, tmp_path: Path, standins: StandIns) -> None:
    resource_id = standins.create_key()
    data_key = random.randbytes(32)
    groups = [{"gcp_kms": [standins.insecure_key(resource_id).wrap(data_key)]}]
    (tmp_path / "ours.json").write_text(build_json_file({"password": "hunter2"}, data_key, groups))
    done = run_sops(sops_bin, ["decrypt", "ours.json"], env=_sops_env(tmp_path, standins), cwd=tmp_path)
    assert json.loads(done.stdout) == {"password": "hunter2"}

    # Control: the same file with a token the stand-in refuses does not decrypt.
    refused = run_sops(sops_bin, ["decrypt", "ours.json"], env=_sops_env(tmp_path, standins, token="nope"),
                       cwd=tmp_path, check=False)
    assert refused.returncode == 128, refused.stderr
    assert "hunter2" not in refused.stdout
