"""Batch runs: every walked file advances the progress once, whether it was processed or skipped."""

from __future__ import annotations

from pathlib import Path

from secrets_kit.files import write_all_atomic
from secrets_kit.sealed import batch
from secrets_kit.sealed.crypto import Keyring
from secrets_kit.sealed.keys import KeyPair
from secrets_kit.sealed.model import SealOptions
from secrets_kit.sealed.targets import Target

from .helpers import secret, yaml_of


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
