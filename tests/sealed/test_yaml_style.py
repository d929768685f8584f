"""Our YAML emitter writes scalars and keys exactly as kubeseal does (go-yaml v2 + libyaml's emitter).

Each row names the rule it shows. The table is pinned against `dump_yaml` (no peer needed), and
the peer test seals the same strings with the real kubeseal and with our drop-in and compares
the bytes, so the pinned forms are kubeseal's.
"""

from __future__ import annotations

import json
import re
from itertools import groupby

import pytest

from secrets_kit.k8s.manifests import dump_yaml

from .helpers import kubeseal, run_cli, secret

LONG = " ".join(["lorem ipsum dolor"] * 6)
X80 = "x" * 80

# (rule, value, how `dump_yaml({"v": value})` writes it after "v: ")
VALUES = [
    ("plain", "AgBy+/9=", "AgBy+/9="),
    ("plain", "日本", "日本"),
    ("plain", "a=b", "a=b"),
    ("plain", "\\", "\\"),
    ("plain", "a:b", "a:b"),
    ("plain", "a#b", "a#b"),
    ("plain", "-x", "-x"),
    ("plain", ":x", ":x"),
    ("plain", "it's", "it's"),
    ("plain", "\xa0b", "\xa0b"),  # only the ASCII space is a YAML space
    ("not 1.1", "yES", "yES"),
    ("not 1.1", "0x", "0x"),
    ("1.1 bool/null", "yes", '"yes"'),
    ("1.1 bool/null", "Y", '"Y"'),
    ("1.1 bool/null", "ON", '"ON"'),
    ("1.1 bool/null", "off", '"off"'),
    ("1.1 bool/null", "null", '"null"'),
    ("1.1 bool/null", "~", '"~"'),
    ("1.1 bool/null", "", '""'),
    ("1.1 number", "0x1F", '"0x1F"'),
    ("1.1 number", "0o17", '"0o17"'),
    ("1.1 number", "0b101", '"0b101"'),
    ("1.1 number", "0b-1", '"0b-1"'),
    ("1.1 number", "012", '"012"'),
    ("1.1 number", "08", '"08"'),
    ("1.1 number", "1_000", '"1_000"'),
    ("1.1 number", "+1", '"+1"'),
    ("1.1 number", "-1", '"-1"'),
    ("1.1 number", "1e3", '"1e3"'),
    ("1.1 number", "1.", '"1."'),
    ("1.1 number", ".5", '".5"'),
    ("1.1 number", ".51_000", '".51_000"'),  # Go's ParseFloat takes "_" between digits
    ("1.1 number", ".inf", '".inf"'),
    ("1.1 number", "-.INF", '"-.INF"'),
    ("1.1 number", ".NaN", '".NaN"'),
    ("1.1 number", "99999999999999999999", '"99999999999999999999"'),
    ("1.1 number", "12:30", '"12:30"'),  # base 60
    ("1.1 timestamp", "2001-12-14", '"2001-12-14"'),
    ("1.1 timestamp", "2001-12-14T21:59:43.1Z", '"2001-12-14T21:59:43.1Z"'),
    ("1.1 timestamp", "2001-12-14 21:59:43", '"2001-12-14 21:59:43"'),
    ("indicator", "%p", "'%p'"),
    ("indicator", "@a", "'@a'"),
    ("indicator", "`b", "'`b'"),
    ("indicator", "'q'", "'''q'''"),
    ("indicator", '"d"', "'\"d\"'"),
    ("indicator", "#h", "'#h'"),
    ("indicator", "x #c", "'x #c'"),
    ("indicator", "a: b", "'a: b'"),
    ("indicator", "a:", "'a:'"),
    ("indicator", "-", "'-'"),
    ("indicator", "- x", "'- x'"),
    ("indicator", "? x", "'? x'"),
    ("indicator", "---", "'---'"),
    ("indicator", "...x", "'...x'"),
    ("indicator", "[1]", "'[1]'"),
    ("indicator", "{a: 1}", "'{a: 1}'"),
    ("indicator", "*x", "'*x'"),
    ("indicator", "!t", "'!t'"),
    ("indicator", "|", "'|'"),
    ("indicator", ",a", "',a'"),
    ("edge space", "trailing ", "'trailing '"),
    ("edge space", " lead", "' lead'"),
    ("edge space", " ", "' '"),
    ("special", "tab\tx", '"tab\\tx"'),
    ("special", "\x00\x07\x1b", '"\\0\\a\\e"'),
    ("special", "\U0001f600", '"\\U0001F600"'),
    ("special", "\ufeff2001", '"\\uFEFF\\x32\\x30\\x30\\x31"'),  # go-yaml escapes all after a BOM
    ("special", "say \"hi\"\t\\", '"say \\"hi\\"\\t\\\\"'),
    ("literal", "a\nb", "|-\n  a\n  b"),
    ("literal", "a\nb\n", "|\n  a\n  b\n"),
    ("literal", "a\n\n", "|+\n  a\n\n"),
    ("literal", "\nlead", "|2-\n\n  lead"),
    ("literal", " lead\nx", "|2-\n   lead\n  x"),
    ("literal", "x\n y", "|-\n  x\n   y"),
    ("literal", "trailing \nx", '"trailing \\nx"'),  # a space before a break: double quotes
    ("literal", "x\n ", '"x\\n "'),
    ("literal", "a\tb\nc", '"a\\tb\\nc"'),
    ("fold", LONG, LONG[:83] + "\n  " + LONG[84:]),  # at the first single space past column 80
    ("fold", "%" + LONG, "'%" + LONG[:77] + "\n  " + LONG[78:] + "'"),
    ("fold", "\t" + LONG, '"\\t' + LONG[:77] + "\n  " + LONG[78:] + '"'),
    ("fold", "\t" + X80 + "  y", '"\\t' + X80 + '\n  \\ y"'),  # "\" keeps the second space
    ("fold", "x" * 100 + " y", "x" * 100 + "\n  y"),
    ("fold", "a  " + "b" * 78 + "  c", "a  " + "b" * 78 + "  c"),  # only a single space folds
]

