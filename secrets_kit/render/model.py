"""What flows through the render pipeline: manifests, their identities, and the run's context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SecretsKitError
from .redact import Redactor
from .sopsindex import SopsIndex

Manifest = dict[str, Any]


@dataclass(frozen=True, order=True)
class ResourceId:
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


def resource_id(doc: Manifest) -> ResourceId:
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    api = str(doc.get("apiVersion") or "")
    group = api.rpartition("/")[0] if "/" in api else ""
    return ResourceId(group, str(doc.get("kind") or ""), str(meta.get("namespace") or ""),
                      str(meta.get("name") or ""))


def is_secret(doc: Manifest) -> bool:
    return doc.get("kind") == "Secret" and doc.get("apiVersion") in (None, "v1")


@dataclass
class RenderContext:
    """State shared by the hooks of one render."""

    root: Path  # nothing outside it is read
    app: Path  # the folder being rendered
    namespace: str | None = None  # destination namespace (Argo CD's ARGOCD_APP_NAMESPACE)
    redactor: Redactor = field(default_factory=Redactor)
    # Resources a hook put plaintext into (decrypted or substituted), and which hook did.
    decrypted: dict[ResourceId, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # counters for reports and benchmarks
    sops: SopsIndex = field(init=False)  # SOPS sources verified before the build

    def __post_init__(self) -> None:
        self.sops = SopsIndex(self.redactor)

    def mark_decrypted(self, doc: Manifest, hook: str) -> None:
        self.decrypted.setdefault(resource_id(doc), hook)

    def count(self, name: str, n: int = 1) -> None:
        self.facts[name] = int(self.facts.get(name, 0)) + n

    def warn(self, message: str) -> None:
        self.warnings.append(self.redactor.scrub(message))

    @contextmanager
    def scrubbing(self) -> Iterator[None]:
        """A SecretsKitError raised inside leaves with every registered value masked."""
        try:
            yield
        except SecretsKitError as err:
            err.message = self.redactor.scrub(err.message)
            if err.where:
                err.where = self.redactor.scrub(err.where)
            if err.hint:
                err.hint = self.redactor.scrub(err.hint)
            raise


Hook = Callable[[list[Manifest], RenderContext], list[Manifest]]
