"""The AWS stores' credentials and faults, against moto's server (and the real kube-apiserver for web identity).

- `auth.jwt.serviceAccountRef`: the ServiceAccount's role annotation, a TokenRequest answered by the
  real kube-apiserver through the operator's own Kubernetes adapter, AssumeRoleWithWebIdentity at moto,
  then `role` assumed on top; what STS received is read at a recording proxy.
- `role` with `externalID` and `sessionTags`: the AssumeRole request as moto received it.
- find in Secrets Manager: one BatchGetSecretValue per 20 matches, no GetSecretValue.
- throttling (HTTP 400 ThrottlingException, 429): a fault-injecting proxy answers N requests itself
  and forwards the rest to moto; retried with backoff, and only then a Ready=False plan that leaves
  the Secret alone.
- credentials moto itself refuses (moto_server in its IAM-checking mode): wrong, and revoked keys.
- a value that is not JSON under a property lookup: an error naming the key, never the value.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.errors import KeyMaterialError, ProviderError, SecretsKitError
from secrets_kit.externalsecrets import reconcile as rc
from secrets_kit.externalsecrets.fetch import fetch
from secrets_kit.externalsecrets.refs import FindRef, RemoteRef
from secrets_kit.externalsecrets.spec import parse_external_secret
from secrets_kit.externalsecrets.stores import StoreClients
from tests.externalsecrets.core.helpers import NOW, b64, es_manifest
from tests.externalsecrets.stores.aws_proxy import AwsProxy, Throttle
from tests.externalsecrets.stores.test_aws_peer import SecretsStandIn, _boto, _kube, _name, _store
from tests.peers.kube import free_port, scratch_dir

pytest.importorskip("boto3")

VALUE = "aws-fault-plaintext-7Q2x"  # never in an error, event or status
ROLE_ARN = "arn:aws:iam::123456789012:role/irsa-reader"
ON_TOP = "arn:aws:iam::123456789012:role/on-top"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _plan_for(store: dict[str, Any], kube: Any, key: str, *, prop: str = "",
                    window: float = 0.0) -> tuple[rc.Plan, dict[str, Any], str]:
    """fetch + plan for an ExternalSecret reading `key` (a managed Secret already holds old data):
    the plan, the existing Secret, the error text (the Warning event's)."""
    ref: dict[str, Any] = {"key": key}
    if prop:
        ref["property"] = prop
    es_obj = es_manifest(name="app", namespace="team", spec={
        "secretStoreRef": {"name": "aws", "kind": "SecretStore"}, "target": {"name": "app"},
        "data": [{"secretKey": "pw", "remoteRef": ref}]})
    existing = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"pw": b64("old")},
                "metadata": {"name": "app", "namespace": "team", "uid": "s1", "resourceVersion": "7",
                             "labels": {rc.LABEL_MANAGED: "true"}}}
    clients = StoreClients(kube, vault_cache_seconds=window)
    try:
        async def client_for(_: Any) -> Any:
            return await clients.client_for(store, "team")

        try:
            outcome: Any = await fetch(parse_external_secret(es_obj), client_for)
        except Exception as err:  # the plan takes the error as it is
            outcome = err
    finally:
        await clients.close()
    plan = rc.plan(es_obj, existing, outcome, {}, NOW)
    text = " ".join(e.message for e in plan.events)
    return plan, existing, text


def _assert_failed_untouched(plan: rc.Plan) -> None:
    ready = next(c for c in plan.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "SecretSyncedError", "could not get secret data from provider")
    assert plan.secret_action is None and plan.secret is None and plan.retry


# ---------------------------------------------------------------------------------------- find


