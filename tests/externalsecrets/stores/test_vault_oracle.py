"""Differential: our Vault store and ESO v0.16.2's own Vault provider (vault_oracle/main.go, built with
the Go toolchain from the module cache) read the same OpenBao dev server; results must be equal.

Skips when Go or ESO's module tree is not available offline. Error texts are compared where ESO writes
its own text; for Vault API failures only the kind (NoSecretError or not) is compared.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.errors import ProviderError
from secrets_kit.externalsecrets.refs import METADATA_FETCH, FindRef, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores import StoreClients
from tests.peers.vault import VaultSetup

pytestmark = pytest.mark.peer("vault")

SOURCE = Path(__file__).parent / "vault_oracle"


@pytest.fixture(scope="session")
def eso_vault_oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    go = shutil.which("go")
    if go is None:
        pytest.skip("the Go toolchain is needed to build ESO's Vault provider")
    work = tmp_path_factory.mktemp("vault-oracle")
    for name in ("main.go", "go.mod"):
        shutil.copy(SOURCE / name, work / name)
    # the module cache first; what it lacks comes from the Go module proxy (as the peers' builds do)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOSUMDB": "off"}
    build = subprocess.run([go, "build", "-o", str(work / "oracle"), "."], cwd=work, env=env,
                           capture_output=True, text=True, timeout=900)
    if build.returncode != 0:
        pytest.skip(f"ESO's Vault provider does not build here: {build.stderr.strip()[-300:]}")
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        "users": [{"name": "x", "user": {"token": "unused"}}]}))
    return work / "oracle", kubeconfig


def seed(vault: VaultSetup) -> None:
    c = vault.server.client()
    kv2, kv1 = c.secrets.kv.v2, c.secrets.kv.v1
    kv2.create_or_update_secret("oracle/app", {"password": "one"}, mount_point="kv-v2")
    kv2.create_or_update_secret("oracle/app", {
        "password": "two", "n": 1.5, "i": 42, "obj": {"a": "<b>&", "n": 2.25, "deep": {"x": [1, "y"]}},
        "list": [1, "x", {"k": "v"}], "t": True, "z": None, "dot.key": "d", "dot": {"key": "nested"}},
        mount_point="kv-v2")
    kv2.create_or_update_secret("oracle/gone", {"v": "1"}, mount_point="kv-v2")
    kv2.create_or_update_secret("oracle/gone", {"v": "2"}, mount_point="kv-v2")
    kv2.delete_secret_versions("oracle/gone", versions=[2], mount_point="kv-v2")
    kv2.create_or_update_secret("oracle/tree/a", {"a": "1"}, mount_point="kv-v2")
    kv2.create_or_update_secret("oracle/tree/sub/b", {"b": "2"}, mount_point="kv-v2")
    kv2.update_metadata("oracle/tree/a", custom_metadata={"team": "x", "env": "prod"}, mount_point="kv-v2")
    kv2.update_metadata("oracle/tree/sub/b", custom_metadata={"team": "x", "env": "dev"}, mount_point="kv-v2")
    kv1.create_or_update_secret("oracle/app", {"token": "t1", "n": 7, "obj": {"k": "v"}}, mount_point="kv-v1")


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(op: str, key: str = "", *, path: str | None = "kv-v2", kv: str = "v2", **kw: Any) -> None:
        out.append({"op": op, "key": key, "path": path, "kv": kv, "version": kw.get("version", ""),
                    "property": kw.get("property", ""), "metadata": kw.get("metadata", False),
                    "find_path": kw.get("find_path"), "find_name": kw.get("find_name"),
                    "find_tags": kw.get("find_tags")})

    for prop in ("", "password", "n", "i", "obj", "obj.a", "obj.n", "obj.deep.x.1", "list", "list.2.k", "list.#",
                 "t", "z", "dot.key", "dot", "missing", "obj.missing", "obj|@reverse"):
        add("get", "oracle/app", property=prop)
        add("map", "oracle/app", property=prop)
    for key in ("kv-v2/oracle/app", "kv-v2/data/oracle/app", "oracle/missing", "oracle/gone"):
        add("get", key, property="password")
    add("get", "oracle/app", version="1")
    add("get", "oracle/app", version="7")
    add("get", "oracle/gone", version="1")
    add("get", "kv-v2/oracle/app", path=None, property="password")
    add("get", "kv-v2/data/oracle/app", path=None, property="password")
    add("get", "oracle/tree/a", metadata=True)
    add("get", "oracle/tree/a", metadata=True, property="env")
    add("get", "oracle/app", metadata=True)
    add("get", "oracle/missing", metadata=True)
    add("map", "oracle/tree/a", metadata=True)
    add("get", "oracle/app", path="kv-v1", kv="v1")
    add("get", "oracle/app", path="kv-v1", kv="v1", property="n")
    add("map", "oracle/app", path="kv-v1", kv="v1")
    add("get", "oracle/app", path="kv-v1", kv="v1", metadata=True)
    add("find", find_path="oracle/tree", find_name=".*")
    add("find", find_path="oracle", find_name="sub/")
    add("find", find_path="oracle/tree", find_tags={"team": "x"})
    add("find", find_path="oracle/tree", find_tags={"team": "x", "env": "dev"})
    add("find", find_path="oracle/absent", find_name=".*")
    add("find", find_path="oracle", find_name="app$", path="kv-v1", kv="v1")
    add("find", find_path="oracle", find_tags={"a": "b"}, path="kv-v1", kv="v1")
    add("find", find_path="oracle/tree", find_name=".*", path=None)
    return out


async def ours(vault: VaultSetup, case: dict[str, Any]) -> dict[str, Any]:
    class Kube:
        async def secret_value(self, namespace: str, name: str, key: str) -> bytes:
            return vault.server.root_token.encode()

        async def service_account_token(self, *args: Any) -> str:
            raise AssertionError

    spec: dict[str, Any] = {"server": vault.server.url, "version": case["kv"],
                            "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}}
    if case["path"] is not None:
        spec["path"] = case["path"]
    store = {"kind": "SecretStore", "metadata": {"name": "v", "namespace": "default"},
             "spec": {"provider": {"vault": spec}}}
    clients = StoreClients(Kube())
    result: dict[str, Any] = {"value": "", "map": None, "err": "", "no_secret": False}
    try:
        client = await clients.client_for(store, "default")
        ref = RemoteRef(case["key"], property=case["property"], version=case["version"],
                        metadata_policy=METADATA_FETCH if case["metadata"] else "None")
        if case["op"] == "get":
            result["value"] = (await client.get_secret(ref)).decode()
        elif case["op"] == "map":
            result["map"] = {k: v.decode() for k, v in (await client.get_secret_map(ref)).items()}
        else:
            found = await client.get_all_secrets(FindRef(path=case["find_path"] or "", name_regexp=case["find_name"] or "",
                                                         tags=case["find_tags"] or {}))
            result["map"] = {k: v.decode() for k, v in found.items()}
    except ProviderError as exc:
        result["err"], result["no_secret"] = exc.message, isinstance(exc, NoSecretError)
    finally:
        await clients.close()
    return result


def test_vault_store_matches_eso(vault_dev: VaultSetup, eso_vault_oracle: tuple[Path, Path]) -> None:
    binary, kubeconfig = eso_vault_oracle
    seed(vault_dev)
    todo = cases()
    run = subprocess.run([str(binary)], input=json.dumps({"server": vault_dev.server.url,
                                                           "token": vault_dev.server.root_token, "cases": todo}),
                         capture_output=True, text=True, timeout=300, env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = json.loads(run.stdout)
    mismatches = []
    for case, eso in zip(todo, theirs, strict=True):
        mine = asyncio.run(ours(vault_dev, case))
        label = {k: v for k, v in case.items() if v not in (None, "", False)}
        if bool(eso["err"]) != bool(mine["err"]) or eso["no_secret"] != mine["no_secret"]:
            mismatches.append((label, "error", eso["err"], mine["err"]))
        elif eso["err"]:
            # Go's JSON syntax errors quote a character of the value; ours never do
            same_syntax = "invalid character" in eso["err"] and mine["err"].startswith("invalid character")
            if not (eso["err"].startswith("cannot read secret data from Vault") or same_syntax
                    or eso["err"] == mine["err"]):
                mismatches.append((label, "message", eso["err"], mine["err"]))
        elif (eso["value"], eso["map"] if case["op"] != "get" else None) != (mine["value"], mine["map"]):
            mismatches.append((label, "value", eso["value"] or eso["map"], mine["value"] or mine["map"]))
    assert not mismatches, "\n".join(map(repr, mismatches))
