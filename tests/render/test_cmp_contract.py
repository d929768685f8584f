"""Argo CD CMP v2 contract: run the plugin the way argocd-repo-server's sidecar does.

The repo-server streams the repository to the sidecar, which unpacks it into
`$ARGOCD_CMP_WORKDIR/_cmp_server/<random>`, runs `spec.generate` with the app folder as
working directory and the build environment set, and splits stdout into manifests.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.k8s.manifests import load_documents

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "deploy" / "argocd-cmp" / "plugin.yaml"
DOCKERFILE = REPO / "deploy" / "argocd-cmp" / "Dockerfile"
PLAINTEXT_INPUTS = REPO / "examples" / "plaintext" / "gitops"


def _plugin() -> dict[str, Any]:
    return load_documents(PLUGIN.read_bytes(), source=str(PLUGIN))[0]


@pytest.fixture(scope="module")
def gitops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example GitOps repository as the quickstart builds it (encrypted and sealed with local keys)."""
    from secrets_kit.quickstart import run_quickstart
    from secrets_kit.quickstart.render_steps import gitops_repo
    from secrets_kit.quickstart.sealed_steps import sealing_keys

    work = tmp_path_factory.mktemp("quickstart")
    facts: dict[str, Any] = {}

    def keep(ctx: Any) -> Any:
        facts.update(ctx.facts)
        from secrets_kit.quickstart import StepResult

        return StepResult("facts", "")

    run_quickstart(REPO / "examples", work, [sealing_keys, gitops_repo, keep])
    return {"work": work, **facts}


def _sidecar_env(gitops: dict[str, Any], tmp: Path) -> dict[str, str]:
    """The sidecar container's own environment (trusted, set by the operator)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_", "SOPS_", "SECRETS_KIT_"))}
    reseal = tmp / "reseal.key"
    if not reseal.exists():
        reseal.write_text("c2VjcmV0cy1raXQtdGVzdC1yZXNlYWwta2V5LTMyYnl0ZXMh\n")
    env.update(SOPS_AGE_KEY_FILE=gitops["age_identity"],
               SECRETS_KIT_CERTS_DIR=str(Path(gitops["gitops_repo"]) / "clusters" / "certs"),
               SECRETS_KIT_RESEAL_KEY_FILE=str(reseal), SECRETS_KIT_REQUIRE_SEAL="true",
               SECRETS_KIT_STATE_DIR=str(tmp / "state"))
    return env


def _build_env(app_path: str, env_name: str, cluster: str) -> dict[str, str]:
    """What the repo-server adds: the build environment, plugin env (ARGOCD_ENV_) and parameters."""
    return {
        "ARGOCD_APP_NAME": f"demo-{env_name}-{cluster}",
        "ARGOCD_APP_NAMESPACE": f"demo-{env_name}",
        "ARGOCD_APP_PROJECT_NAME": "demo",
        "ARGOCD_APP_REVISION": "0123456789abcdef0123456789abcdef01234567",
        "ARGOCD_APP_REVISION_SHORT": "0123456",
        "ARGOCD_APP_REVISION_SHORT_8": "01234567",
        "ARGOCD_APP_SOURCE_PATH": app_path,
        "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/platform/gitops.git",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "KUBE_VERSION": "1.32.4",
        "KUBE_API_VERSIONS": "v1,apps/v1,bitnami.com/v1alpha1,external-secrets.io/v1",
        "ARGOCD_ENV_CLUSTER": cluster,
        "ARGOCD_APP_PARAMETERS": json.dumps([{"name": "zero-plaintext", "string": "true"}]),
        "PARAM_ZERO_PLAINTEXT": "true",
    }


def _unpack(gitops: dict[str, Any], workdir: Path) -> Path:
    """The repository as the sidecar receives it: a fresh folder, file modes reset."""
    target = workdir / "_cmp_server" / str(uuid.uuid4())
    shutil.copytree(gitops["gitops_repo"], target)
    for path in target.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return target


def _split_yaml(text: str) -> list[dict[str, Any]]:
    """Like Argo CD's kube.SplitYAMLToString: split on `---` lines, drop empty documents."""
    out = []
    for chunk in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        if chunk.strip():
            docs = load_documents(chunk, source="generate output")
            assert len(docs) == 1
            out.append(docs[0])
    return out


