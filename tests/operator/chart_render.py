"""operator/deploy/ is rendered from the Helm chart, so the two cannot drift apart.

    python -m tests.operator.chart_render --write   # after editing operator/chart/secrets-kit
    python -m tests.operator.chart_render --check   # exit 1 if operator/deploy/ is stale

Each manifest file of operator/deploy/ is the output of one chart template (its comments included), from
`helm template secrets-kit operator/chart/secrets-kit -n kube-system -f ci/deploy-values.yaml` plus, for the
two kustomizations that add to the base, one value: `externalSecrets.shards=2` for shards/ and
`externalSecrets.enabled=true` for the external-secrets.io CRDs. The helm peer renders it
(`python -m tests.peers.install helm`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "operator" / "chart" / "secrets-kit"
DEPLOY = REPO / "operator" / "deploy"
RELEASE, NAMESPACE = "secrets-kit", "kube-system"
BASE = ("ci/deploy-values.yaml",)
SHARDS = ("externalSecrets.shards=2",)
ESO_CRDS = ("externalSecrets.enabled=true",)
ESO_KINDS = ("clusterexternalsecret", "clustersecretstore", "externalsecret", "secretstore")

# target file in operator/deploy -> (extra --set values, the chart template that renders it)
FILES: dict[str, tuple[tuple[str, ...], str]] = {
    "crd.yaml": ((), "crds/sealedsecrets.yaml"),
    "serviceaccount.yaml": ((), "sealed-secrets/serviceaccount.yaml"),
    "rbac.yaml": ((), "sealed-secrets/rbac.yaml"),
    "rbac-externalsecrets.yaml": ((), "external-secrets/rbac.yaml"),
    "service.yaml": ((), "sealed-secrets/service.yaml"),
    "deployment.yaml": ((), "sealed-secrets/deployment.yaml"),
    "shards/rbac.yaml": (SHARDS, "external-secrets/rbac-shards.yaml"),
    **{f"crds/external-secrets/{kind}.yaml": (ESO_CRDS, f"crds/{kind}.yaml") for kind in ESO_KINDS},
}
HEADER = ("# Generated from operator/chart/secrets-kit (ci/deploy-values.yaml{extra}) by\n"
          "# `python -m tests.operator.chart_render --write`: edit the chart, not this file.\n")


def helm_binary() -> Path:
    from tests.peers.cache import find_binary

    found = find_binary("helm")
    if found is None:
        raise RuntimeError("helm not found: run `python -m tests.peers.install helm`")
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, timeout=120, check=False)


def template(values: tuple[str, ...] = (), sets: tuple[str, ...] = (), *, chart: Path = CHART,
             namespace: str = NAMESPACE, release: str = RELEASE) -> str:
    """`helm template` output; values files are relative to the chart."""
    args = ["template", release, str(chart), "-n", namespace]
    for name in values:
        args += ["-f", str(chart / name)]
    for item in sets:
        args += ["--set", item]
    done = helm(*args)
    if done.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Doc:
    source: str  # the template, relative to templates/
    text: str  # the document, comments included, without helm's `# Source:` line


def documents(output: str) -> list[Doc]:
    """helm's output split into documents, each with the template that rendered it."""
    docs: list[Doc] = []
    for chunk in ("\n" + output).split("\n---\n"):
        lines = chunk.strip("\n").splitlines()
        if not lines:
            continue
        head, *body = lines
        prefix = "# Source: secrets-kit/templates/"
        if not head.startswith(prefix):
            raise ValueError(f"unexpected helm output, no `# Source:` line: {head!r}")
        text = "\n".join(line.rstrip() for line in body).strip("\n")
        if text:
            docs.append(Doc(head[len(prefix):], text + "\n"))
    return docs


def deploy_files() -> dict[str, str]:
    """Every generated file of operator/deploy/ with the text it must have."""
    rendered = {sets: documents(template(BASE, sets)) for sets in {sets for sets, _ in FILES.values()}}
    out: dict[str, str] = {}
    for name, (sets, source) in FILES.items():
        docs = [d.text for d in rendered[sets] if d.source == source]
        if not docs:
            raise RuntimeError(f"{source} rendered nothing with ci/deploy-values.yaml {' '.join(sets)}")
        extra = "".join(f", {s}" for s in sets)
        out[name] = HEADER.format(extra=extra) + "---\n".join(docs)
    return out


def stale() -> list[str]:
    return [name for name, text in deploy_files().items()
            if not (DEPLOY / name).is_file() or (DEPLOY / name).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="render the chart into operator/deploy/")
    mode.add_argument("--check", action="store_true", help="exit 1 when operator/deploy/ differs from the chart")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"operator/deploy/{name} is stale: run `python -m tests.operator.chart_render --write`",
                  file=sys.stderr)
        return 1 if names else 0
    for name, text in deploy_files().items():
        path = DEPLOY / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        print(f"wrote operator/deploy/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
