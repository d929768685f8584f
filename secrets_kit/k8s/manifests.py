"""Load and dump Kubernetes manifests: multi-document YAML or JSON in, YAML or JSON out.

Loading yields plain JSON-shaped values (dict, list, str, int, float, bool, None) so a
manifest read from YAML and from JSON is the same object. YAML timestamps stay
strings (as they do in the Kubernetes API). Errors name the source and the line, never
the content: a manifest may hold secret values.

Dumping mirrors what kubectl and kubeseal print: JSON with two-space indent and the
caller's key order, YAML in block style with sorted keys, `---` before each document.
The YAML emitter is our own (`yaml_out`, ruamel's pure-Python emitter is slow on big
batches); it writes what kubeseal writes, byte for byte.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from .. import limits
from ..errors import InputError
from .fastyaml import load_simple
from .yaml_out import dump_yaml  # also the YAML writer of this module's callers

Manifest = dict[str, Any]

_yaml_loader: Any = None  # one shared ruamel YAML() instance, built on first use


def _loader() -> Any:
    global _yaml_loader
    if _yaml_loader is None:
        from ruamel.yaml import YAML
        from ruamel.yaml.constructor import SafeConstructor

        class _Constructor(SafeConstructor):  # a subclass: never change ruamel's global tables
            pass

        def _as_text(constructor: Any, node: Any) -> Any:
            return constructor.construct_scalar(node)

        _Constructor.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
        yaml = YAML(typ="safe", pure=True)
        yaml.Constructor = _Constructor
        _yaml_loader = yaml
    return _yaml_loader


def clone(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars), as copy.deepcopy makes it but
    without its import (weakref & co., on every seal's start-up) and its memo."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def _decode_text(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data
    if data.startswith(b"\xef\xbb\xbf"):  # a byte-order mark, dropped as utf-8-sig does (that codec's import
        data = data[3:]                     # costs a cold seal more than the check)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise InputError(f"not UTF-8 text (invalid byte at offset {ex.start})", where=source) from None


def _json_int(source: str) -> Any:
    def parse(digits: str) -> int:
        limits.check(limits.DIGITS, len(digits.lstrip("-")), source)  # int() refuses over 4,300 digits
        return int(digits)
    return parse


def _json_documents(text: str, source: str) -> list[Any] | None:
    """Concatenated JSON values (kubeseal's multi-document JSON); None if it is not JSON."""
    import json  # here, not at the top: a seal of YAML never loads it

    decoder = json.JSONDecoder(parse_int=_json_int(source))
    docs: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return docs
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None  # let the YAML parser (a JSON superset) report the precise problem
        except RecursionError:
            raise limits.depth_error(source) from None
        docs.append(value)
        limits.check(limits.DOCUMENTS, len(docs), source)


# Compiled on use (re caches them): only an error message needs them.
_VALUE_QUOTE = r"\s*with value .*"
# ruamel quotes source text in some problems (`found undefined alias 'hunter2'` for
# `password: *hunter2`): it may be a secret value. Parser token names ('<stream end>') and
# single characters ('\t', ',') are safe; from the first other quote on, the text is cut.
_SAFE_QUOTED = r"'(?:<[a-z ]+>|\\?[^'])'" + r'|"(?:<[a-z ]+>|\\?[^"])"'


def _redacted_problem(problem: str) -> str:
    problem = re.sub(_VALUE_QUOTE, "", problem, flags=re.DOTALL)
    if problem.startswith("found duplicate key"):
        return problem  # the key is an item name, not a value
    masked = re.sub(_SAFE_QUOTED, lambda m: "_" * len(m.group()), problem)
    cut = min((i for i in (masked.find("'"), masked.find('"')) if i >= 0), default=-1)
    return problem if cut < 0 else problem[:cut] + "<redacted>"


def check_yaml_depth(text: str, source: str) -> None:
    """Refuse nesting beyond the depth limit before ruamel reads the text: its scanner costs the
    square of the flow nesting (5,000 `[` take it minutes). PyYAML's C parser streams the events
    and stops at the limit; texts with few brackets skip the scan. A text the C parser refuses is
    left to ruamel, which words the error."""
    limit = limits.DEPTH.value
    if text.count("[") + text.count("{") <= limit:
        return  # block nesting alone is linear in ruamel; the check after loading covers it
    import yaml

    depth = 0
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limit:
                    raise limits.depth_error(source)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except (yaml.YAMLError, UnicodeEncodeError):
        return


def _yaml_documents(text: str, source: str) -> list[Any]:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    check_yaml_depth(text, source)
    try:
        # ruamel warns (ReusedAnchorWarning, ...) by printing the source lines, values included, to
        # stderr. A redefined anchor is valid YAML that Go's readers accept: the warnings are dropped.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return list(_loader().load_all(text))
    except MarkedYAMLError as ex:
        mark = ex.problem_mark or ex.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        # The problem text of a duplicate key quotes both values: keep only the key.
        problem = _redacted_problem(ex.problem or ex.context or "syntax error")[:160]
        raise InputError(f"malformed YAML{at}: {problem}", where=source) from None
    except YAMLError as ex:
        raise InputError(f"malformed YAML: {type(ex).__name__}", where=source) from None
    except RecursionError:
        raise limits.depth_error(source) from None
    # e.g. duplicate keys, bad !!binary, a 5,000-digit integer, an empty `!!int` (ruamel indexes its first char)
    except (ValueError, TypeError, IndexError) as ex:
        raise InputError(f"unreadable YAML: {type(ex).__name__}", where=source) from None


# An escaped (or, in text passed as str, a raw) UTF-16 surrogate: a lone one cannot be encoded later.
_SURROGATE = re.compile(r"\\(?:u[dD][89a-fA-F]|U0000[dD][89a-fA-F])|[\ud800-\udfff]")


def _without_surrogates(node: Any) -> Any:
    """Lone surrogates as U+FFFD, as Go's decoders (kubectl, kubeseal) read them; depth is within the limit."""
    if isinstance(node, str):
        return node.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(node, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_surrogates(v) for v in node]
    return node


def load_documents(data: bytes | str, *, source: str = "<stdin>") -> list[Manifest]:
    """Every non-empty document of a YAML or JSON stream, each a mapping.

    A document that is not a mapping (a bare list or scalar) is an input error; empty
    documents (`---` with nothing after it) are skipped, as kubectl does.
    """
    limits.check_size(data, source)
    text = _decode_text(data, source)
    stripped = text.lstrip()
    docs: list[Any] | None = None
    if stripped[:1] in ("{", "["):
        docs = _json_documents(stripped, source)
    if docs is None:
        docs = load_simple(text)  # the fast path for plain block YAML; None means "ask ruamel"
    if docs is None:
        docs = _yaml_documents(text, source)
    # Depth and size with aliases expanded: what every later walk of these values will meet.
    limits.check_documents(docs, source)
    if _SURROGATE.search(text):
        docs = [_without_surrogates(doc) for doc in docs]
    out: list[Manifest] = []
    for index, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(f"document {index} is a {_type_name(doc)}, not a manifest (a mapping)", where=source)
        for field in ("kind", "apiVersion"):  # as Go's decoders refuse them; every caller keys on them
            if doc.get(field) is not None and not isinstance(doc[field], str):
                raise InputError(f"document {index}: {field} is a {_type_name(doc[field])}, not a string",
                                 where=source)
        out.append(doc)
    return out


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def expand_lists(docs: Iterable[Manifest]) -> Iterator[Manifest]:
    """Flatten `kind: List` (and `*List`) documents into their items, as kubectl does."""
    for doc in docs:
        items = doc.get("items")
        if isinstance(doc.get("kind"), str) and doc["kind"].endswith("List") and isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    yield item
        else:
            yield doc


def string_values(node: Any) -> Iterator[str]:
    """Every string value in a manifest (mapping keys aside), depth first."""
    if isinstance(node, dict):
        for value in node.values():
            yield from string_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from string_values(value)
    elif isinstance(node, str):
        yield node


def describe(doc: Manifest) -> str:
    """`Kind ns/name` for messages (names only, never data)."""
    raw = doc.get("metadata")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = _text_or(meta.get("name"), "<no name>")
    ns = _text_or(meta.get("namespace"), "")
    kind = _text_or(doc.get("kind"), "<no kind>")
    return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"


def _text_or(value: Any, default: str) -> str:
    """A name for a message: text as it is, a number as written, anything else by its type only."""
    if value is None or value == "":
        return default
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return f"<{_type_name(value)}>"


# ----------------------------------------------------------------------------------------- JSON out

_GO_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                  "\u2028": "\\u2028", "\u2029": "\\u2029"})


def dump_json(doc: Any) -> str:
    """Pretty JSON like Go's encoder: two-space indent, key order kept, HTML characters escaped.

    `<`, `>` and `&` can only occur inside JSON strings, so escaping them after encoding is safe.
    """
    import json

    return json.dumps(doc, indent=2, ensure_ascii=False).translate(_GO_HTML_ESCAPES) + "\n"


def dump_documents(docs: Iterable[Any], fmt: str) -> str:
    """Several documents: YAML separated by `---`, or JSON values one after the other (kubeseal's way)."""
    if fmt == "yaml":
        return "".join(dump_yaml(doc) for doc in docs)
    if fmt == "json":
        return "".join(dump_json(doc) for doc in docs)
    raise InputError(f"unsupported output format: {fmt}", hint="use yaml or json")


def format_for_path(path: str, default: str = "yaml") -> str:
    """yaml for .yaml/.yml, json for .json, else the default."""
    lower = path.lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    return default
