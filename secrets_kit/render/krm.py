"""The KRM function front end: a ResourceList on stdin, a ResourceList on stdout.

Usable as a kustomize exec generator/transformer (`kustomize build --enable-alpha-plugins
--enable-exec`), with kpt, or in any KRM pipeline. The function config:

    apiVersion: secrets-kit.io/v1alpha1
    kind: Render
    metadata:
      name: decrypt
      annotations:
        config.kubernetes.io/function: |
          exec:
            path: secrets-kit-krm
    spec:
      files: [secret.sops.yaml]   # SOPS-encrypted manifests to decrypt and add (generator use)
      sealTo: ../../certs/prod.pem  # zero-plaintext mode (or cluster: prod)
      zeroPlaintext: true
      provider: {kind: fake, file: fake-store.yaml}

Every item passes through the same hooks as `secrets-kit render` (SOPS, placeholders,
SealedSecret validation, re-sealing). File paths are relative to the working directory
(kustomize runs the function in the kustomization's folder) and must stay inside the
repository. On error: exit 1, the message on stderr, and a ResourceList whose `results`
carry the error and whose `items` are empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, RenderError, SecretsKitError
from ..k8s.manifests import dump_yaml, load_documents
from . import kustomize
from .config import CONFIG_FILE, CliSettings, options_from
from .model import Manifest
from .paths import relative, resolve_in_root
from .pipeline import make_context, run_hooks

RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1",
                          "config.kubernetes.io/v1beta1")
CONFIG_KINDS = ("Render",)
# Annotations kustomize/kpt use to track items through a function: kept on the object's top level.
TRACKING_PREFIXES = ("config.kubernetes.io/", "internal.config.kubernetes.io/", "config.k8s.io/",
                     "kustomize.config.k8s.io/")
ORIGINAL_ID = "kustomize.config.k8s.io/id"
NEEDS_HASH = "internal.config.kubernetes.io/needsHashSuffix"
LOCAL_CONFIG = "config.kubernetes.io/local-config"


@dataclass
class KrmOutcome:
    stdout: str
    exit_code: int
    message: str | None = None


def _resource_list(items: list[Manifest], results: list[dict[str, Any]] | None = None,
                   api: str = "config.kubernetes.io/v1") -> str:
    doc: dict[str, Any] = {"apiVersion": api, "kind": "ResourceList", "items": items}
    if results:
        doc["results"] = results
    return dump_yaml(doc, document_marker=False)


def _parse_input(data: bytes) -> tuple[str, list[Manifest], dict[str, Any]]:
    docs = load_documents(data, source="<ResourceList on stdin>")
    if len(docs) != 1 or docs[0].get("kind") != "ResourceList":
        raise InputError("expected one ResourceList on stdin", where="<stdin>")
    rl = docs[0]
    api = str(rl.get("apiVersion") or "")
    if api not in RESOURCE_LIST_VERSIONS:
        raise InputError(f"unsupported ResourceList apiVersion {api!r}", where="<stdin>")
    items = rl.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError("ResourceList.items must be a list of objects", where="<stdin>")
    config = rl.get("functionConfig") or {}
    if not isinstance(config, dict):
        raise InputError("functionConfig must be an object", where="<stdin>")
    for index, doc in enumerate([*items, config]):
        where = f"items[{index}]" if index < len(items) else "functionConfig"
        _check_identity(doc, where)
    return api, items, config


def _check_identity(doc: Manifest, where: str) -> None:
    """kind, apiVersion, name and namespace are text (or absent): they key lookups and messages."""
    meta = doc.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise InputError("metadata must be an object", where=where)
    fields = [("kind", doc.get("kind")), ("apiVersion", doc.get("apiVersion"))]
    fields += [(f"metadata.{n}", meta.get(n)) for n in ("name", "namespace")] if meta else []
    for name, value in fields:
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name} must be a string", where=where)


def _spec(config: Mapping[str, Any]) -> dict[str, Any]:
    if not config:
        return {}
    if config.get("kind") not in CONFIG_KINDS:
        raise InputError(f"unsupported functionConfig kind {config.get('kind')!r}", where="functionConfig",
                         hint="use apiVersion: secrets-kit.io/v1alpha1, kind: Render")
    spec = config.get("spec") or {}
    if not isinstance(spec, dict):
        raise InputError("functionConfig.spec must be a mapping", where="functionConfig")
    return spec


def _strip_tracking(doc: Manifest) -> dict[str, str]:
    meta = doc.get("metadata") or {}
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return {}
    tracking = {k: v for k, v in annotations.items() if str(k).startswith(TRACKING_PREFIXES)}
    for key in tracking:
        del annotations[key]
    if not annotations:
        del meta["annotations"]
    return tracking


def _is_local_config(doc: Manifest) -> bool:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, dict) and str(annotations.get(LOCAL_CONFIG, "")).lower() == "true"


def _original_name(doc: Manifest) -> str | None:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(ORIGINAL_ID) if isinstance(annotations, dict) else None
    if not isinstance(text, str):
        return None
    docs = load_documents(text, source=ORIGINAL_ID)
    return str(docs[0].get("name")) if docs and docs[0].get("name") else None


def _check_resealable(items: list[Manifest], generator: bool) -> None:
    """Re-sealing inside kustomize is safe only for Secrets whose final name is already known.

    kustomize adds name hashes and fixes references to a Secret *after* the functions run,
    and only for objects that are still Secrets: a SealedSecret renamed afterwards no longer
    matches the name it was sealed for, and references to it are not updated.
    """
    hint = ("re-seal after the build instead: `secrets-kit render <kustomization> --seal-to CERT` (the Argo CD "
            "plugin does this), or set generatorOptions.disableNameSuffixHash and drop namePrefix/nameSuffix")
    if generator:
        raise InputError("zero-plaintext mode is not available when the function runs as a generator: kustomize "
                         "renames generated objects afterwards", where="functionConfig", hint=hint)
    for item in items:
        if item.get("kind") != "Secret":
            continue
        meta = item.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        original = _original_name(item)
        if annotations.get(NEEDS_HASH) == "enabled" or (original is not None and original != meta.get("name")):
            raise InputError("zero-plaintext mode cannot re-seal a Secret that kustomize renames (name hash, "
                             "prefix or suffix)", where=f"Secret {meta.get('namespace') or ''}/{meta.get('name')}",
                             hint=hint)


def process(data: bytes, env: Mapping[str, str], cwd: Path) -> KrmOutcome:
    api = "config.kubernetes.io/v1"
    try:
        api, items, config = _parse_input(data)
        spec = _spec(config)
        unknown = sorted(set(spec) - {"files", "sealTo", "cluster", "zeroPlaintext", "provider"})
        if unknown:
            raise InputError(f"unknown functionConfig setting(s): {', '.join(unknown)}", where="functionConfig")
        # The function config speaks the same language as the app's .secrets-kit.yaml.
        merged_env = dict(env)
        if spec.get("cluster"):
            merged_env["ARGOCD_ENV_CLUSTER"] = str(spec["cluster"])
        if spec.get("sealTo"):
            merged_env["ARGOCD_ENV_SEAL_TO"] = str(spec["sealTo"])
        if "zeroPlaintext" in spec:
            merged_env["ARGOCD_ENV_ZERO_PLAINTEXT"] = str(spec["zeroPlaintext"]).lower()
        options = options_from(cwd, merged_env, CliSettings())
        if isinstance(spec.get("provider"), dict) and spec["provider"].get("kind"):
            from .config import provider_factory

            provider = dict(spec["provider"])
            options.provider_factory = provider_factory(str(provider.pop("kind")), provider,
                                                         options.root or cwd, cwd)
        ctx = make_context(options)
        with ctx.scrubbing():
            for ref in kustomize.walk(ctx.root, ctx.app):  # sources of kustomize's own generators
                ctx.sops.add_file(ref.path, ref.role, label=ref.label)
            docs: list[Manifest] = list(items)
            for ref in spec.get("files") or []:
                path = resolve_in_root(ctx.root, ctx.app, str(ref), what="function file", where="functionConfig")
                label = relative(ctx.root, path)
                try:
                    raw = path.read_bytes()
                except OSError as ex:
                    raise RenderError(f"cannot read function file: {ex.strerror}", where=label) from None
                docs.extend(ctx.sops.add_file(path, "resource", label=label, data=raw))
            generator = bool(items) and all(_is_local_config(item) for item in items)
            if options.seal_to is not None:
                _check_resealable(items, generator)
            # Tracking annotations come off before the hooks and go back on the objects they came from.
            by_name = {(d.get("kind"), (d.get("metadata") or {}).get("namespace"), (d.get("metadata") or {}).get("name")):
                       _strip_tracking(d) for d in docs}
            out = run_hooks(docs, ctx, options)
        for doc in out:
            meta = doc.setdefault("metadata", {})
            carried = by_name.get((doc.get("kind"), meta.get("namespace"), meta.get("name")))
            if carried is None and doc.get("kind") == "SealedSecret":  # a Secret we re-sealed: now a new object
                carried = {k: v for k, v in (by_name.get(("Secret", meta.get("namespace"), meta.get("name"))) or {}
                                             ).items() if k != ORIGINAL_ID}
            if carried:
                meta["annotations"] = dict(sorted({**(meta.get("annotations") or {}), **carried}.items()))
        return KrmOutcome(_resource_list(out, api=api), 0)
    except SecretsKitError as err:
        message = str(err)
        result = {"message": message, "severity": "error"}
        return KrmOutcome(_resource_list([], [result], api=api), 1, message)


__all__ = ["CONFIG_FILE", "KrmOutcome", "process"]
