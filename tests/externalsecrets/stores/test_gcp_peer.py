"""The gcpsm store (ESO's GCP Secret Manager provider) against drongo's Secret Manager REST server.

The endpoint reaches the store through SECRETS_KIT_GCP_SM_ENDPOINT, pointed at a recording proxy in
front of drongo (drongo keeps no request log): the proxy counts requests, keeps their paths, queries
and Authorization headers, and can inject faults (403, 429). Kubernetes Secrets come from a KubeReads
stand-in (KubeReads is our own protocol, not a peer); the workload identity test uses the real
kube-apiserver for the ServiceAccount and its TokenRequest.

Google's OAuth token endpoint, its identitybindingtoken (STS) endpoint and IAM Credentials have no
peer that can be installed here: a loopback HTTP server started by the test stands in for each, and
only records what it is sent and answers in Google's documented shape.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import http.server
import json
import logging
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from secrets_kit.errors import ProviderError
from secrets_kit.externalsecrets.refs import METADATA_FETCH, READ_MAX_AGE, FindRef, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores import PROVIDERS, StoreClients, _workload, validate_store
from secrets_kit.externalsecrets.stores import gcp as gcp_store
from secrets_kit.externalsecrets.stores._context import StoreContext
from secrets_kit.externalsecrets.stores.gcp import GcpStoreClient

from .standins import SecretsStandIn

pytest.importorskip("google.cloud.secretmanager")

SECRET_VALUE = "gcp-s3cr3t-never-in-errors"
PROJECT = "sk-test"
NS = "team"


# ---------------------------------------------------------------------------- loopback HTTP helpers


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What a loopback server was sent, and the faults it should answer with."""

    seen: list[Seen] = field(default_factory=list)
    faults: list[tuple[re.Pattern[str], int, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, pattern: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if re.search(pattern, s.path)]

    def fault(self, pattern: str, status: int, grpc_status: str, message: str) -> None:
        self.faults.append((re.compile(pattern), status, {"error": {"code": status, "message": message,
                                                                    "status": grpc_status}}))


def _serve(recorder: Recorder, answer: Callable[[Seen], tuple[int, dict[str, str], bytes]]) -> Any:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            split = urllib.parse.urlsplit(self.path)
            seen = Seen(self.command, split.path, urllib.parse.parse_qs(split.query),
                        {k.lower(): v for k, v in self.headers.items()}, body)
            with recorder.lock:
                recorder.seen.append(seen)
                fault = next(((s, b) for rx, s, b in recorder.faults if rx.search(split.path)), None)
            if fault is not None:
                status, headers, data = fault[0], {"Content-Type": "application/json"}, json.dumps(fault[1]).encode()
            else:
                status, headers, data = answer(seen)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def proxy(gcp_sm_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """A recording, fault-injecting proxy in front of drongo; the store's endpoint points at it."""
    host, port = gcp_sm_endpoint.split(":")
    recorder = Recorder()

    def forward(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        query = urllib.parse.urlencode(seen.query, doseq=True)
        headers = {k: v for k, v in seen.headers.items() if k not in ("connection", "host")}
        conn.request(seen.method, seen.path + (f"?{query}" if query else ""), body=seen.body or None, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        out = {k: v for k, v in answer.getheaders()
               if k.lower() not in ("transfer-encoding", "connection", "content-length")}
        conn.close()
        return answer.status, out, data

    server = _serve(recorder, forward)
    monkeypatch.setenv(gcp_store.ENDPOINT_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def _json_answer(status: int, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


# ---------------------------------------------------------------------------- helpers


def _store(auth: dict[str, Any] | None = None, *, cluster: bool = False, **provider: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "gcp", "uid": "u1", "generation": 1}
    if not cluster:
        meta["namespace"] = NS
    body: dict[str, Any] = {"projectID": PROJECT, **provider}
    if auth is not None:
        body["auth"] = auth
    return {"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore" if cluster else "SecretStore",
            "metadata": meta, "spec": {"provider": {"gcpsm": body}}}


async def _client(store: dict[str, Any], kube: Any = None, *, window: float = 5.0,
                  calls: list[tuple[str, str, bool]] | None = None) -> tuple[StoreClients, GcpStoreClient]:
    on_call = (lambda p, c, ok: calls.append((p, c, ok))) if calls is not None else None
    clients = StoreClients(kube or SecretsStandIn(), vault_cache_seconds=window, on_call=on_call)
    client = await clients.client_for(store, NS)
    assert isinstance(client, GcpStoreClient)
    return clients, client


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _seed(sm: Any, secret_id: str, *values: bytes, labels: dict[str, str] | None = None) -> None:
    sm.create_secret(request={"parent": f"projects/{PROJECT}", "secret_id": secret_id,
                              "secret": {"replication": {"automatic": {}}, "labels": labels or {}}})
    for value in values:
        sm.add_secret_version(request={"parent": f"projects/{PROJECT}/secrets/{secret_id}",
                                       "payload": {"data": value}})


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------- reads


def test_plain_value_versions_property_and_not_found(gcp_sm_client: Any, proxy: Recorder) -> None:
    name = _name()
    _seed(gcp_sm_client, name, b'{"user":"old"}',
          b'{"user":"admin","a.b":"dotted","a":{"b":"nested"},"n":5,"pw":"' + SECRET_VALUE.encode() + b'"}')

    async def go() -> None:
        clients, client = await _client(_store())
        try:
            raw = await client.get_secret(RemoteRef(key=name))
            assert raw.startswith(b'{"user":"admin"')
            assert await client.get_secret(RemoteRef(key=name, version="1")) == b'{"user":"old"}'
            assert await client.get_secret(RemoteRef(key=name, version="versions/1")) == b'{"user":"old"}'
            assert await client.get_secret(RemoteRef(key=name, version="latest")) == raw
            full = f"projects/{PROJECT}/secrets/{name}"
            assert await client.get_secret(RemoteRef(key=full, property="user")) == b"admin"
            assert await client.get_secret(RemoteRef(key=name, property="a.b")) == b"dotted"  # escaped form first
            assert await client.get_secret(RemoteRef(key=name, property="a")) == b'{"b":"nested"}'
            assert await client.get_secret(RemoteRef(key=name, property="n")) == b"5"
            got = await client.get_secret_map(RemoteRef(key=name))
            assert got["user"] == b"admin" and got["a"] == b'{"b":"nested"}' and got["n"] == b"5"
            with pytest.raises(ProviderError, match="key missing does not exist in secret") as missing:
                await client.get_secret(RemoteRef(key=name, property="missing"))
            assert not isinstance(missing.value, NoSecretError)
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key="nope-" + name))
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key=name, version="9"))
            gcp_sm_client.disable_secret_version(name=f"projects/{PROJECT}/secrets/{name}/versions/1")
            READ_MAX_AGE.set(0)  # as a force-sync: version 1's earlier answer is not reused
            with pytest.raises(ProviderError, match=r"AccessSecretVersion failed.*DISABLED") as disabled:
                await client.get_secret(RemoteRef(key=name, version="1"))
            assert not isinstance(disabled.value, NoSecretError)  # a disabled version never deletes data
            assert (await client.validate()).result == "Valid"
        finally:
            await clients.close()

    _run(go())
    accessed = {s.path for s in proxy.paths(":access$")}
    assert f"/v1/projects/{PROJECT}/secrets/{name}/versions/latest:access" in accessed
    assert f"/v1/projects/{PROJECT}/secrets/{name}/versions/1:access" in accessed


def test_regional_location_names(gcp_sm_client: Any, proxy: Recorder) -> None:
    """With `location`, names are projects/P/locations/L/... (drongo has no regional secrets: NotFound)."""
    async def go() -> None:
        clients, client = await _client(_store(location="europe-west4"))
        try:
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key="db"))
        finally:
            await clients.close()

    _run(go())
    assert [s.path for s in proxy.paths(":access$")] == [
        f"/v1/projects/{PROJECT}/locations/europe-west4/secrets/db/versions/latest:access"]


