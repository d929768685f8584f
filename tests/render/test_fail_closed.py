"""Fail closed: every problem gives a non-zero exit, a message on stderr, nothing on stdout,
no plaintext anywhere in the output streams, and no file left behind."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from secrets_kit.errors import EXIT_CONFIG, EXIT_DECRYPT, EXIT_INPUT, EXIT_KEYS, EXIT_RENDER

from .apps import PLAINTEXT, kustomize_app
from .conftest import Age, Sealing, run_cli
from .helpers import SECRET_REGEX, sops_encrypt, write


def _render_fails(args: list[str], env: dict[str, str], tmp_path: Path, *, code: int | None = None,
                  message: str | None = None) -> str:
    scratch = tmp_path / "tmpdir"
    scratch.mkdir(exist_ok=True)
    out = run_cli(["render", *args], env={**env, "TMPDIR": str(scratch)})
    stderr = out.stderr.decode()
    assert out.returncode != 0, stderr
    assert out.stdout == b"", "fail closed: nothing on stdout"
    if code is not None:
        assert out.returncode == code, stderr
    if message is not None:
        assert re.search(message, stderr), stderr
    assert stderr.startswith("secrets-kit: error: ") and stderr.count("\n") == 1, stderr
    for value in PLAINTEXT:
        assert value not in stderr
    assert list(scratch.iterdir()) == [], "no temporary file left behind"
    return stderr


@pytest.fixture
def app(tmp_path: Path, sops_bin: Path, age_identity: Age) -> Path:
    return kustomize_app(tmp_path / "repo", sops_bin, age_identity.recipient)


def _tamper_value(path: Path, key: str) -> None:
    """Flip one base64 character of the encrypted value of `key`."""
    text = path.read_text()
    match = re.search(rf"{key}[:=] ?ENC\[AES256_GCM,data:([A-Za-z0-9+/]+)", text)
    assert match is not None
    data = match.group(1)
    flipped = ("B" if data[0] != "B" else "C") + data[1:]
    path.write_text(text[:match.start(1)] + flipped + text[match.end(1):])


def test_corrupt_sops_resource(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    _tamper_value(app / "db.sops.yaml", "password")
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_DECRYPT, message="db.sops.yaml")


def test_corrupt_sops_env_file(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    _tamper_value(app / "app.sops.env", "TOKEN")
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_DECRYPT, message="app.sops.env")


def test_tampered_mac(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    path = app / "db.sops.yaml"
    text = path.read_text()
    path.write_text(re.sub(r"(lastmodified: \"\d{4})", lambda m: m.group(1)[:-1] + "1", text, count=1))
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_DECRYPT, message="MAC")


def test_value_moved_to_another_key(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    """Swapping two encrypted values breaks their AAD (the key path)."""
    path = app / "db.sops.yaml"
    text = path.read_text()
    user = re.search(r"user: (ENC\[[^\]]+\])", text)
    password = re.search(r"password: (ENC\[[^\]]+\])", text)
    assert user and password
    text = text.replace(user.group(1), "@@").replace(password.group(1), user.group(1)).replace("@@", password.group(1))
    path.write_text(text)
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_DECRYPT)


def test_missing_identity(app: Path, tmp_path: Path, render_env: dict[str, str], other_age_identity: Age) -> None:
    env = {**render_env, "SOPS_AGE_KEY_FILE": str(other_age_identity.identity)}
    _render_fails([str(app)], env, tmp_path, code=EXIT_DECRYPT, message="age")


def test_no_identity_at_all(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    env = {**render_env, "SOPS_AGE_KEY_FILE": str(tmp_path / "absent.txt"), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    _render_fails([str(app)], env, tmp_path, code=EXIT_DECRYPT)


def test_kustomize_error(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    kustomization = app / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- db.sops.yaml", "- db.sops.yaml\n  - missing.yaml"))
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_RENDER, message="kustomize build failed")


def test_malformed_kustomization(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    (app / "kustomization.yaml").write_text("resources: [a\n  b: [\n")
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_INPUT, message="malformed YAML")


def test_resource_outside_the_repository(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    write(tmp_path / "outside" / "x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    kustomization = app / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- ../base", "- ../base\n  - ../../outside"))
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_RENDER, message="leaves the repository root")


def test_secret_generator_file_outside_the_repository(app: Path, tmp_path: Path,
                                                      render_env: dict[str, str]) -> None:
    kustomization = app / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("envs: [app.sops.env]", "envs: [/etc/hostname]"))
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_RENDER, message="absolute")


def test_symlink_leaving_the_repository(tmp_path: Path, render_env: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(tmp_path / "elsewhere.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    write(repo / "app" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n")
    os.symlink(tmp_path / "elsewhere.yaml", repo / "app" / "link.yaml")
    _render_fails([str(repo / "app")], render_env, tmp_path, code=EXIT_RENDER, message="symlink")


def test_encrypted_value_without_metadata(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    path = app / "db.sops.yaml"
    text = path.read_text()
    path.write_text(text[:text.index("sops:")])
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_RENDER, message="encrypted SOPS value is left")


def test_encrypted_patch_refused(app: Path, tmp_path: Path, sops_bin: Path, age_identity: Age,
                                 render_env: dict[str, str]) -> None:
    plain = write(app / "patch.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {extra: x-val}\n")
    sops_encrypt(sops_bin, age_identity.recipient, plain, app / "patch.sops.yaml", regex=SECRET_REGEX)
    with (app / "kustomization.yaml").open("a") as handle:
        handle.write("patches:\n  - path: patch.sops.yaml\n")
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_RENDER, message="patches are not supported")


def test_encrypted_file_in_config_map_generator(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    with (app / "kustomization.yaml").open("a") as handle:
        handle.write("configMapGenerator:\n  - name: cm\n    envs: [app.sops.env]\n")
    _render_fails([str(app)], render_env, tmp_path, code=EXIT_RENDER, message="configMapGenerator")


def test_empty_folder(tmp_path: Path, render_env: dict[str, str]) -> None:
    (tmp_path / "empty").mkdir()
    _render_fails([str(tmp_path / "empty")], render_env, tmp_path, code=EXIT_RENDER, message="no manifests")


def test_not_a_kubernetes_object(tmp_path: Path, render_env: dict[str, str]) -> None:
    write(tmp_path / "app" / "x.yaml", "just: data\n")
    _render_fails([str(tmp_path / "app")], render_env, tmp_path, code=EXIT_INPUT, message="not a Kubernetes object")


def test_duplicate_resources(tmp_path: Path, render_env: dict[str, str]) -> None:
    for name in ("a.yaml", "b.yaml"):
        write(tmp_path / "app" / name, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same, namespace: n}\n")
    _render_fails([str(tmp_path / "app")], render_env, tmp_path, code=EXIT_RENDER, message="duplicate")


def test_zero_plaintext_refuses_a_decrypted_config_map(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                                       sealing: Sealing, render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    plain = write(app / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: n}\n"
                                   f"data: {{password: {PLAINTEXT[0]}}}\n")
    sops_encrypt(sops_bin, age_identity.recipient, plain, app / "cm.sops.yaml", regex="^data$")
    _render_fails([str(app), "--seal-to", str(sealing.cert)], render_env, tmp_path, code=EXIT_RENDER,
                  message="only Secrets can be re-sealed")


def test_zero_plaintext_refuses_a_copied_value(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                               sealing: Sealing, render_env: dict[str, str]) -> None:
    app = kustomize_app(tmp_path / "repo", sops_bin, age_identity.recipient)
    write(app / "leak.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\n"
                             f"data: {{copy: 'prefix-{PLAINTEXT[0]}'}}\n")
    kustomization = app / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- db.sops.yaml", "- db.sops.yaml\n  - leak.yaml"))
    stderr = _render_fails([str(app), "--seal-to", str(sealing.cert)], render_env, tmp_path, code=EXIT_RENDER,
                           message="appears in plaintext at data.copy")
    assert "ConfigMap team/leak" in stderr


def test_zero_plaintext_needs_a_namespace(tmp_path: Path, sops_bin: Path, age_identity: Age, sealing: Sealing,
                                          render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    plain = write(app / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{k: {PLAINTEXT[0]}}}\n")
    sops_encrypt(sops_bin, age_identity.recipient, plain, app / "s.sops.yaml", regex=SECRET_REGEX)
    _render_fails([str(app), "--seal-to", str(sealing.cert)], render_env, tmp_path, code=EXIT_RENDER,
                  message="no namespace")
    # The destination namespace Argo CD gives fills it in.
    out = run_cli(["render", str(app), "--seal-to", str(sealing.cert)],
                  env={**render_env, "ARGOCD_APP_NAMESPACE": "dest"})
    assert out.returncode == 0, out.stderr.decode()
    assert b"namespace: dest" in out.stdout


def test_expired_certificate(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    import datetime as dt

    from secrets_kit.sealed.keys import KeyFolder

    old = KeyFolder(tmp_path / "old").create(name="old", bits=2048, ttl=dt.timedelta(days=1),
                                            not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    _render_fails([str(app), "--seal-to", str(old.cert_path)], render_env, tmp_path, code=EXIT_KEYS,
                  message="expired")


def test_required_seal_without_certificate(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    env = {**render_env, "SECRETS_KIT_REQUIRE_SEAL": "true"}
    _render_fails([str(app)], env, tmp_path, code=EXIT_CONFIG, message="zero-plaintext mode is required")


def test_app_cannot_turn_required_seal_off(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    env = {**render_env, "SECRETS_KIT_REQUIRE_SEAL": "true", "PARAM_ZERO_PLAINTEXT": "false"}
    _render_fails([str(app)], env, tmp_path, code=EXIT_CONFIG)


def test_missing_helm(tmp_path: Path, render_env: dict[str, str]) -> None:
    write(tmp_path / "chart" / "Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
    env = {**render_env, "SECRETS_KIT_HELM": str(tmp_path / "no-helm")}
    _render_fails([str(tmp_path / "chart")], env, tmp_path, code=EXIT_CONFIG, message="helm")


def test_bad_parameter_value(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    _render_fails([str(app)], {**render_env, "PARAM_RECURSE": "maybe"}, tmp_path, code=EXIT_CONFIG,
                  message="true or false")


def test_cluster_name_cannot_traverse(app: Path, tmp_path: Path, render_env: dict[str, str]) -> None:
    env = {**render_env, "ARGOCD_ENV_CLUSTER": "../../etc/passwd", "SECRETS_KIT_CERTS_DIR": str(tmp_path)}
    _render_fails([str(app)], env, tmp_path, code=EXIT_CONFIG, message="invalid cluster name")


def test_seal_to_from_the_app_stays_in_the_repository(app: Path, tmp_path: Path, sealing: Sealing,
                                                      render_env: dict[str, str]) -> None:
    env = {**render_env, "PARAM_SEAL_TO": str(sealing.cert)}
    _render_fails([str(app)], env, tmp_path, code=EXIT_RENDER, message="absolute")


def test_encrypted_value_hidden_in_base64_data(tmp_path: Path, render_env: dict[str, str]) -> None:
    import base64

    hidden = base64.b64encode(b"ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]").decode()
    write(tmp_path / "app" / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{k: {hidden}}}\n")
    _render_fails([str(tmp_path / "app")], render_env, tmp_path, code=EXIT_RENDER,
                  message="encrypted SOPS value is left")
