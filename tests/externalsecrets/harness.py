"""The differential harness: one case, the real ESO v0.16.2 and ours, compared field by field.

For a batch of cases the harness makes one namespace per controller ("side"): ESO watches one
(`--namespace`), ours the other (`secrets-kit operator run --external-secrets --namespace`). In each
it creates, per case, the same ConfigMaps/Secrets, a SecretStore and the ExternalSecret, waits until
every ExternalSecret has settled on both sides, then reads the managed Secrets and statuses and
compares them. Cases whose object names would collide go to different batches (each batch is a
fresh pair of namespaces and a controller restart), so one controller process serves many cases.

What is compared (`compare`): the managed Secret's type, data, labels, annotations (data-hash
included), ownerReference shape (apiVersion, kind, name, controller, blockOwnerDeletion) and
immutable; the ExternalSecret's Ready status, reason and message, whether refreshTime is set, the
syncedResourceVersion format `<generation>-<hash>` and its hash part, and status.binding. Only
what depends on the namespace is normalised: the created-by label is checked on each side against
sha3-224 of its own `<ns>/<name>`, and the namespace name inside strings is replaced by
`{{NAMESPACE}}` before values are compared. Deliberate differences (deliberate.py) are reported,
not failed.

`check_expected` checks one side against the case's own expectation (ready/reason/expect), plus the
facts of reference §10 that hold on every Secret ESO writes: data-hash = sha3-224 of Go's `%+v` of
the data, `managed=true`, created-by (Owner) or none (other policies).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.externalsecrets import deliberate
from tests.externalsecrets.case import Case
from tests.peers.cache import log
from tests.peers.kube import (
    KubeAPIError,
    KubeCluster,
    free_port,
    log_tail,
    scratch_dir,
    start_process,
    stop_child,
    wait_until_ready,
)

ES_GROUP = "external-secrets.io"
LABEL_MANAGED = "reconcile.external-secrets.io/managed"
LABEL_OWNER = "reconcile.external-secrets.io/created-by"
ANNOTATION_HASH = "reconcile.external-secrets.io/data-hash"
STORE_PLACEHOLDER = "store"
NS_TOKEN = "{{NAMESPACE}}"
VAULT_TOKEN_SECRET = "vault-token"
AWS_CREDS_SECRET = "aws-creds"
# A case with ready="" expects the controller to write no status (e.g. a store of another
# controller class): the harness watches it this long.
NO_STATUS_WAIT = 3.0


# ------------------------------------------------------------------------------------------ hashing
# Written here, independently of secrets_kit.externalsecrets.hashing, so the harness checks ours
# and ESO against the rule of reference §10, not against our own implementation of it.


def go_object_hash_text(text: str) -> str:
    return hashlib.sha3_224(text.encode()).hexdigest()


def go_data_hash(data: Mapping[str, bytes]) -> str:
    """ESO's ObjectHash(secret.Data): Go's `%+v` of map[string][]byte (sorted keys, bytes in decimal)."""
    parts = [f"{key}:[{' '.join(str(b) for b in data[key])}]" for key in sorted(data)]
    return go_object_hash_text(f"map[{' '.join(parts)}]")


def created_by(namespace: str, name: str) -> str:
    return go_object_hash_text(f"{namespace}/{name}")


def go_meta_hash(labels: Mapping[str, str] | None, annotations: Mapping[str, str] | None) -> str:
    """ESO's HashMeta: `%+v` of struct{annotations, labels map[string]string}."""

    def gomap(m: Mapping[str, str] | None) -> str:
        return "map[" + " ".join(f"{k}:{v}" for k, v in sorted((m or {}).items())) + "]"

    return go_object_hash_text(f"{{annotations:{gomap(annotations)} labels:{gomap(labels)}}}")


# -------------------------------------------------------------------------------------- controllers


class Controller(Protocol):
    namespace: str
    log_file: Path

    def stop(self) -> None: ...


def ours_binary() -> str:
    """Our `secrets-kit`: $SECRETS_KIT_OURS if set, else the one beside the running interpreter."""
    override = os.environ.get("SECRETS_KIT_OURS")
    if override:
        return override
    beside = Path(sys.executable).parent / "secrets-kit"
    return str(beside) if beside.exists() else (shutil.which("secrets-kit") or "secrets-kit")


_OURS_HELP: list[str] = []


def _ours_help() -> str:
    if not _OURS_HELP:
        try:
            done = subprocess.run([ours_binary(), "operator", "run", "--help"], capture_output=True, text=True,
                                  timeout=60)
            _OURS_HELP.append(done.stdout + done.stderr)
        except (OSError, subprocess.TimeoutExpired) as err:
            _OURS_HELP.append(f"(failed: {err})")
    return _OURS_HELP[0]


