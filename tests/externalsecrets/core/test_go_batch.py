"""Generated cases, one Go run: the data-hash, the metadata hash and rewrite.regexp agree with Go on
random keys (unicode, punctuation), random bytes and random label maps."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from secrets_kit.externalsecrets import hashing, keys

pytestmark = pytest.mark.skipif(shutil.which("go") is None,
                                reason="needs Go to run the oracle: install Go (go.dev/dl)")

ALPHABET = "abcXYZ019-._/: é日😀\t=[]{}$"
PATTERNS = [("([a-z]+)/(.*)", "$2-$1"), ("[^a-zA-Z0-9]", "_"), ("^(.)", "${1}${1}"), ("a*", "+"),
            ("(?P<k>[0-9]+)", "<$k>"), ("\\s+", ""), ("(é|日)", "[$1]"), ("$", "$$")]


def _text(rng: random.Random, most: int = 8) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, most)))


def _cases(seed: int = 12) -> dict[str, list]:
    rng = random.Random(seed)
    data = [{_text(rng): bytes(rng.randrange(256) for _ in range(rng.randint(0, 6)))
             for _ in range(rng.randint(0, 5))} for _ in range(150)]
    meta = [[{_text(rng): _text(rng) for _ in range(rng.randint(0, 3))} for _ in range(2)] for _ in range(100)]
    regexp = [[*rng.choice(PATTERNS), _text(rng, 12)] for _ in range(200)]
    return {"data": data, "meta": meta, "regexp": regexp}


def test_generated_cases_agree_with_go(tmp_path: Path) -> None:
    src = Path(__file__).parent / "go_oracle"
    for name in ("go.mod", "main.go"):
        shutil.copy(src / name, tmp_path / name)
    cases = _cases()
    wire = {"data": [{k: base64.b64encode(v).decode() for k, v in d.items()} for d in cases["data"]],
            "meta": cases["meta"], "regexp": cases["regexp"]}
    out = subprocess.run(["go", "run", ".", "batch"], cwd=tmp_path, input=json.dumps(wire), capture_output=True,
                         text=True, timeout=300, env={**os.environ, "GOTOOLCHAIN": "local"})
    assert out.returncode == 0, out.stderr
    want = json.loads(out.stdout)
    assert [hashing.object_hash(d) for d in cases["data"]] == want["data"]
    assert [hashing.hash_meta(m[0], m[1]) for m in cases["meta"]] == want["meta"]
    assert [keys.go_replace_all(keys._compile(p), s, t) for p, t, s in cases["regexp"]] == want["regexp"]
