"""ESO v0.16.2's template engine v2 and its application to a target Secret.

What this module exposes (the sync engine calls these; the runtime reads the template sources):

    render(template: Mapping | None, data: Mapping[str, bytes], sources: TemplateSources, *,
           es_name: str, es_labels: Mapping[str, str] | None = None,
           es_annotations: Mapping[str, str] | None = None, existing: Mapping | None = None,
           creation_policy: str = "Owner", delimiters: tuple[str, str] = ("{{", "}}")) -> Rendered
    render_rewrite(template_text: str, key: str) -> str          # dataFrom rewrite[].transform
    execute(name: str, source: str, data: Mapping[str, bytes], *, strict: bool = True,
            delimiters: tuple[str, str] = ("{{", "}}")) -> bytes   # one template, as ESO's execute
    template_sources(template: Mapping | None) -> set[tuple[str, str]]   # ("ConfigMap"|"Secret", name)
    Rendered(data: dict[str, bytes], labels: dict[str, str], annotations: dict[str, str], type: str | None)
    TemplateApplyError (a RenderError): message as ESO's applyTemplate error, never a value.

`template` is `spec.target.template` as JSON (camelCase). `data` is the provider data keyed by secretKey.
`existing` is the target Secret as read from the API (base64 `data`, `metadata.managedFields`) or None
(a `data` value already decoded to bytes is taken as is).
`sources[(kind, name)]` holds a ConfigMap's `.data` (encoded to bytes) or a Secret's decoded `.data`,
read in the ExternalSecret's namespace; a missing entry means the object does not exist.

Upstream (pkg/controllers/externalsecret/externalsecret_controller{,_template}.go, pkg/template/v2,
pkg/controllers/templating/parser.go), in this order:
- keys this ES wrote before (managedFields of manager `externalsecrets.external-secrets.io/<es-name>`)
  are dropped from the existing data, labels and annotations;
- existing data is kept only with creationPolicy Merge;
- no template: provider data is copied, and the ES's own labels/annotations merged onto the Secret's;
- template: its type (when set) replaces the Secret's; metadata labels/annotations are copied, then
  rendered as templates; provider data is included when mergePolicy is Merge or there is neither
  data nor templateFrom; templateFrom entries apply in order (configMap, secret, literal), then
  template.data (precedence), then labels, then annotations;
- every template runs with missingkey=error over a map[string]string of the provider data;
  KeysAndValues/literal output is YAML parsed into map[string]string.
ESO v0.16.2 hard-codes "{{" "}}" in execute (its --template-left/right-delimiter flags are registered
but unused); `delimiters` lets a caller honour the flags. Go's errors name line:column; ours
give NAME:LINE only for an unknown function and NAME:LINE:COL only for a missing key (found by
searching the template). A KeysAndValues template is named by its text, as in Go, except one from a
Secret, named by where it came from.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import RenderError
from ..gotemplate import TemplateError
from ..gotemplate.executor import Execution
from ..gotemplate.parser import parse_tree
from ..gotemplate.values import MISSING, StringMap, go_type
from .functions import FUNCTIONS, YamlError, go_bytes, go_string, json_kind, load_yaml_go, yaml_scalar_text
from .managed_fields import managed_keys

TemplateSources = Mapping[tuple[str, str], Mapping[str, bytes]]
DEFAULT_DELIMITERS = ("{{", "}}")


class TemplateApplyError(RenderError):
    """The template could not be applied (ESO: `could not apply template: ...` once the core wraps it)."""


@dataclass
class Rendered:
    data: dict[str, bytes]
    labels: dict[str, str]
    annotations: dict[str, str]
    type: str | None


# --- the engine --------------------------------------------------------------------------------------

class _MissingKey(TemplateError):
    def __init__(self, field_source: str, key: str) -> None:
        super().__init__(f'map has no entry for key "{key}"')
        self.field_source, self.key = field_source, key


def _position(source: str, token: str, *, column: bool) -> str:
    """Go's NAME:LINE[:COL] context, from the first place `token` stands alone in the template (the
    shared engine keeps no positions; the first occurrence is the failing one unless a branch skipped it)."""
    found = re.search(r"(?<![\w.$])" + re.escape(token) + r"(?![\w])", source)
    if found is None:
        return ""
    start = found.start() + (len(token.partition(".")[0]) if token.startswith("$") else 0)  # Go: at the field
    before = source[:start]
    line = before.count("\n") + 1
    col = len(before.encode()) - (len(before[:before.rfind("\n") + 1].encode()) if "\n" in before else 0)
    return f":{line}:{col}" if column else f":{line}"


class _Strict(Execution):
    """text/template with Option("missingkey=error"): a missing map key stops the run."""

    name = ""

    def field_path(self, value: Any, path: str, source: str) -> Any:
        for part in [p for p in path.split(".") if p]:
            if isinstance(value, dict):
                if part not in value:
                    raise _MissingKey(source, part)
                value = value[part]
            elif value is MISSING:
                return MISSING
            else:
                raise TemplateError(f"can't evaluate field {part} in type {go_type(value)}")
        return value


def _escape_text(piece: str) -> str:
    out = piece.replace("{{", '{{"{{"}}')
    if out.endswith("{"):
        out = out[:-1] + '{{"{"}}'
    return out


def _with_default_delimiters(source: str, left: str, right: str) -> str:
    """Rewrite a template written with custom delimiters into one with {{ }} for the shared lexer."""
    if (left, right) == DEFAULT_DELIMITERS:
        return source
    out, pos = [], 0
    while True:
        start = source.find(left, pos)
        if start < 0:
            out.append(_escape_text(source[pos:]))
            return "".join(out)
        end = source.find(right, start + len(left))
        if end < 0:
            raise TemplateError("unclosed action")
        out.append(_escape_text(source[pos:start]))
        out.append("{{" + source[start + len(left):end] + "}}")
        pos = end + len(right)


@functools.lru_cache(maxsize=4096)
def _parsed(source: str) -> list[Any]:
    """Parse trees are never changed by a run: 1,000 ExternalSecrets sharing templates parse each once."""
    return parse_tree(source, FUNCTIONS)


def execute(name: str, source: str, data: Mapping[str, bytes], *, strict: bool = True,
            delimiters: tuple[str, str] = DEFAULT_DELIMITERS) -> bytes:
    """One template over `data` as ESO's execute does; errors as `template: NAME: ...`."""
    values = StringMap({key: go_string(bytes(value)) for key, value in data.items()})
    try:
        tree = _parsed(_with_default_delimiters(source, *delimiters))
    except TemplateError as ex:
        undefined = re.fullmatch(r'function "(\w+)" not defined', str(ex))
        where = _position(source, undefined.group(1), column=False) if undefined else ""
        raise TemplateError(f"unable to parse template at key {name}: template: {name}{where}: {ex}") from None
    except RecursionError:
        raise TemplateError(f"unable to parse template at key {name}: template: {name}: nested too deeply") from None
    run = _Strict(values, FUNCTIONS) if strict else Execution(values, FUNCTIONS)
    if isinstance(run, _Strict):
        run.name = name
    try:
        run.walk(tree, values)
    except _MissingKey as ex:
        where = _position(source, ex.field_source, column=True)
        raise TemplateError(f"unable to execute template at key {name}: template: {name}{where}: executing "
                            f'"{name}" at <{ex.field_source}>: {ex}') from None
    except TemplateError as ex:
        raise TemplateError(f"unable to execute template at key {name}: template: {name}: {ex}") from None
    except RecursionError:
        raise TemplateError(f"unable to execute template at key {name}: template: {name}: nested too deeply") from None
    return b"".join(go_bytes(piece) for piece in run.out)