def ours_missing() -> str | None:
    """Why our ESO-compatible controller cannot be started, or None (its --help is read once)."""
    helptext = " ".join(_ours_help().split())
    if "--external-secrets" not in helptext or "not built yet" in helptext:
        return ("`secrets-kit operator run --external-secrets` is not built yet : "
                "the ours half of the differential test cannot run")
    return None


def ours_metrics_flag() -> str:
    """The plan's `--metrics-addr`; the sealed-secrets-era `--listen-metrics-addr` while only it exists."""
    return "--metrics-addr" if re.search(r"(?<![\w-])--metrics-addr\b", _ours_help()) else "--listen-metrics-addr"


@dataclass
class OursEso:
    """`secrets-kit operator run --external-secrets --no-sealed-secrets --namespace NS` as a subprocess."""

    cluster: KubeCluster
    namespace: str
    metrics_port: int
    log_file: Path
    workdir: Path
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # added to the kept environment (AWS endpoints)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def ready(self) -> bool:
        """Our operator's /readyz on --metrics-addr: 200 once its watches have listed (503 before)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError:
            return False

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def start(self, timeout: float = 90.0) -> None:
        keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "SECRETS_KIT_OPERATOR_PROFILE")
        env = {**{k: v for k, v in os.environ.items() if k in keep}, **self.env}
        self.proc = start_process(list(self.args), self.log_file, env=env)
        try:
            wait_until_ready(self.ready, "secrets-kit operator (external-secrets)", self.proc, self.log_file,
                             timeout=timeout)
        except BaseException:
            self.stop_process()
            raise

    def stop_process(self) -> int | None:
        if self.proc is None:
            return None
        stop_child(self.proc)
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self, timeout: float = 90.0) -> None:
        self.stop_process()
        self.start(timeout)

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_ours(cluster: KubeCluster, namespace: str, *, extra_args: tuple[str, ...] = (),
               timeout: float = 90.0, env: Mapping[str, str] | None = None) -> OursEso:
    reason = ours_missing()
    if reason:
        raise RuntimeError(reason)
    cluster.ensure_namespace(namespace)
    workdir = scratch_dir("secrets-kit-ours-eso-")
    port = free_port()
    args = (ours_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
            "--namespace", namespace, "--kubeconfig", str(cluster.kubeconfig),
            ours_metrics_flag(), f"127.0.0.1:{port}", *extra_args)
    ours = OursEso(cluster=cluster, namespace=namespace, metrics_port=port, log_file=workdir / "ours.log",
                   workdir=workdir, args=args, env=dict(env or {}))
    started = time.monotonic()
    try:
        ours.start(timeout)
    except BaseException:
        ours.stop()
        raise
    log(f"secrets-kit operator (external-secrets) ready in {time.monotonic() - started:.1f}s, watching {namespace}")
    return ours


# --------------------------------------------------------------------------------------- case → objects


def dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].strip("-") or "case"


def es_name(case: Case) -> str:
    meta = case.external_secret.get("metadata") or {}
    return str(meta.get("name") or dns_name(case.id))


def store_name(case: Case) -> str:
    return dns_name(f"{case.id}-store")[:63]


def store_kind(case: Case) -> str:
    return "ClusterSecretStore" if "cluster-store" in case.tags else "SecretStore"


def target_name(case: Case) -> str:
    target = case.external_secret.get("target") or {}
    return str(target.get("name") or es_name(case))


def creation_policy(case: Case) -> str:
    return str((case.external_secret.get("target") or {}).get("creationPolicy") or "Owner")


def api_version(case: Case) -> str:
    return f"{ES_GROUP}/v1beta1" if "v1beta1" in case.tags else f"{ES_GROUP}/v1"


def uses_vault(case: Case) -> bool:
    return "vault" in case.store or "vault" in case.tags


def uses_aws(case: Case) -> bool:
    return "aws" in case.store or "aws" in case.tags


def aws_remote(case: Case) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """An AWS case's remote contents: (Secrets Manager secrets, SSM parameters) by name (see case.py)."""
    sm: dict[str, dict[str, Any]] = {}
    ssm: dict[str, dict[str, Any]] = {}
    for key, body in (case.remote or {}).items():
        service, _, name = key.partition(":")
        {"secretsmanager": sm, "ssm": ssm}[service][name] = body
    return sm, ssm


def substitute(value: Any, replacements: Mapping[str, str]) -> Any:
    """Every placeholder replaced in every string of a JSON-like value."""
    if isinstance(value, str):
        for key, new in replacements.items():
            value = value.replace(key, new)
        return value
    if isinstance(value, list):
        return [substitute(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, replacements) for k, v in value.items()}
    return value