def test_find_by_name_and_labels(gcp_sm_client: Any, proxy: Recorder) -> None:
    group = _name()
    _seed(gcp_sm_client, f"{group}-db", b"db-value", labels={"team": "blue", "tier": "1"})
    _seed(gcp_sm_client, f"{group}-api", b"api-value", labels={"team": "red"})
    _seed(gcp_sm_client, f"other-{group}", b"other", labels={"team": "blue"})

    async def go() -> None:
        clients, client = await _client(_store())
        try:
            found = await client.get_all_secrets(FindRef(name_regexp=f"^{group}-"))
            assert found == {f"{group}-db": b"db-value", f"{group}-api": b"api-value"}
            prefixed = await client.get_all_secrets(FindRef(path="other-", name_regexp=group))
            assert prefixed == {f"other-{group}": b"other"}
            tagged = await client.get_all_secrets(FindRef(path=group, tags={"team": "blue", "tier": "1"}))
            assert tagged == {f"{group}-db": b"db-value"}
            with pytest.raises(ProviderError, match="RE2"):
                await client.get_all_secrets(FindRef(name_regexp="(?<=x)"))
            with pytest.raises(ProviderError, match="unexpected find operator"):
                await client.get_all_secrets(FindRef(path="x"))
        finally:
            await clients.close()

    _run(go())
    filters = [s.query.get("filter", [""])[0] for s in proxy.paths(f"/v1/projects/{PROJECT}/secrets$")
               if s.method == "GET"]
    # ESO's filter strings: "name:<path>" for a find by name, "labels.k=v ..." (+ " name:<path>") by tags
    assert "" in filters and "name:other-" in filters
    assert f"labels.team=blue labels.tier=1 name:{group}" in filters


