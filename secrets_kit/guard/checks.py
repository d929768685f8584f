"""Seal before commit: find plaintext secrets about to enter Git.

A file is refused when:
- it holds a `v1/Secret` (also inside a `List`) whose `data`/`stringData` is not entirely
  SOPS-encrypted (a `sops` block with a MAC, every value `ENC[...]`) and not entirely
  argocd-vault-plugin placeholders (`<key>`, `<path:...#key>`, resolved at render time);
- it is a kustomization whose `secretGenerator` has `literals`, or reads `envs`/`files`
  that are not SOPS-encrypted;
- `.sops.yaml` has a creation rule whose `path_regex` matches it, and it is not
  SOPS-encrypted (a rule without `path_regex` is a default for `sops encrypt`, not a
  requirement, so it does not count).
Each finding names the file and the Secret, never a value, and what kind of fix it needs;
`fixes` turns that into commands that use the repository's own settings.
`secrets-kit.io/allow-plaintext: "true"` on a Secret accepts it (test fixtures).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..errors import InputError
from ..render.kustomize import KUSTOMIZATION_FILES
from ..render.model import is_secret
from ..render.sopsfiles import has_sops_marker, is_sops_document

ALLOW_ANNOTATION = "secrets-kit.io/allow-plaintext"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_SECRET_LINE = re.compile(rb"^\s*kind:\s*[\"']?Secret[\"']?\s*$", re.MULTILINE)


# What a finding needs: SECRET (SOPS-encrypt it or seal it), ENCRYPT (SOPS-encrypt `target`),
# ADVICE (a change only a person can make, described in `advice`).
SECRET, ENCRYPT, ADVICE = "secret", "encrypt", "advice"


@dataclass(frozen=True)
class Finding:
    path: str  # repository-relative file the finding is about
    what: str
    remedy: str = SECRET
    target: str = ""  # repository-relative file to encrypt or seal (default: path)
    advice: str = ""

    @property
    def fix_target(self) -> str:
        return self.target or self.path


Reader = Callable[[str], bytes | None]  # repository-relative path -> content (None: absent)


_ONLY_PLACEHOLDERS = re.compile(r"(?:\s*<[^<>\n]+>\s*)+\Z")


def _encrypted_values(node: Any) -> bool:
    if isinstance(node, dict):
        return all(_encrypted_values(v) for v in node.values())
    if isinstance(node, list):
        return all(_encrypted_values(v) for v in node)
    return node in (None, "") or (isinstance(node, str) and node.startswith("ENC[AES256_GCM,"))


def _placeholders_only(payload: dict[str, Any]) -> bool:
    """Every value is an argocd-vault-plugin placeholder (`<key>`, `<path:...#key>`), in clear or base64."""
    import base64
    import binascii

    for field, values in payload.items():
        if not isinstance(values, dict):
            return False
        for value in values.values():
            if not isinstance(value, str):
                return False
            text = value
            if field == "data":
                try:
                    text = base64.b64decode(value, validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    return False
            if not _ONLY_PLACEHOLDERS.match(text):
                return False
    return True


def _secret_findings(doc: dict[str, Any], path: str) -> list[Finding]:
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    annotations: dict[str, Any] = meta["annotations"] if isinstance(meta.get("annotations"), dict) else {}
    if str(annotations.get(ALLOW_ANNOTATION, "")).lower() == "true":
        return []
    payload = {k: doc.get(k) for k in ("data", "stringData") if doc.get(k)}
    if not payload:
        return []
    if (is_sops_document(doc) and _encrypted_values(payload)) or _placeholders_only(payload):
        return []
    name = meta.get("name") or "<no name>"
    if is_sops_document(doc):
        what = f"Secret {name} is SOPS-encrypted but some data/stringData values are in plaintext"
    else:
        what = f"plaintext Secret {name} (data/stringData not encrypted)"
    return [Finding(path, what, SECRET)]


def _documents(data: bytes, path: str) -> list[dict[str, Any]] | None:
    from ..k8s.manifests import expand_lists, load_documents

    try:
        return list(expand_lists(load_documents(data, source=path)))
    except InputError:
        return None


def _kustomization_findings(doc: dict[str, Any], path: str, read: Reader) -> list[Finding]:
    findings = []
    folder = PurePosixPath(path).parent
    for entry in doc.get("secretGenerator") or []:
        if not isinstance(entry, dict):
            continue
        name = entry.get("name") or "<no name>"
        if entry.get("literals"):
            findings.append(Finding(path, f"secretGenerator {name} has literals (plaintext in Git)", ADVICE,
                                    advice="move them to an env file listed under envs:, then commit it "
                                           "SOPS-encrypted (the hook prints the command for that file)"))
        refs: list[Any] = []
        for field in ("envs", "env"):
            value = entry.get(field)
            refs.extend([value] if isinstance(value, str) else value or [])
        refs.extend(str(f).split("=", 1)[-1] for f in entry.get("files") or [])
        for ref in refs:
            target = str(folder / str(ref))
            content = read(_normalise(target))
            if content is not None and not has_sops_marker(content):
                findings.append(Finding(path, f"secretGenerator {name} reads {ref}, which is not SOPS-encrypted",
                                        ENCRYPT, target=_normalise(target)))
    return findings


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


@dataclass
class SopsRules:
    """The path_regex creation rules of one `.sops.yaml`, relative to its folder."""

    folder: str  # repository-relative folder of the .sops.yaml ("" for the root)
    patterns: list[re.Pattern[str] | None]  # None: a rule without path_regex (stops the search)

    def requires(self, path: str) -> bool:
        if self.folder and not path.startswith(self.folder + "/"):
            return False
        relative = path[len(self.folder) + 1:] if self.folder else path
        for pattern in self.patterns:
            if pattern is None:
                return False
            if pattern.search(relative):
                return True
        return False


def load_sops_rules(path: str, data: bytes) -> SopsRules:
    from ..k8s.manifests import load_documents
    from ..sops.rules import compile_go_regex

    docs = load_documents(data, source=path)
    rules = (docs[0].get("creation_rules") if docs else None) or []
    patterns: list[re.Pattern[str] | None] = []
    for rule in rules if isinstance(rules, list) else []:
        regex = rule.get("path_regex") if isinstance(rule, dict) else None
        patterns.append(compile_go_regex(str(regex), "path_regex") if regex else None)
    folder = str(PurePosixPath(path).parent)
    return SopsRules("" if folder == "." else folder, patterns)


def check_file(path: str, data: bytes, read: Reader, rules: Iterable[SopsRules] = ()) -> list[Finding]:
    """Findings for one file (a repository-relative POSIX path and its content)."""
    name = PurePosixPath(path).name
    if name in (".sops.yaml", ".sops.yml", ".pre-commit-hooks.yaml", ".pre-commit-config.yaml"):
        return []
    encrypted = has_sops_marker(data)
    findings: list[Finding] = []
    for rule in rules:
        if rule.requires(path) and not encrypted:
            findings.append(Finding(path, ".sops.yaml says this file must be encrypted, and it is not", ENCRYPT))
            break
    if not name.lower().endswith(MANIFEST_SUFFIXES) and name not in KUSTOMIZATION_FILES:
        return findings
    docs = _documents(data, path)
    if docs is None:
        if _SECRET_LINE.search(data):
            findings.append(Finding(path, "unparseable YAML that declares kind: Secret", ADVICE,
                                    advice="fix the YAML, then run the hook again for the command that "
                                           "encrypts or seals the Secret"))
        return findings
    for doc in docs:
        if is_secret(doc):
            findings.extend(_secret_findings(doc, path))
    if name in KUSTOMIZATION_FILES and docs:
        findings.extend(_kustomization_findings(docs[0], path, read))
    return findings


def check_files(paths: Iterable[str], read: Reader, all_paths: Iterable[str] = ()) -> list[Finding]:
    """Check `paths`; `.sops.yaml` files among `all_paths` (or `paths`) supply the creation rules."""
    wanted = sorted(set(paths))
    rule_files = sorted({p for p in [*all_paths, *wanted] if PurePosixPath(p).name == ".sops.yaml"})
    rules = []
    for rule_file in rule_files:
        content = read(rule_file)
        if content is not None:
            rules.append(load_sops_rules(rule_file, content))
    findings: list[Finding] = []
    for path in wanted:
        content = read(path)
        if content is not None:
            findings.extend(check_file(path, content, read, rules))
    return findings
