"""Rendering through the vault, aws-ssm and gcp-secretmanager providers, against the real peers.

Peers: OpenBao dev server (`vault_dev`, `vault_kube_auth` with a real kube-apiserver), moto in
server mode (`aws_env`), drongo's Secret Manager REST server (`gcp_sm_endpoint`, `gcp_sm_client`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.errors import ProviderError, RenderError
from secrets_kit.render.hooks.placeholders import resolver_hook
from secrets_kit.render.model import RenderContext
from tests.peers.kube import KubeCluster
from tests.peers.vault import KubeAuth, VaultSetup
from tests.providers import fixtures
from tests.providers.fixtures import CLOSED, PROJECT, open_vault

from .conftest import Sealing, run_cli
from .helpers import by_name, docs, recovery_unseal, secret_values, write

# The peer data the provider tests use (fixtures imported by name, so pytest finds them here).
vault_data = fixtures.vault_data
ssm_data = fixtures.ssm_data
gcp_data = fixtures.gcp_data


@pytest.mark.peer("vault")
def test_vault_reads_are_coalesced(vault_dev: VaultSetup, vault_data: str) -> None:
    p = vault_data
    manifests = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}", "namespace": "n"},
         "stringData": {"a": f"<path:kv-v2/data/{p}/db#password>", "b": f"<path:kv-v2/data/{p}/db#username>",
                        "c": f"<path:kv-v2/data/{p}/db#password#1>"}}
        for i in range(3)
    ]
    vault = open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token)
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
    vault = open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token)  # AVP_KV_VERSION unset: 2
    out = resolver_hook(lambda: vault)(manifests, RenderContext(root=Path("/"), app=Path("/")))
    assert out[0]["stringData"] == {"key": "vault-v1-value-4", "generic": "vault-v1-value-4"}
    assert out[1]["stringData"] == {"password": "vault-new-pw-2"}
    assert out[2]["stringData"] == {"password": "vault-new-pw-2", "previous": "vault-old-pw-1"}
    assert out[3]["stringData"] == {"again": "vault-v1-value-4"}
    # still coalesced: v1 legacy once, v2 db latest once (annotation "2" = the default), v2 db#1 once
    assert vault.reads == 3

    # the other way round: AVP_KV_VERSION=1 globally, one resource back on KV v2
    v1 = open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_KV_VERSION="1")
    out = resolver_hook(lambda: v1)([_kv_doc("a", None, key=f"<path:kv-v1/{p}/legacy#key>"),
                                     _kv_doc("b", "2", password=f"<path:kv-v2/data/{p}/db#password#1>")],
                                    RenderContext(root=Path("/"), app=Path("/")))
    assert [d["stringData"] for d in out] == [{"key": "vault-v1-value-4"}, {"password": "vault-old-pw-1"}]
    assert v1.reads == 2

    # without the annotation the KV v1 path is read as KV v2 and fails, naming the path, not a value
    with pytest.raises(ProviderError, match="not a KV v2 secret") as wrong:
        resolver_hook(lambda: open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token))(
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



@pytest.mark.peer("moto")
def test_render_from_aws_ssm(ssm_data: str, aws_env: str, tmp_path: Path, render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    write(app / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: n}}\n"
                          f"stringData: {{pw: '<path:{ssm_data}/db#password#1>'}}\n")
    env = {**render_env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    out = run_cli(["render", str(app), "--provider", "aws-ssm"], env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert docs(out.stdout)[0]["stringData"] == {"pw": "ssm-pw-1"}




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

