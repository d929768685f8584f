"""The vault, aws-ssm and gcp-secretmanager providers against the real peers, and end-to-end renders.

Peers: OpenBao dev server (`vault_dev`, `vault_kube_auth` with a real kube-apiserver), moto in
server mode (`aws_env`), drongo's Secret Manager REST server (`gcp_sm_endpoint`, `gcp_sm_client`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.errors import ConfigError, KeyMaterialError, ProviderError, RenderError
from secrets_kit.providers import REGISTRY, FindSpec, RemoteRef, open_provider
from secrets_kit.render.hooks.placeholders import resolver_hook
from secrets_kit.render.model import RenderContext
from tests.peers.kube import KubeCluster
from tests.peers.vault import KubeAuth, VaultSetup

from .conftest import Sealing, run_cli
from .helpers import by_name, docs, recovery_unseal, secret_values, write

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there


def test_registry_lists_the_new_providers() -> None:
    assert {"vault", "aws-ssm", "gcp-secretmanager"} <= set(REGISTRY)


# ============================================================================================ Vault


def _vault_env(setup: VaultSetup, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": setup.server.url, **extra}


def _vault(setup: VaultSetup, **extra: str) -> Any:
    return open_provider("vault", {"env": _vault_env(setup, **extra)})


@pytest.fixture
def vault_data(vault_dev: VaultSetup) -> str:
    """A fresh prefix with: KV v2 `<p>/db` (2 versions, tagged), `<p>/nested/api`; KV v1 `<p>/legacy`."""
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    client = vault_dev.server.client()
    kv2 = client.secrets.kv.v2
    kv2.create_or_update_secret(f"{prefix}/db", {"username": "app", "password": "vault-old-pw-1"}, mount_point="kv-v2")
    kv2.create_or_update_secret(f"{prefix}/db", {"username": "app", "password": "vault-new-pw-2",
                                                 "conf": {"port": 5432}}, mount_point="kv-v2")
    kv2.update_metadata(f"{prefix}/db", custom_metadata={"team": "shop"}, mount_point="kv-v2")
    kv2.create_or_update_secret(f"{prefix}/nested/api", {"token": "vault-api-token-3"}, mount_point="kv-v2")
    kv2.update_metadata(f"{prefix}/nested/api", custom_metadata={"team": "billing"}, mount_point="kv-v2")
    client.secrets.kv.v1.create_or_update_secret(f"{prefix}/legacy", {"key": "vault-v1-value-4"},
                                                 mount_point="kv-v1")
    return prefix


@pytest.mark.peer("vault")
def test_vault_kv2_with_a_token(vault_dev: VaultSetup, vault_data: str) -> None:
    p = vault_data
    with _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_TYPE="vault", AVP_AUTH_TYPE="token") as vault:
        vault.validate()
        assert vault.get_secret_map(RemoteRef(f"kv-v2/data/{p}/db")) == {
            "username": b"app", "password": b"vault-new-pw-2", "conf": b'{"port":5432}'}
        assert vault.get_secret_map(RemoteRef(f"kv-v2/data/{p}/db", version="1")) == {
            "username": b"app", "password": b"vault-old-pw-1"}
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{p}/db", property="password")) == b"vault-new-pw-2"
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{p}/db", property="conf.port")) == b"5432"
        assert json.loads(vault.get_secret(RemoteRef(f"kv-v2/data/{p}/nested/api"))) == {"token": "vault-api-token-3"}
        with pytest.raises(ProviderError, match="not found") as missing:
            vault.get_secret(RemoteRef(f"kv-v2/data/{p}/db", version="9"))
        assert f"kv-v2/data/{p}/db" in str(missing.value)
        with pytest.raises(ProviderError, match="include data/"):  # AVP's classic mistake: no data/ segment
            vault.get_secret_map(RemoteRef(f"kv-v2/{p}/db"))


@pytest.mark.peer("vault")
def test_vault_kv1(vault_dev: VaultSetup, vault_data: str) -> None:
    with _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_KV_VERSION="1") as vault:
        assert vault.get_secret_map(RemoteRef(f"kv-v1/{vault_data}/legacy")) == {"key": b"vault-v1-value-4"}
        with pytest.raises(ProviderError, match="KV v1 has no versions"):
            vault.get_secret_map(RemoteRef(f"kv-v1/{vault_data}/legacy", version="1"))
        with pytest.raises(ProviderError, match="not found"):
            vault.get_secret_map(RemoteRef(f"kv-v1/{vault_data}/missing"))


@pytest.mark.peer("vault")
def test_vault_find(vault_dev: VaultSetup, vault_data: str) -> None:
    p = vault_data
    with _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token) as vault:
        found = vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}/"))
        assert sorted(found) == [f"kv-v2/data/{p}/db", f"kv-v2/data/{p}/nested/api"]
        assert json.loads(found[f"kv-v2/data/{p}/nested/api"]) == {"token": "vault-api-token-3"}
        assert sorted(vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}", tags={"team": "shop"}))) == [
            f"kv-v2/data/{p}/db"]
        assert sorted(vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}", name_regex=r"/api$"))) == [
            f"kv-v2/data/{p}/nested/api"]
        assert vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}-none/")) == {}
    with _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_KV_VERSION="1") as v1:
        assert sorted(v1.find_secrets(FindSpec(path=f"kv-v1/{p}"))) == [f"kv-v1/{p}/legacy"]


@pytest.mark.peer("vault")
def test_vault_approle_login_and_revoke_on_close(vault_dev: VaultSetup, vault_data: str) -> None:
    vault = _vault(vault_dev, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=vault_dev.approle_role_id,
                   AVP_SECRET_ID=vault_dev.approle_secret_id)
    vault.validate()
    token = vault._client.token
    assert token and token != vault_dev.server.root_token
    assert vault.get_secret(RemoteRef(f"kv-v2/data/{vault_data}/db", property="password")) == b"vault-new-pw-2"
    vault.close()
    import hvac.exceptions

    with pytest.raises(hvac.exceptions.Forbidden):  # the login token was revoked
        vault_dev.server.client().auth.token.lookup(token)


@pytest.mark.peer("vault")
def test_vault_denied_and_refused(vault_dev: VaultSetup, vault_data: str) -> None:
    weak = vault_dev.server.client().auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    with _vault(vault_dev, VAULT_TOKEN=weak) as vault:
        vault.validate()  # the token itself is fine
        with pytest.raises(ProviderError, match="permission denied") as denied:
            vault.get_secret_map(RemoteRef(f"kv-v2/data/{vault_data}/db"))
        assert f"kv-v2/data/{vault_data}/db" in str(denied.value) and weak not in str(denied.value)
    bad_secret_id = "00000000-1111-2222-3333-444444444444"
    vault = _vault(vault_dev, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=vault_dev.approle_role_id,
                   AVP_SECRET_ID=bad_secret_id)
    with pytest.raises(ProviderError, match="AppRole login") as refused:
        vault.validate()
    assert bad_secret_id not in str(refused.value) and vault_dev.server.url in str(refused.value)
    with pytest.raises(ProviderError):
        _vault(vault_dev, VAULT_TOKEN="not-a-real-token-xyz").validate()


@pytest.mark.peer("vault")
def test_vault_unreachable_and_missing_credentials(vault_dev: VaultSetup, tmp_path: Path) -> None:
    vault = open_provider("vault", {"env": {"VAULT_ADDR": CLOSED, "VAULT_TOKEN": "s.secret-token-value"}})
    with pytest.raises(ProviderError, match="unreachable") as unreachable:
        vault.validate()
    assert CLOSED in str(unreachable.value) and "secret-token-value" not in str(unreachable.value)
    with pytest.raises(KeyMaterialError, match="no Vault credentials"):
        open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url}})
    with pytest.raises(KeyMaterialError, match="AVP_SECRET_ID"):
        open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url, "AVP_AUTH_TYPE": "approle",
                                        "AVP_ROLE_ID": "x"}})
    with pytest.raises(ConfigError, match="VAULT_ADDR"):
        open_provider("vault", {"env": {"VAULT_TOKEN": "x"}})
    k8s = open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url, "AVP_AUTH_TYPE": "k8s",
                                          "AVP_K8S_ROLE": "r", "AVP_K8S_TOKEN_PATH": str(tmp_path / "none")}})
    with pytest.raises(KeyMaterialError, match="service-account token"):
        k8s.validate()
    with pytest.raises(ConfigError, match="AVP_TYPE"):
        open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url, "VAULT_TOKEN": "x",
                                        "AVP_TYPE": "awssecretsmanager"}})


@pytest.mark.peer("vault")
def test_vault_path_validation(vault_dev: VaultSetup, vault_data: str) -> None:
    with _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_PATH_VALIDATION=r"^kv-v2/data/t-") as vault:
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{vault_data}/db", property="username")) == b"app"
        with pytest.raises(ProviderError, match="AVP_PATH_VALIDATION"):
            vault.get_secret(RemoteRef("sys/mounts"))


@pytest.mark.peer("vault")
def test_vault_kubernetes_auth(vault_dev: VaultSetup, vault_kube_auth: KubeAuth, kube_cluster: KubeCluster,
                               vault_data: str, tmp_path: Path) -> None:
    token_file = tmp_path / "sa-token"
    token_file.write_text(kube_cluster.token_request(vault_kube_auth.namespace, vault_kube_auth.service_account))
    with _vault(vault_dev, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE=vault_kube_auth.role,
                AVP_K8S_MOUNT_PATH=f"auth/{vault_kube_auth.mount}", AVP_K8S_TOKEN_PATH=str(token_file)) as vault:
        vault.validate()
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{vault_data}/db", property="password")) == b"vault-new-pw-2"
    other = kube_cluster.create_service_account(vault_kube_auth.namespace, f"not-bound-{vault_data}")
    token_file.write_text(other.token)
    vault = _vault(vault_dev, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE=vault_kube_auth.role,
                   AVP_K8S_TOKEN_PATH=str(token_file))
    with pytest.raises(ProviderError, match="Kubernetes login") as refused:
        vault.validate()
    assert other.token not in str(refused.value)


@pytest.mark.peer("vault")
def test_vault_reads_are_coalesced(vault_dev: VaultSetup, vault_data: str) -> None:
    p = vault_data
    manifests = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}", "namespace": "n"},
         "stringData": {"a": f"<path:kv-v2/data/{p}/db#password>", "b": f"<path:kv-v2/data/{p}/db#username>",
                        "c": f"<path:kv-v2/data/{p}/db#password#1>"}}
        for i in range(3)
    ]
    vault = _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token)
    out = resolver_hook(lambda: vault)(manifests, RenderContext(root=Path("/"), app=Path("/")))
    assert out[2]["stringData"] == {"a": "vault-new-pw-2", "b": "app", "c": "vault-old-pw-1"}
    assert vault.reads == 2  # one per (path, version), however many placeholders use it


def _kv_doc(name: str, kv_version: str | None, **string_data: str) -> dict[str, Any]:
    annotations = {"avp.kubernetes.io/kv-version": kv_version} if kv_version else {}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "n", "annotations": annotations}, "stringData": string_data}


@pytest.mark.peer("vault")
def test_vault_kv_version_annotation_overrides_avp_kv_version(vault_dev: VaultSetup, vault_data: str) -> None:
    """AVP's per-resource `avp.kubernetes.io/kv-version` beats AVP_KV_VERSION, for that resource only."""
    p = vault_data
    legacy = _kv_doc("legacy", "1", key=f"<path:kv-v1/{p}/legacy#key>")
    legacy["metadata"]["annotations"]["avp.kubernetes.io/path"] = f"kv-v1/{p}/legacy"
    legacy["stringData"]["generic"] = "<key>"
    manifests = [
        legacy,
        _kv_doc("current", None, password=f"<path:kv-v2/data/{p}/db#password>"),
        _kv_doc("explicit-v2", "2", password=f"<path:kv-v2/data/{p}/db#password>",
                previous=f"<path:kv-v2/data/{p}/db#password#1>"),
        _kv_doc("legacy-again", "1", again=f"<path:kv-v1/{p}/legacy#key>"),
    ]
    vault = _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token)  # AVP_KV_VERSION unset: 2
    out = resolver_hook(lambda: vault)(manifests, RenderContext(root=Path("/"), app=Path("/")))
    assert out[0]["stringData"] == {"key": "vault-v1-value-4", "generic": "vault-v1-value-4"}
    assert out[1]["stringData"] == {"password": "vault-new-pw-2"}
    assert out[2]["stringData"] == {"password": "vault-new-pw-2", "previous": "vault-old-pw-1"}
    assert out[3]["stringData"] == {"again": "vault-v1-value-4"}
    # still coalesced: v1 legacy once, v2 db latest once (annotation "2" = the default), v2 db#1 once
    assert vault.reads == 3

    # the other way round: AVP_KV_VERSION=1 globally, one resource back on KV v2
    v1 = _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_KV_VERSION="1")
    out = resolver_hook(lambda: v1)([_kv_doc("a", None, key=f"<path:kv-v1/{p}/legacy#key>"),
                                     _kv_doc("b", "2", password=f"<path:kv-v2/data/{p}/db#password#1>")],
                                    RenderContext(root=Path("/"), app=Path("/")))
    assert [d["stringData"] for d in out] == [{"key": "vault-v1-value-4"}, {"password": "vault-old-pw-1"}]
    assert v1.reads == 2

    # without the annotation the KV v1 path is read as KV v2 and fails, naming the path, not a value
    with pytest.raises(ProviderError, match="not a KV v2 secret") as wrong:
        resolver_hook(lambda: _vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token))(
            [_kv_doc("legacy", None, key=f"<path:kv-v1/{p}/legacy#key>")],
            RenderContext(root=Path("/"), app=Path("/")))
    assert f"kv-v1/{p}/legacy" in str(wrong.value) and "vault-v1-value-4" not in str(wrong.value)


