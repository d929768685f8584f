"""Render a kustomization whose SOPS files were encrypted by the real sops."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .apps import DB_PASSWORD, DB_USER, ENV_LEVEL, ENV_TOKEN, JSON_SECRET, PLAINTEXT, kustomize_app
from .conftest import Age, Sealing, run_cli
from .helpers import by_name, docs, recovery_unseal, secret_values


def _no_plaintext(*streams: bytes) -> None:
    for stream in streams:
        for value in PLAINTEXT:
            assert value.encode() not in stream, value
            assert base64.b64encode(value.encode()) not in stream, value


def test_kustomize_output_equals_expected(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                          render_env: dict[str, str]) -> None:
    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    out = run_cli(["render", str(app)], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stderr == b""
    found = by_name(docs(out.stdout))
    db = found[("Secret", "db")]
    assert db == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": "db", "namespace": "team", "labels": {"tier": "data"}},
                  "stringData": {"user": DB_USER, "password": DB_PASSWORD}}
    env_secret = next(d for (kind, name), d in found.items() if kind == "Secret" and name.startswith("app-env-"))
    assert secret_values(env_secret) == {"TOKEN": ENV_TOKEN.encode(), "LEVEL": ENV_LEVEL.encode()}
    files = next(d for (kind, name), d in found.items() if kind == "Secret" and name.startswith("app-files-"))
    assert json.loads(secret_values(files)["config.json"]) == {"secret": JSON_SECRET, "n": 1}
    deployment = found[("Deployment", "web")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["secretRef"]["name"] == env_secret["metadata"]["name"]  # kustomize's nameRef
    assert set(found) == {("Secret", "db"), ("Deployment", "web"), ("Secret", env_secret["metadata"]["name"]),
                          ("Secret", files["metadata"]["name"])}
    # Nothing left of SOPS: no metadata block, no sops_* items, no ENC[...] value.
    assert b"sops" not in out.stdout and b"ENC[" not in out.stdout


def test_output_is_deterministic_and_ordered(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                             render_env: dict[str, str]) -> None:
    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    first = run_cli(["render", str(app)], env=render_env)
    second = run_cli(["render", str(app)], env=render_env)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    kinds = [d["kind"] for d in docs(first.stdout)]
    assert kinds == ["Secret", "Secret", "Secret", "Deployment"]  # Secrets before the workload that needs them


def test_json_output_is_one_list(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                 render_env: dict[str, str]) -> None:
    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    out = run_cli(["render", str(app), "-o", "json"], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    listing = json.loads(out.stdout)
    assert listing["kind"] == "List" and len(listing["items"]) == 4


def test_zero_plaintext_reseals_and_kubeseal_recovers(tmp_path: Path, sops_bin: Path, kubeseal_bin: Path,
                                                      age_identity: Age, sealing: Sealing,
                                                      render_env: dict[str, str]) -> None:
    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    out = run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    _no_plaintext(out.stdout, out.stderr)
    manifests = docs(out.stdout)
    assert sorted(d["kind"] for d in manifests) == ["Deployment", "SealedSecret", "SealedSecret", "SealedSecret"]
    sealed = [d for d in manifests if d["kind"] == "SealedSecret"]
    recovered = {s["metadata"]["name"]: s for s in recovery_unseal(kubeseal_bin, sealing.key, sealed)}
    assert secret_values(recovered["db"]) == {"user": DB_USER.encode(), "password": DB_PASSWORD.encode()}
    assert recovered["db"]["metadata"]["labels"] == {"tier": "data"}
    env_name = next(n for n in recovered if n.startswith("app-env-"))
    assert secret_values(recovered[env_name]) == {"TOKEN": ENV_TOKEN.encode(), "LEVEL": ENV_LEVEL.encode()}
    files_name = next(n for n in recovered if n.startswith("app-files-"))
    assert json.loads(secret_values(recovered[files_name])["config.json"])["secret"] == JSON_SECRET
    # The Deployment still points at the (now sealed) generated Secret's name.
    deployment = next(d for d in manifests if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"] == env_name


def test_zero_plaintext_is_stable_across_runs(tmp_path: Path, sops_bin: Path, age_identity: Age, sealing: Sealing,
                                              render_env: dict[str, str]) -> None:
    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    runs = [run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env) for _ in range(2)]
    assert runs[0].returncode == runs[1].returncode == 0
    assert runs[0].stdout == runs[1].stdout
    # The reseal key was created once, private to the user.
    key = Path(render_env["SECRETS_KIT_STATE_DIR"]) / "reseal.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_zero_plaintext_changes_only_what_changed(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                                  sealing: Sealing, render_env: dict[str, str]) -> None:
    from .helpers import SECRET_REGEX, sops_encrypt, write

    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    before = by_name(docs(run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env).stdout))
    plain = write(app / "db.yaml", f"""\
