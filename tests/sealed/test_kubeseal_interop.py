"""Both directions against the real kubeseal v0.36.6: what one seals, the other opens."""

from __future__ import annotations

import base64
import json
import re

import pytest

from secrets_kit.k8s.manifests import dump_json, dump_yaml
from secrets_kit.sealed.keyfiles import read_private_keys
from secrets_kit.sealed.keys import key_secret
from secrets_kit.sealed.model import SealOptions, seal_secret, unseal
from secrets_kit.sealed.scopes import CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of

pytestmark = pytest.mark.peer("kubeseal")

SCOPE_ANNOTATIONS = {
    Scope.STRICT: {},
    Scope.NAMESPACE_WIDE: {NAMESPACE_WIDE_ANNOTATION: "true"},
    Scope.CLUSTER_WIDE: {CLUSTER_WIDE_ANNOTATION: "true"},
}
MASK = re.compile(r'(Ag|AQ)[A-Za-z0-9+/=]{40,}')


def recovered(kubeseal_bin, sealed_text: str | bytes, key_file) -> dict:
    done = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, "-o", "json",
                    input=sealed_text)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def plain(secret_doc: dict) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret_doc.get("data") or {}).items()}


@pytest.mark.parametrize("scope", list(Scope))
def test_ours_seals_kubeseal_recovers(kubeseal_bin, pair, key_file, scope):
    src = secret(string_data={"user": "admin", "multi": "line1\nline2\n"}, data={"bin": "AAEC/w=="},
                 annotations={"keep": "me", **SCOPE_ANNOTATIONS[scope]}, labels={"app": "web"})
    sealed = seal_secret(src, pair.cert.public_key)
    for text in (dump_yaml(sealed), dump_json(sealed)):
        out = recovered(kubeseal_bin, text, key_file)
        assert plain(out) == {"user": b"admin", "multi": b"line1\nline2\n", "bin": b"\x00\x01\x02\xff"}
        assert out["metadata"]["labels"] == {"app": "web"}
        assert out["metadata"]["annotations"]["keep"] == "me"
        assert out["type"] == "Opaque"


@pytest.mark.parametrize("scope", list(Scope))
def test_kubeseal_seals_ours_unseals(kubeseal_bin, pair, cert_file, key_file, scope, tmp_path):
    src = secret(string_data={"token": "t0k3n", "empty": ""}, annotations=SCOPE_ANNOTATIONS[scope])
    for fmt in ("yaml", "json"):
        done = kubeseal(kubeseal_bin, "--cert", cert_file, "-o", fmt, input=yaml_of(src))
        assert done.returncode == 0, done.stderr
        theirs = recovered(kubeseal_bin, done.stdout, key_file)
        (tmp_path / f"s.{fmt}").write_bytes(done.stdout)
        ours = run_cli("unseal", "-k", key_file, "-o", "json", "--owner-references", tmp_path / f"s.{fmt}")
        assert ours.code == 0, ours.err
        expected = {**theirs, "data": {k: v or "" for k, v in theirs["data"].items()}}
        assert json.loads(ours.out) == expected  # ours writes an empty item as "", kubeseal as null
        dropin = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, "-o", fmt,
                         input=done.stdout)
        reference = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, "-o", fmt,
                             input=done.stdout)
        assert dropin.code == 0, dropin.err
        assert dropin.out == reference.stdout  # same bytes: same field order, same style


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_dropin_output_matches_kubeseal_byte_for_byte_but_ciphertext(kubeseal_bin, cert_file, fmt):
    src = yaml_of(
        secret("a", string_data={"k": "v", "z": "<&>"}, labels={"l": "1"}, annotations={"an": "x"}),
        secret("b", namespace=None, data={"x": "eHg="}, secret_type="kubernetes.io/basic-auth"),
    )
    args = ["--cert", str(cert_file), "-o", fmt, "-n", "myns"]
    theirs = kubeseal(kubeseal_bin, *args, input=src)
    ours = run_cli("kubeseal", *args, input=src)
    assert theirs.returncode == 0 and ours.code == 0, (theirs.stderr, ours.err)
    assert MASK.sub("<ct>", ours.text) == MASK.sub("<ct>", theirs.stdout.decode())


