"""`secrets-kit seal` / `unseal`: folders, output placement, fan-out, offline re-encrypt, edits, checks."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from secrets_kit.k8s.manifests import dump_json
from secrets_kit.sealed.keys import KeyFolder

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of

VALUE = "s3cr3t-value-for-cli-tests"


def plain_of(result) -> dict[str, dict[str, bytes]]:
    return {d["metadata"]["name"]: {k: base64.b64decode(v) for k, v in d["data"].items()}
            for d in docs_of(result.out)}


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "apps" / "web").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "secret.yaml").write_text(yaml_of(secret("hidden", string_data={"x": "y"})))
    (root / "apps" / "web" / "secret.yaml").write_text(yaml_of(secret("web", "apps", string_data={"pw": VALUE})))
    (root / "apps" / "two.yml").write_text(yaml_of(secret("a", "apps", string_data={"k": "1"}),
                                                   secret("b", "apps", string_data={"k": "2"})))
    (root / "apps" / "db.json").write_text(dump_json(secret("db", "data", string_data={"k": "3"})))
    (root / "apps" / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
    (root / "README.md").write_text("not a manifest")
    return root


def test_folder_next_to_input(repo, cert_file, key_file):
    done = run_cli("seal", "--cert", cert_file, repo)
    assert done.code == 0, done.err
    assert "sealed 4 document(s) from 3 file(s)" in done.err and "skipped 1 file(s)" in done.err
    assert (repo / "apps" / "web" / "secret.sealed.yaml").is_file()
    assert (repo / "apps" / "two.sealed.yml").is_file()
    assert (repo / "apps" / "db.sealed.json").read_text().startswith("{")
    assert not (repo / ".git" / "secret.sealed.yaml").exists()
    opened = run_cli("unseal", "-k", key_file, repo / "apps" / "two.sealed.yml")
    assert plain_of(opened) == {"a": {"k": b"1"}, "b": {"k": b"2"}}
    again = run_cli("seal", "--cert", cert_file, repo)  # earlier outputs are not inputs
    assert "from 3 file(s)" in again.err


def test_out_dir_mirrors_the_tree_and_formats(repo, cert_file):
    done = run_cli("seal", "--cert", cert_file, "--out-dir", repo / "sealed", "-o", "json", repo / "apps")
    assert done.code == 0, done.err
    out = sorted(str(p.relative_to(repo / "sealed")) for p in (repo / "sealed").rglob("*") if p.is_file())
    assert out == ["db.json", "two.json", "web/secret.json"]
    assert not any(".sealed." in name for name in out)


def test_stdin_to_stdout_and_report_json(cert_file, key_file, tmp_path):
    done = run_cli("seal", "--cert", cert_file, input=yaml_of(secret(string_data={"pw": VALUE})))
    assert done.code == 0 and done.text.startswith("---\napiVersion: bitnami.com/v1alpha1")
    assert VALUE not in done.text + done.err
    assert plain_of(run_cli("unseal", "-k", key_file, input=done.out)) == {"mysecret": {"pw": VALUE.encode()}}
    src = tmp_path / "s.yaml"
    src.write_text(yaml_of(secret(string_data={"pw": VALUE})))
    report = run_cli("seal", "--cert", cert_file, "--report", "json", src)
    data = json.loads(report.out)
    assert data["written"] == [str(tmp_path / "s.sealed.yaml")]
    assert data["details"][0]["items"] == ["pw"] and VALUE not in report.text


def test_dry_run_writes_nothing(repo, cert_file):
    done = run_cli("seal", "--cert", cert_file, "--dry-run", repo)
    assert done.code == 0 and "would write 3 file(s)" in done.err
    assert not list(repo.rglob("*.sealed.*"))


def test_folder_rules(tmp_path, cert_file):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "m.yaml").write_text(yaml_of(secret(string_data={"a": "b"}),
                                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
    done = run_cli("seal", "--cert", cert_file, mixed)
    assert done.code == 3 and "mixes Secrets with other kinds" in done.err
    sealed_input = tmp_path / "sealed.yaml"
    sealed_input.write_text(run_cli("seal", "--cert", cert_file, input=yaml_of(secret(string_data={"a": "b"}))).text)
    again = run_cli("seal", "--cert", cert_file, sealed_input)
    assert again.code == 3 and "already a SealedSecret" in again.err and "--re-encrypt" in again.err
    missing = run_cli("seal", "--cert", cert_file, tmp_path / "nope.yaml")
    assert missing.code == 3 and "no such file or folder" in missing.err


def test_scope_and_namespace_flags(cert_file, key_file, kubeseal_bin):
    done = run_cli("seal", "--cert", cert_file, "--scope", "cluster-wide",
                   input=yaml_of(secret(namespace=None, string_data={"a": "b"})))
    doc = docs_of(done.out)[0]
    assert doc["metadata"] == {"name": "mysecret",
                               "annotations": {"sealedsecrets.bitnami.com/cluster-wide": "true"}}
    doc["metadata"]["namespace"] = "anywhere"
    opened = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, input=dump_json(doc))
    assert opened.returncode == 0, opened.stderr
    # --scope strict on the native verb overrides annotations (kubeseal cannot)
    strict = run_cli("seal", "--cert", cert_file, "--scope", "strict", "-n", "ns", input=yaml_of(
        secret(namespace=None, annotations={"sealedsecrets.bitnami.com/namespace-wide": "true"},
               string_data={"a": "b"})))
    assert docs_of(strict.out)[0]["metadata"] == {"name": "mysecret", "namespace": "ns"}


def test_fan_out_with_certs_and_registry(tmp_path, pair, other_pair, key_file):
    src = tmp_path / "app.yaml"
    src.write_text(yaml_of(secret(string_data={"pw": VALUE})))
    done = run_cli("seal", "--cert", pair.cert_path, "--cert", other_pair.cert_path, src)
    assert done.code == 0, done.err
    assert (tmp_path / "app.main.sealed.yaml").is_file() and (tmp_path / "app.other.sealed.yaml").is_file()
    registry = tmp_path / "clusters.yaml"
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "eu.pem").write_bytes(pair.cert.pem)
    registry.write_text(f"clusters:\n  prod-eu:\n    cert: certs/eu.pem\n"
                        f"  prod-us: file://{other_pair.cert_path}\n")
    fanned = run_cli("seal", "--clusters", registry, "--all-clusters", "--out-dir", tmp_path / "out", src)
    assert fanned.code == 0, fanned.err
    eu, us = tmp_path / "out" / "prod-eu" / "app.yaml", tmp_path / "out" / "prod-us" / "app.yaml"
    assert plain_of(run_cli("unseal", "-k", key_file, eu)) == {"mysecret": {"pw": VALUE.encode()}}
    assert run_cli("unseal", "-k", key_file, us).code == 4  # sealed for the other cluster only
    assert run_cli("unseal", "-k", other_pair.key_path, us).code == 0
    one = run_cli("seal", "--clusters", registry, "--cluster", "prod-us", src)
    assert one.code == 0 and "wrote 1 file(s)" in one.err


@pytest.mark.parametrize(("content", "message"), [
    ("clusters: {}\n", "non-empty `clusters:`"),
    ("clusters:\n  'bad name': x.pem\n", "cluster names may hold only"),
    ("clusters:\n  a: {cert: x.pem, typo: 1}\n", "unknown field(s): typo"),
    ("clusters:\n  a: [x]\n", "expected a cert path/URL or a mapping"),
    ("clusters: [\n", "malformed YAML"),
])
def test_bad_registry(tmp_path, content, message):
    registry = tmp_path / "clusters.yaml"
    registry.write_text(content)
    done = run_cli("seal", "--clusters", registry, "--all-clusters", input=yaml_of(secret(string_data={"a": "b"})))
    assert done.code == 7 and message in done.err


def test_unknown_registry_cluster(tmp_path, cert_file):
    registry = tmp_path / "clusters.yaml"
    registry.write_text(f"clusters:\n  a: {cert_file}\n")
    done = run_cli("seal", "--clusters", registry, "--cluster", "b", input=yaml_of(secret(string_data={"a": "b"})))
    assert done.code == 7 and "cluster 'b' is not in the registry" in done.err and "known clusters: a" in done.err


def test_offline_reencrypt_in_place_keeps_current_items(tmp_path, pair, other_pair, kubeseal_bin):
    old = tmp_path / "sealed.yaml"
    old.write_text(run_cli("seal", "--cert", other_pair.cert_path, input=yaml_of(
        secret(string_data={"pw": VALUE, "user": "u"}, labels={"l": "1"}))).text)
    done = run_cli("seal", "--re-encrypt", "-k", other_pair.key_path, "--cert", pair.cert_path, old)
    assert done.code == 0, done.err
    first = docs_of(old.read_text())[0]
    opened = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", pair.key_path, "-o", "json",
                      input=old.read_bytes())
    assert opened.returncode == 0
    assert json.loads(opened.stdout)["metadata"]["labels"] == {"l": "1"}
    # Running it again changes nothing: items already sealed for the new key keep their ciphertext.
    mtime = os.stat(old).st_mtime_ns
    again = run_cli("seal", "--re-encrypt", "-k", other_pair.key_path, "-k", pair.key_path,
                    "--cert", pair.cert_path, old)
    assert again.code == 0 and "1 unchanged" in again.err
    assert os.stat(old).st_mtime_ns == mtime and docs_of(old.read_text())[0] == first
    wrong = run_cli("seal", "--re-encrypt", "-k", other_pair.key_path, "--cert", pair.cert_path, old)
    assert wrong.code == 4 and "no key could decrypt secret" in wrong.err
    assert run_cli("seal", "--re-encrypt", "--cert", pair.cert_path, old).code == 2  # needs --key


def test_keys_dir_reseal_keeps_unchanged_ciphertexts(tmp_path):
    folder = KeyFolder(tmp_path / "keys")
    folder.create(bits=2048)
    src = tmp_path / "app.yaml"
    src.write_text(yaml_of(secret(string_data={"same": "1", "changes": "before"})))
    assert run_cli("seal", "--keys-dir", folder.path, src).code == 0
    before = docs_of((tmp_path / "app.sealed.yaml").read_text())[0]["spec"]["encryptedData"]
    src.write_text(yaml_of(secret(string_data={"same": "1", "changes": "after"})))
    assert run_cli("seal", "--keys-dir", folder.path, src).code == 0
    after = docs_of((tmp_path / "app.sealed.yaml").read_text())[0]["spec"]["encryptedData"]
    assert after["same"] == before["same"] and after["changes"] != before["changes"]
    unchanged = run_cli("seal", "--keys-dir", folder.path, src)
    assert "1 unchanged" in unchanged.err


def test_edit_one_item(tmp_path, cert_file, key_file, kubeseal_bin):
    sealed = tmp_path / "sealed.json"
    sealed.write_text(run_cli("seal", "--cert", cert_file, "-o", "json", input=yaml_of(
        secret(string_data={"keep": "k", "drop": "d", "change": "old"}))).text)
    before = json.loads(sealed.read_text())["spec"]["encryptedData"]
    value = tmp_path / "value.txt"
    value.write_bytes(b"from a file\n")
    done = run_cli("seal", "--edit", sealed, "--cert", cert_file, "--from-literal", "change=new",
                   "--from-file", f"added={value}", "--remove", "drop")
    assert done.code == 0, done.err
    after = json.loads(sealed.read_text())["spec"]["encryptedData"]
    assert after["keep"] == before["keep"] and set(after) == {"keep", "change", "added"}
    opened = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, input=sealed.read_bytes())
    data = {k: base64.b64decode(v) for k, v in json.loads(opened.stdout)["data"].items()}
    assert data == {"keep": b"k", "change": b"new", "added": b"from a file\n"}
    removed_only = run_cli("seal", "--edit", sealed, "--remove", "added")  # no certificate needed
    assert removed_only.code == 0, removed_only.err
    missing = run_cli("seal", "--edit", sealed, "--remove", "nope")
    assert missing.code == 3 and "no such item: nope" in missing.err
    stdin_value = run_cli("seal", "--edit", sealed, "--cert", cert_file, "--from-file", "fromstdin=-",
                          input=b"piped")
    assert stdin_value.code == 0
    assert run_cli("seal", "--edit", sealed, "--cert", cert_file).code == 2


def test_unseal_outputs_are_private_files(tmp_path, cert_file, key_file):
    src = tmp_path / "in" / "a.yaml"
    src.parent.mkdir()
    src.write_text(run_cli("seal", "--cert", cert_file, input=yaml_of(secret(string_data={"pw": VALUE}))).text)
    done = run_cli("unseal", "-k", key_file, "--out-dir", tmp_path / "plain", tmp_path / "in")
    assert done.code == 0, done.err
    out = tmp_path / "plain" / "a.yaml"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert base64.b64encode(VALUE.encode()).decode() in out.read_text()
    assert done.out == b"" and VALUE not in done.err


def test_unseal_help_says_what_out_dir_writes(tmp_path, cert_file, key_file):
    """The help's promise, checked against what --out-dir writes: input names and paths kept, stdin.yaml."""
    helptext = " ".join(run_cli("unseal", "--help").text.split())
    assert "each input keeps its own name and its path under the folder given" in helptext
    assert "DIR/app/db.yaml for app/db.yaml" in helptext and "DIR/stdin.yaml" in helptext
    assert "NAME.unsealed.yaml" not in helptext
    sealed = run_cli("seal", "--cert", cert_file, input=yaml_of(secret(string_data={"pw": VALUE}))).text
    (tmp_path / "in" / "app").mkdir(parents=True)
    (tmp_path / "in" / "app" / "db.yaml").write_text(sealed)
    assert run_cli("unseal", "-k", key_file, "--out-dir", tmp_path / "plain", tmp_path / "in").code == 0
    assert run_cli("unseal", "-k", key_file, "--out-dir", tmp_path / "piped", input=sealed).code == 0
    assert run_cli("unseal", "-k", key_file, "-o", "json", "--out-dir", tmp_path / "js", tmp_path / "in").code == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["in/app/db.yaml", "js/app/db.json", "piped/stdin.yaml", "plain/app/db.yaml"]


