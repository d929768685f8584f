"""The operator image, checked statically (there is no Docker engine here to build it), and its pip steps
replayed in a fresh virtualenv. Its base is a slim
Python pinned by version (the tested minor), it runs as a numeric non-root user (the chart's runAsUser),
installs exactly requirements.lock with --no-deps and builds secrets-kit with a pinned backend, copies
only the package sources; the lock pins every dependency pyproject declares for the image, within
pyproject's ranges, and is closed under the locked packages' own requirements."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.operator import image_lock

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "operator" / "deploy" / "Dockerfile"
BUILD_CONSTRAINTS = REPO / "operator" / "deploy" / "build-constraints.txt"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def lock() -> tuple[str, dict[str, str]]:
    return image_lock.read(image_lock.LOCK.read_text())


def test_the_base_is_a_slim_python_pinned_to_the_tested_minor() -> None:
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) == 1, froms
    match = re.fullmatch(r"python:(3)\.(\d+)\.(\d+)-slim-(bookworm|trixie)", froms[0])
    assert match, f"not a slim Python pinned by version: {froms[0]}"
    python, _ = lock()
    assert f"{match[1]}.{match[2]}" == python == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_it_runs_as_the_charts_numeric_non_root_user() -> None:
    users = [args for word, args in instructions() if word == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or (gid.isdigit() and int(gid) != 0))
    values = yaml.safe_load((REPO / "operator" / "chart" / "secrets-kit" / "values.yaml").read_text())
    assert int(uid) == values["podSecurityContext"]["runAsUser"]  # runAsNonRoot needs a numeric USER
    assert not gid or int(gid) == values["podSecurityContext"]["runAsGroup"]
    assert f"--uid {uid}" in " ".join(args for word, args in instructions() if word == "RUN")


def test_packages_come_from_the_lock_only() -> None:
    runs = [args for word, args in instructions() if word == "RUN"]
    installs = [cmd for run in runs for cmd in run.split("&&") if "pip install" in cmd]
    assert installs and all("--no-deps" in cmd for cmd in installs), installs  # nothing resolved at build time
    assert any("--requirement /tmp/pins/requirements.lock" in cmd for cmd in installs)
    assert any("PIP_CONSTRAINT=/tmp/pins/build-constraints.txt" in cmd for cmd in installs)
    assert any(cmd.strip() == "pip check" for run in runs for cmd in run.split("&&"))  # the lock is complete


def test_only_the_package_sources_are_copied_and_no_secret() -> None:
    allowed = {"operator/deploy/requirements.lock", "operator/deploy/build-constraints.txt", "pyproject.toml",
               "README.md", "secrets_kit", "cli", "operator/secrets_kit_operator"}
    for word, args in instructions():
        if word in ("COPY", "ADD"):
            assert word == "COPY", "ADD fetches URLs and unpacks archives: use COPY"
            *sources, _target = shlex.split(args)
            assert set(sources) <= allowed, f"COPY {args}: copies more than the package sources"
        if word in ("ARG", "ENV"):
            assert not re.search(r"(?i)token|password|secret|credential|_key\b", args), f"{word} {args}"
    for folder in ("secrets_kit", "cli", "operator/secrets_kit_operator"):
        leaked = [p for p in (REPO / folder).rglob("*") if p.suffix in (".pem", ".key", ".kubeconfig") or
                  p.name in (".env", "kubeconfig")]
        assert not leaked, f"key or credential files inside a copied folder: {leaked}"


def image_requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in image_lock.IMAGE_EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def test_every_dependency_pyproject_declares_for_the_image_is_pinned_within_its_range() -> None:
    _, pins = lock()
    assert "kopf" in pins and "kubernetes-asyncio" in pins
    for requirement in image_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in operator/deploy/requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"{name}=={pins[name]} does not satisfy pyproject's {requirement}"
        assert Version(pins[name])  # an exact version, not a range


def test_the_build_backend_is_pinned_within_build_system_requires() -> None:
    pins = image_lock.read(BUILD_CONSTRAINTS.read_text())[1]
    for line in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins and requirement.specifier.contains(pins[name]), (line, pins)


def test_the_lock_is_closed_under_the_locked_packages_requirements() -> None:
    """What each locked package needs (as its installed metadata says, where the pinned version is the one
    installed here) is locked too, within range: `pip check` in the image will pass."""
    _, pins = lock()
    checked = 0
    for name, version in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for line in dist.requires or []:
            requirement = Requirement(line)
            if not image_lock.applies(requirement, frozenset()):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in pins, f"{name} needs {requirement}, which the lock lacks"
            assert requirement.specifier.contains(pins[needed], prereleases=True), (name, str(requirement))
    assert checked > len(pins) // 2, "the lock was not made from this environment"


def test_the_image_steps_install_the_lock_alone_and_the_operator_starts(tmp_path: Path) -> None:
    """The Dockerfile's two pip steps, replayed in a fresh virtualenv without the tested environment's
    packages (no Docker engine here): the lock installs with --no-deps, secrets-kit builds with the pinned
    backend, `pip check` finds nothing missing, and the operator's modules import and its CLI answers."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--no-deps", "--requirement", str(REPO / "operator/deploy/requirements.lock")],
                   check=True, timeout=900)
    src = tmp_path / "src"
    for name in ("pyproject.toml", "README.md", "secrets_kit", "cli", "operator/secrets_kit_operator"):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.write_bytes((REPO / name).read_bytes())
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONSTRAINT": str(BUILD_CONSTRAINTS)}
    subprocess.run([*pip, "install", "--no-deps", str(src)], check=True, env=env, timeout=600)
    subprocess.run([*pip, "check"], check=True, env=env)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-c", "import kopf, hvac, boto3, google.cloud.secretmanager, prometheus_client; "
                    "import secrets_kit_operator.external.controller, secrets_kit_operator.controller"],
                   check=True, env=env, cwd=tmp_path)
    shown = subprocess.run([str(venv / "bin" / "secrets-kit"), "operator", "run", "--help"], check=True, env=env,
                           capture_output=True, text=True, cwd=tmp_path).stdout
    assert "--external-secrets" in shown
