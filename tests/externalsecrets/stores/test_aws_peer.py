"""The AWS stores (Secrets Manager, Parameter Store) against moto's server.

The endpoint reaches boto3 through the standard AWS_ENDPOINT_URL variable (the `aws_env` fixture);
credentials come from a Kubernetes-Secret stand-in (KubeReads is our own protocol, not a peer).
Requests are counted at the HTTP layer by a counting proxy in front of moto.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from secrets_kit.errors import ProviderError, SecretsKitError
from secrets_kit.externalsecrets.refs import FindRef, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores import StoreClients
from secrets_kit.externalsecrets.stores.aws import AwsStoreClient
from tests.externalsecrets.stores.aws_proxy import AwsProxy

from .standins import SecretsStandIn

pytest.importorskip("boto3")

SECRET_VALUE = "s3cr3t-value-never-in-errors"


def _boto(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _store(service: str, *, prefix: str = "", cluster: bool = False, creds_ns: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": "aws-creds"}
    if creds_ns:
        ref["namespace"] = creds_ns
    meta: dict[str, Any] = {"name": "aws", "uid": "u1", "generation": 1}
    if not cluster:
        meta["namespace"] = "team"
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore" if cluster else "SecretStore",
        "metadata": meta,
        "spec": {"provider": {"aws": {
            "service": service, "region": "us-east-1", "prefix": prefix,
            "auth": {"secretRef": {
                "accessKeyIDSecretRef": {**ref, "key": "access-key"},
                "secretAccessKeySecretRef": {**ref, "key": "secret-key"},
            }},
        }}},
    }


def _kube(namespace: str = "team") -> SecretsStandIn:
    return SecretsStandIn({(namespace, "aws-creds"): {"access-key": b"testing", "secret-key": b"testing"}})


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _client(store: dict[str, Any], kube: SecretsStandIn, es_ns: str = "team",
                  window: float = 5.0) -> tuple[StoreClients, AwsStoreClient]:
    clients = StoreClients(kube, vault_cache_seconds=window)
    client = await clients.client_for(store, es_ns)
    assert isinstance(client, AwsStoreClient)
    return clients, client


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------- Secrets Manager


def test_sm_value_property_and_not_found(aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=f"app/{name}", SecretString='{"user":"admin","a.b":"dotted","a":{"b":"nested"},"n":5}')
    kube = _kube()

    async def go() -> None:
        clients, client = await _client(_store("SecretsManager", prefix="app/"), kube)
        try:
            raw = await client.get_secret(RemoteRef(key=name))
            assert raw.startswith(b'{"user":"admin"')
            assert await client.get_secret(RemoteRef(key=name, property="user")) == b"admin"
            assert await client.get_secret(RemoteRef(key=name, property="a.b")) == b"dotted"  # escaped form first
            assert await client.get_secret(RemoteRef(key=name, property="a")) == b'{"b":"nested"}'
            assert await client.get_secret(RemoteRef(key=name, property="n")) == b"5"
            with pytest.raises(ProviderError, match="key missing does not exist") as missing:
                await client.get_secret(RemoteRef(key=name, property="missing"))
            assert not isinstance(missing.value, NoSecretError)
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key="nope-" + name))
            assert (await client.validate()).result == "Valid"
        finally:
            await clients.close()

    _run(go())
    assert ("team", "aws-creds", "access-key") in kube.reads


def test_sm_version_stage_and_id(aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    sm.put_secret_value(SecretId=name, SecretString="v2")  # v1 becomes AWSPREVIOUS

    async def go() -> None:
        clients, client = await _client(_store("SecretsManager"), _kube())
        try:
            assert await client.get_secret(RemoteRef(key=name)) == b"v2"
            assert await client.get_secret(RemoteRef(key=name, version="AWSCURRENT")) == b"v2"
            assert await client.get_secret(RemoteRef(key=name, version="AWSPREVIOUS")) == b"v1"
            assert await client.get_secret(RemoteRef(key=name, version=f"uuid/{first}")) == b"v1"
            with pytest.raises(ProviderError):
                await client.get_secret(RemoteRef(key=name, version="NOSUCHSTAGE"))
        finally:
            await clients.close()

    _run(go())


def test_sm_extract(aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString='{"user":"admin","port":5432,"nested":{"x":1},"nil":null}')

    async def go() -> None:
        clients, client = await _client(_store("SecretsManager"), _kube())
        try:
            got = await client.get_secret_map(RemoteRef(key=name))
            assert got == {"user": b"admin", "port": b"5432", "nested": b'{"x":1}', "nil": b""}
        finally:
            await clients.close()

    _run(go())


def test_sm_find_by_name_and_tags(aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    group = _name()
    sm.create_secret(Name=f"{group}/db", SecretString="db-value", Tags=[{"Key": "team", "Value": "blue"}])
    sm.create_secret(Name=f"{group}/api", SecretString="api-value", Tags=[{"Key": "team", "Value": "red"}])
    sm.create_secret(Name=f"other-{group}", SecretString="other")

    async def go() -> None:
        clients, client = await _client(_store("SecretsManager"), _kube())
        try:
            found = await client.get_all_secrets(FindRef(name_regexp=f"^{group}/"))
            assert found == {f"{group}/db": b"db-value", f"{group}/api": b"api-value"}
            tagged = await client.get_all_secrets(FindRef(path=group, tags={"team": "blue"}))
            assert tagged == {f"{group}/db": b"db-value"}
            with pytest.raises(ProviderError, match="RE2"):
                await client.get_all_secrets(FindRef(name_regexp="(?<=x)"))
        finally:
            await clients.close()

    _run(go())


# ---------------------------------------------------------------------------- Parameter Store


def test_ps_value_version_property_not_found(aws_env: str) -> None:
    ssm = _boto("ssm", aws_env)
    name = f"/{_name()}/db"
    ssm.put_parameter(Name=name, Value='{"user":"ps-admin"}', Type="SecureString")
    ssm.put_parameter(Name=name, Value='{"user":"ps-admin2"}', Type="SecureString", Overwrite=True)

    async def go() -> None:
        clients, client = await _client(_store("ParameterStore"), _kube())
        try:
            assert await client.get_secret(RemoteRef(key=name)) == b'{"user":"ps-admin2"}'
            assert await client.get_secret(RemoteRef(key=name, version="1")) == b'{"user":"ps-admin"}'
            assert await client.get_secret(RemoteRef(key=name, property="user")) == b"ps-admin2"
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key=name + "-missing"))
            with pytest.raises(SecretsKitError) as missing_version:  # ESO: only ParameterNotFound is NoSecretErr
                await client.get_secret(RemoteRef(key=name, version="9"))
            assert not isinstance(missing_version.value, NoSecretError)
        finally:
            await clients.close()

    _run(go())


def test_ps_find_by_path(aws_env: str) -> None:
    ssm = _boto("ssm", aws_env)
    root = f"/{_name()}"
    for leaf, value in (("a", "va"), ("b/c", "vc"), ("skip", "vs")):
        ssm.put_parameter(Name=f"{root}/{leaf}", Value=value, Type="SecureString")

    async def go() -> None:
        clients, client = await _client(_store("ParameterStore"), _kube())
        try:
            found = await client.get_all_secrets(FindRef(path=root, name_regexp="/(a|b/c)$"))
            assert found == {f"{root}/a": b"va", f"{root}/b/c": b"vc"}
        finally:
            await clients.close()

    _run(go())


# ---------------------------------------------------------------------------- credentials, coalescing, errors


def test_cluster_store_referent_credentials(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ClusterSecretStore's ref without a namespace is read in the ExternalSecret's namespace; wrong
    keys there are refused by AWS (moto checks nothing, so only the read location is asserted)."""
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString="cluster-value")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    kube = _kube("es-ns")

    async def go() -> None:
        clients, client = await _client(_store("SecretsManager", cluster=True), kube, es_ns="es-ns")
        try:
            assert await client.get_secret(RemoteRef(key=name)) == b"cluster-value"
        finally:
            await clients.close()

    _run(go())
    assert {r[0] for r in kube.reads} == {"es-ns"}