def test_metadata_fetch(gcp_sm_client: Any, proxy: Recorder) -> None:
    name = _name()
    _seed(gcp_sm_client, name, b"x", labels={"owner": "ops", "env": "prod"})

    async def go() -> None:
        clients, client = await _client(_store())
        try:
            whole = await client.get_secret(RemoteRef(key=name, metadata_policy=METADATA_FETCH))
            assert json.loads(whole) == {"annotations": None, "labels": {"env": "prod", "owner": "ops"}}
            assert await client.get_secret(RemoteRef(key=name, property="labels.owner",
                                                     metadata_policy=METADATA_FETCH)) == b"ops"
            assert await client.get_secret(RemoteRef(key=name, property="labels",
                                                     metadata_policy=METADATA_FETCH)) == b'{"env":"prod","owner":"ops"}'
            with pytest.raises(ProviderError, match="label with key nope does not exist"):
                await client.get_secret(RemoteRef(key=name, property="labels.nope", metadata_policy=METADATA_FETCH))
            with pytest.raises(ProviderError, match="should start with either annotations or labels"):
                await client.get_secret(RemoteRef(key=name, property="x", metadata_policy=METADATA_FETCH))
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key="nope-" + name, metadata_policy=METADATA_FETCH))
        finally:
            await clients.close()

    _run(go())
    assert len(proxy.paths(f"/secrets/{name}$")) == 1  # one GetSecret, shared by the reads above


def test_one_request_for_many_concurrent_reads_and_call_labels(gcp_sm_client: Any, proxy: Recorder) -> None:
    name = _name()
    _seed(gcp_sm_client, name, b'{"a":"1","b":"2"}')
    calls: list[tuple[str, str, bool]] = []

    async def go() -> None:
        clients, client = await _client(_store(), calls=calls)
        try:
            refs = [RemoteRef(key=name, property=p) for p in ("a", "b")] * 50
            values = await asyncio.gather(*(client.get_secret(r) for r in refs))
            assert values == [b"1", b"2"] * 50
            await asyncio.gather(*(client.get_all_secrets(FindRef(name_regexp=f"^{name}$")) for _ in range(20)))
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key="nope-" + name))
        finally:
            await clients.close()

    _run(go())
    assert len(proxy.paths(f"/secrets/{name}/versions/latest:access$")) == 1  # the finds joined the read too
    assert len([s for s in proxy.paths(f"/v1/projects/{PROJECT}/secrets$") if s.method == "GET"]) == 1
    assert calls == [("GCP/SecretManager", "AccessSecretVersion", True), ("GCP/SecretManager", "ListSecrets", True),
                     ("GCP/SecretManager", "AccessSecretVersion", False)]


