"""The Google Cloud client: credentials, transport/endpoint choice, kept clients, and the error map —
against the Secret Manager emulator peer where a server is needed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from secrets_kit.clients import gcp
from secrets_kit.clients.failure import Kind
from secrets_kit.errors import ConfigError, KeyMaterialError, ProviderError


def _generated_service_account() -> str:
    """A service-account JSON around a private key generated for this test run (never committed)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
                       "client_email": "test@p.iam.gserviceaccount.com", "client_id": "1",
                       "token_uri": "http://127.0.0.1:9/token"})


@pytest.fixture
def no_adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))


def test_credentials_from_a_service_account_json_and_an_access_token() -> None:
    text = _generated_service_account()
    session = gcp.GcpSession(gcp.GcpSettings(credentials_json=text))
    creds = session.credentials()
    assert creds.service_account_email == "test@p.iam.gserviceaccount.com"
    assert session.credentials() is creds  # resolved once, kept
    assert "PRIVATE KEY" not in repr(session.settings)
    token = gcp.GcpSession(gcp.GcpSettings(access_token="ya29.test-token")).credentials()
    assert token.token == "ya29.test-token" and token.valid


@pytest.mark.parametrize("text", ["{not json", "[]", '{"type": "nope"}', '{"type": "service_account"}'])
def test_unusable_credentials_json_names_its_source(text: str) -> None:
    with pytest.raises(KeyMaterialError, match="MY_CREDS") as err:
        gcp.GcpSession(gcp.GcpSettings(credentials_json=text, credentials_source="MY_CREDS")).credentials()
    assert "PRIVATE" not in str(err.value)


def test_missing_adc_is_a_key_material_error(no_adc: None) -> None:
    session = gcp.GcpSession(gcp.GcpSettings())
    with pytest.raises(KeyMaterialError, match="no Google Cloud credentials found") as err:
        gcp.call(session.secret_manager, service="Secret Manager", what="connect", where="sm test",
                 hints={Kind.CREDENTIALS_MISSING: "use workload identity"})
    assert err.value.where == "sm test" and err.value.hint == "use workload identity"


def test_a_dead_token_endpoint_is_named(no_adc: None) -> None:
    session = gcp.GcpSession(gcp.GcpSettings(credentials_json=_generated_service_account(), timeout=3))
    with pytest.raises(ProviderError, match="could not reach the Google token endpoint") as err:
        gcp.call(session.refresh, service="Secret Manager", what="credential check", where="sm")
    assert "PRIVATE KEY" not in str(err.value)


@pytest.mark.parametrize(("settings", "endpoint", "transport"), [
    (gcp.GcpSettings(access_token="t"), "cloudkms.googleapis.com", "grpc"),
    (gcp.GcpSettings(access_token="t", transport="rest"), "cloudkms.googleapis.com", "rest"),
    (gcp.GcpSettings(access_token="t", universe_domain="example-universe.test"), "cloudkms.example-universe.test",
     "grpc"),
    (gcp.GcpSettings(access_token="t", endpoint="kms.internal:8443", universe_domain="x.test"), "kms.internal:8443",
     "grpc"),
])
def test_transport_and_endpoint_choice(settings: gcp.GcpSettings, endpoint: str, transport: str) -> None:
    session = gcp.GcpSession(settings)
    client = session.kms()
    assert (client.api_endpoint, client.transport.kind) == (endpoint, transport)
    assert session.kms() is client  # built once, kept
    session.close()


def test_call_options_follow_the_settings() -> None:
    assert gcp.GcpSession(gcp.GcpSettings(timeout=7, retry=False)).call_options() == {"retry": None, "timeout": 7}
    options = gcp.GcpSession(gcp.GcpSettings(timeout=7)).call_options()
    assert options["timeout"] == 7 and options["retry"] is not None


def test_an_insecure_channel_needs_an_endpoint() -> None:
    with pytest.raises(ConfigError, match="needs an endpoint"):
        gcp.GcpSession(gcp.GcpSettings(insecure=True)).kms()


@pytest.mark.peer("gcp")
def test_secret_manager_against_the_emulator(gcp_sm_endpoint: str, gcp_sm_client: object) -> None:
    session = gcp.GcpSession(gcp.GcpSettings(anonymous=True, transport="rest", endpoint=f"http://{gcp_sm_endpoint}",
                                             timeout=10, retry=False))
    sm = session.secret_manager()
    sid = f"c-{uuid.uuid4().hex[:8]}"
    parent = "projects/secrets-kit-test"
    sm.create_secret(request={"parent": parent, "secret_id": sid, "secret": {"replication": {"automatic": {}}}},
                     **session.call_options())
    sm.add_secret_version(request={"parent": f"{parent}/secrets/{sid}", "payload": {"data": b"client-value-1"}})
    got = gcp.call(lambda: sm.access_secret_version(name=f"{parent}/secrets/{sid}/versions/latest",
                                                    **session.call_options()),
                   service="Secret Manager", what="AccessSecretVersion", where=sid)
    assert got.payload.data == b"client-value-1"
    with pytest.raises(ProviderError, match="AccessSecretVersion failed: not found") as missing:
        gcp.call(lambda: sm.access_secret_version(name=f"{parent}/secrets/{sid}-nope/versions/latest",
                                                  **session.call_options()),
                 service="Secret Manager", what="AccessSecretVersion", where=f"{sid}-nope")
    assert f"{sid}-nope" in str(missing.value) and "client-value-1" not in str(missing.value)
    session.close()


def test_unreachable_rest_endpoint() -> None:
    session = gcp.GcpSession(gcp.GcpSettings(anonymous=True, transport="rest", endpoint="http://127.0.0.1:9",
                                             timeout=2, retry=False))
    with pytest.raises(ProviderError, match="Secret Manager is unreachable"):
        gcp.call(lambda: session.secret_manager().access_secret_version(
            name="projects/p/secrets/s/versions/1", **session.call_options()),
            service="Secret Manager", what="AccessSecretVersion", where="s")
