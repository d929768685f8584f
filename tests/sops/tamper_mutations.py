"""Structured mutations of an encrypted sops file, the same for every format and encrypter.

A mutation is a name and a function from the file's text to the changed text (None when it
does not apply to this file). The list is derived from the file's structure only (which
values it has, of which types, where the metadata sits), never from random draws, so every
run makes the same cases. The tamper matrix runs each one through the real sops and ours.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")
EXTENSIONS = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}

# Plaintexts made for tampering: strings that also parse as int/bool/time (so a changed `type:`
# can decrypt), lists whose items share one path (AAD), comments at several levels, a value
# left in clear. Every secret holds MARK, which no error message may show.
MARK = "sk-mark"
PLAIN: dict[str, bytes] = {
    "yaml": f"""\
# top comment {MARK}-c1
app:
    password: {MARK}-pw1 # inline {MARK}-c2
    token: {MARK}-tok2
    numstr: "42"
    boolstr: "true"
    timestr: "2024-01-01T10:00:00Z"
    port: 5432
    ratio: 2.5
    enabled: true
    since: 2024-01-01T10:00:00Z
    tags:
        - {MARK}-l1
        - {MARK}-l2
    empty: ""
    nothing: null
    api_unencrypted: visible
    # comment in app {MARK}-c3
    tail: {MARK}-tail
---
second: {MARK}-doc2
""".encode(),
    "json": json.dumps({
        "password": f"{MARK}-pw1", "token": f"{MARK}-tok2", "numstr": "42", "boolstr": "true", "port": 5432,
        "ratio": 2.5, "enabled": True, "flags": [True, False], "nested": {"inner": f"{MARK}-in"},
        "list": [f"{MARK}-l1", f"{MARK}-l2"], "nothing": None, "api_unencrypted": "visible",
    }, indent="\t").encode() + b"\n",
    "dotenv": f"""\
# comment {MARK}-c1
PASSWORD={MARK}-pw1
TOKEN={MARK}-tok2
NUMSTR=42
BOOLSTR=true
PUBLIC_unencrypted=visible
""".encode(),
    "ini": f"""\
; comment {MARK}-c1
[db]
; user comment {MARK}-c2
password = {MARK}-pw1
numstr = 42
[api]
token = {MARK}-tok2
public_unencrypted = visible
""".encode(),
    "binary": f"{MARK}-bin\n".encode() + b"\x00\xff tail\n",
}

ENC_RE = re.compile(r"ENC\[AES256_GCM,data:([^,\]]*),iv:([^,\]]*),tag:([^,\]]*),type:([^\]]*)\]")
# The MAC's line: the key `mac` right before the value, in each format's spelling.
_MAC_BEFORE = re.compile(r'(?:^|[\s"_])mac"?\s*[:=]\s*"?$')


@dataclass(frozen=True)
class Mutation:
    name: str
    apply: Callable[[str], str | None]


@dataclass(frozen=True)
class Enc:
    """One `ENC[...]` occurrence: its span in the text, fields, and whether it is the MAC."""

    start: int
    end: int
    data: str
    iv: str
    tag: str
    kind: str
    is_mac: bool

    @property
    def text(self) -> str:
        return f"ENC[AES256_GCM,data:{self.data},iv:{self.iv},tag:{self.tag},type:{self.kind}]"


def find_encs(text: str) -> list[Enc]:
    found = []
    for m in ENC_RE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = text[line_start:m.start()]
        found.append(Enc(m.start(), m.end(), *m.groups(), is_mac=bool(_MAC_BEFORE.search(before))))
    return found


def _replace_all(text: str, old: str, new: str) -> str | None:
    return text.replace(old, new) if old in text else None


def _flip(b64: str, byte: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[byte % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _with_field(enc: Enc, **fields: str) -> str:
    values = {"data": enc.data, "iv": enc.iv, "tag": enc.tag, "kind": enc.kind, **fields}
    return f"ENC[AES256_GCM,data:{values['data']},iv:{values['iv']},tag:{values['tag']},type:{values['kind']}]"


def _at(enc: Enc, new: str) -> Callable[[str], str | None]:
    """Replace the value at this occurrence only (equal ciphertexts elsewhere stay)."""
    return lambda text: text[:enc.start] + new + text[enc.end:]


# ------------------------------------------------------------------ metadata editors

class MetaEditor:
    """Change, remove or add a top-level field of the `sops` metadata, in one format's syntax.

    Values are Python str/bool/int (rendered as the format writes them) or `Raw` text."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def set(self, text: str, name: str, value: Any, blocks: str = "all") -> str | None:
        raise NotImplementedError

    def remove(self, text: str, name: str, blocks: str = "all") -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Raw:
    """Field text written as is (a reformatting the typed renderers would not make)."""

    text: str


