"""The YAML store's fast reader (`fastparse.py`) against libyaml: the same events, marks included,
for every text it reads, and None (PyYAML reads it) for every text outside its subset."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from secrets_kit.sops.stores.yaml_store import loader as loader_module
from secrets_kit.sops.stores.yaml_store import store as store_module
from secrets_kit.sops.stores.yaml_store.fastparse import events

_FIELDS = {"ScalarEvent": ("anchor", "tag", "implicit", "value", "style"),
           "MappingStartEvent": ("anchor", "tag", "implicit", "flow_style"),
           "SequenceStartEvent": ("anchor", "tag", "implicit", "flow_style"),
           "DocumentStartEvent": ("explicit",), "DocumentEndEvent": ("explicit",)}


def _signature(event: Any) -> tuple[Any, ...]:
    """What the loader reads of an event: its kind, both marks and its fields."""
    start, end = event.start_mark, event.end_mark
    return (type(event).__name__, (start.index, start.line, start.column), (end.index, end.line, end.column),
            tuple(getattr(event, name) for name in _FIELDS.get(type(event).__name__, ())))


def _libyaml(text: str) -> list[tuple[Any, ...]] | None:
    try:
        return [_signature(e) for e in yaml.parse(text, Loader=yaml.CSafeLoader)]
    except yaml.YAMLError:
        return None


SOPS_WRITTEN = """\
service00:
    key00: ENC[AES256_GCM,data:YrLDqh2FUmQC/h5ni0we,iv:va/HBHF8GHjF53lZZ3R3PiW5Du5N/9EnhU84WaT78BE=,tag:1oaNyxjFBUoS+DeH6HhMUw==,type:str]
    port: ENC[AES256_GCM,data:NB8G,iv:hu/JehAFmA1LKwhSj0DF32splyo+KlitCRLSTSRGgao=,tag:CnHb/SebLcVRjiqKAesInw==,type:int]
    list:
        - ENC[AES256_GCM,data:uuUa,iv:qidm5n+BCTwAzuq2hFaZzNyLNh3tKAHrVolmgP6DK+0=,tag:jdjU2P17hbeR1CHmu4+xAQ==,type:str]
        - nested: ENC[AES256_GCM,data:NHa7,iv:zost2ShoS1eahIa1mFfTQTW8D3+UkwKLXdajqSkmcww=,tag:HefHkREdX9d8qgXRt8Fw==,type:bool]
    api_unencrypted: visible
sops:
    age:
        - recipient: age1yw6y2upg4al2phul80tenmw2ssyuq8lgcxajwr2ahquug4rfu5useznax4
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBUWk5FdGNXZXB4OWtlbGc2
            Pu+dp+rYXI/yupvn069bEhEOOBoUSxHyQ56HSqRfmhQvUWIvAya34Q==
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2026-12-04T17:03:30Z"
    mac: ENC[AES256_GCM,data:i5rg,iv:rxvDuKdlIk6ByQ28EuqU+ilbSyY9+0coSxu=,tag:jdjU2P17hbeR1CHmu4+xAQ==,type:str]
    unencrypted_suffix: _unencrypted
    version: 3.13.3
