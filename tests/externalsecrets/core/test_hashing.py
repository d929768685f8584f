"""ESO's hashes: every expected value comes from the Go oracle (go_oracle/main.go → oracle.json)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from secrets_kit.externalsecrets import hashing

from .helpers import ORACLE


@pytest.mark.parametrize("case", ORACLE["data"], ids=lambda c: c["text"][:40])
def test_data_hash_matches_go(case: dict) -> None:
    data = {k: base64.b64decode(v or "") for k, v in (case["data"] or {}).items()}
    assert hashing.go_bytes_map(data) == case["text"]
    assert hashing.object_hash(data) == case["hash"]


def test_reference_example_text() -> None:
    # §10 of the reference: the string ESO hashes for {foo_bar: HELLO1, john: doe}
    assert hashing.go_bytes_map({"john": b"doe", "foo_bar": b"HELLO1"}) == \
        "map[foo_bar:[72 69 76 76 79 49] john:[100 111 101]]"
    assert hashing.object_hash(None) == hashing.object_hash({})


@pytest.mark.parametrize("case", ORACLE["strings"], ids=lambda c: c["str"] or "empty")
def test_string_hash_matches_go(case: dict) -> None:
    assert hashing.string_hash(case["str"]) == case["hash"]
    if "/" in case["str"]:
        ns, name = case["str"].split("/", 1)
        assert hashing.created_by(ns, name) == case["hash"]


@pytest.mark.parametrize("case", ORACLE["meta"], ids=lambda c: c["text"][:40])
def test_meta_hash_matches_go(case: dict) -> None:
    assert hashing.hash_meta(case["labels"], case["annotations"]) == case["hash"]
    meta = {"generation": 7, "labels": case["labels"], "annotations": case["annotations"]}
    assert hashing.synced_resource_version(meta) == f"7-{case['hash']}"


def test_synced_resource_version_without_generation() -> None:
    empty = next(c for c in ORACLE["meta"] if not c["labels"] and not c["annotations"])
    assert hashing.synced_resource_version({}) == f"0-{empty['hash']}"


def test_field_manager() -> None:
    assert hashing.field_manager("my-es") == "externalsecrets.external-secrets.io/my-es"


@pytest.mark.skipif(shutil.which("go") is None, reason="needs Go to re-run the oracle: install Go (go.dev/dl)")
def test_oracle_is_current(tmp_path: Path) -> None:
    """The committed oracle.json is what the Go program prints (so no expected value is hand-made)."""
    src = Path(__file__).parent / "go_oracle"
    for name in ("go.mod", "main.go"):
        shutil.copy(src / name, tmp_path / name)
    out = subprocess.run(["go", "run", "."], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ORACLE
