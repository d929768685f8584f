"""Structured generators of hostile input: what an attacker would write, not uniform noise.

- `yaml_texts`: lines from a grammar of YAML pieces (indents, keys, every scalar style, anchors,
  aliases, merge keys, tags, block headers, flow collections, comments, document markers), so most
  inputs are near-valid and reach deep into the parsers (and the fast path's subset);
- `hostile_texts`: the shapes that broke the parsers: deep nesting, alias bombs, huge scalars and
  integers, many keys, long runs of newlines, lone surrogates, bytes that are not UTF-8;
- `mutated`: byte-level mutations (insert, delete, replace, splice a dictionary token) of a seed;
- `values`: JSON-shaped values with type confusion (lists where strings belong, and the reverse).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from .harness import EXPLORE, MARK

DEEP = 5000 if EXPLORE else 400  # deeper than any limit; the long profile goes much further

TOKENS = [
    "", " ", "  ", "\t", "-", "- ", "? ", ": ", ":", "#", " # c", "---", "...", "%YAML 1.2", "&a ", "*a", "&b ", "*b",
    "<<: *a", "<<", "!!binary ", "!!str ", "!!int ", "!!map", "!custom ", "|", "|-", "|+", ">", ">-", "|2", "{", "}",
    "[", "]", ",", "{}", "[]", "'", "''", '"', "\\", '"\\ud800"', '"\\udfff x"', '"\\U0000d800"', '"\\x41"', "~",
    "null", "true", "yes", "no", "on", "0", "-0", "007", "0x1F", "0o17", "1e3", "1_000", ".inf", ".nan", "1.5",
    "2001-12-14t21:59:43.10-05:00", "2001-01-01", "=", "\u0085", "\u2028", "\r", "\r\n", "\ufeff", "ENC[AES256_GCM,",
    "sops:", "mac:", "kind: List", "kind: Secret", "apiVersion: v1", "items:", "metadata:", "name: x", ": " + MARK,
    "9" * 40, "\u00b2", "\u0663", "é", "\U0001f600",
]

KEYS = ["a", "b", "kind", "apiVersion", "metadata", "name", "namespace", "data", "stringData", "items", "spec",
        "sops", "mac", "'q'", '"k"', "? x", "0", "1", "-1", "true", "null", "<<", "a b", "x:y"]
# The mark stands only where values stand: key names may show in messages (`found duplicate key "k"`).

SCALARS = ["", "x", MARK, "'single ''quoted'''", '"double \\" \\u00e9"', "|", ">", "|-", "&a v", "*a", "*b", "~",
           "{}", "[]", "[a, b]", "{a: 1}", "1", "-1", "0x10", "1.0", "yes", "on", "2001-01-01", "!!binary aGk=",
           "!!int 3", "a # c", "a#b", "- x", ": x", "'unterminated", '"unterminated', "\t", "x\ty", "\u2028"]


@st.composite
def yaml_lines(draw: st.DrawFn) -> str:
    indent = " " * draw(st.sampled_from([0, 0, 0, 1, 2, 2, 4, 3, 6]))
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return indent + draw(st.sampled_from(KEYS)) + ":" + (" " + draw(st.sampled_from(SCALARS))
                                                           if draw(st.booleans()) else "")
    if shape == 1:
        return indent + "- " + draw(st.sampled_from(SCALARS + [k + ": " + v for k in KEYS[:4] for v in SCALARS[:4]]))
    if shape == 2:
        return indent + draw(st.sampled_from(SCALARS))
    if shape == 3:
        return draw(st.sampled_from(["---", "...", "--- |", "# comment", "", "%YAML 1.1", "--- !tag"]))
    if shape == 4:
        return indent + "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=5)))
    return indent + draw(st.text(max_size=12))


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(yaml_lines(), min_size=1, max_size=25))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


def _nest(depth: int, style: str) -> str:
    if style == "flow":
        return "a: " + "[" * depth + "]" * depth + "\n"
    if style == "json":
        return '{"a":' * depth + "1" + "}" * depth
    if style == "block-seq":
        return "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "- x\n"
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"


def _bomb(levels: int, fan: int) -> str:
    lines = ["l0: &l0 [" + ", ".join(["x"] * fan) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _merge_chain(n: int) -> str:
    return "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i}\n  <<: *a{i - 1}\n  y{i}: 2\n" for i in range(1, n))


@st.composite
def hostile_texts(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.integers(0, 10))
    if kind == 0:
        return _nest(draw(st.integers(90, DEEP)), draw(st.sampled_from(["flow", "json", "block-seq", "block-map"])))
    if kind == 1:
        return _bomb(draw(st.integers(2, 12)), draw(st.integers(2, 10)))
    if kind == 2:
        return _merge_chain(draw(st.integers(2, DEEP // 4)))
    if kind == 3:  # huge scalars and integers
        digits = draw(st.sampled_from([4000, 4301, 20000] + ([100000] if EXPLORE else [])))
        return draw(st.sampled_from(['{"a": %s}', "a: %s\n", "- %s\n", "sops_x=%s\n"])) % ("7" * digits)
    if kind == 4:  # many keys
        n = draw(st.integers(1000, 100000 if EXPLORE else 5000))
        return "".join(f"k{i}: v\n" for i in range(n))
    if kind == 5:
        return draw(st.sampled_from(["\n", "\r\n", " \n", "[sops]\n", "mac:\n", "-----BEGIN CERTIFICATE-----\n"])) * \
            draw(st.integers(1000, 50000 if EXPLORE else 10000))  # ruamel reads ~100,000 lines in 10 s
    if kind == 6:  # lone surrogates, escaped, in JSON and YAML
        esc = draw(st.sampled_from(["\\ud800", "\\udfff", "\\ud83d", "\\U0000DC00"]))
        return draw(st.sampled_from(['{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "%s"}}',
                                     'kind: Secret\nstringData:\n  "%s": x\n', 'a: "%s"\n', '{"%s": 1}']
                                    )) % esc
    if kind == 7:  # bytes that are not UTF-8
        good = draw(yaml_texts()).encode()
        at = draw(st.integers(0, len(good)))
        return good[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc", b"\xf8\x88\x80\x80"])) \
            + good[at:]
    if kind == 8:  # type confusion in manifest fields
        return json.dumps(draw(confused_manifest()))
    if kind == 9:
        return "x: " + "a" * draw(st.integers(10000, 1_000_000 if EXPLORE else 100_000)) + "\n"
    return draw(yaml_texts())


_leaf = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False),
                  st.just(MARK))
values: st.SearchStrategy[Any] = st.recursive(
    _leaf, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=16)


_name_leaf = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
names: st.SearchStrategy[Any] = st.recursive(
    _name_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner,
                                                                                      max_size=3)), max_leaves=6)


@st.composite
def confused_manifest(draw: st.DrawFn) -> dict[str, Any]:
    """A Secret-like object whose fields may hold the wrong type."""
    def field(default: Any, pool: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(st.just(default), pool))

    # The mark only where secret values live: names and kinds may show in messages, values never.
    doc = {"apiVersion": field("v1", names), "kind": field("Secret", names),
           "metadata": field({"name": field("s", names), "namespace": field("n", names)}, names),
           "stringData": field({"password": MARK}, values), "data": field({"b": "aGk="}, values),
           "type": field("Opaque", names)}
    return {k: v for k, v in doc.items() if draw(st.integers(0, 9))}


# Tokens without the mark, for seeds whose every field may show in a message (sops metadata:
# recipients and key identifiers are named in errors, as sops names them).
PLAIN_TOKENS = [t for t in TOKENS if MARK not in t]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, tokens: list[str] = TOKENS) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 4))
        at = draw(st.integers(0, len(data)))
        if op == 0 and data:
            del data[at:at + draw(st.integers(1, 16))]
        elif op == 1:
            data[at:at] = draw(st.sampled_from(tokens)).encode("utf-8", "surrogatepass")
        elif op == 2 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == 3:
            data[at:at] = draw(st.binary(max_size=8))
        else:  # duplicate a slice (repeats keys, anchors, blocks)
            end = min(len(data), at + draw(st.integers(1, 64)))
            data[at:at] = data[at:end]
    return bytes(data)
