"""Path safety for everything the render step reads: stay inside the repository root.

The render step runs on untrusted repository content (Argo CD's repo-server, a CI job).
A reference to a file is accepted only if, with every symlink resolved, it stays inside
the root; absolute paths and URLs are refused (cf. Argo CD's symlink CVEs and
helm-secrets' `HELM_SECRETS_VALUES_ALLOW_*` switches).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import RenderError


def is_remote(ref: str) -> bool:
    """kustomize remote targets: URLs, `github.com/...`, `git@...`, `git::...`."""
    lowered = ref.lower()
    return ("://" in lowered or lowered.startswith(("git@", "git::", "github.com/", "gitlab.com/",
                                                     "bitbucket.org/")))


def inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.relative_to(root)
    except ValueError:
        return False
    return True


def resolve_in_root(root: Path, base: Path, ref: str, *, what: str, where: str) -> Path:
    """`ref` relative to `base`, fully resolved, refused if it leaves `root`."""
    if not ref or "\x00" in ref:
        raise RenderError(f"empty or invalid {what} path", where=where)
    if os.path.isabs(ref):
        raise RenderError(f"absolute {what} path refused: {ref}", where=where,
                          hint="use a path relative to the kustomization or app folder")
    target = (base / ref).resolve()
    if not inside(root, target):
        raise RenderError(f"{what} path leaves the repository root: {ref}", where=where,
                          hint=f"the render step reads only files inside {root} (found from .git or "
                               "ARGOCD_APP_SOURCE_PATH; --root sets it)")
    return target


def relative(root: Path, path: Path) -> str:
    """`path` for messages: relative to the root when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def find_root(app: Path, *, source_path: str | None = None) -> Path:
    """The repository root for `app`.

    Under Argo CD, the app folder is `<checkout>/<ARGOCD_APP_SOURCE_PATH>`, so the root is
    that prefix. Otherwise the nearest ancestor holding `.git`; otherwise the app folder.
    """
    app = app.resolve()
    if source_path:
        parts = Path(source_path.strip("/")).parts
        if parts and parts != (".",) and app.parts[-len(parts):] == parts:
            return Path(*app.parts[:-len(parts)]) if len(app.parts) > len(parts) else app
        if parts in ((), (".",)):
            return app
    for candidate in (app, *app.parents):
        if (candidate / ".git").exists():
            return candidate
    return app
