"""argocd-vault-plugin placeholders resolved through a provider (the fake store)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.errors import ProviderError, RenderError
from secrets_kit.providers.fake import FakeProvider
from secrets_kit.render.hooks.placeholders import apply_modifier, resolver_hook
from secrets_kit.render.model import RenderContext

from .conftest import Sealing, run_cli
from .helpers import by_name, docs, secret_values, write

STORE = {
    "secrets": [
        {"key": "kv/data/app", "value": {"password": "ph-pass-Q7", "port": "8443",
                                         "config": '{"a": {"b": "deep-value"}}',
                                         "cert": "line1\nline2\nline3", "b64": base64.b64encode(b"decoded!").decode(),
                                         "flag": "true", "yaml": "x: 1\ny: [a, b]"},
         "version": "3", "history": {"2": {"password": "ph-old-pass"}}},
        {"key": "kv/data/other", "value": {"token": "ph-token-Z1"}},
    ]
}


def _run(docs_in: list[dict[str, Any]], store: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]],
                                                                                     RenderContext, FakeProvider]:
    provider = FakeProvider.from_config(store or STORE)
    ctx = RenderContext(root=Path("/"), app=Path("/"))
    out = resolver_hook(lambda: provider)(docs_in, ctx)
    return out, ctx, provider


def _secret(string_data: dict[str, str], annotations: dict[str, str] | None = None,
            data: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}}
    if annotations:
        doc["metadata"]["annotations"] = annotations
    if string_data:
        doc["stringData"] = string_data
    if data:
        doc["data"] = data
    return doc


def test_inline_placeholders_with_versions() -> None:
    out, ctx, provider = _run([_secret({"now": "<path:kv/data/app#password>",
                                        "then": "<path:kv/data/app#password#2>",
                                        "mixed": "user=me;pass=<path:kv/data/other#token>"})])
    assert out[0]["stringData"] == {"now": "ph-pass-Q7", "then": "ph-old-pass", "mixed": "user=me;pass=ph-token-Z1"}
    assert provider.reads == 3  # one read per (path, version), however many placeholders use it
    assert ctx.decrypted  # zero-plaintext mode will re-seal it


def test_generic_placeholders_need_the_path_annotation() -> None:
    annotated = _secret({"p": "<password>", "t": "<port>"}, {"avp.kubernetes.io/path": "kv/data/app"})
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
             "data": {"doc": "use <KEY> and <other> here"}}
    out, _ctx, _ = _run([annotated, plain])
    assert out[0]["stringData"] == {"p": "ph-pass-Q7", "t": "8443"}
    assert out[1] == plain  # no annotation: <...> is text, left alone
    versioned = _secret({"p": "<password>"}, {"avp.kubernetes.io/path": "kv/data/app",
                                              "avp.kubernetes.io/secret-version": "2"})
    assert _run([versioned])[0][0]["stringData"] == {"p": "ph-old-pass"}


def test_placeholders_inside_base64_data() -> None:
    encoded = base64.b64encode(b"DB_PASS=<path:kv/data/app#password>\n").decode()
    out, _, _ = _run([_secret({}, data={"env": encoded, "plain": base64.b64encode(b"nothing").decode()})])
    assert secret_values(out[0]) == {"env": b"DB_PASS=ph-pass-Q7\n", "plain": b"nothing"}


@pytest.mark.parametrize(("text", "expected"), [
    ("<path:kv/data/app#b64 | base64decode>", "decoded!"),
    ("<path:kv/data/other#token | base64encode>", base64.b64encode(b"ph-token-Z1").decode()),
    ("<path:kv/data/app#config | jsonPath {.a.b}>", "deep-value"),
    ("<path:kv/data/app#config | jsonPath {.a}>", '{"b":"deep-value"}'),
    ("<path:kv/data/app#cert | indent 4>", "line1\n    line2\n    line3"),
    ("<path:kv/data/app#password | sha256sum>", hashlib.sha256(b"ph-pass-Q7").hexdigest()),
    ("<path:kv/data/app#b64 | base64decode | base64encode>", base64.b64encode(b"decoded!").decode()),
])
def test_modifiers(text: str, expected: str) -> None:
    assert _run([_secret({"v": text})])[0][0]["stringData"]["v"] == expected


def test_non_string_results_replace_the_whole_value() -> None:
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"paused": "<path:kv/data/app#flag | jsonParse>", "x": "<path:kv/data/app#yaml | yamlParse>"}}
    out = _run([doc])[0][0]
    assert out["spec"] == {"paused": True, "x": {"x": 1, "y": ["a", "b"]}}


def test_non_string_result_inside_text_is_an_error() -> None:
    with pytest.raises(RenderError, match="whole value"):
        _run([_secret({"v": "x <path:kv/data/app#flag | jsonParse>"})])


def test_remove_missing_and_ignore() -> None:
    doc = _secret({"keep": "<password>", "drop": "<absent>"},
                  {"avp.kubernetes.io/path": "kv/data/app", "avp.kubernetes.io/remove-missing": "true"})
    assert _run([doc])[0][0]["stringData"] == {"keep": "ph-pass-Q7"}
    ignored = _secret({"v": "<path:kv/data/app#password>"}, {"avp.kubernetes.io/ignore": "true"})
    assert _run([ignored])[0][0]["stringData"] == {"v": "<path:kv/data/app#password>"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "d", "annotations": {"avp.kubernetes.io/path": "kv/data/app",
                                     "avp.kubernetes.io/remove-missing": "true"}}, "spec": {"x": "<absent>"}}
    with pytest.raises(RenderError, match="only allowed on a Secret or a ConfigMap"):
        _run([deployment])


@pytest.mark.parametrize(("text", "error", "message"), [
    ("<path:kv/data/app#absent>", RenderError, "no value for placeholder"),
    ("<path:kv/data/missing#x>", ProviderError, "secret not found"),
    ("<path:kv/data/app#password#9>", ProviderError, "version '9' not found"),
    ("<path:kv/data/app#password | rot13>", RenderError, "unknown modifier"),
    ("<path:kv/data/app#password | jsonParse>", RenderError, "modifier jsonParse failed"),
    ("<path:kv/data/app#config | jsonPath {.zzz}>", RenderError, "no value for placeholder"),
])
def test_placeholder_errors(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        _run([_secret({"v": text})])
    assert "ph-pass-Q7" not in str(caught.value)


def test_no_provider_configured() -> None:
    ctx = RenderContext(root=Path("/"), app=Path("/"))
    with pytest.raises(RenderError, match="no secret provider is configured"):
        resolver_hook(lambda: None)([_secret({"v": "<path:a#b>"})], ctx)
    # Nothing to resolve: the provider is never opened.
    opened: list[int] = []
    resolver_hook(lambda: opened.append(1))([_secret({"v": "no placeholders"})], ctx)  # type: ignore[func-returns-value]
    assert opened == []


def test_apply_modifier_rejects_empty() -> None:
    with pytest.raises(RenderError):
        apply_modifier("", "x")


# --------------------------------------------------------------------- through the command line


def _app(tmp_path: Path) -> Path:
    store = write(tmp_path / "repo" / "store.yaml", json.dumps(
        {"apiVersion": "secrets-kit.io/v1alpha1", "kind": "FakeSecretStore", **STORE}))
    assert store.exists()
    app = tmp_path / "repo" / "app"
    (tmp_path / "repo" / ".git").mkdir()
    write(app / "secret.yaml", """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: n
  annotations: {avp.kubernetes.io/path: kv/data/app}
