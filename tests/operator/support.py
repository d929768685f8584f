"""Helpers shared by the operator tests: sealing with either tool, waits, plaintext greps."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.peers.kube import KubeAPIError, KubeCluster
from tests.peers.sealed_controller import SEALED_API, SealedController
from tests.sealed.helpers import docs_of, kubeseal, run_cli, yaml_of

KOPF_MARKS = ("kopf.zalando.org",)


def marker(what: str) -> str:
    """A plaintext value no log, event, status or metric may contain."""
    return f"{what}-{secrets.token_hex(8)}"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def cert_file(controller: SealedController, tmp_path: Path, name: str = "cert.pem") -> Path:
    path = tmp_path / name
    path.write_bytes(controller.newest_cert())
    return path


def seal(tool: str, src: dict[str, Any], cert: Path, *, scope: str = "strict",
         kubeseal_bin: Path | None = None) -> dict[str, Any]:
    """A SealedSecret from `secrets-kit seal` or the real kubeseal (offline, --cert)."""
    if tool == "kubeseal":
        assert kubeseal_bin is not None
        done = kubeseal(kubeseal_bin, "--cert", cert, "--scope", scope, "-o", "yaml", input=yaml_of(src))
        assert done.returncode == 0, done.stderr
        return docs_of(done.stdout)[0]
    result = run_cli("seal", "--cert", cert, "--scope", scope, input=yaml_of(src))
    assert result.code == 0, result.err
    return docs_of(result.out)[0]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, log: Callable[[], str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = ("\nlog:\n" + "\n".join(log().splitlines()[-30:])) if log else ""
            raise AssertionError(f"timed out waiting for {what}{tail}")
        time.sleep(0.1)


def synced(controller: SealedController, ns: str, name: str, generation: int | None = None,
           timeout: float = 30.0) -> dict[str, Any]:
    """The Synced condition once it exists (and observedGeneration reached `generation`)."""
    def check() -> dict[str, Any] | None:
        doc = controller.sealed_secret(ns, name)
        status = doc.get("status") or {}
        if generation is not None and status.get("observedGeneration") != generation:
            return None
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Synced":
                return dict(condition)
        return None
    return dict(wait_for(f"Synced on {ns}/{name}", check, timeout, controller.log_text))


def get_secret(cluster: KubeCluster, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets/{name}")
    except KubeAPIError as err:
        if err.status == 404:
            return None
        raise


def events_for(cluster: KubeCluster, ns: str, name: str) -> list[dict[str, Any]]:
    listing = cluster.request("GET", f"/api/v1/namespaces/{ns}/events")
    return [e for e in listing.get("items", [])
            if e.get("involvedObject", {}).get("kind") == "SealedSecret"
            and e["involvedObject"].get("name") == name]


def sealed_list(cluster: KubeCluster, ns: str) -> list[dict[str, Any]]:
    return list(cluster.request("GET", f"{SEALED_API}/namespaces/{ns}/sealedsecrets").get("items", []))


def assert_no_plaintext(values: list[str], *texts: str | bytes) -> None:
    for text in texts:
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for value in values:
            assert value not in body, "plaintext leaked"
            assert b64(value) not in body, "plaintext leaked (base64)"


def dump(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True)


def context_namespace_kubeconfig(kubeconfig: Path, namespace: str, target: Path) -> Path:
    """A copy of a (JSON) kubeconfig whose current context names `namespace`, as `kubectl config
    set-context --current --namespace` writes it."""
    doc = json.loads(kubeconfig.read_text())
    current = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])
    current["context"]["namespace"] = namespace
    target.write_text(json.dumps(doc))
    return target
