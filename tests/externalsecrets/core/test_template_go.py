"""Our ESO template engine against ESO v0.16.2's own pkg/template/v2 (Execute), built with Go.

The peer is a short Go program that imports ESO v0.16.2's template package from the Go module proxy
(with ESO's replace of Sprig by its fork), built once into the peer cache. Each line of stdin is one
call of `Execute(tpl, data, scope, Data, secret)`; data travels base64-encoded so binary survives.
pkcs12 output has random salts, so it is compared after decoding (on either side), never as bytes.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.externalsecrets import template as eso_template
from secrets_kit.gotemplate import TemplateError
from tests.peers.cache import bin_dir

GO_MAIN = """package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	esapi "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	v2 "github.com/external-secrets/external-secrets/pkg/template/v2"
	corev1 "k8s.io/api/core/v1"
)

// One request per stdin line: {"tpl": {key: template}, "data": {key: base64}, "scope": "Values"}.
func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	for in.Scan() {
		var req struct {
			Tpl   map[string]string `json:"tpl"`
			Data  map[string]string `json:"data"`
			Scope string            `json:"scope"`
		}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			panic(err)
		}
		tpl := map[string][]byte{}
		for k, v := range req.Tpl {
			tpl[k] = []byte(v)
		}
		data := map[string][]byte{}
		for k, v := range req.Data {
			raw, _ := base64.StdEncoding.DecodeString(v)
			data[k] = raw
		}
		sec := &corev1.Secret{}
		err := v2.Execute(tpl, data, esapi.TemplateScope(req.Scope), esapi.TemplateTargetData, sec)
		out := map[string]string{}
		for k, v := range sec.Data {
			out[k] = base64.StdEncoding.EncodeToString(v)
		}
		res := map[string]any{"data": out, "err": ""}
		if err != nil {
			res["err"] = err.Error()
		}
		line, _ := json.Marshal(res)
		fmt.Println(string(line))
	}
}
"""
GO_MOD = """module esotemplate

go 1.24.2

require github.com/external-secrets/external-secrets v0.16.2