def test_unseal_check(tmp_path, pair, other_pair):
    src = tmp_path / "s.yaml"
    src.write_text(run_cli("seal", "--cert", pair.cert_path, input=yaml_of(
        secret("one", string_data={"pw": VALUE}), secret("two", string_data={"pw": VALUE}))).text)
    ok = run_cli("unseal", "--check", "-k", other_pair.key_path, "-k", pair.key_path, src)
    assert ok.code == 0 and ok.text.count("ok ") == 2 and pair.cert.fingerprint in ok.text
    assert VALUE not in ok.text
    bad = run_cli("unseal", "--check", "--report", "json", "-k", other_pair.key_path, src)
    assert bad.code == 4
    report = json.loads(bad.out)
    assert [d["ok"] for d in report["details"]] == [False, False]


def test_unseal_keys_dir_and_default(tmp_path, monkeypatch):
    folder = KeyFolder(tmp_path / "keys")
    pair = folder.create(bits=2048)
    sealed = run_cli("seal", "--cert", pair.cert_path, input=yaml_of(secret(string_data={"a": "b"}))).out
    assert run_cli("unseal", "--keys-dir", folder.path, input=sealed).code == 0
    assert run_cli("unseal", input=sealed, env={"SECRETS_KIT_KEYS_DIR": str(folder.path)}).code == 0
    none = run_cli("unseal", input=sealed, env={"SECRETS_KIT_KEYS_DIR": str(tmp_path / "empty")})
    assert none.code == 5 and "no private keys" in none.err