def render_rewrite(template_text: str, key: str) -> str:
    """dataFrom[].rewrite[].transform: the new key for `key` (`.value`), as ESO's utils.transform.

    Same functions, no missingkey=error, default delimiters; errors as ESO's
    `unable to parse/execute transform template: ...`.
    """
    values = StringMap({"value": key})
    try:
        tree = _parsed(template_text)
    except (TemplateError, RecursionError) as ex:
        undefined = re.fullmatch(r'function "(\w+)" not defined', _why(ex))
        where = _position(template_text, undefined.group(1), column=False) if undefined else ""
        raise TemplateApplyError(f"unable to parse transform template: template: transform{where}: {_why(ex)}") from None
    run = Execution(values, FUNCTIONS)
    try:
        run.walk(tree, values)
    except (TemplateError, RecursionError) as ex:
        raise TemplateApplyError(f"unable to execute transform template: template: transform: {_why(ex)}") from None
    return go_string(b"".join(go_bytes(piece) for piece in run.out))


def _why(ex: BaseException) -> str:
    return "nested too deeply" if isinstance(ex, RecursionError) else str(ex)


# --- KeysAndValues: rendered YAML into map[string]string ---------------------------------------------

def _yaml_string_map(rendered: bytes) -> dict[str, str]:
    """k8s.io/apimachinery yaml.Unmarshal into map[string]string (sigs.k8s.io/yaml: YAML -> JSON)."""
    prefix = "could not unmarshal template to 'map[string][]byte': "
    try:
        loaded = load_yaml_go(rendered)
    except YamlError as ex:
        raise TemplateError(prefix + f"error converting YAML to JSON: {ex}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise TemplateError(prefix + "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
                            f"{json_kind(loaded)} into Go value of type map[string]string")
    out: dict[str, str] = {}
    for key, value in loaded.items():
        if isinstance(value, list | dict):
            raise TemplateError(prefix + "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
                                f"{json_kind(value)} into Go value of type string")
        out[key] = "" if value is None else yaml_scalar_text(value)
    return out


