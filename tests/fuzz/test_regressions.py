"""Named cases: each input that crashed, hung or read two ways (issue 15 and the fuzz suite's finds).

Every case asserts the typed outcome (and, for limits, that the message names the setting that
raises the limit), within the fuzz suite's time bound.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import pytest

from secrets_kit import limits
from secrets_kit.errors import EXIT_INPUT, InputError, SecretsKitError
from secrets_kit.externalsecrets.functions import FunctionError, pem_encode
from secrets_kit.externalsecrets.template import execute as eso_execute
from secrets_kit.gotemplate import TemplateError
from secrets_kit.k8s.fastyaml import load_simple
from secrets_kit.k8s.manifests import load_documents
from secrets_kit.render import krm
from secrets_kit.sealed.certs import load_cert
from secrets_kit.sealed.keyfiles import read_key_data
from secrets_kit.sealed.template import render as sealed_render
from secrets_kit.sops import ops
from secrets_kit.sops.detect import detect_format
from secrets_kit.sops.metadata import unflatten
from secrets_kit.sops.stores import store_for

from .harness import MARK, time_bound
from .test_fastyaml import check_same_reading

DEEP = 10_000


def _limit(err: SecretsKitError, name: str) -> None:
    assert isinstance(err, limits.LimitExceeded), err
    assert err.limit.name == name
    assert err.exit_code == EXIT_INPUT
    assert f"SECRETS_KIT_LIMIT_{name.upper()}=N" in str(err)


def _raises(fn, kind: type[BaseException] = SecretsKitError) -> BaseException:  # type: ignore[no-untyped-def]
    with time_bound(), pytest.raises(kind) as info:
        fn()
    return info.value


# ------------------------------------------------------------------ nesting (RecursionError before)

@pytest.mark.parametrize("text", [
    '{"a":' * DEEP + "1" + "}" * DEEP,
    "[" * DEEP + "]" * DEEP,
    "a: " + "[" * DEEP + "]" * DEEP + "\n",
    "".join("  " * i + f"k{i}:\n" for i in range(2000)) + "  " * 2000 + "v: 1\n",
], ids=["json-object", "json-array", "yaml-flow", "yaml-block"])
def test_deep_manifests_hit_the_depth_limit(text: str) -> None:
    err = _raises(lambda: load_documents(text.encode(), source="deep.yaml"))
    _limit(err, "depth")  # type: ignore[arg-type]
    assert "deep.yaml" in str(err)


def test_deep_flow_nesting_is_refused_before_ruamel_scans_it() -> None:
    # ruamel's scanner costs the square of the flow nesting: 5,000 levels took minutes.
    for text in ("a: " + "[" * 5000 + "]" * 5000 + "\n", "{a: " * 5000 + "1" + "}" * 5000):
        start = time.monotonic()
        _limit(_raises(lambda t=text: load_documents(t)), "depth")  # type: ignore[misc, arg-type]
        assert time.monotonic() - start < 1


def test_a_byte_order_mark_in_text_is_left_to_ruamel() -> None:
    text = "\ufeffapiVersion: v1\nkind: Secret\n"
    assert load_simple(text) is None
    assert load_documents(text)[0]["apiVersion"] == "v1"


def test_depth_limit_is_raised_by_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    text = '{"a":' * 150 + "1" + "}" * 150
    _limit(_raises(lambda: load_documents(text)), "depth")  # type: ignore[arg-type]
    monkeypatch.setenv("SECRETS_KIT_LIMIT_DEPTH", "200")
    assert load_documents(text)[0]["a"]["a"]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_deep_sops_plaintext_is_refused_before_the_tree_walks(fmt: str) -> None:
    text = '{"a":' * DEEP + "1" + "}" * DEEP if fmt == "json" else "a:\n" + "".join(
        "  " * (i + 1) + "b:\n" for i in range(3000))
    opts = ops.EncryptOptions(key_groups=[])
    err = _raises(lambda: ops.encrypt_bytes(text.encode(), store_for(fmt), None, opts))
    assert isinstance(err, InputError)


def test_yaml_merge_chain_in_the_sops_store() -> None:
    chain = "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i}\n  <<: *a{i - 1}\n" for i in range(1, 3000))
    _limit(_raises(lambda: ops.decrypt_bytes(chain.encode(), store_for("yaml"))), "depth")  # type: ignore[arg-type]


# ------------------------------------------------------------------ aliases, sizes, counts

def _bomb(levels: int = 10, fan: int = 9) -> str:
    lines = ["l0: &l0 [" + ", ".join(["x"] * fan) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_in_the_sops_yaml_store() -> None:
    _limit(_raises(lambda: ops.decrypt_bytes(_bomb().encode(), store_for("yaml"))), "nodes")  # type: ignore[arg-type]


def test_billion_laughs_in_manifests() -> None:
    # ruamel shares the aliased lists; every later walk would not: the node count sees them expanded.
    _limit(_raises(lambda: load_documents(_bomb())), "nodes")  # type: ignore[arg-type]


def test_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_KIT_LIMIT_BYTES", "1000")
    big = ("a: " + "x" * 2000 + "\n").encode()
    _limit(_raises(lambda: load_documents(big, source="big.yaml")), "bytes")  # type: ignore[arg-type]
    _limit(_raises(lambda: ops.decrypt_bytes(big, store_for("yaml"))), "bytes")  # type: ignore[arg-type]


def test_document_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_KIT_LIMIT_DOCUMENTS", "10")
    _limit(_raises(lambda: load_documents("---\na: 1\n" * 11)), "documents")  # type: ignore[arg-type]
    _limit(_raises(lambda: load_documents('{"a": 1}' * 11)), "documents")  # type: ignore[arg-type]


def test_a_json_integer_of_100000_digits() -> None:
    _limit(_raises(lambda: load_documents('{"a": ' + "1" * 100_000 + "}")), "digits")  # type: ignore[arg-type]
    assert isinstance(_raises(lambda: load_documents("a: " + "1" * 100_000 + "\n")), InputError)


def test_100000_keys_through_the_fast_path() -> None:
    text = "".join(f"k{i}: v\n" for i in range(100_000))
    with time_bound():
        assert len(load_documents(text)[0]) == 100_000


def test_100000_keys_in_an_ini_file() -> None:
    text = "[s]\n" + "".join(f"k{i % 50_000} = v\n" for i in range(100_000))
    store = store_for("ini")
    with time_bound():
        store.emit_plain(store.load_plain(text.encode()))


# ------------------------------------------------------------------ text: surrogates, UTF-8, indexes

def test_lone_surrogates_read_as_go_reads_them() -> None:
    doc = load_documents('{"kind": "Secret", "metadata": {"name": "\\ud800x"}}')[0]
    assert doc["metadata"]["name"] == "\ufffdx"
    pair = load_documents('{"a": "\\ud83d\\ude00"}')[0]
    assert pair["a"] == "\U0001f600"
    store = store_for("json")
    assert "\ufffd" in store.emit_plain(store.load_plain(b'{"a": "\\udfff"}')).decode()


def test_invalid_utf8_in_the_sops_yaml_store() -> None:
    err = _raises(lambda: ops.decrypt_bytes(b"a: \xff\xfe\n", store_for("yaml")))
    assert "UTF-8" in str(err)


def test_non_ascii_digits_as_a_flat_list_index() -> None:
    assert unflatten([("a__list_\u00b2", "x")]) == {"a": ["x"]}  # not int("²"): index 0, as any non-number


def test_format_detection_is_linear() -> None:
    for data in (b"\n" * 200_000, b"[sops]\n" * 100_000, b" \n" * 200_000):
        start = time.monotonic()
        assert detect_format(data) is None
        assert time.monotonic() - start < 1
    assert detect_format(b"[sops]\nx = 1\nmac = ENC[AES256_GCM,data:x]\n") == "ini"
    assert detect_format(b"a: 1\nsops:\n    mac: ENC[AES256_GCM,data:x]\n") == "yaml"


# ------------------------------------------------------------------ KRM

def test_krm_item_kind_as_a_list(tmp_path: Path) -> None:
    data = b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- kind: [a]\n  metadata: {name: x}\n"
    outcome = krm.process(data, {}, tmp_path)
    assert outcome.exit_code != 0 and outcome.message == "items[0]: kind must be a string"


# ------------------------------------------------------------------ kubeconfig

@pytest.mark.parametrize("body", ["current-context: {a: b}\n", "contexts:\n- name: {a: b}\n  context: {}\n",
                                  "contexts: x\n", "contexts:\n- name: c\n  context: [1]\n"])
def test_kubeconfig_type_confusion(body: str, tmp_path: Path) -> None:
    from secrets_kit.k8s.kubeconfig import Overrides, default_namespace, load_merged

    (tmp_path / "config").write_text("apiVersion: v1\nkind: Config\n" + body)
    overrides = Overrides(kubeconfig=str(tmp_path / "config"))
    with contextlib.suppress(SecretsKitError):  # a ConfigError, or the merged entries: never a TypeError
        load_merged(overrides)
    assert default_namespace(overrides) == ("", False)


# ------------------------------------------------------------------ PEM

def test_many_begin_lines_without_end() -> None:
    for marker in (b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN RSA PRIVATE KEY-----\n"):
        data = marker * 20_000
        with time_bound(5):
            assert isinstance(_raises(lambda d=data: load_cert(d, "many.pem")), SecretsKitError)  # type: ignore[misc]
            assert isinstance(_raises(lambda d=data: read_key_data(d, "many.pem")), SecretsKitError)  # type: ignore[misc]


def test_thousands_of_certificates_in_an_eso_template() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = pem_encode("CERTIFICATE", cert.public_bytes(Encoding.DER))
    data = {"chain": (pem * 1500).encode()}
    with time_bound():
        err = _raises(lambda: eso_execute("k", '{{ .chain | filterCertChain "leaf" }}', data), TemplateError)
    assert "certificates limit" in str(err) and "SECRETS_KIT_LIMIT_CERTIFICATES" in str(err)
    assert not isinstance(err, FunctionError) or "1,500" in str(err)


# ------------------------------------------------------------------ templates

@pytest.mark.parametrize(("source", "limit"), [
    ('{{ printf "%999999999d" 1 }}', "template_width"),
    ('{{ printf "%.999999999f" 1.0 }}', "template_width"),
    ('{{ "x" | indent 999999999 }}', "template_width"),
    ('{{ nindent 999999999 "x" }}', "template_width"),
    ('{{ repeat 999999999 "x" }}', "template_output"),
    ('{{ "ab" | repeat 99999 | repeat 99999 }}', "template_output"),
    ('{{ replace "" (repeat 100000 "y") (repeat 1000 "z") }}', "template_output"),
    ("{{ range 999999999 }}x{{ end }}", "template_loop"),
    ("{{ range 5000 }}{{ range 5000 }}{{ end }}{{ end }}", "template_loop"),
    ('{{ range 100000 }}{{ repeat 1000 "x" }}{{ end }}', "template_output"),
])
def test_template_limits(source: str, limit: str) -> None:
    err = _raises(lambda: sealed_render("k", source, {"a": MARK}))
    assert isinstance(err, InputError) and err.where == "spec.template.data.k"
    assert f"{limit} limit" in str(err) and f"SECRETS_KIT_LIMIT_{limit.upper()}=N" in str(err)


def test_template_errors_name_no_value() -> None:
    for source in ("{{ range $i, $v := (.n | atoi) }}{{ end }}", "{{ index .a (.n | atoi) }}"):
        err = _raises(lambda s=source: sealed_render("k", s, {"a": "x", "n": "31337"}))  # type: ignore[misc]
        assert "31337" not in str(err)


# ------------------------------------------------------------------ two readers: the fast path steps aside

@pytest.mark.parametrize("text", [
    "\x00piVersion: v1\nkind: Secret\n",  # a control character: ruamel refuses the stream
    "apiVersion: v1\nkind: Secret\t\n",  # a tab after a value: ruamel refuses it
    "a: x\ty\n",
    "...\n",  # a document end marker that ends no document: ruamel refuses it
    "# c\n...\n",
    "a: b\n...\n...\n",
    "a:\n  k: |\n \r\n   line\n",  # spaces on a line before the block's first text: ruamel refuses
    "a:\n  k: |\n \n   line\n",
])
def test_fast_path_steps_aside(text: str) -> None:
    assert load_simple(text) is None
    check_same_reading(text)


@pytest.mark.parametrize("text", ["a: 1\n...\nb: 2\n", "---\n...\n", "a: b\n...\n# x\n---\nc: d\n",
                                  "---\na: 1\n...\n---\n...\n"])
def test_document_markers_read_as_ruamel_reads_them(text: str) -> None:
    assert load_simple(text) is not None
    check_same_reading(text)


def test_cli_names_the_limit_and_its_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from secrets_kit_cli.main import main

    from secrets_kit.sealed.keys import cert_pem, generate_key_pair

    _, cert = generate_key_pair(bits=2048)
    (tmp_path / "cert.pem").write_bytes(cert_pem(cert))
    deep = tmp_path / "deep.json"
    deep.write_text('{"apiVersion": "v1", "kind": "Secret", "x": ' + "[" * 500 + "]" * 500 + "}")
    with pytest.raises(SystemExit) as info:
        main(["seal", "--cert", str(tmp_path / "cert.pem"), str(deep)])
    assert info.value.code == EXIT_INPUT
    err = capsys.readouterr().err
    assert "deep.json" in err and "depth limit" in err and "SECRETS_KIT_LIMIT_DEPTH=N" in err


@pytest.mark.parametrize("text", ["!!int \n", "a: !!int\n", "- !!float ''\n"])
def test_an_empty_explicitly_typed_number_is_a_typed_error(text: str) -> None:
    # found by `make fuzz` (2026-12-03): ruamel's int constructor indexes the empty value's first character
    with pytest.raises(InputError) as caught:
        load_documents(text.encode(), source="fuzz.yaml")
    assert "fuzz.yaml" in str(caught.value)


def test_deep_flow_nesting_in_the_sops_yaml_store_is_a_limit() -> None:
    # found by `make fuzz` (2026-12-03): 1,000 levels of `{"a":` overflowed the store's recursive emitter
    from secrets_kit.sops.stores import store_for

    text = '{"a":' * 1000 + "1" + "}" * 1000 + "\n"
    with pytest.raises(limits.LimitExceeded):
        store_for("yaml").load(text.encode())
