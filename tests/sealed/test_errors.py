"""Every bad input: kubeseal fails, our drop-in fails the same way (exit 1), and the native verbs give
one clear line naming the item, a documented exit code, no plaintext and no output file."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from secrets_kit.errors import EXIT_DECRYPT, EXIT_INPUT, EXIT_KEYS
from secrets_kit.k8s.manifests import dump_json, dump_yaml
from secrets_kit.sealed.keys import KeyFolder
from secrets_kit.sealed.model import seal_secret

from .helpers import kubeseal, run_cli, secret, yaml_of

pytestmark = pytest.mark.peer("kubeseal")
SECRET_VALUE = "pl41ntext-n3ver-l0gged"
GOOD = secret(string_data={"password": SECRET_VALUE})

SEAL_CASES = {
    # name: (input text, extra args, native exit code, the whole message after "<file>: ")
    "malformed yaml": (f"apiVersion: v1\nkind: Secret\nstringData: [{SECRET_VALUE}\n", [], EXIT_INPUT,
                       "malformed YAML at line 4, column 1: expected ',' or ']', but got '<stream end>'"),
    "value read as a yaml alias": (f"apiVersion: v1\nkind: Secret\nstringData:\n  pw: *{SECRET_VALUE}\n", [],
                                   EXIT_INPUT, "malformed YAML at line 4, column 7: found undefined alias <redacted>"),
    "not a secret": (yaml_of({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"},
                              "data": {"x": SECRET_VALUE}}), [], EXIT_INPUT,
                     "ConfigMap n/c: expected a v1 Secret, found v1 ConfigMap"),
    "missing name": (yaml_of({**GOOD, "metadata": {"namespace": "n"}}), [], EXIT_INPUT,
                     "document 1: missing metadata.name in input Secret"),
    "missing namespace": (yaml_of(secret(namespace=None, string_data={"p": SECRET_VALUE})), [], EXIT_INPUT,
                          "Secret mysecret: secret must declare a namespace (set metadata.namespace or pass "
                          "-n/--namespace)"),
    "empty data": (yaml_of(secret()), [], EXIT_INPUT, "Secret myns/mysecret: secret.data is empty in input Secret, "
                   "assuming this is an error and aborting (to work with empty data, --allow-empty-data can be used)"),
    "not base64": (yaml_of(secret(data={"p": SECRET_VALUE + "!"})), [], EXIT_INPUT,
                   "Secret myns/mysecret: data.p is not valid base64 (put plain text under stringData instead)"),
    "namespace mismatch": (yaml_of(GOOD), ["-n", "other"], EXIT_INPUT, "Secret myns/mysecret: namespace mismatch: "
                           'input secret is in namespace "myns" but "other" was specified'),
    "list in stringData": ("apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\n"
                           "stringData:\n  port: [5432]\n", [], EXIT_INPUT,
                           "Secret b/a: stringData.port is a list, not a string"),
    "number in data": ("apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\n"
                       "data:\n  port: 5432\n", [], EXIT_INPUT, "Secret b/a: data.port is not a base64 string"),
    "no documents": ("# nothing here\n", [], EXIT_INPUT, "no secrets found (the input holds no documents)"),
}


@pytest.mark.parametrize("case", list(SEAL_CASES))
def test_bad_secret_input(kubeseal_bin, cert_file, tmp_path, case):
    text, extra, code, message = SEAL_CASES[case]
    theirs = kubeseal(kubeseal_bin, "--cert", cert_file, *extra, input=text)
    assert theirs.returncode != 0 and theirs.stdout == b""
    dropin = run_cli("kubeseal", "--cert", cert_file, *extra, input=text)
    assert dropin.code == 1 and dropin.out == b""
    src = tmp_path / "in" / "bad.yaml"
    src.parent.mkdir()
    src.write_text(text)
    good = tmp_path / "in" / "good.yaml"
    good.write_text(yaml_of(secret(namespace=extra[1] if extra else "myns", string_data={"a": "b"})))
    native = run_cli("seal", "--cert", cert_file, *extra, "--out-dir", tmp_path / "out", good, src)
    assert native.code == code, native.err
    assert native.err == f"secrets-kit: error: {src}: {message}\n"
    assert not (tmp_path / "out").exists(), "nothing may be written when one input fails"
    beside = run_cli("seal", "--cert", cert_file, *extra, good, src)  # outputs next to the inputs
    assert beside.code == code and sorted(p.name for p in src.parent.iterdir()) == ["bad.yaml", "good.yaml"]
    for output in (dropin.err, native.err, beside.err):
        assert SECRET_VALUE not in output


def expired_cert(tmp_path):
    folder = KeyFolder(tmp_path / "expired")
    return folder.create(bits=2048, ttl=dt.timedelta(days=1),
                         not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def test_expired_certificate_refused_unless_overridden(kubeseal_bin, tmp_path):
    pair = expired_cert(tmp_path)
    theirs = kubeseal(kubeseal_bin, "--cert", pair.cert_path, input=yaml_of(GOOD))
    assert b"failed to encrypt using an expired certificate on January 2, 2020" in theirs.stderr
    dropin = run_cli("kubeseal", "--cert", pair.cert_path, input=yaml_of(GOOD))
    assert dropin.code == 1
    assert "failed to encrypt using an expired certificate on January 2, 2020" in dropin.err
    src = tmp_path / "s.yaml"
    src.write_text(yaml_of(GOOD))
    native = run_cli("seal", "--cert", pair.cert_path, src)
    assert native.code == EXIT_KEYS and "--allow-expired-cert" in native.err
    assert not (tmp_path / "s.sealed.yaml").exists()
    allowed = run_cli("seal", "--cert", pair.cert_path, "--allow-expired-cert", src)
    assert allowed.code == 0, allowed.err
    opened = run_cli("unseal", "-k", pair.key_path, tmp_path / "s.sealed.yaml")
    assert base64.b64encode(SECRET_VALUE.encode()).decode() in opened.text


def test_certificate_problems(kubeseal_bin, tmp_path, key_file):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    now = dt.datetime.now(dt.UTC)
    ec_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
               .sign(key, hashes.SHA256()))
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(ec_cert.public_bytes(Encoding.PEM))
    for cert, message in ((not_pem, "failed to read any certificates"), (ec_pem, "expected RSA public key"),
                          (tmp_path / "missing.pem", "cannot read certificate"), (key_file, "failed to read any")):
        theirs = kubeseal(kubeseal_bin, "--cert", cert, input=yaml_of(GOOD))
        assert theirs.returncode != 0
        dropin = run_cli("kubeseal", "--cert", cert, input=yaml_of(GOOD))
        if cert.exists():
            assert dropin.code == 1 and message in dropin.err, dropin.err
        else:  # the drop-in says it in kubeseal's words: `error: open PATH: no such file or directory`
            assert dropin.code == 1 and dropin.err == theirs.stderr.decode().strip().splitlines()[-1] + "\n"
        native = run_cli("seal", "--cert", cert, input=yaml_of(GOOD))
        assert native.code == EXIT_KEYS and message in native.err and native.out == b""
        assert SECRET_VALUE not in dropin.err + native.err


def sealed_doc(pair, scope=None, **changes):
    annotations = {f"sealedsecrets.bitnami.com/{scope}": "true"} if scope else None
    doc = seal_secret(secret(string_data={"password": SECRET_VALUE, "user": "u"}, annotations=annotations),
                      pair.cert.public_key)
    for path, value in changes.items():
        node = doc
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value(node[keys[-1]]) if callable(value) else value
    return doc


def tamper(region: str):
    """Change one region of an item's ciphertext (2-byte length | RSA part | AES-GCM body | 16-byte tag)."""
    def change(text: str) -> str:
        raw = bytearray(base64.b64decode(text))
        rsa_len = struct.unpack(">H", raw[:2])[0]
        if region == "length prefix":
            raw[0:2] = struct.pack(">H", rsa_len - 1)
        elif region == "length prefix too long":
            raw[0:2] = struct.pack(">H", 0xFFFF)
        elif region == "rsa part":
            raw[2 + rsa_len // 2] ^= 0x10
        elif region == "aes part":
            raw[2 + rsa_len + 1] ^= 0x10
        else:
            assert region == "tag"
            raw[-1] ^= 0x10
        return base64.b64encode(bytes(raw)).decode()
    return change


NO_KEY_STRICT = ("no key could decrypt secret ({items}) (wrong key, or the SealedSecret was moved or renamed: "
                 "it is bound to namespace/name {ns}/{name})")
# A renamed or moved one: the names it was sealed for are found by trying the other labels.
SEALED_FOR = ("no key could decrypt secret (password, user) (it was sealed for {was} ({scope} scope), but is now "
              "bound to {now}: give it back that namespace/name and scope, or re-seal it for the new one)")
CUT_SHORT = "SealedSecret data is too short (password) (the ciphertext is cut short: restore the SealedSecret " \
            "from version control)"
UNSEAL_CASES = {
    # name: (builder(pair, other_pair) -> SealedSecret, native exit code, the whole message after "<file>: ")
    "wrong key": (lambda p, o: sealed_doc(o), EXIT_DECRYPT, "SealedSecret myns/mysecret: " + NO_KEY_STRICT.format(
        items="password, user", ns="myns", name="mysecret")),
    "moved namespace": (lambda p, o: sealed_doc(p, **{"metadata.namespace": "elsewhere"}), EXIT_DECRYPT,
                        "SealedSecret elsewhere/mysecret: " + SEALED_FOR.format(
                            was="namespace/name myns/mysecret", scope="strict",
                            now="namespace/name elsewhere/mysecret")),
    "renamed": (lambda p, o: sealed_doc(p, **{"metadata.name": "renamed"}), EXIT_DECRYPT,
                "SealedSecret myns/renamed: " + SEALED_FOR.format(
                    was="namespace/name myns/mysecret", scope="strict", now="namespace/name myns/renamed")),
    "renamed, template too": (lambda p, o: sealed_doc(p, **{"metadata.name": "renamed",
                                                            "spec.template.metadata.name": "renamed"}),
                              EXIT_DECRYPT, "SealedSecret myns/renamed: " + NO_KEY_STRICT.format(
                                  items="password, user", ns="myns", name="renamed")),
    "namespace-wide moved": (lambda p, o: sealed_doc(p, scope="namespace-wide", **{"metadata.namespace": "other"}),
                             EXIT_DECRYPT, "SealedSecret other/mysecret: " + SEALED_FOR.format(
                                 was="namespace myns", scope="namespace-wide", now="namespace other")),
    "cluster-wide annotation dropped": (
        lambda p, o: sealed_doc(p, scope="cluster-wide", **{"metadata.annotations": None}), EXIT_DECRYPT,
        "SealedSecret myns/mysecret: " + SEALED_FOR.format(
            was="any namespace and name (cluster-wide)", scope="cluster-wide", now="namespace/name myns/mysecret")),
    **{f"tampered {region}": (lambda p, o, region=region: sealed_doc(p, **{"spec.encryptedData.password":
                                                                          tamper(region)}),
                              EXIT_DECRYPT, "SealedSecret myns/mysecret: " + NO_KEY_STRICT.format(
                                  items="password", ns="myns", name="mysecret"))
       for region in ("length prefix", "rsa part", "aes part", "tag")},
    "tampered length prefix too long": (
        lambda p, o: sealed_doc(p, **{"spec.encryptedData.password": tamper("length prefix too long")}),
        EXIT_DECRYPT, "SealedSecret myns/mysecret: " + CUT_SHORT),
    "truncated": (lambda p, o: sealed_doc(p, **{"spec.encryptedData.password": lambda v: v[:40]}), EXIT_DECRYPT,
                  "SealedSecret myns/mysecret: " + CUT_SHORT),
    "not base64": (lambda p, o: sealed_doc(p, **{"spec.encryptedData.user": "%%%"}), EXIT_INPUT,
                   "SealedSecret myns/mysecret: encryptedData.user is not valid base64"),
    "not a sealed secret": (lambda p, o: GOOD, EXIT_INPUT, "no SealedSecret found (found Secret)"),
    "both data fields": (lambda p, o: sealed_doc(p, **{"spec.data": "AAAA"}), EXIT_INPUT,
                         "SealedSecret myns/mysecret: cannot use the field 'encryptedData' and the deprecated "
                         "field 'data' at the same time"),
}


@pytest.mark.parametrize("case", list(UNSEAL_CASES))
def test_bad_sealed_input(kubeseal_bin, pair, other_pair, key_file, tmp_path, case):
    build, code, message = UNSEAL_CASES[case]
    text = dump_json(build(pair, other_pair))
    theirs = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, input=text)
    assert theirs.returncode != 0 and theirs.stdout == b"", theirs.stdout
    dropin = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, input=text)
    assert dropin.code == 1 and dropin.out == b""
    if "no key could decrypt" in message:  # kubeseal's words first (it lists the items in map order)
        their_line = theirs.stderr.decode().strip().splitlines()[-1]
        assert their_line.startswith("error: no key could decrypt secret (")
        assert dropin.err.startswith("error: no key could decrypt secret ("), dropin.err
    src = tmp_path / "sealed.json"
    src.write_text(text)
    native = run_cli("unseal", "-k", key_file, "--out-dir", tmp_path / "out", src)
    assert native.code == code, native.err
    assert native.err == f"secrets-kit: error: {src}: {message}\n"
    assert not (tmp_path / "out").exists()
    assert src.read_text() == text
    to_file = run_cli("unseal", "-k", key_file, "-w", tmp_path / "plain.yaml", src)
    assert to_file.code == code and not (tmp_path / "plain.yaml").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file may be left"
    for output in (dropin.err, dropin.text, native.err, native.text, to_file.err):
        assert SECRET_VALUE not in output and base64.b64encode(SECRET_VALUE.encode()).decode() not in output


