"""Key and value transforms of ESO's `pkg/utils/utils.go` (v0.16.2), one function each.

- `rewrite_map`: `spec.dataFrom[].rewrite[]` in order; `regexp` is Go RE2's `ReplaceAllString` (google-re2
  for matching; Go's own `$name`/`${name}` expansion and empty-match rules re-implemented here), `transform`
  renders a Go template with `{"value": key}` through the template module's function map.
- `convert_keys`: conversionStrategy Default (every rune that is not a letter, digit, `-`, `.`, `_`
  becomes `_`) or Unicode (`_U%04x_`); a collision is an error.
- `validate_keys`: drops empty keys; longer than 253 or a rune outside letters/digits/`-._` is an error.
- `decode`: decodingStrategy None / Base64 (std, padded) / Base64URL (padded) / Auto (std, then URL, then raw).
- `check_null_bytes`: nullBytePolicy Fail refuses a value with a NUL byte (a later ESO field; Ignore keeps it).
Errors name keys and strategies — never a value.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError, ProviderError
from .spec import Rewrite

MAX_KEY = 253


class KeyError_(ProviderError):
    """A provider result whose keys or values cannot become Secret data (ESO: SecretSyncedError)."""


# ------------------------------------------------------------------------------------ Go unicode classes


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _is_number(ch: str) -> bool:  # unicode.IsNumber: categories Nd, Nl, No
    return unicodedata.category(ch).startswith("N")


def _is_digit(ch: str) -> bool:  # unicode.IsDigit: Nd
    return unicodedata.category(ch) == "Nd"


def _key_rune_ok(ch: str) -> bool:
    return _is_letter(ch) or _is_number(ch) or ch in "-._"


# ------------------------------------------------------------------------------------ regexp rewrite


def _compile(source: str) -> Any:
    try:
        import re2
    except ImportError as err:  # pragma: no cover - the operator extra installs it
        from ..errors import MissingExtraError
        raise MissingExtraError("ExternalSecret rewrite.regexp", "operator", "google-re2") from err
    try:
        return re2.compile(source)
    except Exception as err:  # re2.error
        detail = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise ConfigError(f"error parsing regexp: {detail}") from None


def _extract(template: str) -> tuple[str, int, str] | None:
    """regexp.extract: `name` or `{name}` at the start of template → (name, num or -1, rest)."""
    if not template:
        return None
    brace = template[0] == "{"
    s = template[1:] if brace else template
    i = 0
    while i < len(s) and (_is_letter(s[i]) or _is_digit(s[i]) or s[i] == "_"):
        i += 1
    if i == 0:
        return None
    name = s[:i]
    if brace:
        if i >= len(s) or s[i] != "}":
            return None
        i += 1
    num = 0
    for c in name:
        if not ("0" <= c <= "9") or num >= 100_000_000:
            num = -1
            break
        num = num * 10 + ord(c) - 48
    if name[0] == "0" and len(name) > 1:
        num = -1
    return name, num, s[i:]


def _expand(template: str, src: str, match: Any, groupindex: Mapping[str, int], groups: int) -> str:
    """regexp.Regexp.ExpandString for one match (`$$` is a `$`; malformed `$` stays literal)."""
    out = []
    while template:
        before, sep, after = template.partition("$")
        if not sep:
            break
        out.append(before)
        template = after
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        got = _extract(template)
        if got is None:
            out.append("$")
            continue
        name, num, template = got
        index = num if num >= 0 else groupindex.get(name, -1)
        if 0 <= index <= groups:
            start, end = match.span(index)
            if start >= 0:
                out.append(src[start:end])
    out.append(template)
    return "".join(out)


def go_replace_all(pattern: Any, src: str, repl: str) -> str:
    """regexp.Regexp.ReplaceAllString (Go's loop: no replacement of an empty match right after a match)."""
    groupindex, groups = dict(pattern.groupindex), pattern.groups
    out = []
    last_end = 0
    pos = 0
    while pos <= len(src):
        m = pattern.search(src, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(src[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand(repl, src, m, groupindex, groups))
        last_end = end
        if pos + 1 > end:
            pos += 1
        else:
            pos = end
    out.append(src[last_end:])
    return "".join(out)


def rewrite_regexp(source: str, target: str, data: Mapping[str, bytes]) -> dict[str, bytes]:
    pattern = _compile(source)
    out: dict[str, bytes] = {}
    for key, value in data.items():
        out[go_replace_all(pattern, key, target)] = value
    return out


Transform = Callable[[str, str], str]  # (template text, key) -> new key


def rewrite_transform(template_text: str, data: Mapping[str, bytes], transform: Transform) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in data.items():
        out[transform(template_text, key)] = value
    return out


def _default_transform(template_text: str, key: str) -> str:
    # the template module, imported late so that keys.py stands alone
    render: Callable[[str, str], str] = importlib.import_module(".template", __package__).render_rewrite
    return render(template_text, key)


def rewrite_map(operations: tuple[Rewrite, ...], data: Mapping[str, bytes], *,
                transform: Transform | None = None) -> dict[str, bytes]:
    """utils.RewriteMap: each operation in order; errors say which operation failed."""
    out = dict(data)
    for i, op in enumerate(operations):
        if op.regexp_source is not None:
            try:
                out = rewrite_regexp(op.regexp_source, op.regexp_target or "", out)
            except ConfigError as err:
                raise KeyError_(f"error applying rewrite to keys: failed rewriting regexp operation[{i}]: "
                                f"{err.message}") from None
        if op.transform is not None:
            try:
                out = rewrite_transform(op.transform, out, transform or _default_transform)
            except Exception as err:  # a template error names the template, not a value
                text = getattr(err, "message", None) or str(err)
                raise KeyError_(f"error applying rewrite to keys: failed rewriting transform operation[{i}]: "
                                f"{text}") from None
    return out


# ------------------------------------------------------------------------------------ conversion, validation


def convert_key(strategy: str, key: str) -> str:
    out = []
    for ch in key:
        if _key_rune_ok(ch):
            out.append(ch)
        elif strategy == "Default":
            out.append("_")
        elif strategy == "Unicode":
            out.append(f"_U{ord(ch):04x}_")
        else:
            out.append(ch)
    return "".join(out)


def convert_keys(strategy: str, data: Mapping[str, bytes]) -> dict[str, bytes]:
    """utils.ConvertKeys. Go iterates the map in random order, so which key of a colliding pair is named
    is not deterministic there; here it is the later one in the provider's order."""
    out: dict[str, bytes] = {}
    for key, value in data.items():
        new = convert_key(strategy, key)
        if new in out:
            raise KeyError_(f"error applying conversion strategy {strategy} to keys: "
                            f"secret name collision during conversion: {new}")
        out[new] = value
    return out


def validate_keys(data: Mapping[str, bytes]) -> dict[str, bytes]:
    """utils.ValidateKeys: empty keys are dropped, a bad key is an error."""
    out: dict[str, bytes] = {}
    prefix = "invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): "
    for key, value in data.items():
        if not key:
            continue
        raw = key.encode("utf-8", "surrogatepass")
        if len(raw) > MAX_KEY:
            shown = raw[:MAX_KEY].decode("utf-8", "replace")
            raise KeyError_(f"{prefix}key has length {len(raw)} but max is 253: (following is truncated): {shown}")
        for ch in key:
            if not _key_rune_ok(ch):
                raise KeyError_(f"{prefix}key has invalid character {ch}, only alphanumeric, '-', '.' and '_' "
                                f"are allowed: {key}")
        out[key] = value
    return out


# ------------------------------------------------------------------------------------ decoding, null bytes


def _b64(value: bytes, url: bool) -> bytes:
    """Go's base64.StdEncoding / URLEncoding DecodeString: padded, strict alphabet, CR and LF ignored."""
    text = value.replace(b"\r", b"").replace(b"\n", b"")
    if len(text) % 4:
        raise binascii.Error("illegal base64 data")
    if url:
        if b"+" in text or b"/" in text:
            raise binascii.Error("illegal base64 data")
        text = text.translate(bytes.maketrans(b"-_", b"+/"))
    return base64.b64decode(text, validate=True)


def decode(strategy: str, value: bytes) -> bytes:
    """utils.Decode. binascii errors carry no data; the caller names the key."""
    if strategy in ("None", ""):
        return value
    if strategy == "Base64":
        return _b64(value, False)
    if strategy == "Base64URL":
        return _b64(value, True)
    if strategy == "Auto":
        for url in (False, True):
            try:
                return _b64(value, url)
            except (binascii.Error, ValueError):
                continue
        return value
    raise ConfigError(f"decoding strategy {strategy} is not supported")


def decode_map(strategy: str, data: Mapping[str, bytes]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in data.items():
        try:
            out[key] = decode(strategy, value)
        except (binascii.Error, ValueError):
            raise KeyError_(f"error applying decoding strategy {strategy} to data: failure decoding key {key}: "
                            "illegal base64 data") from None
    return out


def decode_one(strategy: str, value: bytes) -> bytes:
    try:
        return decode(strategy, value)
    except (binascii.Error, ValueError):
        raise KeyError_(f"error applying decoding strategy {strategy} to data: illegal base64 data") from None


def check_null_bytes(policy: str, data: Mapping[str, bytes]) -> None:
    if policy != "Fail":
        return
    for key, value in data.items():
        if b"\x00" in value:
            raise KeyError_(f"secret value for key {key} contains null bytes (nullBytePolicy=Fail)")
