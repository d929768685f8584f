"""KRM function contract: ResourceList in, ResourceList out, results on error; with the real kustomize."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.k8s.manifests import dump_yaml

from .apps import DB_PASSWORD, DB_USER, ENV_TOKEN, PLAINTEXT
from .conftest import Age, Sealing, run_cli
from .helpers import SECRET_REGEX, by_name, docs, recovery_unseal, secret_values, sops_encrypt, write

WRAPPER = Path(__file__).resolve().parents[2] / "deploy" / "krm" / "secrets-kit-krm"


def _resource_list(items: list[dict[str, Any]], config: dict[str, Any] | None = None,
                   api: str = "config.kubernetes.io/v1") -> bytes:
    doc: dict[str, Any] = {"apiVersion": api, "kind": "ResourceList", "items": items}
    if config is not None:
        doc["functionConfig"] = config
    return dump_yaml(doc, document_marker=False).encode()


def _encrypted_secret(tmp_path: Path, sops: Path, recipient: str) -> Path:
    plain = write(tmp_path / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: team}}\n"
                                       f"stringData: {{password: {DB_PASSWORD}}}\n")
    return sops_encrypt(sops, recipient, plain, tmp_path / "s.sops.yaml", regex=SECRET_REGEX)


@pytest.mark.parametrize("api", ["config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1",
                                 "config.kubernetes.io/v1beta1"])
def test_transformer_decrypts_items(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                    render_env: dict[str, str], api: str) -> None:
    (tmp_path / ".git").mkdir()
    encrypted = docs(_encrypted_secret(tmp_path, sops_bin, age_identity.recipient).read_bytes())[0]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {
        "config.kubernetes.io/index": "1"}}, "data": {"a": "b"}}
    out = run_cli(["render", "--krm"], env=render_env, cwd=tmp_path,
                  stdin=_resource_list([encrypted, cm], {"apiVersion": "secrets-kit.io/v1alpha1", "kind": "Render",
                                                         "metadata": {"name": "f"}}, api))
    assert out.returncode == 0, out.stderr.decode()
    result = docs(out.stdout)[0]
    assert result["apiVersion"] == api and result["kind"] == "ResourceList"
    found = by_name(result["items"])
    assert found[("Secret", "db")]["stringData"] == {"password": DB_PASSWORD}
    assert found[("ConfigMap", "c")]["metadata"]["annotations"] == {"config.kubernetes.io/index": "1"}
    assert "results" not in result


@pytest.mark.parametrize(("stdin", "message"), [
    (b"not: [yaml", "malformed YAML"),
    (b"apiVersion: v1\nkind: List\nitems: []\n", "expected one ResourceList"),
    (b"apiVersion: config.kubernetes.io/v9\nkind: ResourceList\nitems: []\n", "unsupported ResourceList"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [1]\n", "items must be a list of objects"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {kind: Other}\n",
     "unsupported functionConfig kind"),
    (b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig: {kind: Render, spec: "
     b"{filez: []}}\n", "unknown functionConfig setting"),
])
def test_bad_input_gives_results(tmp_path: Path, render_env: dict[str, str], stdin: bytes, message: str) -> None:
    out = run_cli(["render", "--krm"], env=render_env, cwd=tmp_path, stdin=stdin)
    assert out.returncode == 1
    result = docs(out.stdout)[0]
    assert result["kind"] == "ResourceList" and result["items"] == []
    assert result["results"][0]["severity"] == "error"
    assert message in result["results"][0]["message"]
    assert message in out.stderr.decode()


def test_decryption_error_gives_results_without_plaintext(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                                          other_age_identity: Age,
                                                          render_env: dict[str, str]) -> None:
    (tmp_path / ".git").mkdir()
    encrypted = docs(_encrypted_secret(tmp_path, sops_bin, age_identity.recipient).read_bytes())[0]
    env = {**render_env, "SOPS_AGE_KEY_FILE": str(other_age_identity.identity)}
    out = run_cli(["render", "--krm"], env=env, cwd=tmp_path, stdin=_resource_list([encrypted]))
    assert out.returncode == 1
    assert docs(out.stdout)[0]["items"] == []
    assert DB_PASSWORD.encode() not in out.stdout + out.stderr


def _kustomize(kustomize: Path, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(kustomize), "build", "--enable-alpha-plugins", "--enable-exec", str(folder)],
                          env=env, capture_output=True, timeout=120, check=False)


FUNCTION = """\
apiVersion: secrets-kit.io/v1alpha1
kind: Render
metadata:
  name: secrets
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./secrets-kit-krm
spec: {spec}
"""


def _kustomization(tmp_path: Path, sops: Path, recipient: str, spec: str, kustomization: str) -> Path:
    folder = tmp_path / "k"
    (tmp_path / ".git").mkdir(exist_ok=True)
    _encrypted_secret(folder, sops, recipient)
    env = write(folder / "app.env", f"TOKEN={ENV_TOKEN}\nUSER={DB_USER}\n")
    sops_encrypt(sops, recipient, env, folder / "app.sops.env")
    write(folder / "fn.yaml", FUNCTION.format(spec=spec))
    write(folder / "kustomization.yaml", kustomization)
    shutil.copy(WRAPPER, folder / "secrets-kit-krm")
    return folder


def test_kustomize_exec_generator(tmp_path: Path, kustomize_bin: Path, sops_bin: Path, age_identity: Age,
                                  render_env: dict[str, str]) -> None:
    folder = _kustomization(tmp_path, sops_bin, age_identity.recipient, "{files: [s.sops.yaml]}",
                            "generators: [fn.yaml]\n")
    out = _kustomize(kustomize_bin, folder, render_env)
    assert out.returncode == 0, out.stderr.decode()
    assert [(d["kind"], d["metadata"]["name"]) for d in docs(out.stdout)] == [("Secret", "db")]
    assert docs(out.stdout)[0]["stringData"] == {"password": DB_PASSWORD}


def test_kustomize_exec_transformer_with_generated_secret(tmp_path: Path, kustomize_bin: Path, sops_bin: Path,
                                                          age_identity: Age, render_env: dict[str, str]) -> None:
    folder = _kustomization(tmp_path, sops_bin, age_identity.recipient, "{}", """\