def _scalar_text(value: Any, fmt: str) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value) if fmt == "yaml" else str(value)


class YamlMeta(MetaEditor):
    """The `sops:` block at the end of each YAML document (real sops repeats it in every one)."""

    _BLOCK = re.compile(r"^sops:\n((?:[ \t].*\n|\n)*)", re.M)

    def _edit(self, text: str, blocks: str, edit: Callable[[list[str], str], list[str] | None]) -> str | None:
        spans = list(self._BLOCK.finditer(text))
        if not spans:
            return None
        chosen = spans if blocks == "all" else [spans[0] if blocks == "first" else spans[-1]]
        if blocks != "all" and len(spans) < 2:
            return None
        out, pos, changed = [], 0, False
        for m in spans:
            body = m.group(1)
            lines = body.splitlines(keepends=True)
            indent = re.match(r"[ \t]*", lines[0]).group(0) if lines else "    "
            new = edit(lines, indent) if m in chosen else None
            out.append(text[pos:m.start(1)])
            if new is None:
                out.append(body)
            else:
                changed = True
                out.append("".join(new))
            pos = m.end(1)
        out.append(text[pos:])
        return "".join(out) if changed else None

    @staticmethod
    def _field_range(lines: list[str], indent: str, name: str) -> tuple[int, int] | None:
        for i, line in enumerate(lines):
            if line.startswith(f"{indent}{name}:"):
                j = i + 1
                while j < len(lines) and (lines[j].startswith(indent + " ") or lines[j].startswith(indent + "-")
                                          or lines[j].strip() == ""):
                    j += 1
                return i, j
        return None

    def set(self, text: str, name: str, value: Any, blocks: str = "all") -> str | None:
        def edit(lines: list[str], indent: str) -> list[str]:
            line = f"{indent}{name}: {_scalar_text(value, 'yaml')}\n"
            span = self._field_range(lines, indent, name)
            if span is None:
                return [line, *lines]
            return [*lines[:span[0]], line, *lines[span[1]:]]

        return self._edit(text, blocks, edit)

    def remove(self, text: str, name: str, blocks: str = "all") -> str | None:
        def edit(lines: list[str], indent: str) -> list[str] | None:
            span = self._field_range(lines, indent, name)
            return None if span is None else [*lines[:span[0]], *lines[span[1]:]]

        return self._edit(text, blocks, edit)


class JsonMeta(MetaEditor):
    """The `sops` object of a JSON (or binary-store JSON envelope) file, edited as data."""

    def _edit(self, text: str, edit: Callable[[dict[str, Any]], bool]) -> str | None:
        doc = json.loads(text)
        if not edit(doc["sops"]):
            return None
        return json.dumps(doc, indent="\t", ensure_ascii=False) + "\n"

    def set(self, text: str, name: str, value: Any, blocks: str = "all") -> str | None:
        if blocks != "all":
            return None

        def edit(md: dict[str, Any]) -> bool:
            md[name] = json.loads(value.text) if isinstance(value, Raw) else value
            return True

        return self._edit(text, edit)

    def remove(self, text: str, name: str, blocks: str = "all") -> str | None:
        if blocks != "all":
            return None
        return self._edit(text, lambda md: md.pop(name, None) is not None)