def _rename_store_refs(spec: dict[str, Any], case: Case) -> None:
    """The case's store is `store` (or unnamed): the per-case SecretStore name and kind instead."""

    def fix(ref: dict[str, Any]) -> None:
        if ref.get("name", STORE_PLACEHOLDER) == STORE_PLACEHOLDER:
            ref["name"] = store_name(case)
            ref.setdefault("kind", store_kind(case))

    ref = spec.get("secretStoreRef")
    if ref is None:
        spec["secretStoreRef"] = {"name": store_name(case), "kind": store_kind(case)}
    elif isinstance(ref, dict):
        fix(ref)
    for item in [*(spec.get("data") or []), *(spec.get("dataFrom") or [])]:
        source = item.get("sourceRef") if isinstance(item, dict) else None
        if isinstance(source, dict) and isinstance(source.get("storeRef"), dict):
            fix(source["storeRef"])


def side_class(side: str) -> str:
    """The --controller-class each side's controller runs with (and its ClusterSecretStores carry):
    a ClusterSecretStore is seen by every controller, so without it both would validate and write
    the status of each other's stores."""
    return f"esdiff-{side}"


def case_objects(case: Case, namespace: str, side: str, replacements: Mapping[str, str]) -> list[dict[str, Any]]:
    """The objects of one case in one namespace, in creation order (extra objects, store, ES)."""
    values = {**replacements, NS_TOKEN: namespace}
    objects: list[dict[str, Any]] = []
    for extra in case.extra_objects:
        obj = substitute(copy.deepcopy(extra), values)
        obj.setdefault("apiVersion", "v1")
        obj.setdefault("metadata", {})["namespace"] = namespace
        objects.append(obj)
    store_meta: dict[str, Any] = {"name": store_name(case)}
    if store_kind(case) == "ClusterSecretStore":
        # cluster-scoped, so the side's namespace (normalised away when comparing messages) keeps
        # the two sides apart; a DNS subdomain, so no truncation that would differ per side
        store_meta["name"] = f"{namespace}-{dns_name(case.id)}"
    else:
        store_meta["namespace"] = namespace
    store_spec: dict[str, Any] = {"provider": substitute(copy.deepcopy(case.store), values),
                                  **substitute(copy.deepcopy(case.store_spec or {}), values)}
    if store_kind(case) == "ClusterSecretStore":
        # both controllers see every ClusterSecretStore: each side's belongs to its own controller class
        store_spec.setdefault("conditions", [{"namespaces": [namespace]}])
        store_spec.setdefault("controller", side_class(side))
    objects.append({"apiVersion": f"{ES_GROUP}/v1", "kind": store_kind(case), "metadata": store_meta,
                    "spec": store_spec})
    spec = substitute(copy.deepcopy(case.external_secret), values)
    meta = dict(spec.pop("metadata", None) or {})
    meta["name"] = es_name(case)
    meta["namespace"] = namespace
    _rename_store_refs(spec, case)
    if store_kind(case) == "ClusterSecretStore":
        ref = spec["secretStoreRef"]
        if ref.get("name") == store_name(case):
            ref["name"] = store_meta["name"]
    objects.append({"apiVersion": api_version(case), "kind": "ExternalSecret", "metadata": meta, "spec": spec})
    return objects


def object_path(obj: Mapping[str, Any], *, name: bool = False) -> str:
    api = str(obj["apiVersion"])
    plural = {"ConfigMap": "configmaps", "Secret": "secrets", "SecretStore": "secretstores",
              "ClusterSecretStore": "clustersecretstores", "ExternalSecret": "externalsecrets",
              "ServiceAccount": "serviceaccounts"}[str(obj["kind"])]
    base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    ns = obj["metadata"].get("namespace")
    path = f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}"
    return f"{path}/{obj['metadata']['name']}" if name else path


def case_names(case: Case) -> set[tuple[str, str]]:
    """Namespace-local names a case occupies: two cases sharing one cannot run in one namespace."""
    names = {("ExternalSecret", es_name(case)), ("Secret", target_name(case))}
    for extra in case.extra_objects:
        names.add((str(extra.get("kind")), str((extra.get("metadata") or {}).get("name"))))
    for path in case.remote or {}:
        names.add(("aws" if uses_aws(case) else "vault", path))
    return names


def batches(cases: Sequence[Case], limit: int = 50) -> list[list[Case]]:
    """Cases grouped first-fit so that no two in a group share a name; "solo" cases alone."""
    groups: list[tuple[list[Case], set[tuple[str, str]]]] = []
    for case in cases:
        names = case_names(case)
        if "solo" not in case.tags:
            for members, used in groups:
                if len(members) < limit and not (names & used) and "solo" not in members[0].tags:
                    members.append(case)
                    used |= names
                    break
            else:
                groups.append(([case], set(names)))
        else:
            groups.append(([case], set(names)))
    return [members for members, _ in groups]


# ------------------------------------------------------------------------------------------ observing