namespace: team
resources: [s.sops.yaml]
secretGenerator:
  - name: app
    envs: [app.sops.env]
transformers: [fn.yaml]
""")
    out = _kustomize(kustomize_bin, folder, render_env)
    assert out.returncode == 0, out.stderr.decode()
    found = by_name(docs(out.stdout))
    generated = next(d for (kind, name), d in found.items() if name.startswith("app-"))
    assert secret_values(generated) == {"TOKEN": ENV_TOKEN.encode(), "USER": DB_USER.encode()}
    assert found[("Secret", "db")]["stringData"] == {"password": DB_PASSWORD}
    assert b"sops" not in out.stdout


def test_kustomize_exec_transformer_zero_plaintext(tmp_path: Path, kustomize_bin: Path, kubeseal_bin: Path,
                                                   sops_bin: Path, age_identity: Age, sealing: Sealing,
                                                   render_env: dict[str, str]) -> None:
    shutil.copy(sealing.cert, tmp_path / "cluster.pem")
    folder = _kustomization(tmp_path, sops_bin, age_identity.recipient, "{sealTo: ../cluster.pem}", """\
namespace: team
resources: [s.sops.yaml]
secretGenerator:
  - name: app
    envs: [app.sops.env]
generatorOptions: {disableNameSuffixHash: true}
transformers: [fn.yaml]
""")
    out = _kustomize(kustomize_bin, folder, render_env)
    assert out.returncode == 0, out.stderr.decode()
    for value in PLAINTEXT:
        assert value.encode() not in out.stdout and value.encode() not in out.stderr
    sealed = docs(out.stdout)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in sealed) == [("SealedSecret", "app"),
                                                                         ("SealedSecret", "db")]
    for doc in sealed:  # kustomize's bookkeeping annotations did not leak into the Secret template
        assert "annotations" not in doc["spec"]["template"]["metadata"]
    recovered = {s["metadata"]["name"]: s for s in recovery_unseal(kubeseal_bin, sealing.key, sealed)}
    assert secret_values(recovered["app"])["TOKEN"] == ENV_TOKEN.encode()


def test_kustomize_exec_refuses_to_reseal_a_renamed_secret(tmp_path: Path, kustomize_bin: Path, sops_bin: Path,
                                                           age_identity: Age, sealing: Sealing,
                                                           render_env: dict[str, str]) -> None:
    shutil.copy(sealing.cert, tmp_path / "cluster.pem")
    folder = _kustomization(tmp_path, sops_bin, age_identity.recipient, "{sealTo: ../cluster.pem}", """\
namespace: team
secretGenerator:
  - name: app
    envs: [app.sops.env]
transformers: [fn.yaml]
""")
    out = _kustomize(kustomize_bin, folder, render_env)
    assert out.returncode != 0 and out.stdout == b""
    assert b"cannot re-seal a Secret that kustomize renames" in out.stderr


def test_kustomize_exec_refuses_zero_plaintext_as_generator(tmp_path: Path, kustomize_bin: Path, sops_bin: Path,
                                                            age_identity: Age, sealing: Sealing,
                                                            render_env: dict[str, str]) -> None:
    shutil.copy(sealing.cert, tmp_path / "cluster.pem")
    folder = _kustomization(tmp_path, sops_bin, age_identity.recipient,
                            "{files: [s.sops.yaml], sealTo: ../cluster.pem}", "generators: [fn.yaml]\n")
    out = _kustomize(kustomize_bin, folder, render_env)
    assert out.returncode != 0 and out.stdout == b""
    assert b"not available when the function runs as a generator" in out.stderr


def test_unreadable_function_file_gives_results(tmp_path: Path, render_env: dict[str, str]) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "folder.sops.yaml").mkdir()
    config = {"apiVersion": "secrets-kit.io/v1alpha1", "kind": "Render", "metadata": {"name": "f"},
              "spec": {"files": ["folder.sops.yaml"]}}
    out = run_cli(["render", "--krm"], env=render_env, cwd=tmp_path, stdin=_resource_list([], config))
    assert out.returncode == 1
    result = docs(out.stdout)[0]
    assert result["items"] == [] and result["results"][0]["severity"] == "error"
    assert "cannot read function file" in result["results"][0]["message"]
    assert out.stderr.decode().count("\n") == 1