def test_sm_find_reads_matches_with_batch_get_secret_value(counting_proxy: AwsProxy, aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    group = _name()
    for i in range(45):
        tags = [{"Key": "grp", "Value": group}] if i % 2 == 0 else []
        sm.create_secret(Name=f"{group}/s{i:02d}", SecretString=f"value-{i}", Tags=tags)
    calls: list[tuple[str, str, bool]] = []

    async def go() -> tuple[dict[str, bytes], dict[str, bytes]]:
        clients = StoreClients(_kube(), vault_cache_seconds=5.0, on_call=lambda *c: calls.append(c))
        try:
            client = await clients.client_for(_store("SecretsManager"), "team")
            by_name = await client.get_all_secrets(FindRef(name_regexp=f"^{group}/"))
            by_tags = await client.get_all_secrets(FindRef(tags={"grp": group}))
            return by_name, by_tags
        finally:
            await clients.close()

    by_name, by_tags = _run(go())
    assert by_name == {f"{group}/s{i:02d}": f"value-{i}".encode() for i in range(45)}
    assert by_tags == {f"{group}/s{i:02d}": f"value-{i}".encode() for i in range(0, 45, 2)}
    batches = [len(r.body["SecretIdList"]) for r in counting_proxy.of("BatchGetSecretValue")]
    assert sorted(batches) == [3, 5, 20, 20, 20]  # 45 by name, 23 by tags; 20 names a call at most
    assert counting_proxy.count("GetSecretValue") == 0
    assert ("AWS/SecretsManager", "BatchGetSecretValue", True) in calls
    assert sum(1 for c in calls if c[1] == "BatchGetSecretValue") == 5


# ---------------------------------------------------------------------------------------- role


def test_role_external_id_and_session_tags_reach_sts(counting_proxy: AwsProxy, aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString="via-role")
    store = _store("SecretsManager")
    store["spec"]["provider"]["aws"].update({
        "role": ON_TOP, "externalID": "ext-42",
        "sessionTags": [{"key": "team", "value": "blue"}, {"key": "env", "value": "prod"}]})

    async def go() -> bytes:
        clients = StoreClients(_kube(), vault_cache_seconds=5.0)
        try:
            return await (await clients.client_for(store, "team")).get_secret(RemoteRef(key=name))
        finally:
            await clients.close()

    assert _run(go()) == b"via-role"
    (assume,) = counting_proxy.of("AssumeRole")
    body = assume.body
    assert body["RoleArn"] == ON_TOP and body["ExternalId"] == "ext-42"
    tags = {body[k]: body[k.replace(".Key", ".Value")] for k in body if k.startswith("Tags.member.")
            and k.endswith(".Key")}
    assert tags == {"team": "blue", "env": "prod"}
    assert assume.access_key == "testing"  # signed with the Secret's keys
    (read,) = counting_proxy.of("GetSecretValue")
    assert read.access_key not in ("", "testing")  # the assumed role's credentials (moto's ASIA... key)


# ---------------------------------------------------------------------------------------- web identity


@dataclass
class _Kube:
    reads: Any
    close: Any


async def _operator_reads(kubeconfig: Path) -> _Kube:
    """The operator's own KubeReads adapter on the real API server (TokenRequest, ServiceAccount GET)."""
    from secrets_kit_operator.external.kube import ExternalKube, KubeReadsAdapter
    from secrets_kit_operator.kube import Kube, load_credentials

    configuration, _ = await load_credentials(str(kubeconfig))
    kube = Kube(configuration)
    return _Kube(KubeReadsAdapter(ExternalKube(kube)), kube.close)


def _jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _jwt_store(ns: str, sa: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "aws-jwt", "namespace": ns, "uid": "u-jwt", "generation": 1},
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1",
                                          "auth": {"jwt": {"serviceAccountRef": sa}}, **more}}}}


