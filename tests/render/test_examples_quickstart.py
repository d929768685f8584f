"""The example GitOps repository's shape, and the quickstart's render steps end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from secrets_kit.k8s.manifests import load_documents

REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "examples" / "gitops"


def _load(path: Path) -> list[dict[str, Any]]:
    return load_documents(path.read_bytes(), source=str(path))


def test_app_of_apps_appset_and_projects() -> None:
    root = _load(GITOPS / "bootstrap" / "root.yaml")[0]
    assert root["kind"] == "Application" and root["spec"]["source"]["path"] == "examples/gitops/apps"
    apps = [d for p in sorted((GITOPS / "apps").glob("*.yaml")) for d in _load(p)]
    kinds = sorted(d["kind"] for d in apps)
    assert kinds == ["AppProject", "AppProject", "Application", "ApplicationSet"]
    appset = next(d for d in apps if d["kind"] == "ApplicationSet")
    matrix = appset["spec"]["generators"][0]["matrix"]["generators"]
    clusters = [e["cluster"] for e in matrix[0]["list"]["elements"]]
    assert clusters == ["eu-west", "us-east"]
    assert matrix[1]["git"]["directories"][0]["path"] == "examples/gitops/deploy/*"
    plugin = appset["spec"]["template"]["spec"]["source"]["plugin"]
    assert plugin["name"] == "secrets-kit-v1" and plugin["env"] == [{"name": "CLUSTER", "value": "{{.cluster}}"}]


def test_environments_reference_sealed_sops_and_external_secrets() -> None:
    for env in ("dev", "staging", "prod"):
        kustomization = _load(GITOPS / "deploy" / env / "kustomization.yaml")[0]
        assert kustomization["namespace"] == f"demo-{env}"
        resources = kustomization["resources"]
        assert {"../base", "db-credentials.sops.yaml", "api-token.sealed.yaml", "external-secrets.yaml"} <= set(
            resources)
        assert kustomization["secretGenerator"][0]["envs"] == ["app.sops.env"]
        stores = {d["spec"]["secretStoreRef"]["name"] for d in _load(GITOPS / "deploy" / env / "external-secrets.yaml")}
        assert stores == {"vault", "aws-secrets-manager", "gcp-secret-manager"}
        assert (REPO / "examples" / "plaintext" / "gitops" / env / "db-credentials.yaml").is_file()
    providers = {next(iter(d["spec"]["provider"])) for d in
                 _load(GITOPS / "platform" / "external-secrets" / "cluster-secret-stores.yaml")}
    assert providers == {"vault", "aws", "gcpsm"}


def test_no_key_material_is_committed() -> None:
    for path in REPO.joinpath("examples").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "PRIVATE KEY" not in text and "AGE-SECRET-KEY" not in text, path
            assert "FAKE" in text.upper() or "plaintext" not in path.parts, path


def test_quickstart_renders_every_environment(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "quickstart", "--examples", str(REPO / "examples"),
                          "--workdir", str(tmp_path), "-o", "json"], capture_output=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr.decode()
    steps = {s["step"]: s for s in json.loads(out.stdout)}
    assert re.match(r"sealed \d+ Secret\(s\) from \d+ file\(s\) into sealed/; checked", steps["seal"]["outcome"])
    assert {"gitops-repo", "render-dev", "render-staging", "render-prod"} <= set(steps)
    for env in ("dev", "staging", "prod"):
        outcome = steps[f"render-{env}"]["outcome"]
        assert "stable, no plaintext" in outcome, outcome
        rendered = (tmp_path / "rendered" / f"{env}.yaml").read_text()
        kinds = [d["kind"] for d in load_documents(rendered, source=env)]
        assert "Secret" not in kinds and kinds.count("SealedSecret") >= 3
        for name in ("db-credentials.yaml", "api-token.yaml"):
            doc = _load(REPO / "examples" / "plaintext" / "gitops" / env / name)[0]
            for value in doc["stringData"].values():
                assert value not in rendered
    # Key material stays in <workdir>/keys, private to the user.
    for key in (tmp_path / "keys").glob("*.key"):
        assert key.stat().st_mode & 0o077 == 0, key
    assert (tmp_path / "keys" / "reseal.key").exists()
    # A second run reuses the keys and renders the same bytes.
    first = (tmp_path / "rendered" / "prod.yaml").read_text()
    again = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "quickstart", "--examples",
                            str(REPO / "examples"), "--workdir", str(tmp_path), "-o", "json"],
                           capture_output=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr.decode()
    rerun = {s["step"]: s["outcome"] for s in json.loads(again.stdout)}
    assert rerun["sealing-keys"].startswith("reused") and rerun["seal"].startswith("sealed/ is up to date")
    prod_after = (tmp_path / "rendered" / "prod.yaml").read_text()
    # The committed SealedSecret is sealed anew by the quickstart (random), the re-sealed ones are identical.
    before = {d["metadata"]["name"]: d for d in load_documents(first, source="a")}
    after = {d["metadata"]["name"]: d for d in load_documents(prod_after, source="b")}
    assert before["db-credentials"] == after["db-credentials"]


def test_rendering_the_unfilled_examples_says_what_is_missing(tmp_path: Path) -> None:
    """examples/gitops lists files only the quickstart generates: one readable line, not kustomize's klog dump."""
    from secrets_kit.sealed.keys import KeyFolder

    cert = KeyFolder(tmp_path).create(bits=2048).cert_path
    out = subprocess.run([sys.executable, "-m", "secrets_kit_cli", "render", "examples/gitops/deploy/prod",
                          "--seal-to", str(cert)], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 8 and out.stdout == ""
    assert out.stderr.count("\n") == 1, out.stderr
    assert "the kustomization lists db-credentials.sops.yaml, which does not exist" in out.stderr
    assert not re.search(r"[IWEF]\d{4} \d\d:\d\d:\d\d|run\.go:|command failed|evalsymlink", out.stderr), out.stderr
