"""Fast checks that the differential corpus is well-formed (no cluster, no peers).

- ids unique and usable as object names, at least 45 cases;
- every option issue 12 names is exercised by at least one case's ExternalSecret spec (the spec is
  walked, not only the tags), and the tags a case carries agree with what its spec uses;
- every ExternalSecret (and every SecretStore provider) is accepted by ESO v0.16.2's own CRD schema,
  read from the Go module cache, with unknown fields refused (the API server would prune them
  silently, so a misspelt field would make a case test nothing).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.externalsecrets.case import Case
from tests.externalsecrets.corpus import CASES, MANAGED

ESO_MODULE = "github.com/external-secrets/external-secrets@v0.16.2"
READY_REASONS = {
    "True": {"SecretSynced", "SecretDeleted", "SecretMissing"},
    "False": {"SecretSyncedError"},
    "": {""},  # a case whose ExternalSecret ESO never reconciles (tag "no-status")
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

# The options of issue 12 ("What to build" 3 and 4), each to be used by at least one case.
REQUIRED_OPTIONS = [
    # sources
    "data", "dataFrom:extract", "find:name", "find:tags", "find:path",
    "rewrite:regexp", "rewrite:transform",
    # remoteRef
    "property", "property:gjson", "version", "metadataPolicy:Fetch",
    # strategies
    "conversion:Default", "conversion:Unicode",
    "decoding:Auto", "decoding:Base64", "decoding:Base64URL", "decoding:None",
    # target policies
    "creationPolicy:Owner", "creationPolicy:Orphan", "creationPolicy:Merge", "creationPolicy:None",
    "deletionPolicy:Retain", "deletionPolicy:Delete", "deletionPolicy:Merge",
    "immutable", "target:name-default",
    # refresh
    "refreshInterval:0", "refreshPolicy:CreatedOnce", "refreshPolicy:Periodic", "refreshPolicy:OnChange",
    # templates (engine v2)
    "template:data", "template:type", "template:metadata", "template:engineVersion",
    "mergePolicy:Replace", "mergePolicy:Merge",
    "templateFrom:configMap", "templateFrom:secret", "templateFrom:literal",
    "templateAs:Values", "templateAs:KeysAndValues",
    "templateFrom:target:Data", "templateFrom:target:Annotations", "templateFrom:target:Labels",
    "template:missingkey",
    # stores and providers
    "fake", "vault:v1", "vault:v2", "cluster-store", "v1beta1", "store:invalid",
    "aws:SecretsManager", "aws:ParameterStore",
]

# ESO's own e2e and envtest cases the corpus carries (tag "e2e:<Name>" / "envtest:<name>").
REQUIRED_E2E = [
    "SimpleDataSync", "SyncWithoutTargetName", "JSONDataWithProperty", "JSONDataWithoutTargetName",
    "JSONDataWithTemplate", "JSONDataWithTemplateFromLiteral", "TemplateFromConfigmaps", "JSONDataFromSync",
    "JSONDataFromRewrite", "NestedJSONWithGJSON", "DockerJSONConfig", "DataPropertyDockerconfigJSON",
    "SSHKeySync", "SSHKeySyncDataProperty", "DeletionPolicyDelete", "DecodingPolicySync", "FindByName",
    "FindByNameAndRewrite", "FindByTag",
    "vault:testJSONWithoutProperty", "vault:testJSONWithProperty", "vault:testDataFromJSONWithoutProperty",
    "vault:testDataFromJSONWithProperty", "vault:withReferentAuth",
]
REQUIRED_ENVTEST = [
    "mergeWithSecret", "mergeWithSecretErr", "createSecretPolicyOrphan", "deletionPolicyRetain",
    "deletionPolicyMerge", "deletionPolicyRetainEmptyData", "syncLabelsAnnotations", "onlyMetadataFromTemplate",
    "templateShouldMerge", "syncTemplateFromKeysAndValues", "syncTemplateFromLiteral",
    "syncWithTemplatePrecedence", "invalidExtractKeysErrCondition", "providerErrCondition",
    "storeMissingErrCondition", "storeConstructErrCondition", "ignoreMismatchController",
]

# Options only the tag can say (the spec alone does not show them).
TAG_ONLY = {"fake", "vault:v1", "vault:v2", "aws:SecretsManager", "aws:ParameterStore", "cluster-store", "v1beta1",
            "store:invalid", "template:missingkey",
            "target:name-default", "property:gjson", "conversion:Default"}


# ------------------------------------------------------------------------------------- spec → options


def _remote_ref_options(ref: dict[str, Any]) -> Iterator[str]:
    if ref.get("property"):
        yield "property"
    if ref.get("version"):
        yield "version"
    if ref.get("metadataPolicy") == "Fetch":
        yield "metadataPolicy:Fetch"
    if ref.get("conversionStrategy"):
        yield f"conversion:{ref['conversionStrategy']}"
    if ref.get("decodingStrategy"):
        yield f"decoding:{ref['decodingStrategy']}"


def spec_options(spec: dict[str, Any]) -> set[str]:
    """The issue-12 options an ExternalSecret spec uses."""
    out: set[str] = set()
    for item in spec.get("data") or []:
        out.add("data")
        out.update(_remote_ref_options(item["remoteRef"]))
    for item in spec.get("dataFrom") or []:
        if "extract" in item:
            out.add("dataFrom:extract")
            out.update(_remote_ref_options(item["extract"]))
        if "find" in item:
            find = item["find"]
            out.update(f"find:{k}" for k in ("name", "tags", "path") if k in find)
            out.update(_remote_ref_options(find))
        for op in item.get("rewrite") or []:
            out.update(f"rewrite:{k}" for k in ("regexp", "transform") if k in op)
    target = spec.get("target") or {}
    out.add(f"creationPolicy:{target.get('creationPolicy', 'Owner')}")
    out.add(f"deletionPolicy:{target.get('deletionPolicy', 'Retain')}")
    if target.get("immutable"):
        out.add("immutable")
    if spec.get("refreshInterval") in ("0", "0s", "0m", "0h"):
        out.add("refreshInterval:0")
    if spec.get("refreshPolicy"):
        out.add(f"refreshPolicy:{spec['refreshPolicy']}")
    tpl = target.get("template")
    if tpl is not None:
        out.add("template")
        if tpl.get("data"):
            out.add("template:data")
        if tpl.get("type"):
            out.add("template:type")
        if tpl.get("metadata"):
            out.add("template:metadata")
        if tpl.get("engineVersion"):
            out.add("template:engineVersion")
        out.add(f"mergePolicy:{tpl.get('mergePolicy', 'Replace')}")
        for tf in tpl.get("templateFrom") or []:
            out.add(f"templateFrom:target:{tf.get('target', 'Data')}")
            for kind in ("configMap", "secret", "literal"):
                if kind in tf:
                    out.add(f"templateFrom:{kind}")
            for kind in ("configMap", "secret"):
                for it in (tf.get(kind) or {}).get("items") or []:
                    out.add(f"templateAs:{it.get('templateAs', 'Values')}")
    return out


def corpus_options() -> set[str]:
    out: set[str] = set()
    for case in CASES:
        out |= spec_options(case.external_secret) | (set(case.tags) & TAG_ONLY)
    return out


# ---------------------------------------------------------------------------------------- the tests


def test_enough_cases_and_unique_ids() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 45, len(ids)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    bad = [i for i in ids if not DNS_LABEL.match(i)]
    assert not bad, f"ids must be usable as object names: {bad}"


@pytest.mark.parametrize("option", REQUIRED_OPTIONS)
def test_option_covered(option: str) -> None:
    users = [c.id for c in CASES if option in spec_options(c.external_secret) | (set(c.tags) & TAG_ONLY)]
    assert users, f"no case exercises {option}"


@pytest.mark.parametrize("name", REQUIRED_E2E)
def test_eso_e2e_case_present(name: str) -> None:
    assert any(f"e2e:{name}" in c.tags for c in CASES), name


@pytest.mark.parametrize("name", REQUIRED_ENVTEST)
def test_eso_envtest_case_present(name: str) -> None:
    assert any(f"envtest:{name}" in c.tags for c in CASES), name


def test_spec_options_sees_what_it_should() -> None:
    # the option walker itself: a spec using three options reports them, an empty one only defaults
    spec = {"data": [{"secretKey": "k", "remoteRef": {"key": "r", "decodingStrategy": "Base64URL"}}],
            "target": {"creationPolicy": "Orphan", "template": {"templateFrom": [{"literal": "a: b"}]}}}
    assert {"data", "decoding:Base64URL", "creationPolicy:Orphan", "templateFrom:literal"} <= spec_options(spec)
    assert spec_options({}) == {"creationPolicy:Owner", "deletionPolicy:Retain"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_well_formed(case: Case) -> None:
    spec = case.external_secret
    provider = set(case.store)
    assert len(provider) == 1, "spec.provider has exactly one key"
    is_vault = "vault" in case.store
    assert ("vault" in case.tags) == is_vault
    assert ("fake" in case.tags) == ("fake" in case.store)
    if is_vault:
        assert case.remote, "a Vault case writes its own remote values"
        version = case.store["vault"].get("version", "v2")
        assert f"vault:{version}" in case.tags
        for path in case.remote:
            mount = path.split("/", 1)[0]
            assert mount in ("secret", "secret_v1"), path
            assert path.startswith(f"{mount}/corpus/{case.id}/"), f"{path}: Vault paths live under corpus/<id>/"
            assert (mount == "secret_v1") == (version == "v1"), path
    elif "aws" in case.store:
        service = case.store["aws"]["service"]
        assert "aws" in case.tags and f"aws:{service}" in case.tags
        assert case.remote, "an AWS case writes its own remote values"
        for key, body in case.remote.items():
            kind, _, name = key.partition(":")
            assert kind == {"SecretsManager": "secretsmanager", "ParameterStore": "ssm"}[service], key
            root = f"/corpus/{case.id}/" if kind == "ssm" else f"corpus/{case.id}/"
            assert name.startswith(root), f"{key}: AWS names live under {root}"
            assert body["versions"], key
    else:
        assert "aws" not in case.tags
        assert not case.remote, "only Vault and AWS cases have remote contents"
    for item in spec.get("data") or []:
        assert SECRET_KEY.match(item["secretKey"]), item["secretKey"]
    assert case.reason in READY_REASONS[case.ready], (case.ready, case.reason)
    if case.ready != "True":
        assert case.expect is None, "a failing case expects no Secret"
    if case.ready == "":
        assert "no-status" in case.tags
    if case.expect is not None:
        assert set(case.expect) <= {"type", "data", "labels", "annotations", "immutable", "absent_labels"}
        assert isinstance(case.expect.get("type"), str)
        data = case.expect["data"]
        assert data and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
        assert all(SECRET_KEY.match(k) for k in data), sorted(data)
        assert case.expect["labels"].get(MANAGED) == "true"
        absent = set(case.expect.get("absent_labels") or [])
        assert not absent & set(case.expect["labels"])
    else:
        assert "no-secret" in case.tags or case.ready == "False", f"{case.id}: say why no Secret is expected"
    json.dumps([case.store, spec, case.remote, case.extra_objects, case.expect])  # plain JSON data only


def test_every_case_cites_its_source() -> None:
    """Each `add(` in corpus.py follows a comment naming the ESO source it was worked out from."""
    text = (Path(__file__).parent / "corpus.py").read_text()
    lines = text.splitlines()
    uncited = []
    for i, line in enumerate(lines):
        if re.match(r"\s*add\(", line):
            j = i - 1
            while j >= 0 and (lines[j].strip().startswith(("_id", "_store", "for ", "DECODING", "B64", "ODD",
                                                            "VERSIONED", "KV ="))):
                j -= 1
            if not lines[j].strip().startswith("#"):
                uncited.append(line.strip()[:60])
    assert not uncited, uncited


# ------------------------------------------------------------------------------- ESO's CRD schemas


@cache
def eso_module_dir() -> Path | None:
    candidates = []
    try:
        modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=30,
                                  check=False).stdout.strip()
        if modcache:
            candidates.append(Path(modcache))
    except (OSError, subprocess.TimeoutExpired):
        pass
    candidates.append(Path(os.environ.get("GOPATH", Path.home() / "go")) / "pkg" / "mod")
    for base in candidates:
        folder = base / "github.com" / "external-secrets" / ESO_MODULE.split("/")[-1]
        if (folder / "config" / "crds" / "bases").is_dir():
            return folder
    return None


@cache
def crd_schema(kind_file: str, version: str) -> dict[str, Any]:
    folder = eso_module_dir()
    if folder is None:
        pytest.skip(f"{ESO_MODULE} is not in the Go module cache (go mod download -json {ESO_MODULE})")
    crd = yaml.safe_load((folder / "config" / "crds" / "bases" / kind_file).read_text())
    for ver in crd["spec"]["versions"]:
        if ver["name"] == version:
            return strict(ver["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{kind_file} has no version {version}")


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the API server would prune them."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def walk_errors(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """A small structural validator (used when jsonschema is not installed): type, enum, required,
    properties/additionalProperties, items, pattern, maxProperties/minProperties."""
    errs: list[str] = []
    types: dict[str, Any] = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    want = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)):
            errs.append(f"{where}: not int-or-string")
        return errs
    if (want and not isinstance(value, types[want])) or (want in ("integer", "number") and isinstance(value, bool)):
        return [f"{where}: expected {want}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errs.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for key in schema.get("required") or []:
            if key not in value:
                errs.append(f"{where}: missing required {key}")
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        for key, sub in value.items():
            if key in props:
                errs += walk_errors(props[key], sub, f"{where}.{key}")
            elif isinstance(extra, dict):
                errs += walk_errors(extra, sub, f"{where}.{key}")
            elif extra is False:
                errs.append(f"{where}: unknown field {key}")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errs.append(f"{where}: more than {schema['maxProperties']} properties")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errs.append(f"{where}: fewer than {schema['minProperties']} properties")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errs += walk_errors(schema["items"], item, f"{where}[{i}]")
    return errs


def schema_errors(schema: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - depends on the environment
        return walk_errors(schema, obj)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]


def es_object(case: Case) -> tuple[str, dict[str, Any]]:
    spec = copy.deepcopy(case.external_secret)
    meta = spec.pop("metadata", None) or {}
    spec.setdefault("secretStoreRef", {"name": f"{case.id}-store", "kind": "SecretStore"})
    version = "v1beta1" if "v1beta1" in case.tags else "v1"
    return version, {"apiVersion": f"external-secrets.io/{version}", "kind": "ExternalSecret",
                     "metadata": {"name": case.id, **meta}, "spec": spec}


def store_objects(case: Case) -> list[dict[str, Any]]:
    stores = [{"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "store"},
               "spec": {"provider": case.store}}]
    stores += [o for o in case.extra_objects if o.get("kind") == "SecretStore"]
    return stores


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_external_secret_accepted_by_eso_crd(case: Case) -> None:
    version, obj = es_object(case)
    errors = schema_errors(crd_schema("external-secrets.io_externalsecrets.yaml", version), obj)
    assert not errors, f"{case.id}: ESO's {version} CRD refuses the ExternalSecret: {errors}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_secret_store_accepted_by_eso_crd(case: Case) -> None:
    schema = crd_schema("external-secrets.io_secretstores.yaml", "v1")
    for obj in store_objects(case):
        errors = schema_errors(schema, obj)
        assert not errors, f"{case.id}: ESO's v1 SecretStore CRD refuses {obj['metadata']['name']}: {errors}"


@pytest.mark.parametrize("validate", ["jsonschema-or-walk", "walk"])
def test_schema_check_can_fail(validate: str) -> None:
    """The check refuses what the API server would refuse or prune: a bad enum, a misspelt field,
    a secretKey outside the pattern."""
    schema = crd_schema("external-secrets.io_externalsecrets.yaml", "v1")
    check = schema_errors if validate == "jsonschema-or-walk" else walk_errors
    good: dict[str, Any] = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "x"},
            "spec": {"secretStoreRef": {"name": "s", "kind": "SecretStore"},
                     "data": [{"secretKey": "k", "remoteRef": {"key": "r"}}]}}
    assert not check(schema, good)
    bad_enum = copy.deepcopy(good)
    bad_enum["spec"]["target"] = {"creationPolicy": "Sometimes"}
    assert check(schema, bad_enum)
    misspelt = copy.deepcopy(good)
    misspelt["spec"]["data"][0]["remoteRef"]["decodeStrategy"] = "Base64"
    assert check(schema, misspelt)
    bad_key = copy.deepcopy(good)
    bad_key["spec"]["data"][0]["secretKey"] = "a/b"
    assert check(schema, bad_key)