def test_multi_document_input(kubeseal_bin, cert_file, key_file):
    src = yaml_of(*(secret(f"s{i}", string_data={"n": str(i)}) for i in range(3)))
    ours = run_cli("kubeseal", "--cert", cert_file, "-o", "yaml", input=src)
    assert ours.code == 0, ours.err
    docs = docs_of(ours.out)
    assert [d["metadata"]["name"] for d in docs] == ["s0", "s1", "s2"]
    for i, doc in enumerate(docs):
        assert plain(recovered(kubeseal_bin, dump_json(doc), key_file)) == {"n": str(i).encode()}


def test_raw_both_directions(kubeseal_bin, pair, cert_file, key_file, tmp_path):
    value = tmp_path / "value"
    value.write_bytes(b"raw\x00value\n")
    ours = run_cli("kubeseal", "--raw", "--cert", cert_file, "-n", "myns", "--name", "mysecret",
                   "--from-file", f"ignored={value}")
    assert ours.code == 0, ours.err
    assert not ours.out.endswith(b"\n")
    theirs = kubeseal(kubeseal_bin, "--raw", "--cert", cert_file, "-n", "myns", "--name", "mysecret",
                      input=value.read_bytes())
    for ciphertext in (ours.text, theirs.stdout.decode()):
        sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                  "metadata": {"name": "mysecret", "namespace": "myns"},
                  "spec": {"encryptedData": {"item": ciphertext}}}
        assert plain(recovered(kubeseal_bin, dump_json(sealed), key_file)) == {"item": b"raw\x00value\n"}
        assert unseal(sealed, read_private_keys([key_file])).secret["data"]["item"] == \
            base64.b64encode(b"raw\x00value\n").decode()


# Upstream's TestRaw matrix: sealed with (ns, name, scope), unsealed as myns/mysecret with that scope.
RAW_CASES = [
    (Scope.STRICT, "myns", "mysecret", True),
    (Scope.STRICT, "youGiveRest", "mysecret", False),
    (Scope.STRICT, "myns", "aBadName", False),
    (Scope.NAMESPACE_WIDE, "myns", "mysecret", True),
    (Scope.NAMESPACE_WIDE, "youGiveRest", "", False),
    (Scope.NAMESPACE_WIDE, "youGiveRest", "aBadName", False),
    (Scope.NAMESPACE_WIDE, "myns", "", True),
    (Scope.NAMESPACE_WIDE, "myns", "aBadName", True),
    (Scope.CLUSTER_WIDE, "myns", "mysecret", True),
    (Scope.CLUSTER_WIDE, "youGiveRest", "mysecret", True),
    (Scope.CLUSTER_WIDE, "myns", "", True),
    (Scope.CLUSTER_WIDE, "myns", "aBadName", True),
    (Scope.CLUSTER_WIDE, "", "", True),
    (Scope.CLUSTER_WIDE, "", "aBadName", True),
]


@pytest.mark.parametrize(("scope", "ns", "name", "opens"), RAW_CASES)
def test_raw_scope_matrix_agrees_with_kubeseal(kubeseal_bin, cert_file, key_file, scope, ns, name, opens):
    args = ["--raw", "--cert", str(cert_file), "--scope", scope.value]
    args += ["-n", ns] if ns else []
    args += ["--name", name] if name else []
    sealers = {"ours": run_cli("kubeseal", *args, input=b"supersecret").text,
               "kubeseal": kubeseal(kubeseal_bin, *args, input=b"supersecret").stdout.decode()}
    annotations = {f"sealedsecrets.bitnami.com/{scope.value}": "true"}
    keys = read_private_keys([key_file])
    for who, ciphertext in sealers.items():
        assert ciphertext, f"{who} did not seal"
        sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                  "metadata": {"name": "mysecret", "namespace": "myns", "annotations": annotations},
                  "spec": {"encryptedData": {"foo": ciphertext}}}
        theirs = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file,
                          input=dump_json(sealed))
        ours = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, input=dump_json(sealed))
        assert (theirs.returncode == 0) is opens, (who, theirs.stderr)
        assert (ours.code == 0) is opens, (who, ours.err)
        if not opens:
            assert b"no key could decrypt secret" in theirs.stderr
            assert "no key could decrypt secret (foo)" in ours.err
        else:
            assert json.loads(ours.out) == json.loads(theirs.stdout)
        if opens:
            assert unseal(sealed, keys).secret["data"]["foo"] == base64.b64encode(b"supersecret").decode()


