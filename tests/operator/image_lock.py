"""operator/deploy/requirements.lock: every package the operator image installs, pinned to the versions
installed here, where the tests run.

    python -m tests.operator.image_lock --write   # after changing pyproject's dependencies or upgrading
    python -m tests.operator.image_lock --check   # exit 1 if the lock differs from this environment

The image installs secrets-kit with the extras the ExternalSecret providers need (IMAGE_EXTRAS) and
nothing else: the closure of their requirements is read from the installed distributions' metadata, with
environment markers evaluated for this interpreter (the image's Python minor is the same; the test of the
Dockerfile checks it).
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "operator" / "deploy" / "requirements.lock"
PROJECT = "secrets-kit"
IMAGE_EXTRAS = ("operator", "aws", "gcp")  # vault's hvac is in the operator extra


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    environment: dict[str, str] = dict(default_environment())
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def closure(root: str = PROJECT, extras: tuple[str, ...] = IMAGE_EXTRAS) -> dict[str, str]:
    """Canonical name -> installed version of every distribution `root[extras]` needs (root excluded)."""
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(root, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        dist = metadata.distribution(name)
        if canonicalize_name(name) != canonicalize_name(root):
            found[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if applies(requirement, wanted):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return dict(sorted(found.items()))


def render(pins: dict[str, str]) -> str:
    python = ".".join(platform.python_version_tuple()[:2])
    head = (f"# The operator image's packages: {PROJECT}[{','.join(IMAGE_EXTRAS)}] and everything they need,\n"
            f"# pinned to the versions the tests ran with. Generated for Python {python} on Linux by\n"
            f"# `python -m tests.operator.image_lock --write`; the Dockerfile installs exactly these (--no-deps).\n"
            f"# python {python}\n")
    return head + "".join(f"{name}=={version}\n" for name, version in pins.items())


def read(text: str) -> tuple[str, dict[str, str]]:
    """(the Python minor the lock is for, name -> pinned version)."""
    python, pins = "", {}
    for line in text.splitlines():
        if line.startswith("# python "):
            python = line.removeprefix("# python ").strip()
        elif line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return python, pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(closure())
    if args.check:
        if not LOCK.is_file() or LOCK.read_text() != text:
            print("operator/deploy/requirements.lock differs from this environment: "
                  "run `python -m tests.operator.image_lock --write`", file=sys.stderr)
            return 1
        return 0
    tmp = LOCK.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(LOCK)
    print(f"wrote {LOCK.relative_to(REPO)} ({text.count('==')} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