def test_an_external_secret_fetched_through_the_store(gcp_sm_client: Any, proxy: Recorder) -> None:
    """The sync engine's fetch over the gcpsm store: data with property, extract, find by labels (ESO's key
    conversion), and a missing key, which deletionPolicy Delete skips and Retain reports."""
    from secrets_kit.externalsecrets.fetch import FetchError, fetch
    from secrets_kit.externalsecrets.spec import parse_external_secret

    group = _name()
    _seed(gcp_sm_client, f"{group}-db", b'{"user":"admin","port":5432}', labels={"app": group})
    _seed(gcp_sm_client, f"{group}-api", b"token-value", labels={"app": group})

    def es(policy: str) -> Any:
        return parse_external_secret({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "e", "namespace": NS, "uid": "u", "generation": 1},
            "spec": {"secretStoreRef": {"name": "gcp", "kind": "SecretStore"},
                     "target": {"deletionPolicy": policy},
                     "dataFrom": [{"extract": {"key": f"{group}-db"}},
                                  {"find": {"tags": {"app": group}, "conversionStrategy": "Default"}}],
                     "data": [{"secretKey": "user", "remoteRef": {"key": f"{group}-db", "property": "user"}},
                              {"secretKey": "gone", "remoteRef": {"key": f"{group}-gone"}}]}})

    async def go() -> tuple[Any, FetchError]:
        clients = StoreClients(SecretsStandIn())
        store = _store()

        async def client_for(_ref: Any) -> Any:
            return await clients.client_for(store, NS)

        try:
            got = await fetch(es("Delete"), client_for)
            with pytest.raises(FetchError) as retained:
                await fetch(es("Retain"), client_for)
            return got, retained.value
        finally:
            await clients.close()

    got, retained = _run(go())
    assert got.data == {"user": b"admin", "port": b"5432", f"{group}-db": b'{"user":"admin","port":5432}',
                        f"{group}-api": b"token-value"}
    assert got.missing == ["spec.data[1]"]
    assert retained.not_found and f"key: {group}-gone" in str(retained)
    # one read per remote key for both fetches (the store shares reads within its window)
    assert len(proxy.paths(f"/secrets/{group}-db/versions/latest:access$")) == 1


# ---------------------------------------------------------------------------- credentials and errors


def _key_json(token_uri: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
                       "private_key": pem, "client_email": f"eso@{PROJECT}.iam.gserviceaccount.com",
                       "client_id": "1", "token_uri": token_uri})


@pytest.fixture
def oauth() -> Iterator[tuple[Recorder, str]]:
    """Stands in for Google's OAuth token endpoint (no peer exists): grants a token to any assertion
    except one whose key id is `refused`."""
    recorder = Recorder()

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        form = urllib.parse.parse_qs(seen.body.decode())
        assertion = form.get("assertion", [""])[0]
        header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
        if header.get("kid") == "refused":
            return _json_answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        return _json_answer(200, {"access_token": "ya29.granted-" + header["kid"], "expires_in": 3600,
                                  "token_type": "Bearer"})

    server = _serve(recorder, answer)
    try:
        yield recorder, f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