def test_progress_bar_is_on_stderr_only(repo, cert_file, key_file, tmp_path):
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}  # rich draws the bar as on a terminal
    done = run_cli("seal", "--cert", cert_file, "--progress", "--out-dir", repo / "out", repo, env=terminal)
    assert done.code == 0 and done.out == b""
    assert "sealing" in done.err and "4/4" in done.err  # the bar was drawn (four files walked)
    assert VALUE not in done.err
    unsealed = run_cli("unseal", "-k", key_file, "--progress", "--out-dir", tmp_path / "plain", repo / "out",
                       env=terminal)
    assert unsealed.code == 0 and "unsealing" in unsealed.err
    assert VALUE not in unsealed.err and base64.b64encode(VALUE.encode()).decode() not in unsealed.err


def test_registry_list_form(tmp_path, pair, key_file):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "eu.pem").write_bytes(pair.cert.pem)
    registry = tmp_path / "clusters.yaml"
    registry.write_text("clusters:\n  - name: eu-west\n    server: https://eu.example.com\n    cert: certs/eu.pem\n")
    done = run_cli("seal", "--clusters", registry, "--cluster", "eu-west",
                   input=yaml_of(secret(string_data={"a": "b"})))
    assert done.code == 0, done.err
    assert plain_of(run_cli("unseal", "-k", key_file, input=done.out)) == {"mysecret": {"a": b"b"}}
    registry.write_text("clusters:\n  - server: https://eu.example.com\n")
    assert "needs a `name`" in run_cli("seal", "--clusters", registry, "--all-clusters", input=b"").err


