"""Two readers, one answer: wherever the fast YAML path reads a text, ruamel reads the same values.

The fast path (secrets_kit/k8s/fastyaml.py) must give ruamel's answer or step aside (None); a text
ruamel refuses must not be read by the fast path either.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from secrets_kit.errors import SecretsKitError
from secrets_kit.k8s.fastyaml import load_simple
from secrets_kit.k8s.manifests import _yaml_documents

from .harness import fuzz_settings, typed
from .strategies import mutated, yaml_texts

SEED = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels:\n    a: 'x'\nstringData:\n"
        "  k: |\n    line\n  q: \"v\\u00e9\"\n  n: 12\nitems:\n- a: 1\n  b:\n  - x\n- y\n")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def check_same_reading(text: str) -> None:
    fast = load_simple(text)
    if fast is None:
        return
    full = typed("fast yaml vs ruamel", lambda: _yaml_documents(text, "fuzz.yaml"))
    assert not isinstance(full, SecretsKitError), f"the fast path read a text that ruamel refuses: {full}"
    # load_documents skips empty documents: only the others count.
    fast, full_docs = [d for d in fast if d is not None], [d for d in full if d is not None]
    assert _same(fast, full_docs), f"two readings:\nfast:   {fast!r}\nruamel: {full_docs!r}"


@fuzz_settings(ci=200, explore=5000)
@given(text=st.one_of(yaml_texts(), mutated(SEED.encode()).map(lambda b: b.decode("utf-8", "replace"))))
def test_fast_path_reads_as_ruamel(text: str) -> None:
    check_same_reading(text)
