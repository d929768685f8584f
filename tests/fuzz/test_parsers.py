"""Every parser of untrusted input, fed structured hostile input: success or a SecretsKitError, in time.

Parsers: manifests (JSON, the fast YAML path, ruamel), sops format detection, the sops stores
(plain load and emit, per format), sops decryption of mutated real ciphertexts (metadata and the
flat forms included), the KRM function's ResourceList, PEM private keys and certificates, and
unsealing mutated SealedSecrets (their templates included).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secrets_kit.errors import SecretsKitError
from secrets_kit.k8s.manifests import dump_yaml, load_documents
from secrets_kit.render import krm
from secrets_kit.sealed.certs import load_cert
from secrets_kit.sealed.crypto import Keyring, PrivateKey, fingerprint
from secrets_kit.sealed.keyfiles import read_key_data
from secrets_kit.sealed.keys import cert_pem, generate_key_pair, private_key_pem
from secrets_kit.sealed.model import seal_secret, unseal
from secrets_kit.sops import ops
from secrets_kit.sops.detect import detect_format
from secrets_kit.sops.keysources import age as age_source
from secrets_kit.sops.keysources.age import AgeKey
from secrets_kit.sops.stores import FORMATS, store_for

from ..sops import samples
from .harness import MARK, fuzz_settings, scratch, typed
from .strategies import PLAIN_TOKENS, hostile_texts, mutated, yaml_texts

MANIFEST = dump_yaml({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                      "stringData": {"password": MARK, "list": "a"}}).encode()
inputs = st.one_of(yaml_texts(), hostile_texts(), mutated(MANIFEST))


def _bytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")


@fuzz_settings(ci=100, explore=1600)
@given(data=inputs)
def test_manifests(data: str | bytes) -> None:
    typed("manifests", lambda: load_documents(_bytes(data), source="fuzz.yaml"))


@fuzz_settings(ci=60, explore=1200)
@given(data=st.one_of(hostile_texts(), mutated(samples.YAML.encode()), mutated(samples.INI.encode())))
def test_sops_detect(data: str | bytes) -> None:
    typed("sops detect", lambda: detect_format(_bytes(data)))


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz_settings(ci=40, explore=600)
@given(data=st.data())
def test_sops_store_plain(fmt: str, data: st.DataObject) -> None:
    seed = {"yaml": samples.YAML, "json": samples.JSON, "dotenv": samples.DOTENV, "ini": samples.INI}.get(fmt, "x")
    text = data.draw(st.one_of(hostile_texts(), yaml_texts(), mutated(seed.encode())))
    store = store_for(fmt)

    def round_trip() -> bytes:
        return store.emit_plain(store.load_plain(_bytes(text)))

    typed(f"sops store {fmt}", round_trip)


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """One sample per format, encrypted for an age identity that SOPS_AGE_KEY holds for this module."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    old = os.environ.get("SOPS_AGE_KEY")
    os.environ["SOPS_AGE_KEY"] = str(identity)
    age_source.clear_cache()
    opts = ops.EncryptOptions(key_groups=[[AgeKey(str(identity.to_public()))]])
    plain = {"yaml": samples.YAML, "json": samples.JSON, "dotenv": samples.DOTENV, "ini": samples.INI}
    out = {fmt: ops.encrypt_bytes(text.encode(), store_for(fmt), None, opts) for fmt, text in plain.items()}
    out["binary"] = ops.encrypt_bytes(samples.BINARY, store_for("binary"), None, opts)
    yield out
    if old is None:
        os.environ.pop("SOPS_AGE_KEY", None)
    else:
        os.environ["SOPS_AGE_KEY"] = old
    age_source.clear_cache()


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz_settings(ci=40, explore=600)
@given(data=st.data())
def test_sops_decrypt_mutated(fmt: str, data: st.DataObject, encrypted: dict[str, bytes]) -> None:
    text = data.draw(mutated(encrypted[fmt], PLAIN_TOKENS))
    typed(f"sops decrypt {fmt}", lambda: ops.decrypt_bytes(text, store_for(fmt)))


def _resource_list(items: object) -> bytes:
    return dump_yaml({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items,
                      "functionConfig": {"apiVersion": "secrets-kit.io/v1alpha1", "kind": "Render"}}).encode()