replace github.com/Masterminds/sprig/v3 => github.com/external-secrets/sprig/v3 v3.3.0
"""


@pytest.fixture(scope="session")
def eso_template_bin() -> Path:
    stamp = hashlib.sha256((GO_MAIN + GO_MOD).encode()).hexdigest()[:12]
    target = bin_dir() / f"eso-template-v0.16.2-{stamp}"
    if target.exists():
        return target
    if shutil.which("go") is None:
        pytest.skip("go not found: install Go to build ESO v0.16.2's template package as the oracle")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "main.go").write_text(GO_MAIN)
        Path(tmp, "go.mod").write_text(GO_MOD)
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
        done = subprocess.run(["go", "build", "-o", str(target), "."], cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=1800, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot build ESO's template package with go build: {done.stderr[-300:]}")
    return target


def go_execute(binary: Path, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines = "".join(json.dumps({**r, "data": {k: base64.b64encode(v).decode() for k, v in r["data"].items()}})
                    + "\n" for r in requests)
    done = subprocess.run([str(binary)], input=lines, capture_output=True, text=True, timeout=120, check=True)
    out = []
    for line in done.stdout.splitlines():
        res = json.loads(line)
        res["data"] = {k: base64.b64decode(v) for k, v in res["data"].items()}
        out.append(res)
    return out


def py_execute(request: dict[str, Any]) -> dict[str, Any]:
    target = eso_template._Target({}, {}, {})
    try:
        if request["scope"] == "Values":
            eso_template._values(request["tpl"], request["data"], "Data", target, ("{{", "}}"))
        else:
            for source in request["tpl"].values():
                eso_template._keys_and_values("kv", source, request["data"], "Data", target, ("{{", "}}"))
    except TemplateError as ex:
        return {"data": target.data, "err": str(ex)}
    return {"data": target.data, "err": ""}


# --- key material, made once per session with cryptography ------------------------------------------

def _chain() -> dict[str, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def cert(name: str, key: Any, issuer: x509.Certificate | None, issuer_key: Any, ca: bool) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer.subject if issuer else subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    root_key = ec.generate_private_key(ec.SECP256R1())
    mid_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = cert("root", root_key, None, root_key, True)
    mid = cert("intermediate", mid_key, root, root_key, True)
    leaf = cert("leaf", leaf_key, mid, mid_key, False)

    def pem(c: x509.Certificate) -> bytes:
        return c.public_bytes(serialization.Encoding.PEM)

    pkcs1 = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption())
    ec_key = mid_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption())
    from cryptography.hazmat.primitives.serialization import pkcs12
    p12 = pkcs12.serialize_key_and_certificates(b"x", leaf_key, leaf, [mid, root],
                                                serialization.BestAvailableEncryption(b"pw"))
    p12_nopass = pkcs12.serialize_key_and_certificates(b"x", leaf_key, leaf, [root, mid],
                                                       serialization.NoEncryption())
    return {"leaf": pem(leaf), "mid": pem(mid), "root": pem(root), "key": pkcs1, "eckey": ec_key,
            "bundle": pem(root) + pem(leaf) + pem(mid), "leafmid": pem(mid) + pem(leaf),
            "mixed": b"junk\n" + pkcs1 + pem(leaf) + b"trailing\n", "p12": p12, "p12nopass": p12_nopass,
            "p12b64": base64.b64encode(p12)}


def _jwks() -> dict[str, bytes]:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    def b64(n: int | bytes, size: int = 0) -> str:
        raw = n if isinstance(n, bytes) else n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = rk.private_numbers()
    rsa_pub = {"kty": "RSA", "n": b64(n.public_numbers.n), "e": b64(n.public_numbers.e)}
    rsa_priv = {**rsa_pub, "d": b64(n.d), "p": b64(n.p), "q": b64(n.q), "dp": b64(n.dmp1), "dq": b64(n.dmq1),
                "qi": b64(n.iqmp)}
    ek = ec.generate_private_key(ec.SECP256R1())
    en = ek.private_numbers()
    ec_pub = {"kty": "EC", "crv": "P-256", "x": b64(en.public_numbers.x, 32), "y": b64(en.public_numbers.y, 32)}
    ec_priv = {**ec_pub, "d": b64(en.private_value, 32)}
    ed = ed25519.Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization as s
    ed_pub = {"kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))}
    ed_priv = {**ed_pub, "d": b64(ed.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()))}
    return {name: json.dumps(value).encode() for name, value in
            {"jrsapub": rsa_pub, "jrsa": rsa_priv, "jecpub": ec_pub, "jec": ec_priv,
             "jedpub": ed_pub, "jed": ed_priv}.items()}


@pytest.fixture(scope="module")
def material() -> dict[str, bytes]:
    return {"a": b"1", "b": b"two", "user": b"admin", "pass": b"p@ss&<x>", "with-dash": b"dashed",
            "json": b'{"k":"v","n":[1,2.5,true],"m":{"z":1,"a":"b"},"s":"l1\\nl2"}',
            "yaml": b"k: v\nlist:\n- 1\n- two\nnested:\n  x: y\n", "bin": bytes(range(256)),
            "bad64": b"abc$", "multi": b"line1\nline2", **_chain(), **_jwks()}


VALUES = [
    "{{ .a }}-{{ .b }}", '{{ index . "with-dash" }}', '{{ index . "absent" }}|', "{{ .absent }}",
    "{{ .a.b }}", "{{ $j := .json | fromJson }}{{ $j.k }}", "{{ $j := .json | fromJson }}{{ $j.nope }}",
    "{{ .json | fromJson | toJson }}", "{{ .json | fromJson | toPrettyJson }}", "{{ toJson . | len }}",
    "{{ .pass | toJson }}", "{{ .bin | b64enc }}", "{{ .bin | b64enc | b64dec | b64enc }}", "{{ .bad64 | b64dec }}",
    "{{ .b | b64enc | b64dec }}", "{{ .bin | sha256sum }}", "{{ .json | fromJson | toYaml }}",
    "{{ .yaml | fromYaml | toJson }}", "{{ $y := .yaml | fromYaml }}{{ $y.k }}", "{{ .multi | toYaml }}",
    '{{ dict "a" .a "list" (list 1 "x") | toYaml }}', "{{ .a | toYaml }}", '{{ list | toYaml }}',
    '{{ "not: [valid" | fromYaml | toJson }}', "{{ nope }}", "{{ .a", '{{ env "HOME" }}', '{{ expandenv "$HOME" }}',
    '{{ filterPEM "CERTIFICATE" .bundle }}', '{{ filterPEM "RSA PRIVATE KEY" .mixed }}',
    '{{ filterPEM "certificate" .mixed }}', '{{ filterPEM "CERTIFICATE" "junk" }}', '{{ filterPEM "X" .bundle }}|',
    '{{ filterCertChain "leaf" .bundle }}', '{{ filterCertChain "intermediate" .bundle }}',
    '{{ filterCertChain "root" .bundle }}', '{{ filterCertChain "root" .leafmid }}|',
    '{{ filterCertChain "leaf" .root }}|', '{{ filterCertChain "leaf" (print .leaf .root) }}',
    "{{ .p12 | pkcs12keyPass \"pw\" }}", "{{ .p12 | pkcs12certPass \"pw\" }}", "{{ .p12 | pkcs12key }}",
    "{{ .p12nopass | pkcs12key }}", "{{ .p12nopass | pkcs12cert }}", "{{ .p12b64 | b64dec | pkcs12certPass \"pw\" }}",
    "{{ pemToPkcs12 .leaf .key | b64dec | pkcs12key }}", "{{ pemToPkcs12 .leaf .key | b64dec | pkcs12cert }}",
    '{{ pemToPkcs12Pass .leaf .key "s3cret" | b64dec | pkcs12keyPass "s3cret" }}',
    '{{ fullPemToPkcs12 (print .leaf .mid .root) .key | b64dec | pkcs12cert }}',
    '{{ fullPemToPkcs12Pass (print .leaf .mid) .key "p" | b64dec | pkcs12certPass "p" }}',
    "{{ pemToPkcs12 .mid .eckey | b64dec | pkcs12key }}",
    "{{ .jrsapub | jwkPublicKeyPem }}", "{{ .jrsa | jwkPrivateKeyPem }}", "{{ .jecpub | jwkPublicKeyPem }}",
    "{{ .jec | jwkPrivateKeyPem }}", "{{ .jedpub | jwkPublicKeyPem }}", "{{ .jed | jwkPrivateKeyPem }}",
    "{{ .jrsa | jwkPublicKeyPem }}", "{{ .jrsapub | jwkPrivateKeyPem }}",
    '{{ printf "%s:%s" .user .pass | b64enc }}', "{{ .user | upper | quote }}", '{{ .a | default "d" }}',
    "{{ range $k, $v := . }}{{ if eq $k \"a\" \"b\" }}{{ $k }}={{ $v }};{{ end }}{{ end }}",
    "{{ hexdec \"41\" }}", "{{ sha512sum .a }}", '{{ certSANs .leaf }}',
]
KEYS_AND_VALUES = [
    "{{ range $k, $v := . }}{{ if eq $k \"a\" \"b\" }}{{ $k }}-copy: {{ $v | quote }}\n{{ end }}{{ end }}",
    'key-{{ .a }}: "{{ .b }}"', "x: 1", "x: null\ny: ''", "- a\n- b", "", "{{ .absent }}: x",
    "1: one\ntrue: yes-as-string", "k: [unclosed", "k: {{ .multi | toJson }}",
]


def _compare(ours: dict[str, Any], theirs: dict[str, Any], template: str) -> None:
    assert bool(ours["err"]) == bool(theirs["err"]), (template, ours["err"], theirs["err"])
    if theirs["err"]:
        if "map has no entry for key" in theirs["err"]:
            assert theirs["err"].split("map has no entry for key")[1] == ours["err"].split("map has no entry for key")[1]
        return
    assert ours["data"] == theirs["data"], template


def test_values_match_eso(eso_template_bin: Path, material: dict[str, bytes]) -> None:
    requests = [{"tpl": {"k": t}, "data": material, "scope": "Values"} for t in VALUES]
    for request, theirs in zip(requests, go_execute(eso_template_bin, requests), strict=True):
        _compare(py_execute(request), theirs, request["tpl"]["k"])


def test_keys_and_values_match_eso(eso_template_bin: Path, material: dict[str, bytes]) -> None:
    requests = [{"tpl": {t: t}, "data": material, "scope": "KeysAndValues"} for t in KEYS_AND_VALUES]
    for request, theirs in zip(requests, go_execute(eso_template_bin, requests), strict=True):
        _compare(py_execute(request), theirs, next(iter(request["tpl"])))


def test_our_pkcs12_reads_in_eso_and_theirs_in_ours(eso_template_bin: Path, material: dict[str, bytes]) -> None:
    """Each side's pemToPkcs12 output decodes on the other side to the same key and certificates."""
    make = {"p12": '{{ fullPemToPkcs12Pass (print .leaf .mid .root) .key "pw" }}'}
    go_made = go_execute(eso_template_bin, [{"tpl": make, "data": material, "scope": "Values"}])[0]["data"]["p12"]
    py_made = py_execute({"tpl": make, "data": material, "scope": "Values"})["data"]["p12"]
    read = {"key": '{{ .p12 | b64dec | pkcs12keyPass "pw" }}', "cert": '{{ .p12 | b64dec | pkcs12certPass "pw" }}'}
    for made in (go_made, py_made):
        data = {**material, "p12": made}
        theirs = go_execute(eso_template_bin, [{"tpl": read, "data": data, "scope": "Values"}])[0]
        ours = py_execute({"tpl": read, "data": data, "scope": "Values"})
        assert not theirs["err"] and ours["data"] == theirs["data"]
        assert theirs["data"]["cert"].count(b"BEGIN CERTIFICATE") == 3