def _key_auth(namespace: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": "gcp-key", "key": "sa.json"}
    if namespace:
        ref["namespace"] = namespace
    return {"secretRef": {"secretAccessKeySecretRef": ref}}


def test_service_account_key_token_reaches_secret_manager(gcp_sm_client: Any, proxy: Recorder,
                                                          oauth: tuple[Recorder, str]) -> None:
    name = _name()
    _seed(gcp_sm_client, name, SECRET_VALUE.encode())
    kube = SecretsStandIn({(NS, "gcp-key"): {"sa.json": _key_json(oauth[1]).encode()}})

    async def go() -> None:
        clients, client = await _client(_store(_key_auth()), kube)
        try:
            assert (await client.validate()).result == "Valid"
            assert await client.get_secret(RemoteRef(key=name)) == SECRET_VALUE.encode()
        finally:
            await clients.close()

    _run(go())
    assert kube.reads == [(NS, "gcp-key", "sa.json")]
    assert oauth[0].paths("/token$")  # a JWT grant was made with the key
    (access,) = proxy.paths(f"/secrets/{name}/versions/latest:access$")
    bearer = access.headers["authorization"].removeprefix("Bearer ")
    # google-auth sends the OAuth token, or (the GAPIC client's choice for service accounts) a JWT the
    # key signed itself: either way, one made from this key
    if not bearer.startswith("ya29."):
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "==")) for part in bearer.split(".")[:2])
        assert header["kid"] == "k1" and claims["iss"] == f"eso@{PROJECT}.iam.gserviceaccount.com"
    else:
        assert bearer == "ya29.granted-k1"