LONG_KEY = "k" * 129
# (rule, key, how `dump_yaml({key: "v"})` writes the entry)
KEYS = [
    ("key", ".dockerconfigjson", ".dockerconfigjson: v"),
    ("key", "", '"": v'),
    ("key", "yes", '"yes": v'),
    ("key", "a b", "a b: v"),
    ("key", "%k", "'%k': v"),
    ("key", "k\tx", '"k\\tx": v'),
    ("key", "k" * 128, "k" * 128 + ": v"),
    ("key", LONG, LONG + ": v"),  # a simple key never folds
    ("complex key", LONG_KEY, f"? {LONG_KEY}\n: v"),
    ("complex key", "é" * 65, f"? {'é' * 65}\n: v"),  # 130 bytes
    ("complex key", "a\nb", "? |-\n  a\n  b\n: v"),
]


# Deliberately not kubeseal's bytes: go-yaml writes these plain (or LS/PS raw in quotes), and our
# YAML 1.2 reader would read them back as something else or fail; we double-quote them instead.
READ_BACK = [
    ("=", '"="'), ("<<", '"<<"'),  # YAML's value and merge tags
    ("1e999", '"1e999"'), ("._5", '"._5"'), ("-0x80000000000000001", '"-0x80000000000000001"'),  # numbers
    ("2001-02-30", '"2001-02-30"'),  # a timestamp that cannot be built
    ("a\u2028b", '"a\\Lb"'), ("x\u2029\ny", '"x\\P\\ny"'),  # line separators
]


@pytest.mark.parametrize(("value", "expected"), READ_BACK)
def test_quoted_where_our_reader_would_misread_go_yamls_form(value, expected):
    from secrets_kit.k8s.manifests import load_documents

    text = dump_yaml({"v": value, value: "k"}, document_marker=False)
    assert text.startswith(f"{expected}: k\n") or f"v: {expected}\n" in text
    assert load_documents(text.encode(), source="t") == [{"v": value, value: "k"}]


@pytest.mark.parametrize(("rule", "value", "expected"), VALUES)
def test_value_style(rule, value, expected):
    end = "" if expected.endswith("\n") else "\n"  # a literal block ends its own line
    assert dump_yaml({"v": value}, document_marker=False) == f"v: {expected}{end}", rule


@pytest.mark.parametrize(("rule", "key", "expected"), KEYS)
def test_key_style(rule, key, expected):
    assert dump_yaml({key: "v"}, document_marker=False) == expected + "\n", rule


def test_nesting_and_key_order():
    doc = {"a10": 1, "a9": [{"x": "y", "z": ["p", "q"]}, ["n"]], "a_b": {"c": None}, "aB": True, "~": [],
           LONG_KEY: {"m": "n"}, "lst": 1.0, "big": 1e21}
    assert dump_yaml(doc, document_marker=False) == (
        '"~": []\n'
        "a_b:\n  c: null\n"
        "a9:\n- x: \"y\"\n  z:\n  - p\n  - q\n- - \"n\"\n"
        "a10: 1\n"
        "aB: true\n"
        "big: 1e+21\n"
        + f"? {LONG_KEY}\n: m: \"n\"\n"  # after a long key, a mapping starts on the colon line
        + "lst: 1\n"
    )


MASK = re.compile(r"(Ag|AQ)[A-Za-z0-9+/=]{40,}")


def _groups(rows):
    return [(rule, [row[1] for row in items]) for rule, items in groupby(rows, key=lambda row: row[0])]


@pytest.mark.peer("kubeseal")
@pytest.mark.parametrize(("rule", "strings"), _groups(VALUES) + _groups(KEYS))
def test_kubeseal_writes_the_same(kubeseal_bin, cert_file, rule, strings):
    # JSON input: kubeseal reads YAML as 1.1 and we read 1.2, which is not what this test is about.
    as_values = {f"c{i:02d}": s for i, s in enumerate(strings)}
    as_keys = {s: "v" for s in strings}
    doc = secret(annotations=as_keys if "key" in rule else as_values, labels=as_values,
                 string_data={"x": "y", **({s: "v" for s in strings} if "key" in rule else {})})
    args = ["--cert", str(cert_file), "-o", "yaml"]
    theirs = kubeseal(kubeseal_bin, *args, input=json.dumps(doc))
    ours = run_cli("kubeseal", *args, input=json.dumps(doc))
    assert theirs.returncode == 0 and ours.code == 0, (theirs.stderr, ours.err)
    assert MASK.sub("<ct>", ours.text) == MASK.sub("<ct>", theirs.stdout.decode()), rule