# --- application to a Secret -------------------------------------------------------------------------

class _Target:
    def __init__(self, data: dict[str, bytes], labels: dict[str, str], annotations: dict[str, str]) -> None:
        self.data, self.labels, self.annotations = data, labels, annotations

    def apply(self, key: str, value: bytes, target: str) -> None:
        # A label or annotation is JSON text on the wire: bytes that are not UTF-8 become U+FFFD, as
        # Go's encoding/json writes them. A data key with surrogate escapes gets the same treatment.
        key = go_bytes(key).decode("utf-8", "replace")
        if target == "Annotations":
            self.annotations[key] = value.decode("utf-8", "replace")
        elif target == "Labels":
            self.labels[key] = value.decode("utf-8", "replace")
        elif target == "Data":
            self.data[key] = value


def _values(templates: Mapping[str, str], data: Mapping[str, bytes], target: str, out: _Target,
            delimiters: tuple[str, str]) -> None:
    for key in sorted(templates):  # Go ranges over a map: any order; sorted makes errors repeatable
        try:
            rendered = execute(key, templates[key], data, delimiters=delimiters)
        except TemplateError as ex:
            raise TemplateError(f"unable to execute template at key {key}: {ex}") from None
        out.apply(key, rendered, target)


def _keys_and_values(name: str, source: str, data: Mapping[str, bytes], target: str, out: _Target,
                     delimiters: tuple[str, str]) -> None:
    try:
        rendered = execute(name, source, data, delimiters=delimiters)
    except TemplateError as ex:
        raise TemplateError(f"unable to execute template at key {name}: {ex}") from None
    for key, value in _yaml_string_map(rendered).items():
        out.apply(key, value.encode(), target)