class FlatMeta(MetaEditor):
    """dotenv `sops_<name>=` lines, or INI `<name> = ` lines of the `[sops]` section."""

    def _split(self, text: str) -> tuple[str, list[str]]:
        if self.fmt == "dotenv":
            return "", text.splitlines(keepends=True)
        head, sep, tail = text.partition("[sops]\n")
        return head + sep, tail.splitlines(keepends=True)

    def _key(self, line: str) -> str:
        if self.fmt == "dotenv":
            return line.split("=", 1)[0].removeprefix("sops_") if line.startswith("sops_") else ""
        return line.split("=", 1)[0].strip() if "=" in line else ""

    def _line(self, name: str, value: Any) -> str:
        return f"sops_{name}={_scalar_text(value, 'flat')}\n" if self.fmt == "dotenv" \
            else f"{name} = {_scalar_text(value, 'flat')}\n"

    def _matches(self, line: str, name: str) -> bool:
        key = self._key(line)
        return key == name or key.startswith(name + "__")

    def set(self, text: str, name: str, value: Any, blocks: str = "all") -> str | None:
        if blocks != "all":
            return None
        head, lines = self._split(text)
        new = self._line(name, value)
        for i, line in enumerate(lines):
            if self._matches(line, name):
                return head + "".join([*lines[:i], new, *[x for x in lines[i + 1:] if not self._matches(x, name)]])
        return head + "".join([*lines, new])

    def remove(self, text: str, name: str, blocks: str = "all") -> str | None:
        if blocks != "all":
            return None
        head, lines = self._split(text)
        kept = [line for line in lines if not self._matches(line, name)]
        return None if len(kept) == len(lines) else head + "".join(kept)


def meta_editor(fmt: str) -> MetaEditor:
    if fmt == "yaml":
        return YamlMeta(fmt)
    if fmt in ("json", "binary"):
        return JsonMeta(fmt)
    return FlatMeta(fmt)


def _meta_value(text: str, fmt: str, name: str) -> str:
    """The written text of a scalar metadata field (first occurrence)."""
    patterns = {
        "yaml": rf'^[ \t]+{name}: "?([^"\n]*)"?$',
        "json": rf'"{name}": "([^"]*)"',
        "dotenv": rf"^sops_{name}=(.*)$",
        "ini": rf"^{name}\s*= (.*)$",
    }
    m = re.search(patterns["json" if fmt == "binary" else fmt], text, re.M)
    assert m, f"no {name} in the {fmt} metadata"
    return m.group(1)


# ------------------------------------------------------------------ the mutation list

# Type changes tried per original type: the neighbours a plaintext may also parse as, sops's
# legacy `bytes`, and names sops does not know.
TYPE_TARGETS = {
    "str": ("int", "float", "bool", "time", "comment", "bytes", "STR", "", "str "),
    "int": ("str", "float", "bool", "bytes"),
    "float": ("str", "int", "bytes"),
    "bool": ("str", "int", "bytes"),
    "time": ("str", "bytes", "int"),
    "comment": ("str", "bytes", "int", "time"),
}


def _lastmodified_forms(written: str) -> dict[str, str]:
    """Other spellings of the same second (and of nearby instants) for `lastmodified`."""
    base = written.rstrip("Z")  # 2026-01-02T03:04:05
    date, clock = base.split("T")
    hour = int(clock[:2])
    shifted = f"{date}T{(hour + 1) % 24:02d}{clock[2:]}+01:00" if hour < 23 else f"{date}T00{clock[2:]}+01:00"
    seconds = int(clock[-2:])
    next_second = f"{date}T{clock[:-2]}{(seconds + 1) % 60:02d}Z"
    return {
        "offset-zero": f"{base}+00:00",
        "offset-minus-zero": f"{base}-00:00",
        "fraction-zero": f"{base}.000Z",
        "fraction-half": f"{base}.5Z",
        "fraction-nanos": f"{base}.123456789Z",
        "fraction-comma": f"{base},5Z",
        "lowercase-z": f"{base}z",
        "lowercase-t": f"{date}t{clock}Z",
        "space-separator": f"{date} {clock}Z",
        "same-instant-plus-one-hour": shifted,
        "next-second": next_second,
        "date-only": date,
        "no-zone": base,
    }