def test_bad_credentials_are_clear_errors_without_values(gcp_sm_client: Any, proxy: Recorder,
                                                         oauth: tuple[Recorder, str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    name = _name()
    _seed(gcp_sm_client, name, SECRET_VALUE.encode())
    refused = json.loads(_key_json(oauth[1]))
    refused["private_key_id"] = "refused"
    not_json = ('{"type": "service_account", "private_key": "' + SECRET_VALUE + '"').encode()
    texts: list[str] = []

    async def attempt(key: bytes) -> tuple[ProviderError, str]:
        kube = SecretsStandIn({(NS, "gcp-key"): {"sa.json": key}})
        clients, client = await _client(_store(_key_auth()), kube)
        try:
            validation = await client.validate()
            assert validation.result == "Error"
            with pytest.raises(ProviderError) as failed:
                await client.get_secret(RemoteRef(key=name))
            return failed.value, validation.message
        finally:
            await clients.close()

    async def go() -> None:
        for key in (not_json, json.dumps(refused).encode()):
            err, message = await attempt(key)
            assert err.reason == "credentials" and "credentials" in str(err), str(err)
            assert message.startswith("unable to get credentials: "), message
            texts.extend([str(err), message, repr(err)])
        store = await validate_store(_store(_key_auth()), SecretsStandIn())  # the key Secret is missing
        assert store.result == "Error" and "gcp-key" in store.message
        texts.append(store.message)

    _run(go())
    assert not proxy.paths(":access$")  # no credentials, no Secret Manager request
    for text in [*texts, caplog.text]:
        assert SECRET_VALUE not in text


def test_refused_key_then_rotated_secret_and_referent_reads(gcp_sm_client: Any, proxy: Recorder,
                                                             oauth: tuple[Recorder, str]) -> None:
    """A refused key fails the read; once the Secret holds a new key, the next read re-reads it and
    succeeds with a new session. A ClusterSecretStore's ref without namespace is read in the
    ExternalSecret's namespace (referent auth)."""
    name = _name()
    _seed(gcp_sm_client, name, b"rotated-ok")
    refused = json.loads(_key_json(oauth[1]))
    refused["private_key_id"] = "refused"
    kube = SecretsStandIn({("apps", "gcp-key"): {"sa.json": json.dumps(refused).encode()}})

    async def go() -> None:
        clients = StoreClients(kube)
        try:
            client = await clients.client_for(_store(_key_auth(), cluster=True), "apps")
            with pytest.raises(ProviderError) as failed:
                await client.get_secret(RemoteRef(key=name))
            assert failed.value.reason == "credentials"
            kube.secrets[("apps", "gcp-key")] = {"sa.json": _key_json(oauth[1]).encode()}  # rotated
            assert await client.get_secret(RemoteRef(key=name)) == b"rotated-ok"
            assert await clients.client_for(_store(_key_auth(), cluster=True), "apps") is client  # kept
        finally:
            await clients.close()

    _run(go())
    assert set(kube.reads) == {("apps", "gcp-key", "sa.json")}
    assert len(kube.reads) == 3  # built; re-read after the refusal (unchanged); re-read after the next one
    assert len(proxy.paths(f"/secrets/{name}/versions/latest:access$")) == 1  # only the good key reached it


def test_denied_and_throttled_answers(gcp_sm_client: Any, proxy: Recorder, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(gcp_store, "TIMEOUT", 1.5)  # the library's retries of a 429 stop within this
    denied, throttled = _name(), _name()
    for secret_id in (denied, throttled):
        _seed(gcp_sm_client, secret_id, SECRET_VALUE.encode())
    proxy.fault(f"/secrets/{denied}/", 403, "PERMISSION_DENIED",
                f"Permission 'secretmanager.versions.access' denied for resource 'projects/{PROJECT}/secrets/{denied}'")
    proxy.fault(f"/secrets/{throttled}/", 429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Access requests'")
    calls: list[tuple[str, str, bool]] = []

    async def go() -> list[str]:
        clients, client = await _client(_store(), calls=calls)
        try:
            with pytest.raises(ProviderError) as no:
                await client.get_secret(RemoteRef(key=denied))
            assert not isinstance(no.value, NoSecretError)
            assert no.value.reason == "permission-denied" and "permission denied" in str(no.value)
            with pytest.raises(ProviderError) as slow:
                await client.get_secret(RemoteRef(key=throttled))
            assert slow.value.reason == "throttled" and "throttled" in str(slow.value)
            return [str(no.value), str(slow.value)]
        finally:
            await clients.close()

    texts = _run(go())
    assert len(proxy.paths(f"/secrets/{throttled}/")) >= 1
    assert calls == [("GCP/SecretManager", "AccessSecretVersion", False)] * 2
    for text in [*texts, caplog.text]:
        assert SECRET_VALUE not in text


# ---------------------------------------------------------------------------- spec and validation


@pytest.mark.parametrize(("store", "message"), [
    (_store(_key_auth("other")), "invalid auth secret data: namespace should either be empty or match"),
    (_store({"workloadIdentity": {"serviceAccountRef": {"name": "sa", "namespace": "other"}}}),
     "invalid workload identity service account reference"),
    ({**_store(), "spec": {"provider": {"gcpsm": {}}}}, "unable to find ProjectID in storeSpec"),
])
def test_store_refusals(store: dict[str, Any], message: str) -> None:
    result = _run(validate_store(store, SecretsStandIn()))
    assert result.result == "Error" and message in result.message


def test_referent_cluster_store_and_registry(gcp_sm_client: Any, proxy: Recorder) -> None:
    assert PROVIDERS["gcpsm"] is gcp_store
    assert gcp_store.is_referent(_store(_key_auth())["spec"]["provider"]["gcpsm"])
    assert not gcp_store.is_referent(_store(_key_auth("ns"))["spec"]["provider"]["gcpsm"])
    assert gcp_store.is_referent({"auth": {"workloadIdentity": {"serviceAccountRef": {"name": "sa"}}}})
    assert not gcp_store.is_referent({})
    referent = _store(_key_auth(), cluster=True)
    assert _run(validate_store(referent, SecretsStandIn())).result == "Unknown"
    assert _run(validate_store(_store(), SecretsStandIn())).result == "Valid"  # emulator: anonymous


# ---------------------------------------------------------------------------- workload identity


@pytest.fixture
def google_sts() -> Iterator[tuple[Recorder, str]]:
    """Stands in for Google's identitybindingtoken (STS) and IAM Credentials endpoints, which have no
    peer: records each request and answers in Google's documented shape."""
    recorder = Recorder()

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path.endswith("/identitybindingtoken"):
            return _json_answer(200, {"access_token": "ya29.idbind", "token_type": "Bearer", "expires_in": 3600})
        if seen.path.endswith(":generateAccessToken"):
            return _json_answer(200, {"accessToken": "ya29.impersonated", "expireTime": "2999-01-01T00:00:00Z"})
        return _json_answer(404, {})

    server = _serve(recorder, answer)
    try:
        yield recorder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_workload_identity_token_request_and_exchange(kube_cluster: Any, kube_namespace: str, gcp_sm_client: Any,
                                                      proxy: Recorder, google_sts: tuple[Recorder, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sts, base = google_sts
    monkeypatch.setattr(_workload, "IDBINDTOKEN_URL", f"{base}/v1/identitybindingtoken")
    monkeypatch.setattr(_workload, "IAM_CREDENTIALS_URL", f"{base}/v1")
    ns = kube_namespace
    kube_cluster.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "plain"}})
    kube_cluster.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
            "name": "bound", "annotations": {"iam.gke.io/gcp-service-account": f"eso@{PROJECT}.iam.gserviceaccount.com"}}})
    name = _name()
    _seed(gcp_sm_client, name, b"wi-value")
    calls: list[tuple[str, str, bool]] = []
    wi = {"clusterLocation": "europe-west4", "clusterName": "c1", "clusterProjectID": "cluster-proj"}
    api_calls: dict[str, int] = {}

    def store(sa: str, **extra: Any) -> dict[str, Any]:
        s = _store({"workloadIdentity": {**wi, "serviceAccountRef": {"name": sa, **extra}}}, cluster=True)
        s["metadata"]["name"] = f"wi-{sa}"
        return s

    async def go() -> None:
        # the operator's own KubeReads (ServiceAccount GET, TokenRequest POST) on the real API server
        from secrets_kit_operator.external.kube import ExternalKube, KubeReadsAdapter
        from secrets_kit_operator.kube import Kube, load_credentials

        configuration, _ = await load_credentials(str(kube_cluster.kubeconfig))
        kube = ExternalKube(Kube(configuration))
        clients = StoreClients(KubeReadsAdapter(kube), on_call=lambda p, c, ok: calls.append((p, c, ok)))
        try:
            plain = await clients.client_for(store("plain", audiences=["extra"]), ns)
            assert await plain.get_secret(RemoteRef(key=name)) == b"wi-value"
            assert await plain.get_secret(RemoteRef(key=name, version="1")) == b"wi-value"  # the token is kept
            bound = await clients.client_for(store("bound", namespace=ns), "elsewhere")
            assert (await bound.validate()).result == "Valid"
            assert await bound.get_secret(RemoteRef(key=f"projects/{PROJECT}/secrets/{name}")) == b"wi-value"
            missing = await clients.client_for(store("missing", namespace=ns), ns)
            failed = await missing.validate()
            assert failed.result == "Error" and 'serviceaccounts "missing" not found' in failed.message
        finally:
            await clients.close()
            await kube.kube.close()
        api_calls.update(kube.calls)

    _run(go())
    assert api_calls == {"GET ServiceAccount": 3, "POST TokenRequest": 2}
    pool = "cluster-proj.svc.id.goog"
    exchanges = sts.paths("/identitybindingtoken$")
    assert len(exchanges) == 2
    body = json.loads(exchanges[0].body)
    assert body["audience"] == (f"identitynamespace:{pool}:https://container.googleapis.com/v1/projects/"
                                "cluster-proj/locations/europe-west4/clusters/c1")
    assert body["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert body["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    # the subject token is a real TokenRequest token: the API server authenticates it for the pool's audience
    for exchange, sa, audiences in ((exchanges[0], "plain", [pool, "extra"]), (exchanges[1], "bound", [pool])):
        review = kube_cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": json.loads(exchange.body)["subject_token"], "audiences": audiences}})
        assert review["status"]["authenticated"] is True
        assert review["status"]["user"]["username"] == f"system:serviceaccount:{ns}:{sa}"
        assert review["status"]["audiences"] == audiences
    (impersonation,) = sts.paths(":generateAccessToken$")
    assert impersonation.path == f"/v1/projects/-/serviceAccounts/eso@{PROJECT}.iam.gserviceaccount.com:generateAccessToken"
    assert impersonation.headers["authorization"] == "Bearer ya29.idbind"
    assert json.loads(impersonation.body) == {"scope": ["https://www.googleapis.com/auth/cloud-platform"]}
    # without the annotation the exchanged token is the access token; with it, the impersonated one
    assert [s.headers["authorization"] for s in proxy.paths(f"/secrets/{name}/versions/(latest|1):access$")] == [
        "Bearer ya29.idbind", "Bearer ya29.idbind", "Bearer ya29.impersonated"]
    wi_calls = [c for _, c, _ in calls if c.startswith("Generate")]
    assert wi_calls == ["GenerateServiceAccountToken", "GenerateIDBindToken", "GenerateServiceAccountToken",
                        "GenerateIDBindToken", "GenerateAccessToken"]


def test_workload_identity_cluster_from_metadata_server(google_sts: tuple[Recorder, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Cluster fields left empty come from the GCE metadata server, as in ESO (a loopback stand-in here,
    reached through GCE_METADATA_HOST as Google's libraries do)."""
    sts, base = google_sts
    monkeypatch.setattr(_workload, "IDBINDTOKEN_URL", f"{base}/v1/identitybindingtoken")
    metadata = Recorder()
    values = {"/computeMetadata/v1/project/project-id": b"meta-proj",
              "/computeMetadata/v1/instance/attributes/cluster-location": b"us-central1",
              "/computeMetadata/v1/instance/attributes/cluster-name": b"meta-cluster"}
    server = _serve(metadata, lambda seen: (200, {"Content-Type": "text/plain"}, values[seen.path])
                    if seen.path in values else (404, {}, b""))
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{server.server_address[1]}")

    class Reads(SecretsStandIn):
        async def service_account(self, namespace: str, name: str) -> dict[str, Any]:
            return {"metadata": {"name": name, "namespace": namespace}}

        async def service_account_token(self, namespace: str, name: str, audiences: list[str],
                                        expiration_seconds: int) -> str:
            assert audiences == ["meta-proj.svc.id.goog"] and expiration_seconds == 900
            return "k8s-token"

    ctx = StoreContext(kind="SecretStore", name="gcp", namespace=NS, es_namespace=NS, kube=Reads())
    wi = _workload.WorkloadIdentity({"serviceAccountRef": {"name": "sa"}}, ctx)
    try:
        _run(wi.ensure_token())
        _run(wi.ensure_token())  # kept: no second flow
    finally:
        server.shutdown()
        server.server_close()
    assert wi.fetched == 1 and wi.credentials.token == "ya29.idbind"
    assert all(s.headers.get("metadata-flavor") == "Google" for s in metadata.seen) and len(metadata.seen) == 3
    (exchange,) = sts.paths("/identitybindingtoken$")
    assert json.loads(exchange.body)["audience"] == (
        "identitynamespace:meta-proj.svc.id.goog:https://container.googleapis.com/v1/projects/meta-proj/"
        "locations/us-central1/clusters/meta-cluster")


def test_workload_identity_exchange_refused(google_sts: tuple[Recorder, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange's failure is a clear error naming the step and the status (STS stand-in refuses)."""
    sts, base = google_sts
    monkeypatch.setattr(_workload, "IDBINDTOKEN_URL", f"{base}/v1/identitybindingtoken")
    sts.fault("/identitybindingtoken$", 400, "INVALID_ARGUMENT", "bad audience")

    class Reads(SecretsStandIn):
        async def service_account(self, namespace: str, name: str) -> dict[str, Any]:
            return {"metadata": {"name": name, "namespace": namespace}}

        async def service_account_token(self, namespace: str, name: str, audiences: list[str],
                                        expiration_seconds: int) -> str:
            return SECRET_VALUE  # stands for a token: it must not appear in the error

    ctx = StoreContext(kind="SecretStore", name="gcp", namespace=NS, es_namespace=NS, kube=Reads())
    wi = _workload.WorkloadIdentity({"serviceAccountRef": {"name": "sa"}, "clusterLocation": "l",
                                     "clusterName": "c", "clusterProjectID": "p"}, ctx)
    with pytest.raises(ProviderError) as failed:
        _run(wi.ensure_token())
    assert str(failed.value).endswith("unable to fetch identitybindingtoken: could not get idbindtoken token, "
                                      "status: 400 (check the cluster's workload identity pool and provider)")
    assert SECRET_VALUE not in str(failed.value)
    assert json.loads(sts.seen[0].body)["subject_token"] == SECRET_VALUE

