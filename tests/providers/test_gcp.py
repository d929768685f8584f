"""The GCP Secret Manager provider against the Secret Manager emulator peer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secrets_kit.errors import KeyMaterialError, ProviderError
from secrets_kit.providers import FindSpec, RemoteRef, open_provider
from tests.providers.fixtures import PROJECT, open_gcp


@pytest.mark.peer("gcp")
def test_gcp_secret_manager(gcp_sm_endpoint: str, gcp_data: str) -> None:
    sid = gcp_data
    db = f"projects/{PROJECT}/secrets/{sid}-db"
    with open_gcp(gcp_sm_endpoint, SECRETS_KIT_GCP_PROJECT=PROJECT) as gcp:
        gcp.validate()
        assert gcp.get_secret(RemoteRef(db, property="password")) == b"gcp-pw-2"
        assert gcp.get_secret(RemoteRef(db, property="password", version="1")) == b"gcp-pw-1"
        assert gcp.get_secret(RemoteRef(f"{db}/versions/1", property="password")) == b"gcp-pw-1"
        assert gcp.get_secret(RemoteRef(f"{sid}-token")) == b"gcp-raw-token-3"  # default project
        # AVP's map: {secret id: payload}, plus the keys of a JSON object.
        assert gcp.get_secret_map(RemoteRef(f"projects/{PROJECT}/secrets/{sid}-token")) == {
            f"{sid}-token": b"gcp-raw-token-3"}
        db_map = gcp.get_secret_map(RemoteRef(db))
        assert db_map["password"] == b"gcp-pw-2" and json.loads(db_map[f"{sid}-db"])["user"] == "g"
        found = gcp.find_secrets(FindSpec(name_regex=f"^{sid}-"))
        assert sorted(found) == [db, f"projects/{PROJECT}/secrets/{sid}-token"]
        assert sorted(gcp.find_secrets(FindSpec(path=f"projects/{PROJECT}", tags={"team": "billing"},
                                                name_regex=sid))) == [f"projects/{PROJECT}/secrets/{sid}-token"]
        with pytest.raises(ProviderError, match="not found") as missing:
            gcp.get_secret(RemoteRef(f"projects/{PROJECT}/secrets/{sid}-nope"))
        assert f"{sid}-nope" in str(missing.value)
        with pytest.raises(ProviderError, match="not found"):
            gcp.get_secret(RemoteRef(db, version="9"))
        with pytest.raises(ProviderError, match="projects/PROJECT/secrets/SECRET"):
            gcp.get_secret(RemoteRef("not/a/valid/path"))


@pytest.mark.peer("gcp")
def test_gcp_unreachable_and_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    down = open_gcp("127.0.0.1:9")
    with pytest.raises(ProviderError, match="unreachable") as err:
        down.validate()
    assert "127.0.0.1:9" in str(err.value)
    with pytest.raises(ProviderError, match="unreachable"):
        down.get_secret(RemoteRef("projects/p/secrets/s"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    with pytest.raises(KeyMaterialError, match="no Google Cloud credentials"):
        open_provider("gcp-secretmanager", {"env": {}}).validate()

