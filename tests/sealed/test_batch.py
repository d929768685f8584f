"""Batch runs: progress per walked file, explicit outputs, one decryption per document when re-encrypting."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from secrets_kit.files import write_all_atomic
from secrets_kit.sealed import batch
from secrets_kit.sealed.crypto import Keyring, hybrid_encrypt
from secrets_kit.sealed.keys import KeyPair
from secrets_kit.sealed.model import SealOptions, label_of, seal_secret, unseal
from secrets_kit.sealed.targets import Target

from .helpers import docs_of, secret, yaml_of


def _no_stdin() -> bytes:
    raise AssertionError("stdin must not be read")


def test_progress_counts_processed_and_skipped_files(tmp_path: Path, pair: KeyPair) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.yaml").write_text(yaml_of(secret("a", string_data={"k": "v"})))
    (tree / "b.yaml").write_text(yaml_of(secret("b", string_data={"k": "v"})))
    (tree / "cm.yaml").write_text(yaml_of({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
    targets = [Target("main", pair.cert)]

    ticks: list[int] = []
    sealed = batch.seal_sources(batch.collect([str(tree)]), targets, SealOptions(), out_dir=tmp_path / "out",
                                stdin=_no_stdin, progress=ticks.append)
    assert (len(ticks), sealed.files, len(sealed.skipped)) == (3, 2, 1)
    write_all_atomic([(o.path, o.text, o.mode) for o in sealed.outputs if o.path is not None])
    (tmp_path / "out" / "cm.yaml").write_text((tree / "cm.yaml").read_text())

    keyring = Keyring([pair.private_key()])
    ticks.clear()
    opened = batch.unseal_sources(batch.collect([str(tmp_path / "out")]), keyring, stdin=_no_stdin,
                                  check_only=True, progress=ticks.append)
    assert (len(ticks), opened.files, len(opened.skipped)) == (3, 2, 1)

    ticks.clear()
    again = batch.reencrypt_sources(batch.collect([str(tmp_path / "out")]), keyring, targets,
                                    out_dir=tmp_path / "re", stdin=_no_stdin, progress=ticks.append)
    assert (len(ticks), again.files, len(again.skipped)) == (3, 2, 1)


def _v1_sealed(pair: KeyPair, name: str, items: dict[str, str]) -> dict:
    """A deprecated v1 SealedSecret: the whole Secret as one encrypted JSON blob in `spec.data`."""
    sealed = seal_secret(secret(name, string_data=items), pair.cert.public_key)
    inner = secret(name, data={k: base64.b64encode(v.encode()).decode() for k, v in items.items()})
    blob = hybrid_encrypt(pair.cert.public_key, json.dumps(inner).encode(), label_of(sealed, "test"))
    sealed["spec"] = {"template": sealed["spec"]["template"], "data": base64.b64encode(blob).decode()}
    return sealed


def test_reencrypt_opens_each_document_once_for_all_targets(tmp_path: Path, pair: KeyPair, other_pair: KeyPair,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "sealed.yaml"
    src.write_text(yaml_of(seal_secret(secret("a", string_data={"x": "1", "y": "2"}), other_pair.cert.public_key),
                           _v1_sealed(other_pair, "b", {"z": "3"}),
                           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
    keyring = Keyring([other_pair.private_key()])
    targets = [Target("one", pair.cert), Target("two", other_pair.cert)]
    calls: list[bytes] = []
    real = Keyring.decrypt

    def counting(self: Keyring, ciphertext: bytes, label: bytes):  # type: ignore[no-untyped-def]
        calls.append(label)
        return real(self, ciphertext, label)

    monkeypatch.setattr(Keyring, "decrypt", counting)
    report = batch.reencrypt_sources(batch.collect([str(src)]), keyring, targets, out_dir=tmp_path / "out",
                                     stdin=_no_stdin)
    assert len(calls) == 3  # x and y of `a`, the v1 blob of `b`: once each, not once per target
    assert [(d["target"], d["name"], d["reencrypted"], d["current"]) for d in report.details] == [
        ("one", "a", ["x", "y"], []), ("one", "b", ["z"], []),
        ("two", "a", [], ["x", "y"]), ("two", "b", ["z"], []),
    ]
    monkeypatch.undo()
    original = docs_of(src.read_text())
    for target, pair_of in (("one", pair), ("two", other_pair)):
        out = next(o for o in report.outputs if o.target == target)
        docs = docs_of(out.text)
        assert docs[2] == original[2]  # not a SealedSecret: passed through
        ring = Keyring([pair_of.private_key()])
        assert unseal(docs[0], ring).secret["data"] == {"x": "MQ==", "y": "Mg=="}
        assert unseal(docs[1], ring).secret["data"] == {"z": "Mw=="}
        assert "data" not in docs[1]["spec"] and set(docs[1]["spec"]["encryptedData"]) == {"z"}
    # The target that already opens every item keeps the ciphertexts as they were.
    two = docs_of(next(o for o in report.outputs if o.target == "two").text)
    assert two[0]["spec"]["encryptedData"] == original[0]["spec"]["encryptedData"]


def test_explicit_output_needs_one_source_and_target(tmp_path: Path, pair: KeyPair) -> None:
    targets = [Target("a", pair.cert), Target("b", pair.cert)]
    with pytest.raises(ValueError, match="single"):
        batch.seal_sources([], targets, SealOptions(), output=tmp_path / "o.yaml", stdin=_no_stdin)