@dataclass
class Observed:
    """What one side produced for one case."""

    side: str
    namespace: str
    es: dict[str, Any]
    secret: dict[str, Any] | None
    settled: bool


def ready_condition(es: Mapping[str, Any]) -> dict[str, Any] | None:
    for cond in (es.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def settled(es: Mapping[str, Any]) -> bool:
    """A Ready condition is written after the current generation was seen: on success refreshTime is
    set and syncedResourceVersion starts with the generation; a failure writes Ready=False."""
    cond = ready_condition(es)
    if cond is None:
        return False
    status = es.get("status") or {}
    if cond.get("status") == "True":
        synced = str(status.get("syncedResourceVersion") or "")
        return bool(status.get("refreshTime")) and synced.split("-", 1)[0] == str(es["metadata"].get("generation"))
    return True


def decoded(secret: Mapping[str, Any] | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {}).items()}


# ------------------------------------------------------------------------------------------ comparing


@dataclass(frozen=True)
class Diff:
    field: str
    eso: Any
    ours: Any
    deliberate: str | None = None

    def __str__(self) -> str:
        tag = f" [deliberate: {self.deliberate}]" if self.deliberate else ""
        return f"{self.field}: ESO {self.eso!r} != ours {self.ours!r}{tag}"


def _norm(value: Any, namespace: str) -> Any:
    if isinstance(value, str):
        return value.replace(namespace, NS_TOKEN)
    if isinstance(value, bytes):
        return value.replace(namespace.encode(), NS_TOKEN.encode())
    if isinstance(value, dict):
        return {_norm(k, namespace): _norm(v, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v, namespace) for v in value]
    return value


def secret_view(obs: Observed, es_name_: str) -> dict[str, Any] | None:
    """The comparable parts of a managed Secret, namespace-normalised; created-by replaced by a token
    after checking it (a wrong value stays visible)."""
    secret = obs.secret
    if secret is None:
        return None
    meta = secret.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    if LABEL_OWNER in labels:
        expected = created_by(obs.namespace, es_name_)
        labels[LABEL_OWNER] = "<created-by ok>" if labels[LABEL_OWNER] == expected else labels[LABEL_OWNER]
    owners = [{k: ref.get(k) for k in ("apiVersion", "kind", "name", "controller", "blockOwnerDeletion")}
              for ref in meta.get("ownerReferences") or []]
    view = {
        "type": secret.get("type"),
        "data": {k: v.decode(errors="backslashreplace") for k, v in decoded(secret).items()},
        "labels": labels,
        "annotations": dict(meta.get("annotations") or {}),
        "ownerReferences": owners,
        "immutable": secret.get("immutable"),
    }
    return dict(_norm(view, obs.namespace))


def status_view(obs: Observed) -> dict[str, Any]:
    status = obs.es.get("status") or {}
    cond = ready_condition(obs.es) or {}
    synced = str(status.get("syncedResourceVersion") or "")
    generation, _, meta_hash = synced.partition("-")
    return dict(_norm({
        "ready.status": cond.get("status"),
        "ready.reason": cond.get("reason"),
        "ready.message": cond.get("message"),
        "refreshTime.set": bool(status.get("refreshTime")),
        "syncedResourceVersion.format": bool(re.fullmatch(r"\d+-[0-9a-f]{56}", synced)) if synced else None,
        "syncedResourceVersion.generation-matches": (generation == str(obs.es["metadata"].get("generation"))
                                                     if synced else None),
        "syncedResourceVersion.hash": meta_hash or None,
        "binding": (status.get("binding") or {}).get("name"),
        "settled": obs.settled,
    }, obs.namespace))


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def compare(case: Case, eso: Observed, ours: Observed) -> list[Diff]:
    """Every field where ours differs from ESO; deliberate differences carry their reason."""
    name = es_name(case)
    left: dict[str, Any] = {"secret.exists": eso.secret is not None}
    right: dict[str, Any] = {"secret.exists": ours.secret is not None}
    ls, rs = secret_view(eso, name), secret_view(ours, name)
    if ls is not None and rs is not None:
        # data-hash: equal when the data are byte-equal; otherwise each must be the hash of its own data
        if decoded(eso.secret) != decoded(ours.secret):
            for view, obs in ((ls, eso), (rs, ours)):
                value = view["annotations"].get(ANNOTATION_HASH)
                if value is not None:
                    ok = value == go_data_hash(decoded(obs.secret))
                    view["annotations"][ANNOTATION_HASH] = "<hash of own data>" if ok else value
        # empty containers flatten to one key, so "no labels" vs "one label" is still a difference
        left.update(_flatten("secret", ls))
        right.update(_flatten("secret", rs))
    left.update(_flatten("status", status_view(eso)))
    right.update(_flatten("status", status_view(ours)))
    diffs = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        if a != b:
            diffs.append(Diff(key, a, b, deliberate.reason_for(case.id, key)))
    return diffs