def mutations(fmt: str, text: str, other_recipient: str) -> list[Mutation]:
    """Every mutation this file's structure allows, in a fixed order."""
    encs = find_encs(text)
    values = [e for e in encs if not e.is_mac]
    mac = next(e for e in encs if e.is_mac)
    meta = meta_editor(fmt)
    out: list[Mutation] = []

    def add(name: str, fn: Callable[[str], str | None]) -> None:
        out.append(Mutation(name, fn))

    # 1. The `type:` of the first value of each type (and of the MAC).
    seen: set[str] = set()
    for e in values:
        if e.kind in seen or e.kind not in TYPE_TARGETS:
            continue
        seen.add(e.kind)
        for target in TYPE_TARGETS[e.kind]:
            add(f"type:{e.kind}->{target or 'empty'}#{values.index(e)}", _at(e, _with_field(e, kind=target)))
    # A string that holds a number, a bool or a time: the type change decrypts and parses.
    for e in values[:12]:
        if e.kind == "str" and len(base64.b64decode(e.data)) in (2, 4, 20):
            for target in ("int", "bool", "time", "bytes"):
                add(f"type:str->{target}@len{len(base64.b64decode(e.data))}#{values.index(e)}",
                    _at(e, _with_field(e, kind=target)))
    for target in ("bytes", "comment", "int"):
        add(f"mac-type:str->{target}", lambda t, target=target: _replace_all(t, mac.text, _with_field(mac, kind=target)))

    # 2. Bits of one value and of the MAC; IV and tag lengths; the envelope's syntax.
    first = next(e for e in values if e.kind == "str")
    for field in ("data", "iv", "tag"):
        add(f"flip:{field}", _at(first, _with_field(first, **{field: _flip(getattr(first, field))})))
        add(f"mac-flip:{field}", lambda t, field=field: _replace_all(
            t, mac.text, _with_field(mac, **{field: _flip(getattr(mac, field))})))
    add("iv:12-bytes", _at(first, _with_field(first, iv=base64.b64encode(base64.b64decode(first.iv)[:12]).decode())))
    add("tag:truncated", _at(first, _with_field(first, tag=base64.b64encode(base64.b64decode(first.tag)[:8]).decode())))
    add("data:unpadded", _at(first, _with_field(first, data=first.data.rstrip("="))) if first.data.endswith("=")
        else lambda t: None)
    add("trailing:text", _at(first, first.text + "junk"))
    add("trailing:bracket", _at(first, first.text + "x]"))
    add("prefix:lowercase", _at(first, first.text.replace("ENC[AES256_GCM", "enc[AES256_GCM")))
    add("prefix:other-cipher", _at(first, first.text.replace("AES256_GCM", "AES128_GCM")))
    add("value:plain", _at(first, "plain"))
    add("value:empty", _at(first, ""))

    # Every value once: its tag flipped (a list item, a comment, a value in another document).
    for i, e in enumerate(values):
        add(f"every:flip-tag#{i}:{e.kind}", _at(e, _with_field(e, tag=_flip(e.tag, 5))))

    # 3. Moving values: to another key, between list items that share one path, across files.
    strs = [e for e in values if e.kind == "str"]
    if len(strs) >= 2:
        a, b = strs[0], strs[1]

        def swap(t: str, a: Enc = a, b: Enc = b) -> str:
            lo, hi = sorted((a, b), key=lambda e: e.start)
            return t[:lo.start] + hi.text + t[lo.end:hi.start] + lo.text + t[hi.end:]

        add("swap:two-keys", swap)
        add("copy:key-to-key", _at(b, a.text))
    same_path = _same_path_pair(fmt, text, values)
    if same_path is not None:
        a, b = same_path
        add("swap:list-items-same-path",
            lambda t, a=a, b=b: t[:a.start] + b.text + t[a.end:b.start] + a.text + t[b.end:])
    comments = [e for e in values if e.kind == "comment"]
    if comments:
        c = comments[0]
        add("comment:flip-data", _at(c, _with_field(c, data=_flip(c.data))))
        add("comment:replaced-by-value", _at(c, first.text))
        if len(comments) >= 2:
            c2 = comments[-1]
            add("comment:swap-paths", lambda t, c=c, c2=c2: t[:c.start] + c2.text + t[c.end:c2.start] + c.text
                + t[c2.end:])
        add("value:replaced-by-comment", _at(first, c.text))

    # 4. lastmodified: removed, changed, and the same time written another way.
    written = _meta_value(text, fmt, "lastmodified")
    add("lastmodified:remove", lambda t: meta.remove(t, "lastmodified"))
    add("lastmodified:empty", lambda t: meta.set(t, "lastmodified", ""))
    for form, value in _lastmodified_forms(written).items():
        add(f"lastmodified:{form}", lambda t, value=value: meta.set(t, "lastmodified", value))
    if fmt == "yaml":
        add("lastmodified:unquoted", lambda t: meta.set(t, "lastmodified", Raw(written)))
        add("lastmodified:single-quoted", lambda t: meta.set(t, "lastmodified", Raw(f"'{written}'")))
        add("lastmodified:unquoted-offset", lambda t: meta.set(t, "lastmodified", Raw(written.rstrip("Z") + "+00:00")))
        add("lastmodified:first-document-only", lambda t: meta.set(t, "lastmodified", written.rstrip("Z") + "+00:00",
                                                                    blocks="first"))
        add("lastmodified:last-document-only", lambda t: meta.set(t, "lastmodified", "2001-01-01T00:00:00Z",
                                                                   blocks="last"))

    # 5. The MAC field itself.
    add("mac:remove", lambda t: meta.remove(t, "mac"))
    add("mac:empty", lambda t: meta.set(t, "mac", ""))
    add("mac:plain-hex", lambda t: meta.set(t, "mac", "0" * 128))
    add("mac:value-ciphertext", lambda t: meta.set(t, "mac", first.text))

    # 6. version.
    for label, value in (("remove", None), ("older", "3.0.0"), ("newer", "9.9.9"), ("v-prefix", "v3.13.3"),
                         ("one-dot", "1.0"), ("two-parts", "3.13"), ("not-semver", "banana"), ("empty", ""),
                         ("prerelease", "3.13.3-rc.1")):
        if value is None:
            add(f"version:{label}", lambda t: meta.remove(t, "version"))
        else:
            add(f"version:{label}", lambda t, value=value: meta.set(t, "version", value))

    # 7. The selection settings: changed, removed, added, two at once; mac_only_encrypted.
    add("unencrypted_suffix:remove", lambda t: meta.remove(t, "unencrypted_suffix"))
    add("unencrypted_suffix:empty", lambda t: meta.set(t, "unencrypted_suffix", ""))
    add("unencrypted_suffix:other", lambda t: meta.set(t, "unencrypted_suffix", "_plain"))
    add("unencrypted_suffix:matches-nothing", lambda t: meta.set(t, "unencrypted_suffix", "_zzz"))
    for field, value in (("encrypted_regex", "^nomatch$"), ("encrypted_regex", "."), ("encrypted_regex", "^data$"),
                         ("unencrypted_regex", "^api"), ("unencrypted_regex", "^nomatch$"),
                         ("encrypted_suffix", "_secret"), ("unencrypted_comment_regex", "nomatch"),
                         ("unencrypted_comment_regex", "."), ("encrypted_comment_regex", "nomatch"),
                         ("encrypted_comment_regex", "."), ("unencrypted_regex", "("),
                         ("encrypted_regex", "(")):
        add(f"add:{field}={value}", lambda t, f=field, v=value: meta.set(
            meta.remove(t, "unencrypted_suffix") or t, f, v))
    add("two-rules:+encrypted_regex", lambda t: meta.set(t, "encrypted_regex", "."))
    add("mac_only_encrypted:true", lambda t: meta.set(t, "mac_only_encrypted", True))
    add("mac_only_encrypted:false", lambda t: meta.set(t, "mac_only_encrypted", False))
    add("mac_only_encrypted:string-true", lambda t: meta.set(t, "mac_only_encrypted",
                                                             Raw('"true"') if fmt in ("yaml", "json", "binary")
                                                             else "True"))
    add("unencrypted_suffix:quoted", lambda t: meta.set(t, "unencrypted_suffix", Raw('"_unencrypted"')
                                                       if fmt in ("yaml", "json", "binary") else '"_unencrypted"'))
    add("lastmodified:number", lambda t: meta.set(t, "lastmodified", 20260101))
    add("version:number", lambda t: meta.set(t, "version", 3))
    add("shamir_threshold:string", lambda t: meta.set(t, "shamir_threshold", "1"))
    add("mac_only_encrypted:one", lambda t: meta.set(t, "mac_only_encrypted", 1))
    add("mac_only_encrypted:garbage", lambda t: meta.set(t, "mac_only_encrypted", "maybe"))

    # 8. Keys and other metadata.
    add("shamir_threshold:2", lambda t: meta.set(t, "shamir_threshold", 2))
    add("shamir_threshold:garbage", lambda t: meta.set(t, "shamir_threshold", "many"))
    add("unknown-field", lambda t: meta.set(t, "zz_unknown", "x"))
    add("age:remove", lambda t: meta.remove(t, "age"))
    recipient = re.search(r"age1[0-9a-z]{58}", text)
    if recipient:
        found = recipient.group(0)
        add("age:other-recipient", lambda t: t.replace(found, other_recipient))
    add("age:enc-flipped", _flip_armor)

    # 9. Values in clear and the tree's shape.
    if "visible" in text:
        add("clear-value:changed", lambda t: t.replace("visible", "altered", 1))
    add("key:renamed", lambda t: _rename_first_key(fmt, t))
    if fmt in ("yaml", "json"):
        add("null:added", lambda t: _add_null(fmt, t))
    return out


