"""ExternalSecret manifests (external-secrets.io/v1 and v1beta1) → typed, defaulted, checked specs.

The field names, enums and defaults are ESO v0.16.2's CRD (`apis/externalsecrets/v1/externalsecret_types.go`;
v1beta1 has the same fields): refreshInterval 1h, creationPolicy Owner, deletionPolicy Retain,
conversionStrategy Default, decodingStrategy None, metadataPolicy None, template engineVersion v2,
mergePolicy Replace, templateFrom target Data, templateAs Values. `webhook_checks` adds what ESO's
admission webhook refuses (`externalsecret_validator.go`): no data and no dataFrom; a dataFrom entry with
none or more than one of extract/find/generatorRef; a dataFrom sourceRef with neither storeRef nor
generatorRef; deletionPolicy Delete with creationPolicy Merge or None; deletionPolicy Merge with
creationPolicy None; a duplicate data[].secretKey when deletionPolicy is Retain.
Every problem is a `ConfigError` whose `where` is `ExternalSecret <ns>/<name>: spec.<path>`; the message
names the field and the expected form, never a value that could be secret (spec fields are not secret,
but the message still quotes only enums and durations).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .refs import FindRef, RemoteRef

GROUP = "external-secrets.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1")
KIND = "ExternalSecret"
SECRET_STORE, CLUSTER_SECRET_STORE = "SecretStore", "ClusterSecretStore"
CREATION_POLICIES = ("Owner", "Orphan", "Merge", "None")
DELETION_POLICIES = ("Delete", "Merge", "Retain")
REFRESH_POLICIES = ("CreatedOnce", "Periodic", "OnChange")
CONVERSIONS = ("Default", "Unicode")
DECODINGS = ("Auto", "Base64", "Base64URL", "None")
METADATA_POLICIES = ("None", "Fetch")
NULL_BYTE_POLICIES = ("Ignore", "Fail")
MERGE_POLICIES = ("Replace", "Merge")
TEMPLATE_TARGETS = ("Data", "Annotations", "Labels")
TEMPLATE_SCOPES = ("Values", "KeysAndValues")
DEFAULT_REFRESH_INTERVAL = "1h"

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

# ------------------------------------------------------------------------------------ Go durations

_NS = 1
_UNITS = {"ns": _NS, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_MAX = 1 << 63


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: `[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`, or "0"."""
    orig, s = text, text
    neg = False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"invalid duration {orig!r}")
    total = 0
    while s:
        if not (s[0] == "." or (s[0].isdigit() and s[0].isascii())):
            raise ValueError(f"invalid duration {orig!r}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        pre, whole, s = i > 0, int(s[:i] or 0), s[i:]
        if whole >= _MAX:
            raise ValueError(f"invalid duration {orig!r}")
        frac, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            i = 0
            while i < len(s) and "0" <= s[i] <= "9":
                i += 1
            post, digits, s = i > 0, s[:i], s[i:]
            for d in digits:  # Go stops accumulating once the fraction would overflow
                if frac > (_MAX - 1) // 10:
                    break
                frac, scale = frac * 10 + int(d), scale * 10
        if not pre and not post:
            raise ValueError(f"invalid duration {orig!r}")
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError(f"missing unit in duration {orig!r}")
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ValueError(f"unknown unit {unit_text!r} in duration {orig!r}")
        if whole > _MAX // unit:
            raise ValueError(f"invalid duration {orig!r}")
        value = whole * unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > _MAX:
                raise ValueError(f"invalid duration {orig!r}")
        total += value
        if total > _MAX:
            raise ValueError(f"invalid duration {orig!r}")
    if neg:
        return -total
    if total > _MAX - 1:
        raise ValueError(f"invalid duration {orig!r}")
    return total


def format_go_duration(ns: int) -> str:
    """Go's Duration.String() (what `kubectl get` shows for a defaulted interval: 1h0m0s)."""
    if ns == 0:
        return "0s"
    neg, u = ns < 0, abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1000), ("ms", 1_000_000)):
            if u < size * 1000:
                text = _fmt_frac(u, size) + unit
                break
    else:
        h, rem = divmod(u, 3_600_000_000_000)
        m, rem = divmod(rem, 60_000_000_000)
        text = _fmt_frac(rem, 1_000_000_000) + "s"
        if h or m:
            text = f"{m}m" + text
        if h:
            text = f"{h}h" + text
    return ("-" if neg else "") + text