def test_kv_version_annotation_must_be_1_or_2() -> None:
    def never() -> Any:
        raise AssertionError("no provider is opened for an invalid annotation")

    with pytest.raises(RenderError, match='kv-version must be "1" or "2"') as bad:
        resolver_hook(never)([_kv_doc("x", "3", key="<path:kv/app#key>")], RenderContext(root=Path("/"), app=Path("/")))
    assert "Secret" in str(bad.value) and "x" in str(bad.value)


def _vault_app(tmp_path: Path, prefix: str) -> Path:
    app = tmp_path / "app"
    write(app / "secret.yaml", f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
stringData:
  password: <path:kv-v2/data/{prefix}/db#password>
  previous: <path:kv-v2/data/{prefix}/db#password#1>
---
apiVersion: v1
kind: Secret
metadata:
  name: api
  namespace: shop
  annotations:
    avp.kubernetes.io/path: kv-v2/data/{prefix}/nested/api
stringData:
  token: <token>
""")
    return app


def _check_sealed_render(out: Any, kubeseal_bin: Path, sealing: Sealing) -> None:
    assert out.returncode == 0, out.stderr.decode()
    for value in (b"vault-new-pw-2", b"vault-old-pw-1", b"vault-api-token-3"):
        assert value not in out.stdout and value not in out.stderr
    found = by_name(docs(out.stdout))
    assert set(found) == {("SealedSecret", "db"), ("SealedSecret", "api")}
    opened = by_name(recovery_unseal(kubeseal_bin, sealing.key, list(found.values())))
    assert secret_values(opened[("Secret", "db")]) == {"password": b"vault-new-pw-2", "previous": b"vault-old-pw-1"}
    assert secret_values(opened[("Secret", "api")]) == {"token": b"vault-api-token-3"}


@pytest.mark.peer("vault")
def test_render_vault_zero_plaintext_with_approle(vault_dev: VaultSetup, vault_data: str, tmp_path: Path,
                                                  sealing: Sealing, render_env: dict[str, str],
                                                  kubeseal_bin: Path) -> None:
    app = _vault_app(tmp_path, vault_data)
    env = {**render_env, "VAULT_ADDR": vault_dev.server.url, "AVP_TYPE": "vault", "AVP_AUTH_TYPE": "approle",
           "AVP_ROLE_ID": vault_dev.approle_role_id, "AVP_SECRET_ID": vault_dev.approle_secret_id}
    out = run_cli(["render", str(app), "--provider", "vault", "--seal-to", str(sealing.cert)], env=env)
    _check_sealed_render(out, kubeseal_bin, sealing)
    # The provider named by the app (PARAM_PROVIDER), connection from the sidecar's env: same result.
    again = run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env={**env, "PARAM_PROVIDER": "vault"})
    _check_sealed_render(again, kubeseal_bin, sealing)
    # Unreachable Vault: exit 6, nothing on stdout, the address named, no credential in the message.
    down = run_cli(["render", str(app), "--provider", "vault", "--seal-to", str(sealing.cert)],
                   env={**env, "VAULT_ADDR": CLOSED})
    assert down.returncode == 6 and down.stdout == b""
    assert CLOSED.encode() in down.stderr and vault_dev.approle_secret_id.encode() not in down.stderr
    # No credentials at all: exit 5 (key material).
    bare = {k: v for k, v in env.items() if not k.startswith("AVP_")}
    missing = run_cli(["render", str(app), "--provider", "vault", "--seal-to", str(sealing.cert)], env=bare)
    assert missing.returncode == 5 and missing.stdout == b"", missing.stderr.decode()


@pytest.mark.peer("vault")
def test_render_vault_zero_plaintext_with_kubernetes_auth(vault_dev: VaultSetup, vault_kube_auth: KubeAuth,
                                                          kube_cluster: KubeCluster, vault_data: str,
                                                          tmp_path: Path, sealing: Sealing,
                                                          render_env: dict[str, str], kubeseal_bin: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(kube_cluster.token_request(vault_kube_auth.namespace, vault_kube_auth.service_account))
    app = _vault_app(tmp_path, vault_data)
    env = {**render_env, "VAULT_ADDR": vault_dev.server.url, "AVP_TYPE": "vault", "AVP_AUTH_TYPE": "k8s",
           "AVP_K8S_ROLE": vault_kube_auth.role, "AVP_K8S_TOKEN_PATH": str(token_file)}
    out = run_cli(["render", str(app), "--provider", "vault", "--seal-to", str(sealing.cert)], env=env)
    _check_sealed_render(out, kubeseal_bin, sealing)


def test_render_help_lists_the_providers(render_env: dict[str, str]) -> None:
    out = run_cli(["render", "--help"], env=render_env)
    text = re.sub(r"-\s+", "-", " ".join(out.stdout.decode().split()))  # undo click's wrapping
    assert out.returncode == 0
    for kind in ("vault", "aws-ssm", "gcp-secretmanager", "aws-secretsmanager"):
        assert kind in text


# ====================================================================================== AWS SSM


@pytest.fixture
def ssm_data(aws_env: str) -> str:
    import boto3

    client = boto3.client("ssm", region_name="us-east-1")
    p = f"/t-{uuid.uuid4().hex[:8]}"
    client.put_parameter(Name=f"{p}/db", Type="SecureString", Value=json.dumps({"user": "u", "password": "ssm-pw-1"}),
                         Tags=[{"Key": "team", "Value": "shop"}])
    client.put_parameter(Name=f"{p}/db", Type="SecureString", Overwrite=True,
                         Value=json.dumps({"user": "u", "password": "ssm-pw-2"}))
    client.label_parameter_version(Name=f"{p}/db", ParameterVersion=1, Labels=["stable"])
    client.put_parameter(Name=f"{p}/plain", Type="String", Value="ssm-plain-3")
    client.put_parameter(Name=f"{p}/deep/list", Type="StringList", Value="a,b,c",
                         Tags=[{"Key": "team", "Value": "billing"}])
    return p


@pytest.mark.peer("moto")
def test_aws_ssm(ssm_data: str, aws_env: str) -> None:
    p = ssm_data
    with open_provider("aws-ssm", {"region": "us-east-1"}) as ssm:  # endpoint from AWS_ENDPOINT_URL
        ssm.validate()
        assert ssm.get_secret(RemoteRef(f"{p}/db", property="password")) == b"ssm-pw-2"  # decrypted
        assert ssm.get_secret(RemoteRef(f"{p}/db", property="password", version="1")) == b"ssm-pw-1"
        assert ssm.get_secret(RemoteRef(f"{p}/db:1", property="password")) == b"ssm-pw-1"
        assert ssm.get_secret(RemoteRef(f"{p}/db", property="password", version="stable")) == b"ssm-pw-1"
        assert ssm.get_secret_map(RemoteRef(f"{p}/db")) == {"user": b"u", "password": b"ssm-pw-2"}
        assert ssm.get_secret(RemoteRef(f"{p}/plain")) == b"ssm-plain-3"
        assert ssm.get_secret(RemoteRef(f"{p}/deep/list")) == b"a,b,c"
        by_path = ssm.find_secrets(FindSpec(path=p))
        assert sorted(by_path) == [f"{p}/db", f"{p}/deep/list", f"{p}/plain"]
        assert json.loads(by_path[f"{p}/db"])["password"] == "ssm-pw-2"
        assert sorted(ssm.find_secrets(FindSpec(path=p, name_regex="/pl"))) == [f"{p}/plain"]
        assert sorted(ssm.find_secrets(FindSpec(path=p, tags={"team": "billing"}))) == [f"{p}/deep/list"]
        with pytest.raises(ProviderError, match="ParameterNotFound") as missing:
            ssm.get_secret(RemoteRef(f"{p}/missing"))
        assert f"{p}/missing" in str(missing.value)
        with pytest.raises(ProviderError, match="GetParameter failed"):
            ssm.get_secret(RemoteRef(f"{p}/db", version="7"))
        with pytest.raises(ProviderError, match="not JSON"):
            ssm.get_secret_map(RemoteRef(f"{p}/plain"))


@pytest.mark.peer("moto")
def test_aws_ssm_unreachable_and_no_credentials(aws_env: str, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    down = open_provider("aws-ssm", {"region": "us-east-1", "endpoint_url": CLOSED})
    with pytest.raises(ProviderError, match="failed") as err:
        down.get_secret(RemoteRef("/app/x"))
    assert "/app/x" in str(err.value)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(KeyMaterialError, match="no AWS credentials"):
        open_provider("aws-ssm", {"region": "us-east-1"}).validate()


@pytest.mark.peer("moto")
def test_render_from_aws_ssm(ssm_data: str, aws_env: str, tmp_path: Path, render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    write(app / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: n}}\n"
                          f"stringData: {{pw: '<path:{ssm_data}/db#password#1>'}}\n")
    env = {**render_env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    out = run_cli(["render", str(app), "--provider", "aws-ssm"], env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert docs(out.stdout)[0]["stringData"] == {"pw": "ssm-pw-1"}


# ========================================================================================== GCP


PROJECT = "secrets-kit-test"


@pytest.fixture
def gcp_data(gcp_sm_client: Any) -> str:
    sid = f"t-{uuid.uuid4().hex[:8]}"
    parent = f"projects/{PROJECT}"
    for name, labels, payloads in (
        (f"{sid}-db", {"team": "shop"}, [json.dumps({"user": "g", "password": "gcp-pw-1"}),
                                         json.dumps({"user": "g", "password": "gcp-pw-2"})]),
        (f"{sid}-token", {"team": "billing"}, ["gcp-raw-token-3"]),
    ):
        gcp_sm_client.create_secret(request={"parent": parent, "secret_id": name,
                                             "secret": {"replication": {"automatic": {}}, "labels": labels}})
        for payload in payloads:
            gcp_sm_client.add_secret_version(request={"parent": f"{parent}/secrets/{name}",
                                                      "payload": {"data": payload.encode()}})
    return sid


def _gcp(endpoint: str, **extra: str) -> Any:
    return open_provider("gcp-secretmanager", {"env": {"SECRETS_KIT_GCP_SM_ENDPOINT": endpoint, **extra}})


@pytest.mark.peer("gcp")
def test_gcp_secret_manager(gcp_sm_endpoint: str, gcp_data: str) -> None:
    sid = gcp_data
    db = f"projects/{PROJECT}/secrets/{sid}-db"
    with _gcp(gcp_sm_endpoint, SECRETS_KIT_GCP_PROJECT=PROJECT) as gcp:
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
    down = _gcp("127.0.0.1:9")
    with pytest.raises(ProviderError, match="unreachable") as err:
        down.validate()
    assert "127.0.0.1:9" in str(err.value)
    with pytest.raises(ProviderError, match="unreachable"):
        down.get_secret(RemoteRef("projects/p/secrets/s"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    with pytest.raises(KeyMaterialError, match="no Google Cloud credentials"):
        open_provider("gcp-secretmanager", {"env": {}}).validate()


@pytest.mark.peer("gcp")
def test_render_from_gcp(gcp_sm_endpoint: str, gcp_data: str, tmp_path: Path, sealing: Sealing,
                         render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    path = f"projects/{PROJECT}/secrets/{gcp_data}"
    write(app / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: n}}\n"
                          f"stringData: {{pw: '<path:{path}-db#password#1>', tok: '<path:{path}-token#{gcp_data}-token>'}}\n")
    env = {**render_env, "SECRETS_KIT_GCP_SM_ENDPOINT": f"http://{gcp_sm_endpoint}"}
    out = run_cli(["render", str(app), "--provider", "gcp-secretmanager"], env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert docs(out.stdout)[0]["stringData"] == {"pw": "gcp-pw-1", "tok": "gcp-raw-token-3"}
    sealed = run_cli(["render", str(app), "--provider", "gcp-secretmanager", "--seal-to", str(sealing.cert)], env=env)
    assert sealed.returncode == 0 and b"gcp-pw-1" not in sealed.stdout and b"gcp-raw-token-3" not in sealed.stdout
