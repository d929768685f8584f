"""Load: find what kind of source a folder is, verify its SOPS files, and produce manifests.

- a kustomization (kustomization.yaml / .yml / Kustomization): `kubectl kustomize`;
- a Helm chart (Chart.yaml): `helm template`, when a helm binary exists;
- otherwise a plain folder of YAML/JSON manifests (like Argo CD's directory source:
  not recursive unless asked; hidden files such as `.sops.yaml` are skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, RenderError
from ..k8s.manifests import expand_lists, load_documents
from . import helm, kustomize
from .model import Manifest, RenderContext
from .paths import inside, relative
from .sopsfiles import has_sops_marker

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class HelmSettings:
    release: str | None = None
    values_files: list[str] = field(default_factory=list)
    kube_version: str | None = None
    api_versions: list[str] = field(default_factory=list)


def source_kind(folder: Path) -> str:
    if kustomize.find_kustomization(folder) is not None:
        return "kustomize"
    if helm.is_chart(folder):
        return "helm"
    return "directory"


def _check_manifests(docs: list[Manifest], where: str) -> list[Manifest]:
    out = list(expand_lists(docs))
    for index, doc in enumerate(out, start=1):
        if not isinstance(doc.get("apiVersion"), str) or not isinstance(doc.get("kind"), str):
            raise InputError(f"document {index} is not a Kubernetes object (no apiVersion or kind)", where=where)
    return out


def _manifest_files(ctx: RenderContext, folder: Path, recurse: bool) -> list[Path]:
    files: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_symlink() and not inside(ctx.root, path.resolve()):
            raise RenderError("symlink leaves the repository root", where=relative(ctx.root, path))
        if path.is_dir():
            if recurse:
                files.extend(_manifest_files(ctx, path, recurse))
        elif path.suffix.lower() in MANIFEST_SUFFIXES:
            files.append(path)
    return files


def load_directory(ctx: RenderContext, folder: Path, *, recurse: bool = False) -> list[Manifest]:
    docs: list[Manifest] = []
    for path in _manifest_files(ctx, folder, recurse):
        label = relative(ctx.root, path)
        try:
            data = path.read_bytes()
        except OSError as ex:
            raise RenderError(f"cannot read: {ex.strerror}", where=label) from None
        if has_sops_marker(data):
            encrypted = ctx.sops.add_file(path, "resource", label=label, data=data)
            ctx.count("sops_files")
            docs.extend(_check_manifests(encrypted, label))
        else:
            docs.extend(_check_manifests(load_documents(data, source=label), label))
    return docs


def load_kustomization(ctx: RenderContext, folder: Path) -> list[Manifest]:
    for ref in kustomize.walk(ctx.root, folder):
        ctx.sops.add_file(ref.path, ref.role, label=ref.label)
        ctx.count("sops_files")
    where = relative(ctx.root, folder) or "."
    out = kustomize.build(folder, redactor=ctx.redactor, where=where)
    return _check_manifests(load_documents(out, source=f"kustomize build {where}"), where)


def load_chart(ctx: RenderContext, folder: Path, settings: HelmSettings) -> list[Manifest]:
    where = relative(ctx.root, folder) or "."
    release = settings.release or folder.name
    out, encrypted = helm.template(ctx.root, folder, release=release, namespace=ctx.namespace,
                                   values_files=settings.values_files, kube_version=settings.kube_version,
                                   api_versions=settings.api_versions, redactor=ctx.redactor)
    ctx.count("sops_files", encrypted)
    if encrypted:
        ctx.facts["helm_decrypted_values"] = True
    return _check_manifests(load_documents(out, source=f"helm template {where}"), where)


def load(ctx: RenderContext, *, recurse: bool = False, helm_settings: HelmSettings | None = None) -> list[Manifest]:
    folder = ctx.app
    if not folder.is_dir():
        raise InputError("not a folder", where=str(folder))
    kind = source_kind(folder)
    ctx.facts["source"] = kind
    if kind == "kustomize":
        return load_kustomization(ctx, folder)
    if kind == "helm":
        return load_chart(ctx, folder, helm_settings or HelmSettings())
    return load_directory(ctx, folder, recurse=recurse)