@pytest.mark.parametrize("merger", ["ours", "kubeseal"])
def test_merge_into(kubeseal_bin, cert_file, key_file, tmp_path, merger):
    target = tmp_path / "sealed.json"
    first = kubeseal(kubeseal_bin, "--cert", cert_file, input=yaml_of(
        secret(string_data={"keep": "old", "change": "before"}, labels={"a": "1"})))
    target.write_bytes(first.stdout)
    kept_ciphertext = json.loads(first.stdout)["spec"]["encryptedData"]["keep"]
    update = yaml_of(secret("ignored-name", "ignored-ns", string_data={"change": "after", "new": "n"},
                            labels={"b": "2"}))
    if merger == "ours":
        done = run_cli("kubeseal", "--cert", cert_file, "--merge-into", target, input=update)
        assert done.code == 0, done.err
    else:
        done = kubeseal(kubeseal_bin, "--cert", cert_file, "--merge-into", target, input=update)
        assert done.returncode == 0, done.stderr
    merged = json.loads(target.read_bytes())
    assert merged["spec"]["encryptedData"]["keep"] == kept_ciphertext
    assert merged["spec"]["template"]["metadata"]["labels"] == {"a": "1", "b": "2"}
    for opener in ("ours", "kubeseal"):
        if opener == "kubeseal":
            out = recovered(kubeseal_bin, target.read_bytes(), key_file)
        else:
            out = json.loads(run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file,
                                     input=target.read_bytes()).out)
        assert plain(out) == {"keep": b"old", "change": b"after", "new": b"n"}
        assert out["metadata"]["name"] == "mysecret"


def test_native_seal_output_opens_in_kubeseal(kubeseal_bin, cert_file, key_file, tmp_path):
    tree = tmp_path / "repo"
    (tree / "apps" / "web").mkdir(parents=True)
    (tree / "apps" / "web" / "secret.yaml").write_text(yaml_of(secret("web", "apps", string_data={"a": "1"})))
    (tree / "db.json").write_text(dump_json(secret("db", "data", string_data={"pw": "2"})))
    done = run_cli("seal", "--cert", cert_file, "--out-dir", tmp_path / "out", tree)
    assert done.code == 0, done.err
    web = (tmp_path / "out" / "apps" / "web" / "secret.yaml").read_text()
    db = (tmp_path / "out" / "db.json").read_text()
    assert plain(recovered(kubeseal_bin, web, key_file)) == {"a": b"1"}
    assert plain(recovered(kubeseal_bin, db, key_file)) == {"pw": b"2"}


@pytest.mark.parametrize("form", ["pkcs1", "pkcs8", "secret-yaml", "secret-json", "list", "two-files"])
def test_key_file_forms_read_by_both(kubeseal_bin, pair, other_pair, tmp_path, form):
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = pair.private_key().key
    pkcs1 = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    files = [tmp_path / "key"]
    if form == "pkcs1":
        files[0].write_bytes(pkcs1)
    elif form == "pkcs8":
        files[0].write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    elif form in ("secret-yaml", "secret-json"):
        doc = key_secret("sealed-secrets-keyabcde", pkcs1, pair.cert.pem)
        files[0].write_text(dump_yaml(doc) if form == "secret-yaml" else dump_json(doc))
    elif form == "list":
        other = other_pair.private_key().key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL,
                                                           NoEncryption())
        files[0].write_text(dump_yaml({"apiVersion": "v1", "kind": "List", "items": [
            key_secret("k1", other, other_pair.cert.pem), key_secret("k2", pkcs1, pair.cert.pem)]}))
    else:
        files = [tmp_path / "a.pem", tmp_path / "b.pem"]
        files[0].write_bytes(other_pair.key_path.read_bytes())
        files[1].write_bytes(pkcs1)
    sealed = dump_json(seal_secret(secret(string_data={"x": "y"}), pair.cert.public_key))
    keyarg = ",".join(map(str, files))
    assert plain(recovered(kubeseal_bin, sealed, keyarg)) == {"x": b"y"}
    ours = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", keyarg, input=sealed)
    assert ours.code == 0, ours.err
    assert plain(json.loads(ours.out)) == {"x": b"y"}