def _fmt_frac(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


# ------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class StoreRef:
    name: str
    kind: str = SECRET_STORE  # an empty kind means SecretStore


@dataclass(frozen=True)
class DataItem:
    secret_key: str
    remote_ref: RemoteRef
    store_ref: StoreRef | None = None  # sourceRef.storeRef
    generator_ref: Mapping[str, Any] | None = None  # deprecated in data[]; not implemented by ESO either


@dataclass(frozen=True)
class Rewrite:
    regexp_source: str | None = None
    regexp_target: str | None = None
    transform: str | None = None


@dataclass(frozen=True)
class DataFromItem:
    extract: RemoteRef | None = None
    find: FindRef | None = None
    rewrite: tuple[Rewrite, ...] = ()
    store_ref: StoreRef | None = None
    generator_ref: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Target:
    name: str
    creation_policy: str = "Owner"
    deletion_policy: str = "Retain"
    immutable: bool = False
    template: Mapping[str, Any] | None = None  # spec.target.template, with ESO's defaults filled in


@dataclass(frozen=True)
class ExternalSecret:
    namespace: str
    name: str
    uid: str
    api_version: str
    generation: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    store_ref: StoreRef | None
    target: Target
    refresh_interval_ns: int
    refresh_policy: str  # "" (behaves as Periodic) | CreatedOnce | Periodic | OnChange
    data: tuple[DataItem, ...] = ()
    data_from: tuple[DataFromItem, ...] = ()
    obj: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def refresh_interval(self) -> float:
        """Seconds."""
        return self.refresh_interval_ns / 1e9

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def where(self) -> str:
        return f"ExternalSecret {self.key}"

    @property
    def secret_name(self) -> str:
        return self.target.name

    def store_refs(self) -> list[StoreRef]:
        """Every store this ExternalSecret reads through, once each, in ESO's order (spec.secretStoreRef,
        data[].sourceRef.storeRef, dataFrom[].sourceRef.storeRef): for the controller-class check
        (shouldSkipUnmanagedStore) and the flood gate."""
        out: list[StoreRef] = []
        for ref in [self.store_ref, *(d.store_ref for d in self.data), *(d.store_ref for d in self.data_from)]:
            if ref is not None and ref.name and ref not in out:
                out.append(ref)
        return out


# ------------------------------------------------------------------------------------ parsing


class _Ctx:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(message, where=f"{self.where}: {path}" if path else self.where,
                           hint="fix the ExternalSecret manifest")

    def mapping(self, value: Any, path: str, *, required: bool = False) -> Mapping[str, Any]:
        if value is None:
            if required:
                raise self.fail(path, "is required")
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be an object")
        return value

    def list(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        return value

    def string(self, value: Any, path: str, *, required: bool = False, default: str = "") -> str:
        if value is None or (value == "" and not required):
            if required:
                raise self.fail(path, "is required")
            return default
        if not isinstance(value, str):
            raise self.fail(path, "must be a string")
        if required and not value:
            raise self.fail(path, "must not be empty")
        return value

    def enum(self, value: Any, path: str, allowed: tuple[str, ...], default: str) -> str:
        text = self.string(value, path, default=default)
        if text not in allowed:
            raise self.fail(path, f"must be one of {', '.join(allowed)}")
        return text

    def string_map(self, value: Any, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, item in self.mapping(value, path).items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise self.fail(f"{path}.{key}", "must be a string")
            out[key] = item
        return out

    def boolean(self, value: Any, path: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(path, "must be true or false")
        return value


def _store_ref(ctx: _Ctx, value: Any, path: str) -> StoreRef | None:
    ref = ctx.mapping(value, path)
    if not ref:
        return None
    name = ctx.string(ref.get("name"), f"{path}.name")
    if name and (len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
        raise ctx.fail(f"{path}.name", "must be a DNS subdomain name")
    kind = ctx.enum(ref.get("kind"), f"{path}.kind", (SECRET_STORE, CLUSTER_SECRET_STORE), SECRET_STORE)
    return StoreRef(name=name, kind=kind)


def _remote_ref(ctx: _Ctx, value: Any, path: str) -> RemoteRef:
    ref = ctx.mapping(value, path, required=True)
    return RemoteRef(
        key=ctx.string(ref.get("key"), f"{path}.key", required=True),
        property=ctx.string(ref.get("property"), f"{path}.property"),
        version=ctx.string(ref.get("version"), f"{path}.version"),
        metadata_policy=ctx.enum(ref.get("metadataPolicy"), f"{path}.metadataPolicy", METADATA_POLICIES, "None"),
        conversion_strategy=ctx.enum(ref.get("conversionStrategy"), f"{path}.conversionStrategy", CONVERSIONS,
                                     "Default"),
        decoding_strategy=ctx.enum(ref.get("decodingStrategy"), f"{path}.decodingStrategy", DECODINGS, "None"),
        null_bytes_policy=ctx.enum(ref.get("nullBytePolicy"), f"{path}.nullBytePolicy", NULL_BYTE_POLICIES,
                                   "Ignore"),
    )


def _find_ref(ctx: _Ctx, value: Any, path: str) -> FindRef:
    find = ctx.mapping(value, path)
    name = ctx.mapping(find.get("name"), f"{path}.name")
    return FindRef(
        path=ctx.string(find.get("path"), f"{path}.path"),
        name_regexp=ctx.string(name.get("regexp"), f"{path}.name.regexp"),
        tags=ctx.string_map(find.get("tags"), f"{path}.tags"),
        conversion_strategy=ctx.enum(find.get("conversionStrategy"), f"{path}.conversionStrategy", CONVERSIONS,
                                     "Default"),
        decoding_strategy=ctx.enum(find.get("decodingStrategy"), f"{path}.decodingStrategy", DECODINGS, "None"),
    )


def _generator_ref(ctx: _Ctx, value: Any, path: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    ref = ctx.mapping(value, path)
    ctx.string(ref.get("kind"), f"{path}.kind", required=True)
    ctx.string(ref.get("name"), f"{path}.name", required=True)
    return {"apiVersion": ref.get("apiVersion") or "generators.external-secrets.io/v1alpha1", **ref}


def _rewrites(ctx: _Ctx, value: Any, path: str) -> tuple[Rewrite, ...]:
    out = []
    for i, item in enumerate(ctx.list(value, path)):
        p = f"{path}[{i}]"
        op = ctx.mapping(item, p)
        regexp = op.get("regexp")
        transform = op.get("transform")
        rw = Rewrite()
        if regexp is not None:
            r = ctx.mapping(regexp, f"{p}.regexp")
            source = ctx.string(r.get("source"), f"{p}.regexp.source")
            if "source" not in r:
                raise ctx.fail(f"{p}.regexp.source", "is required")
            if "target" not in r:
                raise ctx.fail(f"{p}.regexp.target", "is required")
            rw = Rewrite(regexp_source=source, regexp_target=ctx.string(r.get("target"), f"{p}.regexp.target"))
        if transform is not None:
            t = ctx.mapping(transform, f"{p}.transform")
            if "template" not in t:
                raise ctx.fail(f"{p}.transform.template", "is required")
            rw = Rewrite(rw.regexp_source, rw.regexp_target,
                         transform=ctx.string(t.get("template"), f"{p}.transform.template"))
        out.append(rw)
    return tuple(out)


def _template(ctx: _Ctx, value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    tpl = dict(ctx.mapping(value, path))
    tpl["engineVersion"] = ctx.enum(tpl.get("engineVersion"), f"{path}.engineVersion", ("v2",), "v2")
    tpl["mergePolicy"] = ctx.enum(tpl.get("mergePolicy"), f"{path}.mergePolicy", MERGE_POLICIES, "Replace")
    if tpl.get("type") is not None:
        ctx.string(tpl.get("type"), f"{path}.type")
    meta = ctx.mapping(tpl.get("metadata"), f"{path}.metadata")
    tpl["metadata"] = {k: ctx.string_map(meta.get(k), f"{path}.metadata.{k}") for k in ("labels", "annotations")
                       if meta.get(k) is not None}
    if tpl.get("data") is not None:
        tpl["data"] = ctx.string_map(tpl.get("data"), f"{path}.data")
    froms = []
    for i, item in enumerate(ctx.list(tpl.get("templateFrom"), f"{path}.templateFrom")):
        p = f"{path}.templateFrom[{i}]"
        entry = dict(ctx.mapping(item, p))
        entry["target"] = ctx.enum(entry.get("target"), f"{p}.target", TEMPLATE_TARGETS, "Data")
        for kind in ("configMap", "secret"):
            if entry.get(kind) is None:
                continue
            ref = dict(ctx.mapping(entry[kind], f"{p}.{kind}"))
            ctx.string(ref.get("name"), f"{p}.{kind}.name", required=True)
            items = []
            for j, it in enumerate(ctx.list(ref.get("items"), f"{p}.{kind}.items")):
                pj = f"{p}.{kind}.items[{j}]"
                it = dict(ctx.mapping(it, pj))
                ctx.string(it.get("key"), f"{pj}.key", required=True)
                it["templateAs"] = ctx.enum(it.get("templateAs"), f"{pj}.templateAs", TEMPLATE_SCOPES, "Values")
                items.append(it)
            ref["items"] = items
            entry[kind] = ref
        if entry.get("literal") is not None:
            ctx.string(entry.get("literal"), f"{p}.literal")
        froms.append(entry)
    if "templateFrom" in tpl:
        tpl["templateFrom"] = froms
    return tpl


def where_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    return f"ExternalSecret {meta.get('namespace') or ''}/{meta.get('name') or ''}"


def parse_external_secret(obj: Mapping[str, Any], *, webhook_checks: bool = True) -> ExternalSecret:
    """The typed, defaulted spec of an ExternalSecret object (v1 or v1beta1); ConfigError if it is invalid."""
    ctx = _Ctx(where_of(obj))
    if not isinstance(obj, Mapping):
        raise ctx.fail("", "is not an object")
    api_version = obj.get("apiVersion") or f"{GROUP}/v1"
    if api_version not in API_VERSIONS:
        raise ctx.fail("apiVersion", f"must be one of {', '.join(API_VERSIONS)}")
    if obj.get("kind") not in (None, KIND):
        raise ctx.fail("kind", f"must be {KIND}")
    meta = ctx.mapping(obj.get("metadata"), "metadata", required=True)
    name = ctx.string(meta.get("name"), "metadata.name", required=True)
    namespace = ctx.string(meta.get("namespace"), "metadata.namespace")
    spec = ctx.mapping(obj.get("spec"), "spec")

    raw_interval = spec.get("refreshInterval")
    if raw_interval is None or raw_interval == "":
        raw_interval = DEFAULT_REFRESH_INTERVAL
    if isinstance(raw_interval, bool) or not isinstance(raw_interval, (str, int)):
        raise ctx.fail("spec.refreshInterval", "must be a Go duration such as 1h, 15m or 0")
    try:
        interval = parse_go_duration(str(raw_interval))
    except ValueError as err:
        raise ctx.fail("spec.refreshInterval",
                       f"{err}: use a Go duration such as 1h, 2h30m, 10s or 0 (units ns, us, ms, s, m, h)") from None
    refresh_policy = ctx.string(spec.get("refreshPolicy"), "spec.refreshPolicy")
    if refresh_policy and refresh_policy not in REFRESH_POLICIES:
        raise ctx.fail("spec.refreshPolicy", f"must be one of {', '.join(REFRESH_POLICIES)}")

    target_obj = ctx.mapping(spec.get("target"), "spec.target")
    target_name = ctx.string(target_obj.get("name"), "spec.target.name") or name
    if target_obj.get("name") and (len(target_name) > 253 or not _DNS_SUBDOMAIN.match(target_name)):
        raise ctx.fail("spec.target.name", "must be a DNS subdomain name")
    target = Target(
        name=target_name,
        creation_policy=ctx.enum(target_obj.get("creationPolicy"), "spec.target.creationPolicy",
                                 CREATION_POLICIES, "Owner"),
        deletion_policy=ctx.enum(target_obj.get("deletionPolicy"), "spec.target.deletionPolicy",
                                 DELETION_POLICIES, "Retain"),
        immutable=ctx.boolean(target_obj.get("immutable"), "spec.target.immutable"),
        template=_template(ctx, target_obj.get("template"), "spec.target.template"),
    )

    data = []
    for i, item in enumerate(ctx.list(spec.get("data"), "spec.data")):
        p = f"spec.data[{i}]"
        entry = ctx.mapping(item, p)
        key = ctx.string(entry.get("secretKey"), f"{p}.secretKey", required=True)
        if len(key) > 253 or not _SECRET_KEY.match(key):
            raise ctx.fail(f"{p}.secretKey", "must match ^[-._a-zA-Z0-9]+$ (at most 253 characters)")
        source = ctx.mapping(entry.get("sourceRef"), f"{p}.sourceRef")
        data.append(DataItem(
            secret_key=key,
            remote_ref=_remote_ref(ctx, entry.get("remoteRef"), f"{p}.remoteRef"),
            store_ref=_store_ref(ctx, source.get("storeRef"), f"{p}.sourceRef.storeRef"),
            generator_ref=_generator_ref(ctx, source.get("generatorRef"), f"{p}.sourceRef.generatorRef"),
        ))

    data_from = []
    for i, item in enumerate(ctx.list(spec.get("dataFrom"), "spec.dataFrom")):
        p = f"spec.dataFrom[{i}]"
        entry = ctx.mapping(item, p)
        source = ctx.mapping(entry.get("sourceRef"), f"{p}.sourceRef")
        df = DataFromItem(
            extract=_remote_ref(ctx, entry["extract"], f"{p}.extract") if entry.get("extract") is not None else None,
            find=_find_ref(ctx, entry["find"], f"{p}.find") if entry.get("find") is not None else None,
            rewrite=_rewrites(ctx, entry.get("rewrite"), f"{p}.rewrite"),
            store_ref=_store_ref(ctx, source.get("storeRef"), f"{p}.sourceRef.storeRef"),
            generator_ref=_generator_ref(ctx, source.get("generatorRef"), f"{p}.sourceRef.generatorRef"),
        )
        if webhook_checks:
            sources = [s for s in ("extract", "find", "generatorRef")
                       if (df.generator_ref if s == "generatorRef" else getattr(df, s)) is not None]
            if len(sources) > 1:
                raise ctx.fail(p, "extract, find, or generatorRef cannot be set at the same time")
            if entry.get("find") is None and entry.get("extract") is None and entry.get("sourceRef") is None:
                raise ctx.fail(p, "either extract, find, or sourceRef must be set to dataFrom")
            if entry.get("sourceRef") is not None and df.store_ref is None and df.generator_ref is None:
                raise ctx.fail(f"{p}.sourceRef", "generatorRef or storeRef must be set when using sourceRef in dataFrom")
        data_from.append(df)

    es = ExternalSecret(
        namespace=namespace, name=name, uid=str(meta.get("uid") or ""), api_version=api_version,
        generation=int(meta.get("generation") or 0),
        labels=ctx.string_map(meta.get("labels"), "metadata.labels"),
        annotations=ctx.string_map(meta.get("annotations"), "metadata.annotations"),
        store_ref=_store_ref(ctx, spec.get("secretStoreRef"), "spec.secretStoreRef"),
        target=target, refresh_interval_ns=interval, refresh_policy=refresh_policy,
        data=tuple(data), data_from=tuple(data_from), obj=obj,
    )
    if webhook_checks:
        check_webhook_rules(es)
    return es


def check_webhook_rules(es: ExternalSecret) -> None:
    """The cross-field rules of ESO's validating webhook (the per-dataFrom-entry ones run while parsing)."""
    ctx = _Ctx(es.where)
    creation, deletion = es.target.creation_policy, es.target.deletion_policy
    if deletion == "Delete" and creation in ("Merge", "None"):
        raise ctx.fail("spec.target.deletionPolicy", "deletionPolicy=Delete must not be used when the controller "
                       "doesn't own the secret. Please set creationPolicy=Owner")
    if deletion == "Merge" and creation == "None":
        raise ctx.fail("spec.target.deletionPolicy", "deletionPolicy=Merge must not be used with "
                       "creationPolicy=None. There is no Secret to merge with")
    if not es.data and not es.data_from:
        raise ctx.fail("spec", "either data or dataFrom should be specified")
    if deletion == "Retain":
        seen: set[str] = set()
        for i, item in enumerate(es.data):
            if item.secret_key in seen:
                raise ctx.fail(f"spec.data[{i}].secretKey", f"duplicate secretKey found: {item.secret_key}")
            seen.add(item.secret_key)