def check_expected(case: Case, obs: Observed) -> list[str]:
    """Where one side misses the case's expectation or a §10 invariant; empty when it meets them all."""
    problems: list[str] = []
    cond = ready_condition(obs.es) or {}
    if not case.ready:  # "no-status": the controller must leave this ExternalSecret alone
        if obs.es.get("status"):
            problems.append(f"status written, expected none: {obs.es.get('status')}")
        if obs.secret is not None and case.expect is None:
            problems.append(f"Secret {target_name(case)} exists, expected none")
        return problems
    if not obs.settled:
        problems.append(f"ExternalSecret did not settle: status {obs.es.get('status')}")
    if cond.get("status") != case.ready:
        problems.append(f"Ready status {cond.get('status')!r}, expected {case.ready!r} "
                        f"(reason {cond.get('reason')!r}, message {cond.get('message')!r})")
    if case.reason and cond.get("reason") != case.reason:
        problems.append(f"Ready reason {cond.get('reason')!r}, expected {case.reason!r}")
    expect = case.expect
    secret = obs.secret
    if expect is not None:
        if secret is None:
            problems.append(f"no Secret {target_name(case)}, expected one")
        else:
            meta = secret.get("metadata") or {}
            if "type" in expect and secret.get("type", "Opaque") != expect["type"]:
                problems.append(f"type {secret.get('type')!r}, expected {expect['type']!r}")
            if "data" in expect:
                got = decoded(secret)
                want = {k: v.encode() if isinstance(v, str) else bytes(v)
                        for k, v in substitute(expect["data"], {NS_TOKEN: obs.namespace}).items()}
                if got != want:
                    problems.append(f"data keys/values differ: got keys {sorted(got)}, expected {sorted(want)}; "
                                    f"differing keys {sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))}")
            if "immutable" in expect and bool(secret.get("immutable")) != bool(expect["immutable"]):
                problems.append(f"immutable {secret.get('immutable')!r}, expected {expect['immutable']!r}")
            for key in expect.get("absent_labels") or ():
                if key in (meta.get("labels") or {}):
                    problems.append(f"label {key} present, expected absent")
            for part in ("labels", "annotations"):
                have = meta.get(part) or {}
                for k, v in substitute(expect.get(part) or {}, {NS_TOKEN: obs.namespace}).items():
                    if have.get(k) != v:
                        problems.append(f"{part}[{k}] = {have.get(k)!r}, expected {v!r}")
    if secret is not None and (cond.get("status") == "True"):
        problems += invariant_problems(case, obs)
    return problems


def invariant_problems(case: Case, obs: Observed) -> list[str]:
    """Reference §10 facts every managed Secret of a synced ExternalSecret shows."""
    assert obs.secret is not None
    meta = obs.secret.get("metadata") or {}
    labels = meta.get("labels") or {}
    problems = []
    policy = creation_policy(case)
    if policy in ("Owner", "Merge", "Orphan") and labels.get(LABEL_MANAGED) != "true":
        problems.append(f"label {LABEL_MANAGED} = {labels.get(LABEL_MANAGED)!r}, expected 'true'")
    data_hash = (meta.get("annotations") or {}).get(ANNOTATION_HASH)
    if data_hash != go_data_hash(decoded(obs.secret)):
        problems.append(f"annotation {ANNOTATION_HASH} = {data_hash!r}, not sha3-224 of Go %+v of the data")
    owner = labels.get(LABEL_OWNER)
    if policy == "Owner":
        if owner != created_by(obs.namespace, es_name(case)):
            problems.append(f"label {LABEL_OWNER} = {owner!r}, expected sha3-224 of '<ns>/{es_name(case)}'")
        refs = meta.get("ownerReferences") or []
        if not any(r.get("kind") == "ExternalSecret" and r.get("name") == es_name(case) and r.get("controller")
                   and r.get("blockOwnerDeletion") for r in refs):
            problems.append(f"no controller ownerReference to ExternalSecret {es_name(case)}: {refs}")
    elif owner is not None:
        problems.append(f"label {LABEL_OWNER} set with creationPolicy {policy}")
    status = obs.es.get("status") or {}
    synced = str(status.get("syncedResourceVersion") or "")
    es_meta = obs.es.get("metadata") or {}
    want = f"{es_meta.get('generation')}-{go_meta_hash(es_meta.get('labels'), es_meta.get('annotations'))}"
    if synced != want:
        problems.append(f"syncedResourceVersion {synced!r}, expected {want!r} (generation-HashMeta)")
    return problems


# --------------------------------------------------------------------------------------------- running