def test_single_output_files(tmp_path, cert_file, key_file):
    src = tmp_path / "s.yaml"
    src.write_text(yaml_of(secret("one", string_data={"a": "1"}), secret("two", string_data={"b": "2"})))
    sealed = tmp_path / "out.json"
    done = run_cli("seal", "--cert", cert_file, "-o", "json", "-w", sealed, src)
    assert done.code == 0 and sealed.read_text().startswith("{")
    plain = tmp_path / "plain.yaml"
    opened = run_cli("unseal", "-k", key_file, "-w", plain, "-o", "yaml", sealed)
    assert opened.code == 0 and opened.out == b""
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert [d["metadata"]["name"] for d in docs_of(plain.read_text())] == ["one", "two"]
    both = run_cli("seal", "--cert", cert_file, "--cert", cert_file, "-w", sealed, src)
    assert both.code == 2 and "single" in both.err


def test_list_documents_are_flattened(cert_file, key_file):
    listed = yaml_of({"apiVersion": "v1", "kind": "List", "items": [secret("x", string_data={"a": "1"}),
                                                                     secret("y", string_data={"b": "2"})]})
    sealed = run_cli("seal", "--cert", cert_file, input=listed)
    assert sealed.code == 0, sealed.err
    assert [d["metadata"]["name"] for d in docs_of(sealed.out)] == ["x", "y"]
    as_list = yaml_of({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecretList", "items": docs_of(sealed.out)})
    assert plain_of(run_cli("unseal", "-k", key_file, input=as_list)) == {"x": {"a": b"1"}, "y": {"b": b"2"}}


def test_explicit_output_reuses_its_own_ciphertexts(tmp_path):
    folder = KeyFolder(tmp_path / "keys")
    folder.create(bits=2048)
    src = tmp_path / "app.yaml"
    src.write_text(yaml_of(secret(string_data={"same": "1", "changes": "before"})))
    out = tmp_path / "out.yaml"
    first = run_cli("seal", "--keys-dir", folder.path, "-w", out, src)
    assert first.code == 0, first.err
    before = out.read_bytes()
    again = run_cli("seal", "--keys-dir", folder.path, "-w", out, src)
    assert again.code == 0 and "1 unchanged" in again.err, again.err
    assert out.read_bytes() == before
    assert not (tmp_path / "app.sealed.yaml").exists()
    # The default output is neither read nor written when -w names another file.
    (tmp_path / "app.sealed.yaml").write_text("not yaml: [")
    src.write_text(yaml_of(secret(string_data={"same": "1", "changes": "after"})))
    changed = run_cli("seal", "--keys-dir", folder.path, "-w", out, src)
    assert changed.code == 0 and "unchanged" not in changed.err
    old, new = (docs_of(t)[0]["spec"]["encryptedData"] for t in (before, out.read_bytes()))
    assert new["same"] == old["same"] and new["changes"] != old["changes"]
    assert (tmp_path / "app.sealed.yaml").read_text() == "not yaml: ["


def test_explicit_output_never_overwrites_the_input(tmp_path, cert_file):
    src = tmp_path / "app.yaml"
    src.write_text(yaml_of(secret(string_data={"a": "b"})))
    before = src.read_bytes()
    for target in (src, tmp_path / "." / "app.yaml"):
        done = run_cli("seal", "--cert", cert_file, "-w", target, src)
        assert done.code != 0 and "the output would overwrite the input" in done.err, done.err
        assert "-w/--output" in done.err
        assert src.read_bytes() == before
    assert list(tmp_path.iterdir()) == [src]


def test_explicit_output_with_stdin_re_encrypt_and_edit(tmp_path, pair, other_pair, key_file):
    out = tmp_path / "from-stdin.yaml"
    piped = run_cli("seal", "--cert", pair.cert_path, "-w", out, input=yaml_of(secret(string_data={"a": "1"})))
    assert piped.code == 0 and piped.out == b"" and docs_of(out.read_text())[0]["kind"] == "SealedSecret"
    old = tmp_path / "old.yaml"
    old.write_text(run_cli("seal", "--cert", other_pair.cert_path, input=yaml_of(
        secret(string_data={"pw": "x"}))).text)
    before = old.read_bytes()
    moved = tmp_path / "moved.yaml"
    done = run_cli("seal", "--re-encrypt", "-k", other_pair.key_path, "--cert", pair.cert_path, "-w", moved, old)
    assert done.code == 0, done.err
    assert old.read_bytes() == before
    assert run_cli("unseal", "-k", key_file, moved).code == 0
    # Re-encrypting the output again: every item already sealed for the key, so nothing is written.
    again = run_cli("seal", "--re-encrypt", "-k", key_file, "--cert", pair.cert_path, "-w", moved, moved)
    assert again.code == 0 and "1 unchanged" in again.err, again.err
    # -w naming the input is the in-place default of --re-encrypt (and of --edit): allowed.
    in_place = run_cli("seal", "--re-encrypt", "-k", other_pair.key_path, "--cert", pair.cert_path, "-w", old, old)
    assert in_place.code == 0 and old.read_bytes() != before
    assert run_cli("unseal", "-k", key_file, old).code == 0
    edited = tmp_path / "edited.yaml"
    done = run_cli("seal", "--edit", old, "--remove", "pw", "-w", edited)
    assert done.code == 0 and docs_of(edited.read_text())[0]["spec"]["encryptedData"] == {}
    assert run_cli("seal", "--edit", old, "--remove", "pw", "-w", old).code == 0


def test_folders_of_earlier_outputs_unseal_and_re_encrypt(repo, pair, other_pair):
    """Sealing walks past `*.sealed.*` (its own outputs); unseal and --re-encrypt of the same folder
    are exactly about those files."""
    assert run_cli("seal", "--cert", other_pair.cert_path, repo / "apps").code == 0
    opened = run_cli("unseal", "-k", other_pair.key_path, repo / "apps")
    assert opened.code == 0, opened.err
    assert set(plain_of(opened)) == {"web", "a", "b", "db"}
    moved = run_cli("seal", "--re-encrypt", "-k", other_pair.key_path, "--cert", pair.cert_path, repo / "apps")
    assert moved.code == 0, moved.err
    assert "re-encrypted 4 document(s) from 3 file(s)" in moved.err
    assert plain_of(run_cli("unseal", "-k", pair.key_path, repo / "apps" / "two.sealed.yml")) == {
        "a": {"k": b"1"}, "b": {"k": b"2"}}
