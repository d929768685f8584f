"""Other sources: a plain folder of manifests, a Helm chart with SOPS-encrypted values."""

from __future__ import annotations

import base64
from pathlib import Path

from .apps import DB_PASSWORD, PLAINTEXT
from .conftest import Age, Sealing, run_cli
from .helpers import SECRET_REGEX, by_name, docs, secret_values, sops_encrypt, write


def test_plain_folder_with_sops_multi_document_file(tmp_path: Path, sops_bin: Path, age_identity: Age,
                                                    render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    write(app / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: n}\ndata: {a: b}\n")
    plain = write(app / "two.yaml", f"""\
apiVersion: v1
kind: Secret
metadata: {{name: one, namespace: n}}
stringData: {{password: {DB_PASSWORD}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: two, namespace: n}}
data: {{token: {base64.b64encode(PLAINTEXT[2].encode()).decode()}}}
""")
    sops_encrypt(sops_bin, age_identity.recipient, plain, app / "two.sops.yaml", regex=SECRET_REGEX)
    write(app / ".sops.yaml", "creation_rules: []\n")  # hidden files are not manifests
    write(app / "sub" / "ignored.yaml", "not: [a manifest\n")  # not recursive by default
    out = run_cli(["render", str(app)], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    found = by_name(docs(out.stdout))
    assert set(found) == {("ConfigMap", "cm"), ("Secret", "one"), ("Secret", "two")}
    assert found[("Secret", "one")]["stringData"] == {"password": DB_PASSWORD}
    assert secret_values(found[("Secret", "two")]) == {"token": PLAINTEXT[2].encode()}


def test_plain_folder_recursive(tmp_path: Path, render_env: dict[str, str]) -> None:
    app = tmp_path / "app"
    write(app / "a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    write(app / "nested" / "b.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}')
    flat = run_cli(["render", str(app)], env=render_env)
    deep = run_cli(["render", str(app), "--recurse"], env=render_env)
    param = run_cli(["render", str(app)], env={**render_env, "PARAM_RECURSE": "true"})
    assert [d["metadata"]["name"] for d in docs(flat.stdout)] == ["a"]
    assert [d["metadata"]["name"] for d in docs(deep.stdout)] == ["a", "b"]
    assert param.stdout == deep.stdout


def _chart(root: Path) -> Path:
    chart = root / "chart"
    write(chart / "Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    write(chart / "values.yaml", "replicas: 1\ndb: {user: app, password: ''}\n")
    write(chart / "templates" / "secret.yaml", """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
  namespace: {{ .Release.Namespace }}
stringData:
  user: {{ .Values.db.user | quote }}
  password: {{ .Values.db.password | quote }}
""")
    write(chart / "templates" / "cm.yaml", """\
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-cm}
data: {replicas: {{ .Values.replicas | quote }}, kube: {{ .Capabilities.KubeVersion.Version | quote }}}
""")
    return chart


def test_helm_chart_with_encrypted_values(tmp_path: Path, helm_bin: Path, sops_bin: Path, age_identity: Age,
                                          sealing: Sealing, render_env: dict[str, str]) -> None:
    chart = _chart(tmp_path)
    write(chart / "values-prod.yaml", "replicas: 3\n")
    plain = write(chart / "secrets.yaml", f"db:\n  password: {DB_PASSWORD}\n")
    sops_encrypt(sops_bin, age_identity.recipient, plain, chart / "secrets.sops.yaml")
    env = {**render_env, "SECRETS_KIT_HELM": str(helm_bin), "ARGOCD_APP_NAME": "shop",
           "ARGOCD_APP_NAMESPACE": "shop-prod", "KUBE_VERSION": "1.31.0",
           "PARAM_VALUES_FILES_0": "values-prod.yaml", "PARAM_VALUES_FILES_1": "secrets.sops.yaml"}
    out = run_cli(["render", str(chart)], env=env)
    assert out.returncode == 0, out.stderr.decode()
    found = by_name(docs(out.stdout))
    assert found[("Secret", "shop-db")]["stringData"] == {"user": "app", "password": DB_PASSWORD}
    assert found[("Secret", "shop-db")]["metadata"]["namespace"] == "shop-prod"
    assert found[("ConfigMap", "shop-cm")]["data"] == {"replicas": "3", "kube": "v1.31.0"}
    # No decrypted values file was written anywhere next to the chart.
    assert sorted(p.name for p in chart.iterdir()) == ["Chart.yaml", "secrets.sops.yaml", "templates",
                                                       "values-prod.yaml", "values.yaml"]
    sealed = run_cli(["render", str(chart), "--seal-to", str(sealing.cert)], env=env)
    assert sealed.returncode == 0, sealed.stderr.decode()
    assert DB_PASSWORD.encode() not in sealed.stdout
    assert ("SealedSecret", "shop-db") in by_name(docs(sealed.stdout))


def test_helm_flag_injection_is_refused(tmp_path: Path, helm_bin: Path, render_env: dict[str, str]) -> None:
    chart = _chart(tmp_path)
    env = {**render_env, "SECRETS_KIT_HELM": str(helm_bin), "PARAM_RELEASE_NAME": "--post-renderer=/bin/sh"}
    out = run_cli(["render", str(chart)], env=env)
    assert out.returncode != 0 and out.stdout == b""
    assert b"invalid helm release name" in out.stderr


def test_helm_template_error_fails_closed(tmp_path: Path, helm_bin: Path, render_env: dict[str, str]) -> None:
    chart = _chart(tmp_path)
    write(chart / "templates" / "bad.yaml", "{{ .Values.nope.deeper }}\n")
    out = run_cli(["render", str(chart)], env={**render_env, "SECRETS_KIT_HELM": str(helm_bin)})
    assert out.returncode == 8 and out.stdout == b""
    assert b"helm template failed" in out.stderr
