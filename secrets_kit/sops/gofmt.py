"""Go's text forms of numbers and times, as sops (a Go program) writes and reads them.

The MAC and the encrypted bytes of ints, floats, bools and timestamps are these texts,
so they must match Go exactly: `strconv.FormatFloat(f, 'f', -1, 64)`, `strconv.Itoa`,
`"True"`/`"False"`, `time.Time.MarshalText`.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from ..lazyre import LazyRe  # compiled on first use: a decrypt of strings needs none of these
from .tree import Timestamp


def _go_special(value: float) -> str | None:
    """Go's text for an infinity, NaN or (signed) zero, the same in every FormatFloat form."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return None


def format_float_f(value: float) -> str:
    """`strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent."""
    special = _go_special(value)
    if special is not None:
        return special
    from decimal import Decimal

    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _shortest_digits(value: float) -> tuple[str, int]:
    """Digits and decimal exponent of the shortest repr: value = 0.DIGITS x 10^exp."""
    from decimal import Decimal

    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)
    return text, exponent + len(text)


def format_float_e(value: float, min_exp_digits: int = 2) -> str:
    digits, point = _shortest_digits(value)
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    esign = "-" if exp < 0 else "+"
    return f"{sign}{mantissa}e{esign}{abs(exp):0{min_exp_digits}d}"


def format_float_g(value: float) -> str:
    """`strconv.FormatFloat(v, 'g', -1, 64)`: with the shortest precision Go switches to
    the exponent form when the exponent is < -4 or >= 6."""
    special = _go_special(value)
    if special is not None:
        return special
    _, point = _shortest_digits(value)
    exp = point - 1
    if exp < -4 or exp >= 6:
        return format_float_e(value)
    return format_float_f(value)


def format_float_yaml(value: float) -> str:
    """How yaml.v3 emits a float64 ('g' form; `.inf`, `.nan` for the specials)."""
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if math.isnan(value):
        return ".nan"
    return format_float_g(value)


def format_float_json(value: float) -> str:
    """Go encoding/json: 'f' for 1e-6 <= |v| < 1e21, else 'e' with a 1+ digit exponent."""
    if math.isinf(value) or math.isnan(value):
        raise ValueError("json: unsupported value")
    absval = abs(value)
    if absval != 0 and (absval < 1e-6 or absval >= 1e21):
        return format_float_e(value, min_exp_digits=1)
    return format_float_f(value)


def val_to_string(value: object) -> str:
    """sops `stores.ValToString` (dotenv and INI values, exec-env)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = format_float_g(value).upper().replace("+INF", "+Inf").replace("-INF", "-Inf")
        if text == "NAN":
            return "NaN"
        if "." not in text and "E" not in text and "Inf" not in text:
            text = format(value, ".1f")
        return text
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


# --------------------------------------------------------------------------- time

# Upper-case `T` and `Z` only: Go's time.Parse(RFC3339) refuses `t` and `z` (the real sops
# refuses such a lastmodified, exit 1); a fraction may follow a comma, as Go accepts.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([.,]\d+)?(Z|[+-]\d{2}:\d{2})\Z")


def parse_rfc3339(text: str) -> dt.datetime:
    """Go `time.Parse(time.RFC3339, s)` (fractions and offsets accepted)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"parsing time {text!r} as RFC3339")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = m.group(7) or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    zone = m.group(8)
    if zone == "Z":
        tz = dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def format_rfc3339(moment: dt.datetime) -> str:
    """Go `t.Format(time.RFC3339)`: second precision, `Z` for a zero offset."""
    offset = moment.utcoffset() or dt.timedelta(0)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if offset == dt.timedelta(0):
        return base + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{base}{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"


def normalize_rfc3339(text: str) -> str:
    """The MAC's AAD: lastmodified parsed as RFC 3339 and formatted back (fractions dropped)."""
    return format_rfc3339(parse_rfc3339(text))


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# YAML timestamps as yaml.v3 resolves them (resolve.go allowedTimestampFormats).
_YAML_TS = LazyRe(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:([Tt])(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})"
    r"|( )(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?))?$")


def _nanos_text(frac: str | None) -> str:
    if not frac:
        return ""
    digits = (frac[1:] + "000000000")[:9].rstrip("0")
    return "." + digits if digits else ""


def parse_yaml_timestamp(text: str) -> Timestamp | None:
    """A plain YAML scalar that yaml.v3 reads as a timestamp, as MarshalText writes it back."""
    if len(text) < 8 or not text[:4].isdigit() or text[4] != "-":
        return None
    m = _YAML_TS.match(text)
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    if m.group(4):  # T form with a zone
        hour, minute, second = int(m.group(5)), int(m.group(6)), int(m.group(7))
        frac, zone = m.group(8), m.group(9)
    elif m.group(10):  # space form, no zone: UTC
        hour, minute, second = int(m.group(11)), int(m.group(12)), int(m.group(13))
        frac, zone = m.group(14), "Z"
    else:
        hour = minute = second = 0
        frac, zone = None, "Z"
    if hour > 23 or minute > 59 or second > 59:
        return None
    if zone in ("Z", "+00:00", "-00:00"):
        zone = "Z"
    return Timestamp(f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{_nanos_text(frac)}{zone}")


_GO_INT = LazyRe(r"^[+-]?\d+$")


def atoi(text: str) -> int:
    """Go `strconv.Atoi` (decimal only, optional sign, int64 range)."""
    if not _GO_INT.match(text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


_GO_FLOAT = LazyRe(r"^[+-]?(?:(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?|[Ii]nf(?:inity)?|NaN|nan)$")


def parse_float(text: str) -> float:
    """Go `strconv.ParseFloat(s, 64)` for the forms Go itself writes (and the usual ones)."""
    if not _GO_FLOAT.match(text) and not text.lower().startswith("0x"):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    return float(text.replace("_", ""))


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(text: str) -> bool:
    """Go `strconv.ParseBool`."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