@fuzz_settings(ci=60, explore=600)
@given(data=st.one_of(mutated(_resource_list([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                                "data": {"k": MARK}}])), yaml_texts(), hostile_texts()))
def test_krm_input(data: str | bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    cwd = scratch(tmp_path_factory, "krm")
    outcome = typed("krm", lambda: krm.process(_bytes(data), {}, cwd))
    if not isinstance(outcome, SecretsKitError):
        assert MARK not in (outcome.message or "")


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes, PrivateKey]:
    key, cert = generate_key_pair(bits=2048)
    return private_key_pem(key), cert_pem(cert), PrivateKey(key, fingerprint(key.public_key()), "fuzz")


@fuzz_settings(ci=60, explore=600)
@given(data=st.data())
def test_pem_keys_and_certs(data: st.DataObject, key_pair: tuple[bytes, bytes, PrivateKey]) -> None:
    key_pem, crt_pem, _ = key_pair
    secret = dump_yaml({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"},
                        "data": {"tls.key": base64.b64encode(key_pem).decode(),
                                 "tls.crt": base64.b64encode(crt_pem).decode()}}).encode()
    seed = data.draw(st.sampled_from([key_pem, crt_pem, crt_pem * 3, secret]))
    text = data.draw(st.one_of(mutated(seed), hostile_texts().map(_bytes)))
    typed("pem keys", lambda: read_key_data(text, "fuzz.pem"))
    typed("pem certs", lambda: load_cert(text, "fuzz.pem"))


@fuzz_settings(ci=60, explore=600)
@given(data=st.data())
def test_unseal_mutated(data: st.DataObject, key_pair: tuple[bytes, bytes, PrivateKey]) -> None:
    _, _, private = key_pair
    template = data.draw(st.sampled_from(["{{ .password }}", "{{ range $i, $v := (.n | atoi) }}{{ end }}",
                                          "{{ index .password 99 }}", "{{ printf \"%s\" .password | upper }}"]))
    source = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
              "stringData": {"password": MARK, "n": "12"}}
    sealed = seal_secret(source, private.key.public_key())
    sealed["spec"]["template"]["data"] = {"rendered": template}
    text = data.draw(mutated(dump_yaml(sealed).encode()))

    def run() -> object:
        return [unseal(doc, Keyring([private]), where="fuzz.yaml") for doc in load_documents(text, source="fuzz.yaml")]

    typed("unseal", run)


SOPS_CONFIG = ("creation_rules:\n  - path_regex: \\.yaml$\n    age: age1qqqq\n    encrypted_regex: ^(data|stringData)$\n"
               "  - age: [age1x, age1y]\n    key_groups:\n      - age: [age1z]\n        pgp: [ABC]\n"
               "stores:\n  yaml:\n    indent: 4\n")


@fuzz_settings(ci=60, explore=1200)
@given(data=st.one_of(mutated(SOPS_CONFIG.encode()), hostile_texts().map(_bytes), yaml_texts().map(_bytes)))
def test_sops_config(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    from secrets_kit.sops.config import load_config_file, match_creation_rule, stores_config

    path = scratch(tmp_path_factory, "sops-config") / ".sops.yaml"
    path.write_bytes(data)

    def run() -> object:
        config = load_config_file(path)
        stores_config(config)
        return match_creation_rule(config, path, str(path.parent / "app" / "secret.yaml"))

    typed("sops config", run)


KUBECONFIG = ("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
              "    server: https://127.0.0.1:6443\n    certificate-authority-data: aGk=\ncontexts:\n- name: c\n"
              "  context: {cluster: k, user: u, namespace: n}\nusers:\n- name: u\n  user: {token: " + MARK + "}\n")


@fuzz_settings(ci=60, explore=1200)
@given(data=st.one_of(mutated(KUBECONFIG.encode()), hostile_texts().map(_bytes)))
def test_kubeconfig(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    from secrets_kit.k8s.kubeconfig import Overrides, default_namespace, load_merged

    path = scratch(tmp_path_factory, "kubeconfig") / "kubeconfig"
    path.write_bytes(data)
    overrides = Overrides(kubeconfig=str(path))
    typed("kubeconfig", lambda: (load_merged(overrides), default_namespace(overrides)))
