"""Quickstart steps of the render step: build the example GitOps repository, render each environment.

1. `gitops_repo`: copy `examples/gitops` to `<workdir>/gitops` and fill each `deploy/<env>`
   from the fake inputs in `examples/plaintext/gitops/<env>`: the Secret SOPS-encrypted
   (`data`/`stringData` only), the dotenv file SOPS-encrypted, the API token sealed for the
   quickstart's cluster key. Keys: the sealing key pair in `<workdir>/keys` (made by the
   sealed-secrets step), an age identity (`<workdir>/keys/age.txt`, shared with the SOPS step),
   a reseal key `<workdir>/keys/reseal.key`. Nothing secret is written outside `<workdir>/keys`.
2. `render_<env>`: render `deploy/<env>` in zero-plaintext mode into `<workdir>/rendered/<env>.yaml`,
   render it again to check the output is byte-identical, check that no input value appears in
   it, and unseal the re-sealed Secrets with the local key to check they hold the input values.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import RenderError
from ..files import write_atomic
from ..k8s.manifests import dump_yaml, load_documents
from ..render.config import CliSettings, options_from
from ..render.dotenv import parse_env_lines
from ..render.pipeline import render
from ..render.reseal import write_key_file
from ..sealed.certs import SealingCert
from ..sealed.keys import KeyFolder
from ..sealed.model import seal_secret, unseal
from ..sops.keysources import age
from ..sops.keysources.age import AgeKey
from ..sops.ops import EncryptOptions, encrypt_bytes
from ..sops.rules import SelectionRules
from ..sops.stores import store_for
from .keys import age_identity, keys_dir, sealing_pair
from .model import QuickstartContext, Step, StepResult

ENVIRONMENTS = ("dev", "staging", "prod")
SOPS_RULES = """\
# Written by `secrets-kit quickstart` with its throwaway age recipient.
creation_rules:
  - path_regex: deploy/.*\\.sops\\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: {recipient}
  - path_regex: deploy/.*\\.sops\\.env$
    age: {recipient}
"""


def _encrypt(data: bytes, fmt: str, recipient: str, encrypted_regex: str = "") -> bytes:
    options = EncryptOptions(key_groups=[[AgeKey(recipient)]], rules=SelectionRules(encrypted_regex=encrypted_regex))
    return encrypt_bytes(data, store_for(fmt), None, options)


def fill_gitops_repo(examples: Path, repo: Path, recipient: str, cert: SealingCert) -> tuple[dict[str, int], list[Path]]:
    """Copy `examples/gitops` to `repo` and fill each `deploy/<env>` from `examples/plaintext/gitops/<env>`:
    SOPS files for the age `recipient`, the API token sealed with `cert` (also written as both cluster
    certificates). Returns the counts and the files written. The local cluster demo
    (tests/peers/demo.py) calls it with a live cluster's certificate."""
    inputs = examples / "plaintext" / "gitops"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(examples / "gitops", repo)
    write_atomic(repo / ".sops.yaml", SOPS_RULES.format(recipient=recipient))
    certs = repo / "clusters" / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    for cluster in ("eu-west", "us-east"):
        write_atomic(certs / f"{cluster}.pem", cert.pem)
    written: list[Path] = []
    counts = {"sops": 0, "sealed": 0}
    for env in ENVIRONMENTS:
        folder, plain = repo / "deploy" / env, inputs / env
        if not folder.is_dir() or not plain.is_dir():
            continue
        db = _encrypt((plain / "db-credentials.yaml").read_bytes(), "yaml", recipient, "^(data|stringData)$")
        write_atomic(folder / "db-credentials.sops.yaml", db)
        write_atomic(folder / "app.sops.env", _encrypt((plain / "app.env").read_bytes(), "dotenv", recipient))
        token = load_documents((plain / "api-token.yaml").read_bytes(), source=str(plain / "api-token.yaml"))[0]
        sealed = seal_secret(token, cert.public_key, where=str(plain / "api-token.yaml"))
        write_atomic(folder / "api-token.sealed.yaml", dump_yaml(sealed))
        counts["sops"] += 2
        counts["sealed"] += 1
        written += [folder / n for n in ("db-credentials.sops.yaml", "app.sops.env", "api-token.sealed.yaml")]
    return counts, written


