"""The fast YAML path never disagrees with ruamel: same documents, or it steps aside."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from secrets_kit.k8s.fastyaml import load_simple
from secrets_kit.k8s.manifests import dump_yaml


def ruamel_docs(text: str):
    try:
        return [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    except Exception:
        return "error"


def agree(text: str) -> bool:
    """True when the fast path read `text` (and then it must equal ruamel); False when it stepped aside."""
    fast = load_simple(text)
    if fast is None:
        return False
    assert [d for d in fast if d is not None] == ruamel_docs(text), text
    return True


@pytest.mark.parametrize("text", [
    "A\xa0: null\n", "a: \xa0b\xa0\n", "a: \u3000\n",  # YAML blanks are space and tab only
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x # comment\n  labels: {}\nstringData:\n"
    "  cert: |\n    -----BEGIN-----\n    abc\n\n    def\n  strip: |-\n    x\n  keep: |+\n    y\n\n",
    "items:\n- a\n- b: 1\n  c: 'it''s'\n-\n  d: \"q\\tq\\u00e9\"\n",
    "a: yes\nb: on\nc: null\nd: ~\ne: True\nf: -3\ng: 0\nh: http://x:1/#f\n",
    "---\na: b\n...\n---\n# only a comment\n---\nc: d\n",
])
def test_known_documents(text):
    assert load_simple(text) is not None
    agree(text)


@pytest.mark.parametrize("text", [
    "a: 1.5\n", "a: 2020-01-01\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: [1, 2]\n", "a: {b: c}\n",
    "a: b\n  continued\n", "a: >\n  folded\n", "a: |2\n   x\n", "? complex\n: key\n", "a: 1\na: 2\n",
    "%YAML 1.1\n---\na: y\n", "'0': '\x85  '\n", "a: 'x\u2028y'\n", "a: 'x\ry'\n", "a:\tb\n", "\ta: b\n", "a: \"\\x41\"\n", "a: 0x1F\n", "<<: {a: 1}\n", "a: b: c\n",
])
def test_outside_the_subset_steps_aside(text):
    assert load_simple(text) is None


# No floats: the fast path always leaves them to ruamel (test_outside_the_subset_steps_aside).
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30))
ascii_keys = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=10)
keys = st.one_of(st.text(max_size=8), ascii_keys)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(keys, inner, max_size=3)),
                      max_leaves=12)
docs = st.dictionaries(st.one_of(st.text(min_size=1, max_size=10), ascii_keys), values, min_size=1, max_size=5)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(doc=docs)
def test_property_agrees_on_our_emitter(doc):
    assume(agree(dump_yaml(doc)))  # examples the fast path steps aside on do not count


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(doc=docs, literal=st.booleans())
def test_property_agrees_on_ruamel_emitter(doc, literal):
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(doc, buf)
    assume(agree(buf.getvalue()))


yamlish = st.lists(st.sampled_from([
    "a: b", "  c: d", "- e", "  - f: g", "h:", "i: |", "  j", "    k", "", "# c", "l: 'm'", 'n: "o"', "---",
    "p: q # r", "  s: |-", "t: 1", "u: -2", "v: {}", "w: []", "x: ~", " y: z", "- ", "  -", "aa: 'b''c'",
]), max_size=12)


@settings(max_examples=50, deadline=None)
@given(lines=yamlish)
def test_property_agrees_on_random_line_soup(lines):
    assume(agree("\n".join(lines) + "\n"))