apiVersion: v1
kind: Secret
metadata: {{name: db, namespace: team, labels: {{tier: data}}}}
type: Opaque
stringData:
  user: {DB_USER}
  password: a-new-password-after-rotation
""")
    sops_encrypt(sops_bin, age_identity.recipient, plain, app / "db.sops.yaml", regex=SECRET_REGEX)
    after = by_name(docs(run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env).stdout))
    old, new = before[("SealedSecret", "db")]["spec"]["encryptedData"], after[("SealedSecret", "db")]["spec"][
        "encryptedData"]
    assert old["user"] == new["user"]  # same value: same ciphertext, although sops re-encrypted the file
    assert old["password"] != new["password"]
    unchanged = [k for k in before if k[1].startswith("app-env-")]
    assert unchanged and all(before[k] == after[k] for k in unchanged)


def test_reseal_key_from_environment_gives_same_output_everywhere(tmp_path: Path, sops_bin: Path,
                                                                  age_identity: Age, sealing: Sealing,
                                                                  render_env: dict[str, str]) -> None:
    """Two replicas (different state dirs) that share SECRETS_KIT_RESEAL_KEY seal identically."""
    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    key = base64.b64encode(b"k" * 32).decode()
    outputs = []
    for replica in ("a", "b"):
        env = {**render_env, "SECRETS_KIT_STATE_DIR": str(tmp_path / replica), "SECRETS_KIT_RESEAL_KEY": key}
        out = run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=env)
        assert out.returncode == 0, out.stderr.decode()
        outputs.append(out.stdout)
    assert outputs[0] == outputs[1]
    other = {**render_env, "SECRETS_KIT_RESEAL_KEY": base64.b64encode(b"z" * 32).decode()}
    assert run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=other).stdout != outputs[0]


def test_flux_opt_out_annotation_keeps_a_resource_encrypted(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                                            sealing: Sealing, render_env: dict[str, str]) -> None:
    from .helpers import SECRET_REGEX, sops_encrypt, write

    app = kustomize_app(tmp_path, sops_bin, age_identity.recipient)
    plain = write(app / "kept.yaml", """\
apiVersion: v1
kind: Secret
metadata:
  name: kept
  annotations: {kustomize.toolkit.fluxcd.io/decrypt: Disabled}
stringData: {token: kept-encrypted-value}
""")
    sops_encrypt(sops_bin, age_identity.recipient, plain, app / "kept.sops.yaml", regex=SECRET_REGEX)
    kustomization = app / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- db.sops.yaml", "- db.sops.yaml\n  - kept.sops.yaml"))
    for extra in ([], ["--seal-to", str(sealing.cert)]):
        out = run_cli(["render", str(app), *extra], env=render_env)
        assert out.returncode == 0, out.stderr.decode()
        kept = by_name(docs(out.stdout))[("Secret", "kept")]
        assert kept["stringData"]["token"].startswith("ENC[AES256_GCM,") and "sops" in kept
        assert b"kept-encrypted-value" not in out.stdout