def test_one_request_per_remote_key_across_100_concurrent_reads(counting_proxy: AwsProxy, aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    ssm = _boto("ssm", aws_env)
    names = [_name() for _ in range(3)]
    for n in names:
        sm.create_secret(Name=n, SecretString='{"k":"' + n + '"}')
        ssm.put_parameter(Name=f"/{n}", Value=n, Type="SecureString")

    async def go() -> None:
        sm_clients, sm_client = await _client(_store("SecretsManager"), _kube())
        ps_clients, ps_client = await _client(_store("ParameterStore"), _kube())
        try:
            refs = [RemoteRef(key=names[i % 3], property="k" if i % 2 else "") for i in range(100)]
            got = await asyncio.gather(*(sm_client.get_secret(r) for r in refs))
            assert all(g in (n.encode(), b'{"k":"' + n.encode() + b'"}') for g, n in
                       zip(got, [names[i % 3] for i in range(100)], strict=True))
            ps_got = await asyncio.gather(*(ps_client.get_secret(RemoteRef(key=f"/{names[i % 3]}"))
                                            for i in range(100)))
            assert ps_got == [names[i % 3].encode() for i in range(100)]
            # within the window, later reads are answered from memory too
            await asyncio.gather(*(sm_client.get_secret(RemoteRef(key=n)) for n in names))
            await sm_client.get_secret(RemoteRef(key=names[0], version="AWSCURRENT"))  # the same read as ""
        finally:
            await sm_clients.close()
            await ps_clients.close()

    _run(go())
    assert counting_proxy.count("GetSecretValue") == 3
    assert counting_proxy.count("GetParameter") == 3


def test_errors_carry_no_value(aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString=SECRET_VALUE)  # not JSON: a property lookup fails
    sm.create_secret(Name=name + "-obj", SecretString='["' + SECRET_VALUE + '"]')

    async def go() -> list[str]:
        clients, client = await _client(_store("SecretsManager"), _kube())
        texts: list[str] = []
        try:
            for ref, call in ((RemoteRef(key=name, property="x"), client.get_secret),
                              (RemoteRef(key=name), client.get_secret_map),
                              (RemoteRef(key=name + "-obj"), client.get_secret_map),
                              (RemoteRef(key=name + "-obj", property="1"), client.get_secret)):
                with pytest.raises(ProviderError) as err:
                    await call(ref)
                texts.append(str(err.value))
        finally:
            await clients.close()
        return texts

    texts = _run(go())
    assert len(texts) == 4
    for text in texts:
        assert SECRET_VALUE not in text
        assert name in text


def test_assume_role_and_call_labels(counting_proxy: AwsProxy, aws_env: str) -> None:
    """`role` is assumed through STS on top of the Secret's keys; on_call gets ESO's provider/call labels."""
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString="via-role")
    store = _store("SecretsManager")
    store["spec"]["provider"]["aws"]["role"] = "arn:aws:iam::123456789012:role/eso-reader"
    calls: list[tuple[str, str, bool]] = []

    async def go() -> None:
        clients = StoreClients(_kube(), vault_cache_seconds=5.0, on_call=lambda *c: calls.append(c))
        try:
            assert (await clients.validate(store)).result == "Valid"
            client = await clients.client_for(store, "team")
            assert await client.get_secret(RemoteRef(key=name)) == b"via-role"
            with pytest.raises(NoSecretError):
                await client.get_secret(RemoteRef(key=name + "-gone"))
        finally:
            await clients.close()

    _run(go())
    assert counting_proxy.count("AssumeRole") == 1  # at validation; the reads reuse the assumed credentials
    assert calls == [("AWS/SecretsManager", "GetSecretValue", True), ("AWS/SecretsManager", "GetSecretValue", False)]


