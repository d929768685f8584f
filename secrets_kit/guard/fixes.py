"""The commands that fix a finding, built from the repository's own settings.

A printed fix must work when pasted, so it names what the repository already has:
- SOPS: the `.sops.yaml` whose creation rule matches the file (sops looks for it from the
  current directory upwards, so `--config` is added when that lookup would not find it),
  else the age identity sops would use (`$SOPS_AGE_KEY_FILE`, `~/.config/sops/age/keys.txt`)
  named by its recipient, else a one-time `secrets-kit keys age` first;
- sealing: a cluster registry (`clusters.yaml` or `clusters/clusters.yaml` in the file's
  folder or above, whose certificates exist), else the local key folder
  (`$SECRETS_KIT_KEYS_DIR`, `~/.config/secrets-kit/sealed-keys`), else a one-time
  `secrets-kit keys create` first.
After a fix changes a file, the staged copy must change too: each fix ends with the `git`
commands that do it, and a sealed Secret's plaintext file is removed (the SealedSecret
replaces it).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SecretsKitError
from ..sealed.keys import KeyFolder, default_keys_dir
from ..sealed.registry import load_registry
from ..sops.age_identity import recipient_of
from ..sops.config import CONFIG_NAME, find_config, load_config_file
from ..sops.keysources.age import default_keys_path
from ..sops.rules import RULE_FIELDS, compile_go_regex
from .checks import ADVICE, ENCRYPT, SECRET, Finding

SECRET_REGEX = "^(data|stringData)$"
REGISTRY_NAMES = ("clusters.yaml", "clusters/clusters.yaml")


@dataclass(frozen=True)
class Line:
    label: str  # "fix", "or seal it", "then", "one-time setup", "to do"
    text: str  # a shell command, except for "to do"

    def __str__(self) -> str:
        return f"{self.label}: {self.text}"


@dataclass(frozen=True)
class Place:
    """Where the hook runs: the repository (or folder) root, the current directory, and the Git index.

    `indexed` holds the repository-relative paths Git tracks or has staged: only those need
    `git add` / `git rm --cached` after a fix (an untracked or ignored file needs neither).
    """

    root: Path
    cwd: Path
    indexed: frozenset[str] = frozenset()

    def in_index(self, path: Path) -> bool:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix() in self.indexed
        except ValueError:
            return False

    def shown(self, path: Path) -> str:
        """`path` as a pasted command needs it: relative to the current directory when inside it."""
        try:
            text = path.resolve().relative_to(self.cwd.resolve()).as_posix()
        except ValueError:
            text = str(path.resolve())
        return shlex.quote(text)


def _folders(file: Path, root: Path) -> list[Path]:
    """The file's folder and its parents up to `root` (inclusive), nearest first."""
    folders, folder, top = [], file.resolve().parent, root.resolve()
    while True:
        folders.append(folder)
        if folder == top or folder.parent == folder or top not in folder.parents:
            return folders
        folder = folder.parent


def _matching_rule(config: Path, file: Path) -> dict[str, Any] | None:
    """The first creation rule of `config` that sops would use for `file` (as sops matches it)."""
    try:
        rules = load_config_file(config).get("creation_rules")
    except SecretsKitError:
        return None
    target = str(file.resolve())
    prefix = str(config.resolve().parent) + os.sep
    target = target[len(prefix):] if target.startswith(prefix) else target
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict):
            return None
        pattern = rule.get("path_regex")
        try:
            if not pattern or compile_go_regex(str(pattern), "path_regex").search(target):
                return rule
        except SecretsKitError:
            return None
    return None


def _age_recipient() -> str | None:
    """The recipient of the identity sops would decrypt with, when it is in a file."""
    for candidate in (os.environ.get("SOPS_AGE_KEY_FILE"), str(default_keys_path())):
        if candidate and Path(candidate).is_file():
            try:
                return recipient_of(Path(candidate))
            except (OSError, SecretsKitError):
                return None
    return None


