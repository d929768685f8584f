"""Optional extras: the base install seals, SOPS-encrypts and renders; a missing cloud extra is a
clear error naming the `pip install` that adds it.

A missing package is simulated honestly: the CLI runs in a fresh interpreter whose import system
refuses the package (a meta path finder raising ModuleNotFoundError, exactly what Python raises
when it is not installed), so every import of it, direct or transitive, fails as it would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from secrets_kit.errors import EXIT_CONFIG

REPO = Path(__file__).resolve().parent.parent

# Runs `secrets-kit ARGS...` with the top-level packages in BLOCKED unimportable.
RUNNER = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = set(sys.argv[1].split(","))

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from secrets_kit_cli.main import main
main(sys.argv[2:])
"""

CLOUD_PACKAGES = {
    "aws": ["boto3", "botocore"],
    "gcp": ["google.cloud", "google.api_core", "google.auth", "grpc"],
    "vault": ["hvac"],
}
EVERY_OPTIONAL = [p for packages in CLOUD_PACKAGES.values() for p in packages] + [
    "kopf", "kubernetes_asyncio", "prometheus_client"]


def run_without(blocked: list[str], args: list[str], *, env: dict[str, str] | None = None,
                cwd: Path | None = None, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    import os

    return subprocess.run([sys.executable, "-c", RUNNER, ",".join(blocked), *args], capture_output=True,
                          timeout=300, check=False, cwd=cwd, input=input,
                          env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)})


def _app(tmp_path: Path, placeholder: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "s.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\n"
                                f"stringData: {{pw: '<path:{placeholder}>'}}\n")
    return app


def test_the_blocker_really_hides_the_package() -> None:
    """Control: the runner's finder makes the package unimportable, and only that package."""
    probe = "import importlib, sys; sys.argv = ['x']\n"
    code = RUNNER.replace("from secrets_kit_cli.main import main\nmain(sys.argv[2:])\n", probe + """
for name in ("boto3", "botocore.config", "json"):
    try:
        importlib.import_module(name)
        print(name, "ok")
    except ModuleNotFoundError as exc:
        print(name, "missing", exc.name)
""")
    out = subprocess.run([sys.executable, "-c", code, "boto3,botocore"], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["boto3 missing boto3", "botocore.config missing botocore", "json ok"]


@pytest.mark.parametrize(("extra", "provider", "placeholder", "env"), [
    ("aws", "aws-ssm", "/app/db#password", {"AWS_REGION": "us-east-1"}),
    ("aws", "aws-secretsmanager", "app/db#password", {"AWS_REGION": "us-east-1"}),
    ("gcp", "gcp-secretmanager", "projects/p/secrets/s#k", {"SECRETS_KIT_GCP_SM_ENDPOINT": "127.0.0.1:9"}),
    ("vault", "vault", "kv/data/app#k", {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "s.fake-token"}),
])
def test_render_with_a_provider_whose_extra_is_missing(tmp_path: Path, extra: str, provider: str,
                                                        placeholder: str, env: dict[str, str]) -> None:
    out = run_without(CLOUD_PACKAGES[extra], ["render", str(_app(tmp_path, placeholder)), "--provider", provider],
                      env=env)
    err = out.stderr.decode()
    assert out.returncode == EXIT_CONFIG, err
    assert f"pip install 'secrets-kit[{extra}]'" in err
    assert "is not installed" in err and "Traceback" not in err
    assert out.stdout == b""
    assert "fake-token" not in err


@pytest.mark.parametrize(("extra", "flag", "key"), [
    ("aws", "--kms", "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"),
    ("gcp", "--gcp-kms", "projects/p/locations/global/keyRings/r/cryptoKeys/k"),
    ("vault", "--hc-vault-transit", "http://127.0.0.1:9/v1/transit/keys/k"),
])
def test_sops_encrypt_with_a_key_source_whose_extra_is_missing(tmp_path: Path, extra: str, flag: str,
                                                                key: str) -> None:
    (tmp_path / "plain.yaml").write_text("password: not-a-real-secret-1\n")
    out = run_without(CLOUD_PACKAGES[extra], ["sops", "encrypt", flag, key, "plain.yaml"], cwd=tmp_path,
                      env={"VAULT_TOKEN": "s.fake-token"})
    err = out.stderr.decode()
    # The drop-in keeps sops's code: a data key it could not generate is a plain error there (exit 1).
    assert out.returncode == 1
    assert f"pip install 'secrets-kit[{extra}]'" in err, err
    assert "Traceback" not in err and "not-a-real-secret-1" not in err + out.stdout.decode()
    assert out.stdout == b""


def test_the_base_install_seals_encrypts_and_renders(tmp_path: Path) -> None:
    """With every optional package missing, the quickstart (keys, seal, sops with age, render) still runs."""
    out = run_without(EVERY_OPTIONAL, ["quickstart", "--examples", str(REPO / "examples"),
                                       "--workdir", str(tmp_path), "-o", "json"])
    assert out.returncode == 0, out.stderr.decode()
    steps = {s["step"] for s in json.loads(out.stdout)}
    assert {"render-dev", "render-staging", "render-prod"} <= steps


def test_the_extras_split_as_documented() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    extras = project["optional-dependencies"]
    for package in ("boto3", "google-cloud", "hvac", "kopf", "kubernetes", "prometheus"):
        assert package not in base
    assert extras["aws"] == ["boto3>=1.44.8"]
    assert [d.split(">")[0] for d in extras["gcp"]] == ["google-cloud-secret-manager", "google-cloud-kms"]
    assert [d.split(">")[0] for d in extras["operator"]] == [
        "kopf", "kubernetes_asyncio", "prometheus-client", "aiohttp",  # the runtime
        "gjson", "google-re2", "hvac", "bcrypt"]  # ExternalSecrets: property paths, RE2, the Vault store, templates
    assert extras["all"] == ["secrets-kit[aws,gcp,vault,operator]"]
    assert "secrets-kit[all,test]" in extras["dev"]
    readme_first = (REPO / "README.md").read_text().split("```sh\n", 1)[1].splitlines()[0]
    assert readme_first == "pip install -e '.[all,dev]' && secrets-kit quickstart"