def test_deprecated_v1_data(kubeseal_bin, pair, key_file):
    from secrets_kit.sealed.crypto import hybrid_encrypt

    inner = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mysecret", "namespace": "myns"},
                        "data": {"k": base64.b64encode(b"v1 value").decode()}}).encode()
    blob = hybrid_encrypt(pair.cert.public_key, inner, b"myns/mysecret")
    doc = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
           "metadata": {"name": "mysecret", "namespace": "myns"},
           "spec": {"data": base64.b64encode(blob).decode()}}
    theirs = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, input=dump_json(doc))
    assert b"using deprecated 'data' field" in theirs.stderr
    dropin = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, input=dump_json(doc))
    assert dropin.code == 1 and "using deprecated 'data' field" in dropin.err
    native = run_cli("unseal", "-k", key_file, "-o", "json", input=dump_yaml(doc))  # the controller accepts it
    assert native.code == 0, native.err
    assert json.loads(native.out)["data"] == {"k": base64.b64encode(b"v1 value").decode()}


def test_bad_key_files(kubeseal_bin, pair, tmp_path):
    text = dump_json(sealed_doc(pair))
    cases = {
        "garbage": (b"not a key at all: [", "not a PEM private key"),
        "secret without tls.key": (dump_yaml(secret(string_data={"x": "y"})).encode(), "'tls.key'"),
        "broken pem": (b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                       "unreadable private key"),
    }
    for name, (content, message) in cases.items():
        key = tmp_path / name.replace(" ", "-")
        key.write_bytes(content)
        assert kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key, input=text).returncode != 0
        dropin = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key, input=text)
        assert dropin.code == 1 and message in dropin.err, (name, dropin.err)
        native = run_cli("unseal", "-k", key, input=text)
        assert native.code == EXIT_KEYS and message in native.err and native.err.count("\n") == 1
        assert native.out == b"" and SECRET_VALUE not in dropin.err + native.err