@dataclass
class CaseResult:
    case: Case
    observed: dict[str, Observed]  # side -> what it produced
    problems: dict[str, list[str]]  # side -> check_expected problems
    diffs: list[Diff]  # ours vs ESO (empty when only one side ran)

    @property
    def failing_diffs(self) -> list[Diff]:
        return [d for d in self.diffs if not d.deliberate]


@dataclass
class AwsAccess:
    """The moto server the AWS cases read, and the static keys their stores use (Secret `aws-creds`)."""

    endpoint: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)


@dataclass
class VaultAccess:
    """The Vault peer the Vault cases read: address, a token the stores use, an hvac client."""

    addr: str
    token: str
    client: Any


class Harness:
    """Runs cases on the sides given (`{"eso": starter, "ours": starter}`), batch by batch."""

    def __init__(self, cluster: KubeCluster, starters: Mapping[str, Any], *, vault: VaultAccess | None = None,
                 aws: AwsAccess | None = None, settle_timeout: float = 45.0, prefix: str | None = None) -> None:
        self.cluster = cluster
        self.starters = dict(starters)
        self.vault = vault
        self.aws = aws
        self.settle_timeout = settle_timeout
        self.prefix = prefix or f"esdiff-{secrets.token_hex(2)}"
        self.logs: dict[str, list[Path]] = {side: [] for side in self.starters}
        self.namespaces: dict[str, list[str]] = {side: [] for side in self.starters}
        self.metrics: dict[str, list[str]] = {side: [] for side in self.starters}  # /metrics at batch end
        self.statuses: list[dict[str, Any]] = []  # every ExternalSecret status read at the end of a batch
        self._batch = 0

    # -- setup --------------------------------------------------------------------------------------

    def replacements(self) -> dict[str, str]:
        if self.vault is None:
            return {}
        return {"{{VAULT_ADDR}}": self.vault.addr, "{{VAULT_TOKEN}}": self.vault.token}

    def write_aws(self, cases: Iterable[Case]) -> None:
        """Create each AWS case's secrets (versions in order, the last AWSCURRENT, with the given
        VersionIds) and parameters (versions 1, 2, ...) at moto, once (a name that exists is kept)."""
        wanted = [c for c in cases if c.remote]
        if not wanted:
            return
        if self.aws is None:
            raise RuntimeError(f"cases {[c.id for c in wanted]} need the moto peer")
        sm, ssm = self.aws.client("secretsmanager"), self.aws.client("ssm")
        for case in wanted:
            secrets_, params = aws_remote(case)
            for name, body in secrets_.items():
                versions = list(body.get("versions") or [])
                first = {"Name": name, "SecretString": versions[0]["value"],
                         "Tags": [{"Key": k, "Value": v} for k, v in (body.get("tags") or {}).items()]}
                if versions[0].get("id"):
                    first["ClientRequestToken"] = versions[0]["id"]
                try:
                    sm.create_secret(**first)
                except sm.exceptions.ResourceExistsException:
                    continue
                for version in versions[1:]:
                    more = {"SecretId": name, "SecretString": version["value"]}
                    if version.get("id"):
                        more["ClientRequestToken"] = version["id"]
                    sm.put_secret_value(**more)
            for name, body in params.items():
                for n, value in enumerate(body.get("versions") or []):
                    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=n > 0)

    def write_remote(self, cases: Iterable[Case]) -> None:
        cases = list(cases)
        self.write_aws([c for c in cases if uses_aws(c)])
        wanted = [c for c in cases if c.remote and not uses_aws(c)]
        if not wanted:
            return
        if self.vault is None:
            raise RuntimeError(f"cases {[c.id for c in wanted]} need the Vault peer")
        client = self.vault.client
        mounts = client.sys.list_mounted_secrets_engines()
        mounts = mounts.get("data", mounts)
        if "secret_v1/" not in mounts:
            client.sys.enable_secrets_engine("kv", path="secret_v1", options={"version": "1"})
            mounts = client.sys.list_mounted_secrets_engines()
            mounts = mounts.get("data", mounts)
        for case in wanted:
            for path, values in (case.remote or {}).items():
                mount, _, key = path.partition("/")
                version = str(((mounts.get(f"{mount}/") or {}).get("options") or {}).get("version") or "1")
                if version == "2":
                    client.secrets.kv.v2.create_or_update_secret(path=key, secret=values, mount_point=mount)
                else:
                    client.secrets.kv.v1.create_or_update_secret(path=key, secret=values, mount_point=mount)

    def create(self, obj: dict[str, Any]) -> None:
        try:
            self.cluster.request("POST", object_path(obj), obj)
        except KubeAPIError as err:
            if err.status != 409:
                raise
            self.cluster.request("PUT", object_path(obj, name=True),
                                 {**obj, "metadata": {**obj["metadata"], "resourceVersion":
                                                      self.cluster.request("GET", object_path(obj, name=True))
                                                      ["metadata"]["resourceVersion"]}})

    def prepare_namespace(self, namespace: str, cases: Sequence[Case]) -> None:
        self.cluster.ensure_namespace(namespace)
        if self.vault is not None and any(uses_vault(c) for c in cases):
            self.create({"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": VAULT_TOKEN_SECRET, "namespace": namespace},
                         "stringData": {"token": self.vault.token}})
        if self.aws is not None and any(uses_aws(c) for c in cases):
            self.create({"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": AWS_CREDS_SECRET, "namespace": namespace},
                         "stringData": {"access-key": self.aws.access_key, "secret-key": self.aws.secret_key}})

    # -- one batch ----------------------------------------------------------------------------------

    def run_batch(self, cases: Sequence[Case]) -> list[CaseResult]:
        self._batch += 1
        namespaces = {side: f"{self.prefix}-{self._batch}-{side}" for side in self.starters}
        self.write_remote(cases)
        controllers: dict[str, Any] = {}
        try:
            for side, ns in namespaces.items():
                self.prepare_namespace(ns, cases)
                self.namespaces[side].append(ns)
                controllers[side] = self.starters[side](ns)
                self.logs[side].append(controllers[side].log_file)
            for case in cases:
                for side, ns in namespaces.items():
                    for obj in case_objects(case, ns, side, self.replacements()):
                        self.create(obj)
            observed = self.wait_settled(cases, namespaces)
            for side, ctl in controllers.items():
                self.metrics[side].append(ctl.metrics_text())
        finally:
            for ctl in controllers.values():
                # the log stays readable for the report: stop the process, keep the folder
                getattr(ctl, "stop_process", ctl.stop)()
        results = []
        for case in cases:
            obs = observed[case.id]
            self.statuses += [o.es.get("status") or {} for o in obs.values()]
            problems = {side: check_expected(case, o) for side, o in obs.items()}
            diffs = compare(case, obs["eso"], obs["ours"]) if {"eso", "ours"} <= set(obs) else []
            results.append(CaseResult(case, obs, problems, diffs))
        return results

    def read(self, case: Case, side: str, namespace: str, is_settled: bool) -> Observed:
        es = self.cluster.request("GET", f"/apis/{api_version(case)}/namespaces/{namespace}/externalsecrets/"
                                  f"{es_name(case)}")
        try:
            secret: dict[str, Any] | None = self.cluster.request(
                "GET", f"/api/v1/namespaces/{namespace}/secrets/{target_name(case)}")
        except KubeAPIError as err:
            if err.status != 404:
                raise
            secret = None
        return Observed(side, namespace, es, secret, is_settled)

    def wait_settled(self, cases: Sequence[Case], namespaces: Mapping[str, str],
                     quiet: float = 1.0) -> dict[str, dict[str, Observed]]:
        """Poll until every ExternalSecret on every side has settled and its resourceVersion (and its
        Secret's) stayed the same for `quiet` seconds, or the timeout; then read everything once more."""
        begin = time.monotonic()
        # ESO reconciles one ExternalSecret at a time (--concurrent 1) on a shared 2-core machine
        deadline = begin + max(self.settle_timeout, 30.0 + 1.5 * len(cases))
        last: dict[tuple[str, str], tuple[str, str, float]] = {}
        while True:
            pending = False
            now = time.monotonic()
            for case in cases:
                for side, ns in namespaces.items():
                    obs = self.read(case, side, ns, False)
                    versions = (str(obs.es["metadata"].get("resourceVersion")),
                                str((obs.secret or {}).get("metadata", {}).get("resourceVersion")))
                    key = (case.id, side)
                    if not case.ready:  # no status expected: watch for NO_STATUS_WAIT seconds
                        pending = pending or now - begin < NO_STATUS_WAIT
                        continue
                    if not settled(obs.es):
                        pending = True
                        last.pop(key, None)
                        continue
                    seen = last.get(key)
                    if seen is None or seen[:2] != versions:
                        last[key] = (*versions, now)
                        pending = True
                    elif now - seen[2] < quiet:
                        pending = True
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        out: dict[str, dict[str, Observed]] = {}
        for case in cases:
            out[case.id] = {}
            for side, ns in namespaces.items():
                obs = self.read(case, side, ns, False)
                obs.settled = settled(obs.es)
                out[case.id][side] = obs
        return out

    def run(self, cases: Sequence[Case]) -> dict[str, CaseResult]:
        results: dict[str, CaseResult] = {}
        started = time.monotonic()
        groups = batches(cases)
        for group in groups:
            for result in self.run_batch(group):
                results[result.case.id] = result
        log(f"differential: {len(cases)} case(s) in {len(groups)} batch(es) on {', '.join(self.starters)} "
            f"in {time.monotonic() - started:.0f}s")
        return results

    def log_tails(self) -> str:
        return "\n".join(f"--- {side} {path}:\n{log_tail(path, 20)}"
                         for side, paths in self.logs.items() for path in paths[-1:])