def sops_lines(file: Path, place: Place, secret: bool, label: str = "fix") -> list[Line]:
    """`secrets-kit sops encrypt --in-place` for `file`, with the settings that make it work."""
    shown = place.shown(file)
    config: list[str] = []  # a global flag: `sops --config FILE encrypt` (sops's encrypt has no --config)
    args: list[str] = []
    rule: dict[str, Any] | None = None
    found = find_config(place.cwd).path  # what sops itself would read
    if found is not None:
        rule = _matching_rule(found, file)
    if rule is None:
        for folder in _folders(file, place.root):
            candidate = folder / CONFIG_NAME
            if candidate.is_file() and candidate.resolve() != (found.resolve() if found else None):
                rule = _matching_rule(candidate, file)
                if rule is not None:
                    config = ["--config", place.shown(candidate)]
                    break
    setup: list[Line] = []
    if rule is None and found is not None:
        # sops refuses any key flag when the .sops.yaml it finds has no rule for the file; that
        # file says nothing about this one, so the fix reads no config at all.
        config = ["--config", "/dev/null"]
    if rule is None:
        recipient = _age_recipient()
        if recipient:
            args += ["--age", recipient]
        else:
            setup.append(Line("one-time setup", "secrets-kit keys age   # an age identity where sops looks for it"))
            args += ["--age", '"$(secrets-kit keys age -y)"']
    if secret and (rule is None or not any(rule.get(name) for name in RULE_FIELDS)):
        args += ["--encrypted-regex", shlex.quote(SECRET_REGEX)]  # metadata stays readable for Kubernetes
    command = " ".join(["secrets-kit", "sops", *config, "encrypt", *args, "--in-place", shown])
    if place.in_index(file):
        command += f" && git add {shown}"
    return [*setup, Line(label, command)]


def _registry(file: Path, place: Place) -> tuple[Path, list[str]] | None:
    """A cluster registry near `file` whose every certificate is a file that exists: (path, cluster names)."""
    for folder in _folders(file, place.root):
        for name in REGISTRY_NAMES:
            path = folder / name
            if not path.is_file():
                continue
            try:
                entries = load_registry(path)
            except SecretsKitError:
                continue
            if entries and all(e.cert and "://" not in e.cert and Path(e.cert).is_file() for e in entries.values()):
                return path, sorted(entries)
    return None


def _sealed_name(file: Path, cluster: str | None) -> Path:
    ext = file.suffix if file.suffix.lower() in (".yaml", ".yml", ".json") else ".yaml"
    stem = file.name[: -len(file.suffix)] if file.suffix else file.name
    return file.with_name(f"{stem}{'.' + cluster if cluster else ''}.sealed{ext}")


def seal_lines(file: Path, place: Place, label: str = "or seal it") -> list[Line]:
    """`secrets-kit seal` for `file` with the repository's certificates, then the plaintext's removal."""
    shown = place.shown(file)
    setup: list[Line] = []
    registry = _registry(file, place)
    if registry is not None:
        path, clusters = registry
        command = f"secrets-kit seal --clusters {place.shown(path)} --all-clusters {shown}"
        outputs = [_sealed_name(file, c if len(clusters) > 1 else None) for c in clusters]
    else:
        folder = default_keys_dir()
        try:
            has_keys = bool(KeyFolder(folder).pairs())
        except SecretsKitError:
            has_keys = False
        if not has_keys:
            setup.append(Line("one-time setup", "secrets-kit keys create   # a local sealing key pair "
                                                "(or seal with your cluster's certificate: --cert FILE)"))
        command = f"secrets-kit seal --keys-dir {place.shown(folder)} {shown}"
        outputs = [_sealed_name(file, None)]
    sealed = " ".join(place.shown(o) for o in outputs)
    if place.in_index(file):
        command += f" && git add {sealed}"
        remove = f"git rm -q --cached {shown} && rm {shown}"
    else:
        remove = f"rm {shown}"
    return [*setup, Line(label, command),
            Line("then", f"{remove}   # the plaintext must go: the sealed file replaces it")]


def lines_for(finding: Finding, place: Place) -> list[Line]:
    """What to print under a finding, in order."""
    target = place.root / finding.fix_target
    if finding.remedy == ADVICE:
        return [Line("to do", finding.advice)]
    if finding.remedy == ENCRYPT:
        return sops_lines(target, place, secret=False)
    assert finding.remedy == SECRET
    sops = sops_lines(target, place, secret=True)
    if sops[0].label == "one-time setup":  # SOPS is not set up for this file: is sealing?
        seal = seal_lines(target, place, label="fix")
        if seal[0].label != "one-time setup":
            return [*seal, *sops_lines(target, place, secret=True, label="or encrypt it")]
    return [*sops, *seal_lines(target, place)]