def test_our_controller_shaped_cert_works_in_kubeseal(kubeseal_bin, pair4096, tmp_path):
    done = kubeseal(kubeseal_bin, "--cert", pair4096.cert_path, "-o", "yaml",
                    input=yaml_of(secret(string_data={"a": "b"})))
    assert done.returncode == 0, done.stderr
    assert "  a: Ag" in done.stdout.decode()  # 4096-bit: 0x0200 prefix
    opened = unseal(docs_of(done.stdout)[0], read_private_keys([pair4096.key_path]))
    assert opened.secret["data"] == {"a": "Yg=="}


def test_options_secret_name_override_and_namespace_fill(kubeseal_bin, pair, key_file):
    src = secret("orig", namespace=None, string_data={"a": "b"})
    ours = seal_secret(src, pair.cert.public_key, SealOptions(name="renamed", namespace="filled"))
    theirs = kubeseal(kubeseal_bin, "--cert", pair.cert_path, "--name", "renamed", "-n", "filled",
                      input=yaml_of(src))
    theirs_doc = json.loads(theirs.stdout)
    for doc in (ours, theirs_doc):
        assert doc["metadata"] == {"name": "renamed", "namespace": "filled"}
        out = recovered(kubeseal_bin, dump_json(doc), key_file)
        assert out["metadata"]["name"] == "renamed" and plain(out) == {"a": b"b"}


def _masked(text: bytes) -> bytes:
    """The output with every ciphertext (fresh randomness each run) replaced by a marker."""
    return re.sub(rb"A[A-Za-z0-9+/]{300,}={0,2}", b"<ciphertext>", text)


@pytest.mark.parametrize("file_format", ["json", "yaml"])
@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_merge_into_output_equals_kubeseals_for_every_format(kubeseal_bin, cert_file, tmp_path, file_format,
                                                             output_format):
    """The merged file, ciphertexts aside, is byte for byte kubeseal's: its field order whatever the file's."""
    first = kubeseal(kubeseal_bin, "--cert", cert_file, "-o", file_format, input=yaml_of(
        secret(string_data={"keep": "old", "change": "before"}, labels={"z": "1", "a": "2"},
               annotations={"note": "x"})))
    assert first.returncode == 0, first.stderr
    update = yaml_of(secret(string_data={"change": "after", "new": "n"}, labels={"m": "3"}))
    results = {}
    for tool in ("ours", "kubeseal"):
        target = tmp_path / f"{tool}.sealed.{file_format}"
        target.write_bytes(first.stdout)
        if tool == "ours":
            done = run_cli("kubeseal", "--cert", cert_file, "--merge-into", target, "-o", output_format, input=update)
            assert done.code == 0, done.err
        else:
            theirs = kubeseal(kubeseal_bin, "--cert", cert_file, "--merge-into", target, "-o", output_format,
                              input=update)
            assert theirs.returncode == 0, theirs.stderr
        results[tool] = _masked(target.read_bytes())
    assert results["ours"] == results["kubeseal"]
    assert results["ours"].count(b"<ciphertext>") == 3


@pytest.mark.parametrize("stdin", [b"", b"\n", b"---\n", b"{}"])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_recovery_unseal_of_empty_input_is_kubeseals(kubeseal_bin, key_file, stdin, fmt):
    """kubeseal decodes empty input into an empty SealedSecret and prints its (empty) Secret, exit 0."""
    theirs = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, "-o", fmt, input=stdin)
    ours = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, "-o", fmt, input=stdin)
    assert (ours.code, ours.out) == (theirs.returncode, theirs.stdout) == (0, theirs.stdout)
    assert b"ownerReferences" in ours.out
