"""The front doors on hostile input: every run ends in a documented exit, never in "internal error".

Runs `secrets-kit` in this process with SECRETS_KIT_DEBUG=1, so an untyped exception escapes as itself
(the harness fails the input) instead of becoming exit 1; a SecretsKitError also escapes in debug
mode and counts as typed. Commands: seal, unseal, kubeseal (seal and --recovery-unseal), sops -d,
render --krm.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from secrets_kit_cli.main import main

from secrets_kit.k8s.manifests import dump_yaml
from secrets_kit.sealed.keys import cert_pem, generate_key_pair, private_key_pem
from secrets_kit.sealed.model import seal_secret

from .harness import MARK, fuzz_settings, scratch, typed
from .strategies import confused_manifest, hostile_texts, mutated, yaml_texts

SECRET = dump_yaml({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                    "stringData": {"password": MARK}}).encode()


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("cli-keys")
    key, cert = generate_key_pair(bits=2048)
    (folder / "k.key").write_bytes(private_key_pem(key))
    (folder / "k.crt").write_bytes(cert_pem(cert))
    sealed = seal_secret({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                          "stringData": {"password": MARK, "n": "3"}}, key.public_key())
    sealed["spec"]["template"]["data"] = {"t": "{{ range (.n | atoi) }}{{ $.password }}{{ end }}"}
    return {"key": folder / "k.key", "cert": folder / "k.crt", "sealed": dump_yaml(sealed).encode(), "dir": folder}


def _run(args: list[str], stdin: bytes) -> Callable[[], int]:
    def run() -> int:
        runner = CliRunner()
        env = {"KUBECONFIG": "/dev/null", "SECRETS_KIT_DEBUG": "1", "SOPS_AGE_KEY": None, "SOPS_AGE_KEY_FILE": None}
        with runner.isolation(input=stdin, env=env) as (_out, err, _):
            try:
                main(args)
            except SystemExit as ex:
                code = int(ex.code or 0) if not isinstance(ex.code, str) else 2
                assert b"internal error" not in err.getvalue(), err.getvalue()
                return code
            assert MARK.encode() not in err.getvalue()
        return 0
    return run


def _inputs(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(seed), hostile_texts().map(lambda t: t if isinstance(t, bytes) else
                                                          t.encode("utf-8", "surrogatepass")),
                     yaml_texts().map(str.encode), confused_manifest().map(lambda d: dump_yaml(d).encode()))


@fuzz_settings(ci=25, explore=800)
@given(data=st.data())
def test_seal_and_kubeseal(data: st.DataObject, material: dict[str, object]) -> None:
    stdin = data.draw(_inputs(SECRET))
    door = data.draw(st.sampled_from(["seal", "kubeseal"]))
    args = ["seal", "--cert", str(material["cert"]), "-"] if door == "seal" else \
        ["kubeseal", "--cert", str(material["cert"]), "-o", "yaml"]
    typed(f"cli {door}", _run(args, stdin))


@fuzz_settings(ci=25, explore=800)
@given(data=st.data())
def test_unseal_and_recovery_unseal(data: st.DataObject, material: dict[str, object]) -> None:
    stdin = data.draw(_inputs(material["sealed"]))  # type: ignore[arg-type]
    door = data.draw(st.sampled_from(["unseal", "recovery"]))
    args = ["unseal", "-k", str(material["key"]), "-"] if door == "unseal" else \
        ["kubeseal", "--recovery-unseal", "--recovery-private-key", str(material["key"])]
    typed(f"cli {door}", _run(args, stdin))


SOPS_YAML = (b"password: ENC[AES256_GCM,data:qqqq,iv:aaaaaaaaaaaaaaaaaaaaaa==,tag:bbbbbbbbbbbbbbbbbbbbbb==,type:str]\n"
             b"sops:\n    age:\n        - recipient: age1qqqq\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n"
             b"            YWdl\n            -----END AGE ENCRYPTED FILE-----\n"
             b"    lastmodified: \"2024-01-01T00:00:00Z\"\n    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n"
             b"    unencrypted_suffix: _unencrypted\n    version: 3.9.0\n")


@fuzz_settings(ci=25, explore=800)
@given(data=st.data())
def test_sops_decrypt(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    stdin = data.draw(_inputs(SOPS_YAML))
    fmt = data.draw(st.sampled_from(["yaml", "json", "dotenv", "ini", "binary"]))
    path = scratch(tmp_path_factory, "cli-sops") / f"in.{fmt}"
    path.write_bytes(stdin)
    typed("cli sops -d", _run(["sops", "-d", "--input-type", fmt, str(path)], b""))


@fuzz_settings(ci=20, explore=600)
@given(stdin=_inputs(b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " +
                     SECRET.replace(b"\n", b"\n  ")))
def test_render_krm(stdin: bytes) -> None:
    typed("cli render --krm", _run(["render", "--krm"], stdin))