@pytest.mark.parametrize(("change", "message"), [
    ({"region": ""}, "region is required"),
    ({"service": "CertificateManager"}, "CertificateManager is not supported"),
    ({"service": "Nope"}, "must be SecretsManager or ParameterStore"),
    ({"auth": {"jwt": {}}}, "serviceAccountRef needs a name"),
    ({"auth": {"jwt": {"serviceAccountRef": {"name": "sa", "namespace": "other"}}}},
     "invalid Auth.JWT.ServiceAccountRef: namespace should either"),
    ({"auth": {"secretRef": {"accessKeyIDSecretRef": {"name": "c", "key": "a", "namespace": "other"},
                             "secretAccessKeySecretRef": {"name": "c", "key": "s"}}}}, "namespace should either"),
    ({"auth": {"secretRef": {"accessKeyIDSecretRef": {"name": "c", "key": "a"}}}}, "secretAccessKeySecretRef is "
                                                                                   "required"),
])
def test_store_spec_refusals(change: dict[str, Any], message: str) -> None:
    from secrets_kit.externalsecrets.stores import validate_store

    store = _store("SecretsManager")
    store["spec"]["provider"]["aws"].update(change)
    result = asyncio.run(validate_store(store, _kube()))
    assert result.result == "Error"
    assert message in result.message


def test_referent_detection() -> None:
    from secrets_kit.externalsecrets.stores import aws

    assert aws.is_referent(_store("SecretsManager", cluster=True)["spec"]["provider"]["aws"])
    assert not aws.is_referent(_store("SecretsManager", cluster=True, creds_ns="ops")["spec"]["provider"]["aws"])
    assert not aws.is_referent({"service": "SecretsManager", "region": "us-east-1"})


def test_refused_credentials_then_rotated_secret(counting_proxy: AwsProxy, aws_env: str) -> None:
    """Keys AWS refuses: a clear credentials error without values; after the Secret is rotated, the next
    read re-reads it and succeeds with a new session (one Secret re-read per refusal, not per waiter)."""
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString="rotated-ok")
    kube = SecretsStandIn({("team", "aws-creds"): {"access-key": b"old", "secret-key": b"old-secret"}})
    counting_proxy.refuse_key = "old"

    async def go() -> None:
        clients, client = await _client(_store("SecretsManager"), kube, window=0.5)
        try:
            results = await asyncio.gather(*(client.get_secret(RemoteRef(key=name)) for _ in range(20)),
                                           return_exceptions=True)
            assert all(isinstance(r, SecretsKitError) for r in results)
            text = str(results[0])
            assert "refused the credentials" in text and "old-secret" not in text and "rotated-ok" not in text
            reads_after_refusal = len(kube.reads)
            kube.secrets[("team", "aws-creds")] = {"access-key": b"new", "secret-key": b"new-secret"}
            await asyncio.sleep(max(client.cache_seconds, 1.0))  # past the re-check pause
            assert await client.get_secret(RemoteRef(key=name)) == b"rotated-ok"
            assert len(kube.reads) - reads_after_refusal == 2  # access key + secret key, once
        finally:
            await clients.close()

    _run(go())