def test_inconsistent_private_key_is_refused(pair, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    numbers = pair.private_key().key.private_numbers()
    broken = rsa.RSAPrivateNumbers(numbers.p, numbers.q, numbers.d, numbers.dmp1, numbers.dmq1,
                                   (numbers.iqmp + 1) % numbers.p, numbers.public_numbers)
    key = tmp_path / "broken.key"
    key.write_bytes(broken.private_key(unsafe_skip_rsa_key_validation=True).private_bytes(
        Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()))
    done = run_cli("unseal", "-k", key, input=dump_json(sealed_doc(pair)))
    assert done.code == EXIT_KEYS and "inconsistent RSA parameters" in done.err


def test_failures_leave_existing_files_unchanged(kubeseal_bin, pair, other_pair, tmp_path):
    """In-place modes (--re-encrypt, --edit, --merge-into) and earlier outputs: a failure changes no byte."""
    sealed = tmp_path / "sealed.json"
    sealed.write_text(dump_json(sealed_doc(pair)))
    before = sealed.read_bytes()
    attempts = {
        "re-encrypt, wrong key": run_cli("seal", "--re-encrypt", "-k", other_pair.key_path,
                                         "--cert", other_pair.cert_path, sealed),
        "re-encrypt, tampered item": None,
        "edit, no such item": run_cli("seal", "--edit", sealed, "--remove", "nope"),
        "edit, `:` typed for `=`": run_cli("seal", "--edit", sealed, "--cert", pair.cert_path,
                                           "--from-literal", f"password:{SECRET_VALUE}"),
        "edit, expired cert": run_cli("seal", "--edit", sealed, "--cert", expired_cert(tmp_path).cert_path,
                                      "--from-literal", f"password={SECRET_VALUE}-new"),
        "merge-into, malformed input": run_cli("kubeseal", "--cert", pair.cert_path, "--merge-into", sealed,
                                               input=f"stringData: [{SECRET_VALUE}\n"),
        "merge-into, empty data": run_cli("kubeseal", "--cert", pair.cert_path, "--merge-into", sealed,
                                          input=yaml_of(secret())),
    }
    tampered = tmp_path / "tampered.json"
    tampered.write_text(dump_json(sealed_doc(pair, **{"spec.encryptedData.password": tamper("tag")})))
    tampered_before = tampered.read_bytes()
    attempts["re-encrypt, tampered item"] = run_cli("seal", "--re-encrypt", "-k", pair.key_path,
                                                    "--cert", other_pair.cert_path, tampered)
    for what, done in attempts.items():
        assert done.code != 0, what
        assert done.err.count("\n") == 1, (what, done.err)
        assert SECRET_VALUE not in done.err + done.text, what
    assert sealed.read_bytes() == before and tampered.read_bytes() == tampered_before
    assert kubeseal(kubeseal_bin, "--cert", pair.cert_path, "--merge-into", sealed,
                    input=yaml_of(secret())).returncode != 0  # kubeseal refuses the same
    # An earlier output stays as it was when a later run fails on another input.
    (tmp_path / "in").mkdir()
    good = tmp_path / "in" / "good.yaml"
    good.write_text(yaml_of(GOOD))
    assert run_cli("seal", "--cert", pair.cert_path, good).code == 0
    output = tmp_path / "in" / "good.sealed.yaml"
    first = output.read_bytes()
    good.write_text(yaml_of(secret(string_data={"password": "changed"})))
    (tmp_path / "in" / "bad.yaml").write_text("kind: Secret\nstringData: [\n")
    failed = run_cli("seal", "--cert", pair.cert_path, tmp_path / "in")
    assert failed.code == EXIT_INPUT and output.read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["bad.yaml", "good.sealed.yaml", "good.yaml"]
