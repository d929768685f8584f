"""What the local cluster demo applies: the example ClusterSecretStores (pointed at the peers), and
examples/gitops filled in and rendered with the cluster's certificate (its SealedSecrets and
ExternalSecrets). Also where each object lives in the API.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.peers.demo_peers import API, ENVIRONMENTS, EXAMPLES, say
from tests.peers.kube import KubeCluster

STORES_FILE = Path("gitops") / "platform" / "external-secrets" / "cluster-secret-stores.yaml"


@contextlib.contextmanager
def age_identity_env(identity: Path) -> Iterator[None]:
    saved = {k: os.environ.pop(k, None) for k in ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD")}
    os.environ["SOPS_AGE_KEY_FILE"] = str(identity)
    try:
        yield
    finally:
        os.environ.pop("SOPS_AGE_KEY_FILE", None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def rendered_objects(workdir: Path, cert_pem: bytes) -> list[dict[str, Any]]:
    """examples/gitops filled in with the cluster's certificate, each deploy/<env> rendered (zero
    plaintext); its SealedSecrets and ExternalSecrets."""
    from secrets_kit.quickstart.render_steps import fill_gitops_repo
    from secrets_kit.render.config import CliSettings, options_from
    from secrets_kit.render.pipeline import render
    from secrets_kit.render.reseal import write_key_file
    from secrets_kit.sealed.certs import load_cert
    from secrets_kit.sops.age_identity import ensure_identity
    from secrets_kit.sops.keysources import age

    keys = workdir / "keys"
    keys.mkdir(mode=0o700, parents=True)
    cert_file = keys / "cluster.pem"
    cert_file.write_bytes(cert_pem)
    cert = load_cert(cert_pem, str(cert_file))
    identity = keys / "age.txt"
    recipient, _ = ensure_identity(identity)
    repo = workdir / "gitops"
    counts, _ = fill_gitops_repo(EXAMPLES, repo, recipient, cert)
    reseal_key = keys / "reseal.key"
    write_key_file(reseal_key)
    say(f"examples/gitops filled in ({counts['sops']} SOPS files, {counts['sealed']} SealedSecrets) with the "
        f"cluster's certificate {cert.fingerprint[:16]}… (from the operator's /v1/cert.pem)")
    out: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    age.clear_cache()
    with age_identity_env(identity):
        for env in ENVIRONMENTS:
            cli = CliSettings(seal_to=cert_file, reseal_key=reseal_key, root=repo)
            environ = {"ARGOCD_APP_NAME": f"demo-{env}", "ARGOCD_APP_NAMESPACE": f"demo-{env}"}
            result = render(options_from(repo / "deploy" / env, environ, cli))
            kinds: dict[str, int] = {}
            for doc in result.manifests:
                kind = str(doc.get("kind"))
                if kind in ("SealedSecret", "ExternalSecret"):
                    out.append(json.loads(json.dumps(doc)))
                    kinds[kind] = kinds.get(kind, 0) + 1
                else:
                    skipped[kind] = skipped.get(kind, 0) + 1
            say(f"rendered deploy/{env}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                + f" (re-sealed: {result.context.facts.get('resealed', 0)})")
    age.clear_cache()
    if skipped:
        say("not applied (no kubelet or scheduler here): " + ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())))
    return out


def cluster_stores(vault_url: str) -> list[dict[str, Any]]:
    """The example ClusterSecretStores, with the two changes the local peers need (said on stderr)."""
    from secrets_kit.k8s.manifests import load_documents

    path = EXAMPLES / STORES_FILE
    stores = [json.loads(json.dumps(d)) for d in load_documents(path.read_bytes(), source=str(path))]
    for store in stores:
        provider = store["spec"]["provider"]
        name = store["metadata"]["name"]
        if "vault" in provider:
            say(f"ClusterSecretStore {name}: server {provider['vault']['server']} -> {vault_url} (OpenBao)")
            provider["vault"]["server"] = vault_url
        if "gcpsm" in provider and provider["gcpsm"].pop("auth", None) is not None:
            say(f"ClusterSecretStore {name}: auth.workloadIdentity dropped (drongo takes no credentials; "
                "no Google token service here)")
    return stores


def object_path(doc: dict[str, Any]) -> str:
    api, plural = API[doc["kind"]]
    meta = doc["metadata"]
    if meta.get("namespace"):
        return f"{api}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"
    return f"{api}/{plural}/{meta['name']}"


def apply_all(cluster: KubeCluster, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        cluster.apply(object_path(doc), doc, field_manager="secrets-kit-demo")
    counts: dict[str, int] = {}
    for doc in docs:
        counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
    say("applied " + ", ".join(f"{n} {k}" for k, n in counts.items()))