def template_sources(template: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    """The ConfigMaps and Secrets a template reads (kind, name), in the ExternalSecret's namespace."""
    wanted: set[tuple[str, str]] = set()
    for entry in (template or {}).get("templateFrom") or []:
        for field_name, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
            ref = entry.get(field_name)
            if ref:
                wanted.add((kind, ref.get("name", "")))
    return wanted


def _template_from(template: Mapping[str, Any], data: Mapping[str, bytes], sources: TemplateSources,
                   out: _Target, delimiters: tuple[str, str]) -> None:
    for entry in template.get("templateFrom") or []:
        target = entry.get("target") or "Data"
        for field_name, kind, plural, label in (("configMap", "ConfigMap", "configmaps", "configmap"),
                                                ("secret", "Secret", "secrets", "secret")):
            ref = entry.get(field_name)
            if not ref:
                continue
            name = ref.get("name", "")
            if (kind, name) not in sources:
                raise TemplateApplyError(f'error fetching templateFrom data: {plural} "{name}" not found')
            items = sources[(kind, name)]
            for item in ref.get("items") or []:
                item_key = item.get("key", "")
                if item_key not in items:
                    raise TemplateApplyError(f"error fetching templateFrom data: error in {label} {name}: "
                                             f"missing key {item_key}")
                scope = item.get("templateAs") or "Values"
                source = go_string(bytes(items[item_key]))
                try:
                    if scope == "Values":
                        _values({item_key: source}, data, target, out, delimiters)
                    elif scope == "KeysAndValues":  # Go names it by its text; a Secret's is not repeated
                        _keys_and_values(source if kind == "ConfigMap" else f"{label} {name} key {item_key}",
                                         source, data, target, out, delimiters)
                    else:
                        raise TemplateError(f"unknown scope '{scope}': expected 'Values' or 'KeysAndValues'")
                except TemplateError as ex:
                    raise TemplateApplyError(f"error fetching templateFrom data: {ex}") from None
        literal = entry.get("literal")
        if literal is not None:
            try:
                _keys_and_values(literal, literal, data, target, out, delimiters)
            except TemplateError as ex:
                raise TemplateApplyError(f"error fetching templateFrom data: {ex}") from None


def render(template: Mapping[str, Any] | None, data: Mapping[str, bytes], sources: TemplateSources, *,
           es_name: str, es_labels: Mapping[str, str] | None = None,
           es_annotations: Mapping[str, str] | None = None, existing: Mapping[str, Any] | None = None,
           creation_policy: str = "Owner", delimiters: tuple[str, str] = DEFAULT_DELIMITERS) -> Rendered:
    """The target Secret's data, labels, annotations and type, as ESO's mutationFunc + applyTemplate.

    The core then adds ESO's own labels/annotation (managed, created-by, data-hash) and ownerRef.
    """
    existing = existing or {}
    meta = existing.get("metadata") or {}
    managed = managed_keys(existing, es_name)
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in managed.labels}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in managed.annotations}
    secret_data: dict[str, bytes] = {}
    if creation_policy == "Merge":
        secret_data = {k: bytes(v) if isinstance(v, bytes | bytearray) else base64.b64decode(v or "")
                       for k, v in (existing.get("data") or {}).items() if k not in managed.data}
    secret_type = existing.get("type") or None
    out = _Target(secret_data, labels, annotations)
    if template is None:
        labels.update(es_labels or {})
        annotations.update(es_annotations or {})
        secret_data.update({k: bytes(v) for k, v in data.items()})
        return Rendered(secret_data, labels, annotations, secret_type)
    template_meta = template.get("metadata") or {}
    labels.update(template_meta.get("labels") or {})
    annotations.update(template_meta.get("annotations") or {})
    if template.get("type"):
        secret_type = template["type"]
    if (not template.get("data") and not template.get("templateFrom")) or template.get("mergePolicy") == "Merge":
        secret_data.update({k: bytes(v) for k, v in data.items()})
    engine = template.get("engineVersion") or "v2"
    if engine != "v2":
        raise TemplateApplyError(f"unsupported template engine version: {engine}")
    _template_from(template, data, sources, out, delimiters)
    for group, target in ((template.get("data"), "Data"), (template_meta.get("labels"), "Labels"),
                          (template_meta.get("annotations"), "Annotations")):
        try:
            _values(group or {}, data, target, out, delimiters)
        except TemplateError as ex:
            raise TemplateApplyError(f"could not execute template: could not execute template: {ex}") from None
    return Rendered(secret_data, labels, annotations, secret_type)