def _generate(checkout: Path, app_path: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    spec = _plugin()["spec"]
    argv = [*spec["generate"]["command"], *spec["generate"].get("args", [])]
    return subprocess.run(argv, cwd=checkout / app_path, env=env, capture_output=True, timeout=60, check=False)


def test_plugin_yaml_schema() -> None:
    plugin = _plugin()
    assert plugin["apiVersion"] == "argoproj.io/v1alpha1" and plugin["kind"] == "ConfigManagementPlugin"
    spec = plugin["spec"]
    name = f"{plugin['metadata']['name']}-{spec['version']}"
    assert name == "secrets-kit-v1"
    command = spec["generate"]["command"]
    assert command[:2] == ["secrets-kit", "render"] and "sh" not in command[0]  # argv, no shell
    assert set(spec["discover"]) == {"fileName"}
    known = {"apiVersion", "kind", "metadata", "spec"}
    assert set(plugin) == known
    assert set(spec) <= {"version", "init", "generate", "discover", "parameters", "preserveFileMode",
                         "provideGitCreds"}
    # Every announced parameter is one the render step reads as PARAM_<NAME>.
    source = (REPO / "secrets_kit" / "render" / "config.py").read_text()
    for param in spec["parameters"]["static"]:
        env_name = re.sub(r"[^A-Z0-9_]", "_", param["name"].upper())
        assert f'"{env_name}"' in source, env_name
        assert param.get("collectionType", "string") in ("string", "array", "map")
    # The ApplicationSet refers to the plugin by <name>-<version>.
    appset = (REPO / "examples" / "gitops" / "apps" / "demo-appset.yaml").read_text()
    assert f"name: {name}" in appset


def test_discovery_matches_every_environment_and_nothing_else() -> None:
    pattern = _plugin()["spec"]["discover"]["fileName"]
    deploy = REPO / "examples" / "gitops" / "deploy"
    matched = sorted(p.name for p in deploy.iterdir()
                     if any(fnmatch.fnmatch(f.name, pattern) for f in p.iterdir()))
    assert matched == ["dev", "prod", "staging"]


def test_sidecar_image_definition() -> None:
    text = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]' in text
    assert "USER 999" in text
    assert "/home/argocd/cmp-server/config/plugin.yaml" in text
    patch = load_documents((REPO / "deploy" / "argocd-cmp" / "repo-server-patch.yaml").read_bytes(), source="patch")
    container = patch[0]["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/run/argocd", "/home/argocd/cmp-server/plugins", "/tmp"} <= mounts
    assert container["securityContext"]["runAsUser"] == 999 and container["securityContext"]["runAsNonRoot"]


@pytest.mark.parametrize(("env_name", "cluster"), [("dev", "eu-west"), ("prod", "us-east")])
def test_generate_like_the_repo_server(gitops: dict[str, Any], tmp_path: Path, env_name: str, cluster: str,
                                       kubeseal_bin: Path) -> None:
    checkout = _unpack(gitops, tmp_path / "cmp")
    before = sorted(p.relative_to(checkout) for p in checkout.rglob("*"))
    app_path = f"deploy/{env_name}"
    env = {**_sidecar_env(gitops, tmp_path), **_build_env(app_path, env_name, cluster)}
    out = _generate(checkout, app_path, env)
    assert out.returncode == 0, out.stderr.decode()
    manifests = _split_yaml(out.stdout.decode())
    kinds = sorted(d["kind"] for d in manifests)
    assert "Secret" not in kinds
    assert kinds.count("SealedSecret") == (4 if env_name == "dev" else 3)
    assert {"Deployment", "Service", "ExternalSecret"} <= set(kinds)
    for doc in manifests:
        assert doc["apiVersion"] and doc["metadata"]["name"]
        assert doc["metadata"].get("namespace") in (None, f"demo-{env_name}")
    for value in _input_values(env_name):
        assert value.encode() not in out.stdout and value.encode() not in out.stderr
    # Sealed for the cluster's certificate: the local key opens every one (what the controller will do).
    from .helpers import recovery_unseal, secret_values

    key = next(Path(gitops["sealing_keys"]).glob("*.key"))
    recovered = recovery_unseal(kubeseal_bin, key, [d for d in manifests if d["kind"] == "SealedSecret"])
    assert len(recovered) == kinds.count("SealedSecret")
    opened = {v for secret in recovered for v in secret_values(secret).values()}
    assert {v.encode() for v in _input_values(env_name)} <= opened  # the values re-sealed are the inputs
    # The render wrote nothing into the checkout (the repo-server reuses it).
    assert sorted(p.relative_to(checkout) for p in checkout.rglob("*")) == before
    # Same input, same output: no OutOfSync flapping across renders.
    assert _generate(checkout, app_path, env).stdout == out.stdout


def _input_values(env_name: str) -> list[str]:
    values = []
    for line in (PLAINTEXT_INPUTS / env_name / "app.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            values.append(line.split("=", 1)[1])
    for name in ("db-credentials.yaml", "api-token.yaml"):
        doc = load_documents((PLAINTEXT_INPUTS / env_name / name).read_bytes(), source=name)[0]
        values += list(doc["stringData"].values())
    values = [v for v in values if len(v) >= 8]
    assert values, "no input value to look for"
    return values


def test_generate_failure_is_an_error_with_empty_output(gitops: dict[str, Any], tmp_path: Path) -> None:
    checkout = _unpack(gitops, tmp_path / "cmp")
    target = checkout / "deploy" / "staging" / "db-credentials.sops.yaml"
    target.write_text(target.read_text().replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA", 1))
    env = {**_sidecar_env(gitops, tmp_path), **_build_env("deploy/staging", "staging", "eu-west")}
    out = _generate(checkout, "deploy/staging", env)
    assert out.returncode != 0 and out.stdout == b""
    assert b"db-credentials.sops.yaml" in out.stderr


def test_unknown_cluster_fails(gitops: dict[str, Any], tmp_path: Path) -> None:
    checkout = _unpack(gitops, tmp_path / "cmp")
    env = {**_sidecar_env(gitops, tmp_path), **_build_env("deploy/dev", "dev", "mars-1")}
    out = _generate(checkout, "deploy/dev", env)
    assert out.returncode == 5 and out.stdout == b""
    assert b"no sealing certificate for cluster 'mars-1'" in out.stderr