def _flip_armor(text: str) -> str | None:
    """Change one base64 character inside the age stanza (every copy of it)."""
    marker = "-----BEGIN AGE ENCRYPTED FILE-----"
    at = text.find(marker)
    if at < 0:
        return None
    body_start = at + len(marker)
    m = re.compile(r"[A-Za-z0-9+/]{40}").search(text, body_start)
    if m is None:
        return None
    chunk = m.group(0)
    pos = 30
    changed = chunk[:pos] + ("A" if chunk[pos] != "A" else "B") + chunk[pos + 1:]
    return text.replace(chunk, changed)


def _same_path_pair(fmt: str, text: str, values: list[Enc]) -> tuple[Enc, Enc] | None:
    """Two list items under one key (one AAD): sops's path has no list index."""
    if fmt not in ("yaml", "json"):
        return None
    for a, b in itertools.pairwise(values):
        if a.kind != "str" or b.kind != "str":
            continue
        line_a = text[text.rfind("\n", 0, a.start) + 1:a.start].strip()
        line_b = text[text.rfind("\n", 0, b.start) + 1:b.start].strip()
        if text[a.end:b.start].count("\n") == 1 and line_a in ("-", '"') and line_b == line_a:
            return a, b
    return None


def _rename_first_key(fmt: str, text: str) -> str | None:
    m = {
        "yaml": re.compile(r"^(    )(password)(:)", re.M),
        "json": re.compile(r'^(\t)"(password)"(:)', re.M),
        "dotenv": re.compile(r"^()(PASSWORD)(=)", re.M),
        "ini": re.compile(r"^()(password)( =)", re.M),
        "binary": re.compile(r'^(\t)"(data)"(:)', re.M),
    }[fmt].search(text)
    if m is None:
        return None
    quote = '"' if fmt in ("json", "binary") else ""
    return text[:m.start()] + f"{m.group(1)}{quote}{m.group(2)}2{quote}{m.group(3)}" + text[m.end():]


def _add_null(fmt: str, text: str) -> str | None:
    if fmt == "yaml":
        return text.replace("app:\n", "app:\n    added: null\n", 1)
    return text.replace("{\n", '{\n\t"added": null,\n', 1)
