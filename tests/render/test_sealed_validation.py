"""SealedSecret validation (sealed.validate, as the render hook runs it): well-formed, scope consistent,
sealed for the destination certificate; broken ones fail the render with exit code 8."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.sealed.validate import InvalidSealedSecret
from secrets_kit.sealed.validate import check as validate_one

from .conftest import Sealing, run_cli
from .helpers import write


def _sealed(cert: Path, *, name: str = "s", namespace: str = "n", scope: str | None = None,
            items: int = 1) -> dict[str, Any]:
    from secrets_kit.sealed.certs import load_cert
    from secrets_kit.sealed.model import SealOptions, seal_secret
    from secrets_kit.sealed.scopes import Scope

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
              "stringData": {f"k{i}": f"value-{i}" for i in range(items)}}
    options = SealOptions(scope=Scope.parse(scope) if scope else None)
    return seal_secret(secret, load_cert(cert.read_bytes(), str(cert)).public_key, options)


def _modulus(cert: Path) -> int:
    from secrets_kit.sealed.certs import load_cert

    return load_cert(cert.read_bytes(), str(cert)).public_key.public_numbers().n


def test_valid_sealed_secret_passes(sealing: Sealing) -> None:
    for scope in (None, "namespace-wide", "cluster-wide"):
        validate_one(_sealed(sealing.cert, scope=scope), "s", modulus=_modulus(sealing.cert))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["metadata"].update(name="renamed"), "renamed or moved"),
    (lambda d: d["metadata"].update(namespace="moved"), "renamed or moved"),
    (lambda d: d["metadata"].pop("namespace"), "has no namespace"),
    (lambda d: d["metadata"].pop("name"), "has no name"),
    (lambda d: d["metadata"].setdefault("annotations", {}).update(
        {"sealedsecrets.bitnami.com/cluster-wide": "true", "sealedsecrets.bitnami.com/namespace-wide": "true"}),
     "both cluster-wide and namespace-wide"),
    (lambda d: d["spec"]["template"]["metadata"].setdefault("annotations", {}).update(
        {"sealedsecrets.bitnami.com/cluster-wide": "true"}), "scope annotations differ"),
    (lambda d: d.update(apiVersion="bitnami.com/v2"), "unsupported SealedSecret apiVersion"),
    (lambda d: d["spec"].update(encryptedData={}), "no encryptedData"),
    (lambda d: d["spec"].update(encryptedData={"k0": "not base64!"}), "not valid base64"),
    (lambda d: d["spec"].update(encryptedData={"k0": "AA=="}), "too short"),
    (lambda d: d["spec"]["encryptedData"].update(k0=d["spec"]["encryptedData"]["k0"][:40]), "truncated"),
    (lambda d: d["spec"].update(data="AAAA"), "both encryptedData and the deprecated data"),
    (lambda d: d.update(spec="x"), "spec is not a mapping"),
])
def test_bad_sealed_secrets(sealing: Sealing, change: Any, message: str) -> None:
    doc = _sealed(sealing.cert)
    change(doc)
    with pytest.raises(InvalidSealedSecret, match=message):
        validate_one(doc, "SealedSecret n/s")


def test_moved_cluster_wide_is_fine(sealing: Sealing) -> None:
    doc = _sealed(sealing.cert, scope="cluster-wide")
    doc["metadata"]["namespace"] = "elsewhere"
    doc["metadata"]["name"] = "renamed"
    validate_one(doc, "x")


def test_sealed_for_another_key_size_is_caught(sealing: Sealing, tmp_path: Path) -> None:
    from secrets_kit.sealed.keys import KeyFolder

    bigger = KeyFolder(tmp_path).create(name="big", bits=3072)
    with pytest.raises(InvalidSealedSecret, match="not sealed for the destination certificate"):
        validate_one(_sealed(bigger.cert_path), "x", modulus=_modulus(sealing.cert))


def test_rsa_block_not_below_the_modulus_is_caught(sealing: Sealing) -> None:
    """The range check itself: a block >= the destination modulus cannot be an RSA ciphertext for it.

    Items sealed for another key of the same size fall in this range only when that key's modulus
    is larger, so for same-size keys the check is weak (see sealed/validate.py); here the block is forged.
    """
    import base64
    import struct

    doc = _sealed(sealing.cert)
    raw = base64.b64decode(doc["spec"]["encryptedData"]["k0"])
    (size,) = struct.unpack_from(">H", raw)
    forged = raw[:2] + b"\xff" * size + raw[2 + size:]
    doc["spec"]["encryptedData"]["k0"] = base64.b64encode(forged).decode()
    with pytest.raises(InvalidSealedSecret, match="not sealed for the destination certificate"):
        validate_one(doc, "x", modulus=_modulus(sealing.cert))
    validate_one(_sealed(sealing.cert, items=8), "x", modulus=_modulus(sealing.cert))  # genuine items pass


def test_sealed_for_annotation_is_compared(sealing: Sealing) -> None:
    doc = _sealed(sealing.cert)
    doc["metadata"]["annotations"] = {"secrets-kit.io/sealed-for": "SHA256:someone-else"}
    with pytest.raises(InvalidSealedSecret, match="not for the destination certificate"):
        validate_one(doc, "x", fingerprint="SHA256:mine")


def _app_with(tmp_path: Path, doc: dict[str, Any]) -> Path:
    write(tmp_path / "app" / "sealed.json", json.dumps(doc))
    return tmp_path / "app"


def test_render_with_verify_keys_proves_the_key(tmp_path: Path, sealing: Sealing, other_sealing: Sealing,
                                                render_env: dict[str, str]) -> None:
    doc = _sealed(sealing.cert)
    app = _app_with(tmp_path, doc)
    ok = run_cli(["render", str(app), "--verify-keys", str(sealing.key)], env=render_env)
    assert ok.returncode == 0, ok.stderr.decode()
    wrong = run_cli(["render", str(app), "--verify-keys", str(other_sealing.key)], env=render_env)
    assert wrong.returncode == 4 and wrong.stdout == b""
    assert b"no key could decrypt" in wrong.stderr


def test_render_refuses_a_sealed_secret_for_another_cluster(tmp_path: Path, sealing: Sealing,
                                                            render_env: dict[str, str]) -> None:
    from secrets_kit.sealed.keys import KeyFolder

    other = KeyFolder(tmp_path / "other").create(name="other", bits=3072)
    app = _app_with(tmp_path, _sealed(other.cert_path))
    out = run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env)
    assert out.returncode == 8 and out.stdout == b""
    assert b"not sealed for the destination certificate" in out.stderr


def test_render_passes_a_committed_sealed_secret_unchanged(tmp_path: Path, sealing: Sealing,
                                                           render_env: dict[str, str]) -> None:
    doc = _sealed(sealing.cert, items=3)
    app = _app_with(tmp_path, copy.deepcopy(doc))
    out = run_cli(["render", str(app), "--seal-to", str(sealing.cert)], env=render_env)
    assert out.returncode == 0, out.stderr.decode()
    from .helpers import docs

    assert docs(out.stdout) == [doc]


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_sealed_secret_from_the_real_kubeseal_passes(tmp_path: Path, sealing: Sealing, other_sealing: Sealing,
                                                      kubeseal_bin: Path, render_env: dict[str, str],
                                                      scope: str) -> None:
    """Compatibility: what Bitnami's kubeseal seals offline is accepted as it is, and proven by the key."""
    import subprocess

    from .helpers import docs

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
              "stringData": {"k": "kubeseal-sealed-value"}}
    sealed = subprocess.run([str(kubeseal_bin), "--cert", str(sealing.cert), "--scope", scope, "-o", "json"],
                            input=json.dumps(secret).encode(), capture_output=True, check=True).stdout
    app = _app_with(tmp_path, json.loads(sealed))
    ok = run_cli(["render", str(app), "--seal-to", str(sealing.cert), "--verify-keys", str(sealing.key)],
                 env=render_env)
    assert ok.returncode == 0, ok.stderr.decode()
    assert docs(ok.stdout) == [json.loads(sealed)]
    wrong = run_cli(["render", str(app), "--verify-keys", str(other_sealing.key)], env=render_env)
    assert wrong.returncode == 4 and wrong.stdout == b""