@pytest.mark.peer("kube")
def test_jwt_web_identity_through_a_real_token_request(kube_cluster: Any, kube_namespace: str, counting_proxy: AwsProxy,
                                                      aws_env: str) -> None:
    ns = kube_namespace
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString="via-irsa")
    for sa, notes in (("reader", {"eks.amazonaws.com/role-arn": ROLE_ARN}),
                            ("custom-aud", {"eks.amazonaws.com/role-arn": ROLE_ARN,
                                            "eks.amazonaws.com/audience": "my-aud"}),
                            ("no-role", {})):
        kube_cluster.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                             {"metadata": {"name": sa, "annotations": notes}})

    async def go() -> tuple[bytes, bytes, str]:
        kube = await _operator_reads(kube_cluster.kubeconfig)
        clients = StoreClients(kube.reads, vault_cache_seconds=0.0)
        try:
            plain = await (await clients.client_for(_jwt_store(ns, {"name": "reader", "audiences": ["extra"]}),
                                                    ns)).get_secret(RemoteRef(key=name))
            on_top = _jwt_store(ns, {"name": "custom-aud"}, role=ON_TOP)
            on_top["metadata"]["name"] = "aws-jwt-role"
            chained = await (await clients.client_for(on_top, ns)).get_secret(RemoteRef(key=name))
            missing = _jwt_store(ns, {"name": "no-role"})
            missing["metadata"]["name"] = "aws-jwt-missing"
            with pytest.raises(ProviderError) as err:
                await clients.client_for(missing, ns)
            return plain, chained, str(err.value)
        finally:
            await clients.close()
            await kube.close()

    plain, chained, refusal = _run(go())
    assert plain == chained == b"via-irsa"
    assert f"an IAM role must be associated with service account no-role (namespace: {ns})" in refusal
    first, second = counting_proxy.of("AssumeRoleWithWebIdentity")
    assert first.body["RoleArn"] == second.body["RoleArn"] == ROLE_ARN
    assert first.access_key == "" and second.access_key == ""  # unsigned: the token is the credential
    claims = [_jwt_payload(r.body["WebIdentityToken"]) for r in (first, second)]
    assert claims[0]["aud"] == ["sts.amazonaws.com", "extra"] and claims[1]["aud"] == ["my-aud"]
    assert claims[0]["sub"] == f"system:serviceaccount:{ns}:reader"
    assert claims[1]["sub"] == f"system:serviceaccount:{ns}:custom-aud"
    # the API server vouches for the token it issued (TokenReview), so it is no made-up string
    review = kube_cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": first.body["WebIdentityToken"], "audiences": ["sts.amazonaws.com"]}})
    assert review["status"]["authenticated"] is True
    (assume,) = counting_proxy.of("AssumeRole")  # `role` on top of the web identity's credentials
    assert assume.body["RoleArn"] == ON_TOP and assume.access_key.startswith("ASIA")


# ---------------------------------------------------------------------------------------- throttling


@pytest.mark.parametrize("status", [400, 429])
def test_throttling_is_retried_with_backoff(counting_proxy: AwsProxy, aws_env: str, status: int) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString="after-throttling")
    counting_proxy.throttle = Throttle(2, "GetSecretValue", status)

    async def go() -> bytes:
        clients = StoreClients(_kube(), vault_cache_seconds=0.0)
        try:
            return await (await clients.client_for(_store("SecretsManager"), "team")).get_secret(RemoteRef(key=name))
        finally:
            await clients.close()

    assert _run(go()) == b"after-throttling"
    reads = counting_proxy.of("GetSecretValue")
    assert len(reads) == 3  # two throttled, the third forwarded to moto


def test_throttling_that_persists_fails_the_sync_and_leaves_the_secret(counting_proxy: AwsProxy, aws_env: str) -> None:
    sm = _boto("secretsmanager", aws_env)
    name = _name()
    sm.create_secret(Name=name, SecretString=VALUE)
    counting_proxy.throttle = Throttle(1000, "GetSecretValue")
    started = time.monotonic()
    plan, _, text = _run(_plan_for(_store("SecretsManager"), _kube(), name))
    _assert_failed_untouched(plan)
    assert counting_proxy.count("GetSecretValue") == 4  # the first attempt and 3 retries, then the plan
    reads = counting_proxy.of("GetSecretValue")
    assert reads[-1].at - reads[0].at > 0.05 and time.monotonic() - started < 30  # backoff, bounded
    assert "SecretsManager is unavailable" in text and "ThrottlingException" in text and name in text
    assert VALUE not in json.dumps(plan.status) + text


# ---------------------------------------------------------------------------------------- refused credentials


@dataclass
class AuthMoto:
    url: str
    key_id: str
    secret_key: str
    admin: Any  # an IAM client signed with that key