stringData:
  password: <password>
  token: <path:kv/data/other#token>
""")
    write(app / "deploy.yaml", """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: n
spec:
  template:
    metadata:
      annotations: {checksum/creds: "<path:kv/data/app#password | sha256sum>"}
""")
    write(app / ".secrets-kit.yaml", "apiVersion: secrets-kit.io/v1alpha1\nkind: RenderConfig\n"
                                     "provider: {kind: fake, file: ../store.yaml}\n")
    return app


def test_render_resolves_placeholders(tmp_path: Path, render_env: dict[str, str]) -> None:
    out = run_cli(["render", str(_app(tmp_path))], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    found = by_name(docs(out.stdout))
    assert found[("Secret", "creds")]["stringData"] == {"password": "ph-pass-Q7", "token": "ph-token-Z1"}


def test_zero_plaintext_with_placeholders(tmp_path: Path, sealing: Sealing, render_env: dict[str, str]) -> None:
    out = run_cli(["render", str(_app(tmp_path)), "--seal-to", str(sealing.cert)], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    assert b"ph-pass-Q7" not in out.stdout and b"ph-token-Z1" not in out.stdout
    found = by_name(docs(out.stdout))
    assert ("SealedSecret", "creds") in found
    # A checksum annotation is allowed: it is a hash, not the value.
    annotations = found[("Deployment", "web")]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/creds"] == hashlib.sha256(b"ph-pass-Q7").hexdigest()


def test_zero_plaintext_refuses_a_placeholder_in_a_config_map(tmp_path: Path, sealing: Sealing,
                                                              render_env: dict[str, str]) -> None:
    app = _app(tmp_path)
    write(app / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: n}\n"
                           "data: {pw: '<path:kv/data/app#password>'}\n")
    out = run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env)
    assert out.returncode == 8 and out.stdout == b""
    assert b"only Secrets can be re-sealed" in out.stderr and b"ph-pass-Q7" not in out.stderr


def test_fake_store_must_be_inside_the_repository(tmp_path: Path, render_env: dict[str, str]) -> None:
    app = _app(tmp_path)
    write(app / ".secrets-kit.yaml", "kind: RenderConfig\nprovider: {kind: fake, file: /etc/passwd}\n")
    out = run_cli(["render", str(app)], env=render_env)
    assert out.returncode == 8 and out.stdout == b""


def test_unknown_setting_in_the_app_config(tmp_path: Path, render_env: dict[str, str]) -> None:
    app = _app(tmp_path)
    write(app / ".secrets-kit.yaml", "kind: RenderConfig\nsealTO: x\n")
    out = run_cli(["render", str(app)], env=render_env)
    assert out.returncode == 7 and b"unknown setting(s): sealTO" in out.stderr


def test_placeholders_from_aws_secrets_manager(aws_env: str, tmp_path: Path, sealing: Sealing,
                                               render_env: dict[str, str]) -> None:
    """The CLI path with a real provider: moto's Secrets Manager, reached through the SDK's environment."""
    import os

    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    name = f"render/{tmp_path.name}"
    client.create_secret(Name=name, SecretString=json.dumps({"api-key": "aws-placeholder-value-9"}))
    app = tmp_path / "app"
    write(app / "s.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: n}}\n"
                          f"stringData: {{key: '<path:{name}#api-key>'}}\n")
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    env = {**render_env, **aws}
    out = run_cli(["render", str(app), "--provider", "aws-secretsmanager"], env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert docs(out.stdout)[0]["stringData"] == {"key": "aws-placeholder-value-9"}
    sealed = run_cli(["render", str(app), "--provider", "aws-secretsmanager", "--seal-to", str(sealing.cert)],
                     env=env)
    assert sealed.returncode == 0 and b"aws-placeholder-value-9" not in sealed.stdout
    missing = run_cli(["render", str(app), "--provider", "aws-secretsmanager"],
                      env={**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert missing.returncode == 6 and missing.stdout == b""