def describe(result: CaseResult) -> str:
    """A failure message: problems per side, then the differences (no Secret values are printed:
    data differences name keys only)."""
    lines = [f"case {result.case.id}:"]
    for side, problems in result.problems.items():
        lines += [f"  {side}: {p}" for p in problems]
    for diff in result.diffs:
        if diff.field.startswith("secret.data."):
            lines.append(f"  {diff.field}: values differ" + (f" [deliberate: {diff.deliberate}]"
                                                             if diff.deliberate else ""))
        else:
            lines.append(f"  {diff}")
    return "\n".join(lines)


def dump(results: Mapping[str, CaseResult]) -> str:
    return json.dumps({cid: {"problems": r.problems, "diffs": [str(d) for d in r.diffs]}
                       for cid, r in results.items()}, indent=2)


# ---------------------------------------------------------------------------------------- plaintext

PLAINTEXT_MIN = 6
# remote values that are also ordinary words of the controllers' own messages ("... synced successfully")
COMMON_WORDS = frozenset({"successfully"})


def _strings(value: Any) -> Iterable[str]:
    """Every string in a JSON-like value, and the strings inside a string that is itself JSON."""
    if isinstance(value, str):
        yield value
        try:
            inner = json.loads(value)
        except ValueError:
            return
        if not isinstance(inner, str):
            yield from _strings(inner)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _keys(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def remote_plaintexts(cases: Iterable[Case]) -> dict[str, list[str]]:
    """The remote values of the cases (fake provider data, Vault remote values, JSON leaves
    included) of at least PLAINTEXT_MIN characters that are not also a key name or a path
    anywhere in the corpus, nor a string of an ExternalSecret spec or extra object (those are
    names and texts a log may show): value -> ids of the cases holding it."""
    found: dict[str, list[str]] = {}
    names: set[str] = set()
    for case in cases:
        spec_texts = [s for obj in (case.external_secret, *case.extra_objects) for s in _strings(obj)]
        names.update(t for t in spec_texts if len(t) >= PLAINTEXT_MIN)
        values: list[Any] = []
        fake = case.store.get("fake") if isinstance(case.store, dict) else None
        for item in (fake or {}).get("data") or []:
            names.add(str(item.get("key")))
            values.append(item.get("value"))
            values.append(item.get("valueMap"))
            names.update(_keys(item.get("valueMap")))
        if uses_aws(case):  # remote values are the versions' values; names, ids and tags are no secrets
            for path, remote in (case.remote or {}).items():
                names.update({path, *path.split(":", 1)[-1].split("/")})
                for version in remote.get("versions") or []:
                    if isinstance(version, dict):
                        names.add(str(version.get("id") or ""))
                        values.append(version.get("value"))
                    else:
                        values.append(version)
                names.update(str(t) for kv in (remote.get("tags") or {}).items() for t in kv)
        else:
            for path, remote in (case.remote or {}).items():
                names.add(path)
                names.update(path.split("/"))
                names.update(_keys(remote))
                values.append(remote)
        for text in {s for v in values if v is not None for s in _strings(v)}:
            found.setdefault(text, []).append(case.id)
    return {v: ids for v, ids in found.items()
            if len(v) >= PLAINTEXT_MIN and v not in names and v not in COMMON_WORDS}


def plaintext_hits(plaintexts: Mapping[str, Sequence[str]], sources: Mapping[str, str]) -> list[str]:
    """Where a plaintext occurs: one line per (source, value), naming the source, the cases that
    hold the value and its length, never the value itself. Empty when none occurs anywhere."""
    hits = []
    for where, text in sources.items():
        for value, ids in plaintexts.items():
            if value in text:
                hits.append(f"{where}: the {len(value)}-character remote value of case(s) {', '.join(sorted(ids))}")
    return hits


def plaintext_sources(harness: Harness) -> dict[str, str]:
    """What the harness's controllers wrote that may not carry a value: every log file, the
    Events of every case namespace, every ExternalSecret status read, every /metrics text."""
    sources: dict[str, str] = {}
    for side, paths in harness.logs.items():
        for path in paths:
            sources[f"{side} log {path}"] = path.read_text(errors="replace")
    for side, texts in harness.metrics.items():
        for n, text in enumerate(texts, 1):
            sources[f"{side} /metrics (batch {n})"] = text
    for side, namespaces in harness.namespaces.items():
        for ns in namespaces:
            events = harness.cluster.request("GET", f"/api/v1/namespaces/{ns}/events")
            sources[f"{side} Events in {ns}"] = json.dumps(events.get("items") or [])
    sources["ExternalSecret statuses"] = json.dumps(harness.statuses)
    return sources