"""

# Texts around the subset's edges: libyaml reads each (or refuses it), the fast reader must agree or decline.
EDGES = [
    SOPS_WRITTEN,
    "a:\n- x\n- y: 1\n  z: 2\nb: 1\n",  # an indentless sequence
    "a:\n    enc: |\n        L1\n          L2\n",  # a literal at the end, a deeper line in it
    "a: |\n b\nc: d\n", "a: |\n  x: y\n  - z\n", "k: 'single'\nd: \"double\"\ne: ''\n",
    "true: 1\nnull: ~\n1: 2.5\nx.y-z: 0x10\n_k: a b c\n", "a: x :y\nb: a,b]\n",
    "a:\n  b:\n    c:\n      d: e\n  f: g\nh: i\n", "a:\n  - - x\n", "a:\n  -\n", "a: b\n  c: d\n",
    "a:\nb: c\n", "a:\n", "a: b", "a: b: c\n", "a: b:\n", "a: 'it''s'\n", "a: \"q\\\"\"\n", "a:  b\n",
    "a: b \n", "a: b\n\nc: d\n", "a: b # c\n", "a:\tb\n", "a: &x b\nc: *x\n", "a: !t b\n", "a: [b]\n",
    "a: {b: c}\n", "a: >\n  b\n", "a: |-\n  b\n", "---\na: b\n", "a: b\n...\n", "- a\n", " a: b\n", "a: héllo\n",
    "a: b\n c\n", "a:\n  - x\n  y: z\n", "a:\n    b: c\n  d: e\n", "? a\n: b\n", "a: -1\n", "a: ---\n",
    "a: |\n  x\n\n  y\n", "a: |\n  x\n   \n", "a: \"x\" y\n", "a: %x\n", "a: @x\n", "a: `x\n", "a: ?x\n",
    "a: |\nb: c\n", "a: |\n", "a:\n  b: |\n    x\n  c:\n  - d\n",
]


@pytest.mark.parametrize("text", EDGES)
def test_edges_read_as_libyaml_reads_them(text: str) -> None:
    fast = events(text)
    if fast is not None:
        assert [_signature(e) for e in fast] == _libyaml(text)


@pytest.mark.parametrize("text", EDGES[:6])
def test_what_sops_writes_is_read_without_pyyaml(text: str) -> None:
    # The point of the reader: an encrypted file as sops writes it (and these shapes) never needs PyYAML.
    fast = events(text)
    assert fast is not None
    assert [_signature(e) for e in fast] == _libyaml(text)


@pytest.mark.parametrize("text", ["a: b # comment\n", "a:\tb\n", "a: &x b\nc: *x\n", "a: [b]\n", "a: >\n  b\n",
                                  "a: b\n  c\n", "a:\nb: c\n", "a: héllo\n", "a: b", "a: b\n\nc: d\n", "---\na: b\n",
                                  "a: \"q\\\"\"\n", "a: b \n", "", "- a\n", "a: !!str 1\n"])
def test_outside_the_subset_goes_to_pyyaml(text: str) -> None:
    assert events(text) is None


def _tree(rng: random.Random, lines: list[str], col: int, depth: int, step: int) -> None:
    """A random block mapping at `col`: nested maps and sequences (indented or not), literals, scalars."""
    keys = ["a", "key00", "sops", "true", "null", "1", "x.y", "a-b", "_u", "-k", "k k", "~"]
    values = ["v", "ENC[AES256_GCM,data:Yr/h+0==,iv:va/H=,tag:1o==,type:str]", '"q"', "'s'", "1", "-1", "~", "a b",
              "a: b", "x :y", "[a]", "&x v", "|-", "- a", "2026-12-04T17:03:30Z", "'it''s'", '"x" y', ""]
    for _ in range(rng.randint(1, 4)):
        key = rng.choice(keys[:9] if rng.random() < 0.9 else keys)
        roll = rng.random()
        if depth < 4 and roll < 0.3:
            lines.append(" " * col + key + ":")
            _tree(rng, lines, col + step, depth + 1, step)
        elif depth < 4 and roll < 0.45:
            lines.append(" " * col + key + ":")
            seq_col = col + rng.choice([0, step])
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.4:
                    item: list[str] = []
                    _tree(rng, item, seq_col + 2, depth + 1, step)
                    lines.append(" " * seq_col + "- " + item[0].lstrip(" "))
                    lines.extend(item[1:])
                else:
                    lines.append(" " * seq_col + "- " + rng.choice(values[:9]))
        elif roll < 0.55:
            lines.append(" " * col + key + ": |")
            indent = col + rng.choice([1, 2, step])
            lines.extend(" " * (indent + rng.choice([0, 0, 2])) + rng.choice(["L1", "-----BEGIN", "a: b", "x  y "])
                         for _ in range(rng.randint(1, 3)))
        else:
            lines.append(" " * col + key + ": " + rng.choice(values[:9] if rng.random() < 0.85 else values))


def _random_text(rng: random.Random) -> str:
    lines: list[str] = []
    _tree(rng, lines, 0, 0, rng.choice([2, 4]))
    for _ in range(rng.choice([0, 0, 1, 2])):  # and a few broken ones: a line moved, dropped or added
        index = rng.randrange(len(lines))
        roll = rng.random()
        if roll < 0.4:
            lines[index] = " " + lines[index]
        elif roll < 0.6:
            lines[index] = lines[index].removeprefix(" ")
        elif roll < 0.8 and len(lines) > 1:
            del lines[index]
        else:
            lines.insert(index, rng.choice(["", "  ", "---", "- x", "k:", "  L"]))
    return "\n".join(lines) + ("\n" if rng.random() < 0.97 else "")


def test_random_texts_read_as_libyaml_reads_them() -> None:
    rng = random.Random(20261204)
    read = 0
    for _ in range(4000):
        text = _random_text(rng)
        fast = events(text)
        if fast is None:
            continue
        read += 1
        assert [_signature(e) for e in fast] == _libyaml(text), text
    assert read > 500  # the subset is not empty: most of these texts are in it


@pytest.mark.parametrize("text", [SOPS_WRITTEN, *EDGES[1:12]])
def test_the_store_writes_the_same_bytes_either_way(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading through the fast reader or PyYAML gives the same tree, and the same text written back."""
    store = store_module.YamlStore()

    def load_and_emit() -> tuple[Any, bytes] | str:
        try:
            doc = store.load(text.encode())
        except Exception as exc:  # the same refusal either way
            return f"{type(exc).__name__}: {exc}"
        return doc.branches, store.emit(doc)

    fast = load_and_emit()
    monkeypatch.setattr(loader_module, "fast_events", lambda _text: None)
    assert load_and_emit() == fast