@pytest.fixture(scope="module")
def auth_moto() -> Iterator[AuthMoto]:
    """moto_server with IAM authentication on after its first 3 requests (which make an allowed user):
    from then on moto itself refuses unknown, wrong and deleted keys."""
    import shutil
    import sys

    import boto3

    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(binary).exists():
        pytest.skip("moto_server not installed: run `pip install 'moto[server]'`")
    port = free_port()
    work = scratch_dir("secrets-kit-moto-auth-")
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    log = (work / "moto.log").open("wb")
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

        def iam(key: str, secret: str) -> Any:
            return boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                                aws_secret_access_key=secret)

        setup = iam("bootstrap", "bootstrap")
        setup.create_user(UserName="eso")
        key = setup.create_access_key(UserName="eso")["AccessKey"]
        setup.put_user_policy(UserName="eso", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        yield AuthMoto(url, key["AccessKeyId"], key["SecretAccessKey"], iam(key["AccessKeyId"], key["SecretAccessKey"]))
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _auth_kube(key_id: str, secret: str) -> SecretsStandIn:
    return SecretsStandIn({("team", "aws-creds"): {"access-key": key_id.encode(), "secret-key": secret.encode()}})


def _seed(auth_moto: AuthMoto, value: str) -> str:
    import boto3

    name = f"t-{uuid.uuid4().hex[:10]}"
    boto3.client("secretsmanager", endpoint_url=auth_moto.url, region_name="us-east-1",
                 aws_access_key_id=auth_moto.key_id, aws_secret_access_key=auth_moto.secret_key
                 ).create_secret(Name=name, SecretString=value)
    return name


def test_unknown_keys_refused_by_moto(auth_moto: AuthMoto, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", auth_moto.url)
    name = _seed(auth_moto, VALUE)
    plan, _, text = _run(_plan_for(_store("SecretsManager"), _auth_kube("AKIAUNKNOWN0000000", "nope"), name))
    _assert_failed_untouched(plan)
    assert "refused the credentials" in text and "InvalidClientTokenId" in text
    assert VALUE not in json.dumps(plan.status) + text and "nope" not in text


def test_revoked_key_refused_and_the_secret_left(auth_moto: AuthMoto, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key that worked is deleted in IAM (revoked): the kept client's next read is refused by moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", auth_moto.url)
    name = _seed(auth_moto, VALUE)
    key = auth_moto.admin.create_access_key(UserName="eso")["AccessKey"]
    kube = _auth_kube(key["AccessKeyId"], key["SecretAccessKey"])

    async def go() -> str:
        clients = StoreClients(kube, vault_cache_seconds=0.0)
        try:
            client = await clients.client_for(_store("SecretsManager"), "team")
            assert await client.get_secret(RemoteRef(key=name)) == VALUE.encode()
            auth_moto.admin.delete_access_key(UserName="eso", AccessKeyId=key["AccessKeyId"])
            with pytest.raises(KeyMaterialError) as err:
                await client.get_secret(RemoteRef(key=name))
            return str(err.value)
        finally:
            await clients.close()

    text = _run(go())
    assert "refused the credentials" in text and "InvalidClientTokenId" in text
    assert VALUE not in text and key["SecretAccessKey"] not in text


# ---------------------------------------------------------------------------------------- garbage JSON


@pytest.mark.parametrize("service", ["SecretsManager", "ParameterStore"])
def test_property_of_a_value_that_is_not_json(aws_env: str, service: str) -> None:
    name = f"/{_name()}/conf"
    garbage = "{" + VALUE + ": not json"
    if service == "SecretsManager":
        _boto("secretsmanager", aws_env).create_secret(Name=name, SecretString=garbage)
    else:
        _boto("ssm", aws_env).put_parameter(Name=name, Value=garbage, Type="SecureString")
    plan, _, text = _run(_plan_for(_store(service), _kube(), name, prop="password"))
    _assert_failed_untouched(plan)
    assert f"key password does not exist in secret {name}" in text and "not JSON" in text
    assert VALUE not in json.dumps(plan.status) + text
    with pytest.raises(SecretsKitError):  # the same read as a plain store call
        async def direct() -> None:
            clients = StoreClients(_kube(), vault_cache_seconds=0.0)
            try:
                await (await clients.client_for(_store(service), "team")).get_secret(
                    RemoteRef(key=name, property="password"))
            finally:
                await clients.close()

        _run(direct())