def gitops_repo(ctx: QuickstartContext) -> StepResult:
    """Copy examples/gitops into the work folder and encrypt/seal each environment's fake secrets."""
    if not (ctx.examples / "gitops").is_dir() or not (ctx.examples / "plaintext" / "gitops").is_dir():
        return StepResult("gitops-repo", "no examples/gitops: nothing to build")
    repo = ctx.workdir / "gitops"
    identity, recipient, _ = age_identity(ctx)
    pair, _ = sealing_pair(ctx)
    counts, written = fill_gitops_repo(ctx.examples, repo, recipient, pair.cert)
    ctx.facts.update(gitops_repo=str(repo), age_identity=str(identity), sealing_cert=str(pair.cert_path),
                     sealing_keys=str(pair.cert_path.parent))
    return StepResult("gitops-repo", f"{ctx.rel(repo)}/: {counts['sops']} SOPS files (age {recipient[:16]}…), "
                                     f"{counts['sealed']} SealedSecrets, cluster certs for eu-west/us-east",
                      [ctx.rel(p) for p in written])


@contextlib.contextmanager
def _age_env(identity: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD")}
    os.environ["SOPS_AGE_KEY_FILE"] = identity
    os.environ.pop("SOPS_AGE_KEY", None)
    os.environ.pop("SOPS_AGE_KEY_CMD", None)
    age.clear_cache()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        age.clear_cache()


def _input_values(folder: Path) -> list[str]:
    """Every fake value of an environment's inputs (long enough to search for)."""
    values: list[str] = []
    for name in ("db-credentials.yaml", "api-token.yaml"):
        for doc in load_documents((folder / name).read_bytes(), source=name):
            values += [str(v) for v in (doc.get("stringData") or {}).values()]
    values += [v for _, v in parse_env_lines((folder / "app.env").read_text(), source="app.env")]
    return [v for v in values if len(v) >= 8]


def render_environment(env: str) -> Step:
    def step(ctx: QuickstartContext) -> StepResult:
        name = f"render-{env}"
        repo = Path(str(ctx.facts.get("gitops_repo", ctx.workdir / "gitops")))
        app = repo / "deploy" / env
        if not app.is_dir() or not ctx.facts.get("sealing_cert"):
            return StepResult(name, "no generated repository: skipped")
        key_file = keys_dir(ctx) / "reseal.key"
        if not key_file.exists():
            write_key_file(key_file)
        cli = CliSettings(seal_to=Path(str(ctx.facts["sealing_cert"])), reseal_key=key_file, root=repo)
        environ = {"ARGOCD_APP_NAME": f"demo-{env}", "ARGOCD_APP_NAMESPACE": f"demo-{env}"}
        with _age_env(str(ctx.facts["age_identity"])):
            first = render(options_from(app, environ, cli))
            again = render(options_from(app, environ, cli))
        text = first.text()
        if text != again.text():
            raise RenderError("two renders of the same input differ", where=str(app))
        leaked = [v for v in _input_values(ctx.examples / "plaintext" / "gitops" / env) if v in text]
        if leaked:
            raise RenderError(f"{len(leaked)} input value(s) appear in the rendered output", where=str(app))
        keyring = KeyFolder(Path(str(ctx.facts["sealing_keys"]))).keyring()
        opened = 0
        for doc in load_documents(text, source=name):
            if doc.get("kind") == "SealedSecret":
                unseal(doc, keyring, where=f"{name}: {doc['metadata']['name']}")
                opened += 1
        out = ctx.workdir / "rendered" / f"{env}.yaml"
        write_atomic(out, text)
        facts = first.context.facts
        return StepResult(name, f"{ctx.rel(out)}: {len(first.manifests)} objects, {facts.get('resealed', 0)} Secrets re-sealed, "
                                f"{opened} SealedSecrets open with the local key, stable, no plaintext",
                          [ctx.rel(out)])

    step.__name__ = f"render_{env}"
    return step


STEPS: list[Step] = [gitops_repo, *(render_environment(env) for env in ENVIRONMENTS)]
