"""Small pieces: redaction, tool runner, path safety, repository root, settings precedence, ordering."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from secrets_kit.errors import ConfigError, InputError, PeerMissingError, RenderError
from secrets_kit.render import emit, paths
from secrets_kit.render.config import CliSettings, options_from
from secrets_kit.render.dotenv import parse_env_lines
from secrets_kit.render.proc import clean_env, run_tool
from secrets_kit.render.redact import MASK, Redactor

from .conftest import Sealing
from .helpers import write


def test_redactor_masks_values_and_their_base64() -> None:
    redactor = Redactor()
    redactor.add("hunter2-secret")
    redactor.add(b"line-one-value\nline-two-value")
    redactor.add("abc")  # too short to mask
    text = ("a hunter2-secret b " + base64.b64encode(b"hunter2-secret").decode()
            + " line-two-value abc")
    assert redactor.scrub(text) == f"a {MASK} b {MASK} {MASK} abc"
    assert redactor.leaked("xx hunter2-secret", min_length=8)
    assert not redactor.leaked("nothing here", min_length=8)
    assert Redactor().scrub("untouched") == "untouched"


def test_render_errors_leave_scrubbed(tmp_path: Path) -> None:
    from secrets_kit.render.model import RenderContext

    ctx = RenderContext(root=tmp_path, app=tmp_path)
    ctx.redactor.add("hunter2-secret")
    with pytest.raises(InputError) as info, ctx.scrubbing():
        raise InputError("bad hunter2-secret", where="key hunter2-secret", hint="not hunter2-secret")
    assert "hunter2-secret" not in str(info.value)
    assert (info.value.message, info.value.where, info.value.hint) == (f"bad {MASK}", f"key {MASK}", f"not {MASK}")


def test_tool_errors_are_scrubbed(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add("very-secret-value")
    script = "import sys; sys.stderr.write('bad line: very-secret-value\\n  second line\\n'); sys.exit(3)"
    with pytest.raises(RenderError) as caught:
        run_tool([sys.executable, "-c", script], cwd=tmp_path, redactor=redactor, what="tool", where="here")
    assert "very-secret-value" not in str(caught.value) and MASK in str(caught.value)
    assert "exit 3" in str(caught.value)
    assert "\n" not in str(caught.value) and f"{MASK} second line" in str(caught.value)  # one line on stderr


def test_tool_missing_and_timeout(tmp_path: Path) -> None:
    with pytest.raises(PeerMissingError):
        run_tool([str(tmp_path / "nope")], cwd=tmp_path, redactor=Redactor(), what="x", where="y")
    with pytest.raises(RenderError, match="timed out"):
        run_tool([sys.executable, "-c", "import time; time.sleep(5)"], cwd=tmp_path, redactor=Redactor(),
                 what="x", where="y", timeout=0.5)


def test_build_tools_never_see_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOPS_AGE_KEY", "AWS_SECRET_ACCESS_KEY", "VAULT_TOKEN", "SECRETS_KIT_RESEAL_KEY",
                 "ARGOCD_ENV_HELM_ARGS", "PARAM_X"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("HELM_CACHE_HOME", "/tmp/h")
    env = clean_env()
    assert "HELM_CACHE_HOME" in env and "PATH" in env
    assert not {"SOPS_AGE_KEY", "AWS_SECRET_ACCESS_KEY", "VAULT_TOKEN", "SECRETS_KIT_RESEAL_KEY",
                "ARGOCD_ENV_HELM_ARGS", "PARAM_X"} & set(env)


def test_resolve_in_root(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "a" / "b").mkdir(parents=True)
    assert paths.resolve_in_root(root, root / "a" / "b", "../x.yaml", what="f", where="w") == root / "a" / "x.yaml"
    for ref in ("../../../etc/passwd", "/etc/passwd", ""):
        with pytest.raises(RenderError):
            paths.resolve_in_root(root, root / "a" / "b", ref, what="f", where="w")
    (root / "a" / "link").symlink_to(tmp_path)
    with pytest.raises(RenderError, match="leaves the repository root"):
        paths.resolve_in_root(root, root / "a", "link/x", what="f", where="w")


def test_find_root(tmp_path: Path) -> None:
    app = tmp_path / "work" / "deploy" / "dev"
    app.mkdir(parents=True)
    assert paths.find_root(app, source_path="deploy/dev") == tmp_path / "work"
    assert paths.find_root(app, source_path=".") == app
    (tmp_path / "work" / ".git").mkdir()
    assert paths.find_root(app) == tmp_path / "work"
    assert paths.find_root(app, source_path="other/path") == tmp_path / "work"


@pytest.mark.parametrize("ref", ["https://github.com/x/y", "git@github.com:x/y", "github.com/x/y?ref=v1"])
def test_remote_refs(ref: str) -> None:
    assert paths.is_remote(ref)


def test_env_lines() -> None:
    assert parse_env_lines("# c\n\nA=1\n  B = x=y \n", source="s") == [("A", "1"), ("B", " x=y ")]
    with pytest.raises(InputError, match="line 1"):
        parse_env_lines("NOVALUE\n", source="s")


def test_settings_precedence(tmp_path: Path, sealing: Sealing, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_KIT_STATE_DIR", str(tmp_path / "state"))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "app"
    write(app / ".secrets-kit.yaml", "kind: RenderConfig\nrecurse: true\nhelm: {releaseName: from-file, "
                                     "valuesFiles: [a.yaml]}\n")
    env = {"ARGOCD_APP_NAMESPACE": "dest", "ARGOCD_APP_NAME": "app-name", "KUBE_API_VERSIONS": "v1,apps/v1"}
    options = options_from(app, env)
    assert options.recurse and options.namespace == "dest" and options.root == repo
    assert options.helm.release == "from-file" and options.helm.values_files == ["a.yaml"]
    assert options.helm.api_versions == ["v1", "apps/v1"]
    env.update(PARAM_RECURSE="false", ARGOCD_ENV_RELEASE_NAME="from-env", PARAM_VALUES_FILES_0="b.yaml",
               PARAM_VALUES_FILES_1="c.yaml")
    options = options_from(app, env)
    assert not options.recurse and options.helm.release == "from-env"
    assert options.helm.values_files == ["b.yaml", "c.yaml"]
    options = options_from(app, env, CliSettings(recurse=True, release="cli", values=["d.yaml"], namespace="ns"))
    assert options.recurse and options.helm.release == "cli" and options.helm.values_files == ["d.yaml"]
    assert options.namespace == "ns" and options.seal_to is None
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "prod.pem").write_bytes(sealing.cert.read_bytes())
    sealed = options_from(app, {**env, "ARGOCD_ENV_CLUSTER": "prod", "SECRETS_KIT_CERTS_DIR": str(certs)})
    assert sealed.seal_to is not None and sealed.seal_to.source.endswith("prod.pem")
    with pytest.raises(ConfigError, match="SECRETS_KIT_CERTS_DIR is not set"):
        options_from(app, {**env, "ARGOCD_ENV_CLUSTER": "prod"})


def test_bad_app_config(tmp_path: Path) -> None:
    write(tmp_path / "app" / ".secrets-kit.yaml", "kind: Other\n")
    with pytest.raises(ConfigError, match="RenderConfig"):
        options_from(tmp_path / "app", {})
    write(tmp_path / "app" / ".secrets-kit.yaml", "kind: RenderConfig\nhelm: [x]\n")
    with pytest.raises(ConfigError, match="helm must be a mapping"):
        options_from(tmp_path / "app", {})


def test_emit_order_and_duplicates() -> None:
    docs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
             "metadata": {"name": "w"}},
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "b", "namespace": "x"}},
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a", "namespace": "x"}}]
    ordered = emit.order(docs)
    assert [(d["kind"], d["metadata"]["name"]) for d in ordered] == [
        ("Namespace", "n"), ("Deployment", "d"), ("Widget", "a"), ("Widget", "b"),
        ("ValidatingWebhookConfiguration", "w")]
    with pytest.raises(RenderError, match="duplicate"):
        emit.order([docs[0], dict(docs[0])])
    with pytest.raises(RenderError, match="unknown output format"):
        emit.dump(docs, "toml")


def test_the_operators_certificate_beats_the_apps(tmp_path: Path, sealing: Sealing,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # An app author names a certificate of their own in the repository; the sidecar's
    # SECRETS_KIT_SEAL_TO must still decide where re-sealed Secrets go.
    monkeypatch.setenv("SECRETS_KIT_STATE_DIR", str(tmp_path / "state"))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "app"
    write(app / "app-held.pem", sealing.cert.read_text())
    write(app / ".secrets-kit.yaml", "kind: RenderConfig\nsealTo: app-held.pem\n")
    operator_cert = tmp_path / "operator.pem"
    operator_cert.write_bytes(sealing.cert.read_bytes())
    alone = options_from(app, {})
    assert alone.seal_to is not None and alone.seal_to.source.endswith("app-held.pem")
    chosen = options_from(app, {"SECRETS_KIT_SEAL_TO": str(operator_cert)})
    assert chosen.seal_to is not None and chosen.seal_to.source.endswith("operator.pem")
    param = options_from(app, {"SECRETS_KIT_SEAL_TO": str(operator_cert), "PARAM_SEAL_TO": "app-held.pem"})
    assert param.seal_to is not None and param.seal_to.source.endswith("operator.pem")


def test_helm_numeric_secret_values_are_scrubbed_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decrypted values file may hold a number (a PIN); helm's errors can quote it like any string."""
    from secrets_kit.render import helm

    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "secrets.yaml").write_text("pin: ENC[AES256_GCM,data:xx,iv:yy,tag:zz,type:int]\nsops:\n  mac: ENC[AES256_GCM,data:m,iv:i,tag:t,type:str]\n")
    monkeypatch.setattr(helm.sops_bridge, "decrypt_bytes",
                        lambda data, fmt, source: b"pin: 98765432\nratio: 31415.9265\nflag: true\n")
    redactor = Redactor()
    values, encrypted = helm.read_values(tmp_path, chart, ["secrets.yaml"], redactor)
    assert encrypted == 1 and values["pin"] == 98765432
    text = "Error: template: x: wrong type for value 98765432 and 31415.9265"
    assert "98765432" not in redactor.scrub(text) and "31415.9265" not in redactor.scrub(text)
