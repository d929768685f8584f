"""GKE workload identity for the gcpsm store, as ESO v0.16.2 does it (workload_identity.go):

1. read the referenced ServiceAccount (its `iam.gke.io/gcp-service-account` annotation);
2. the identity pool `<clusterProjectID>.svc.id.goog` and provider
   `https://container.googleapis.com/v1/projects/P/locations/L/clusters/C` (clusterProjectID,
   clusterLocation, clusterName from the spec, else from the GCE metadata server);
3. a TokenRequest for that ServiceAccount (audiences: the pool, then serviceAccountRef.audiences; 15 min);
4. exchange it at Google's identitybindingtoken endpoint (grant type token-exchange);
5. with the annotation, IAM Credentials GenerateAccessToken for that Google service account, using the
   exchanged token; without it, the exchanged token itself is the access token.

The token is kept and fetched again shortly before it expires (ESO repeats the flow every reconcile).
Nothing here logs or quotes a token: errors name the step and an HTTP status or exception type.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import ProviderError, SecretsKitError
from ._context import StoreContext

IDBINDTOKEN_URL = "https://securetoken.googleapis.com/v1/identitybindingtoken"
IAM_CREDENTIALS_URL = "https://iamcredentials.googleapis.com/v1"
GCP_SA_ANNOTATION = "iam.gke.io/gcp-service-account"
TOKEN_REQUEST_SECONDS = 15 * 60
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
HTTP_TIMEOUT = 10.0
MARGIN_SECONDS = 300.0  # fetch again this long before expiry (google.auth itself refreshes 225 s before)
UNKNOWN_LIFETIME = 600.0  # an exchanged token that states no lifetime is used this long

ERR_POD_TOKEN = "unable to fetch pod token: "
ERR_IB_TOKEN = "unable to fetch identitybindingtoken: "
ERR_ACCESS_TOKEN = "unable to generate gcp access token: "
ERR_LOOKUP = "unable to lookup workload identity: "

Told = Callable[[str, bool], None]  # (ESO's call name, ok)


def _credentials_class() -> type:
    from google.auth import credentials, exceptions

    class ExchangedToken(credentials.Credentials):
        """A token set from outside (WorkloadIdentity.ensure_token); google.auth never refreshes it itself."""

        def refresh(self, request: Any) -> None:
            raise exceptions.RefreshError("the workload identity token expired before it was fetched again")

    return ExchangedToken


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # google.auth compares naive UTC times


def _post_json(url: str, body: Mapping[str, Any], *, bearer: str | None = None) -> tuple[int, Any]:
    """(status, decoded JSON or None). The body of an error answer is never read into a message."""
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        err.close()
        return err.code, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _metadata(path: str) -> str:
    """One GCE metadata server value (GCE_METADATA_HOST overrides the host, as Google's libraries do)."""
    host = os.environ.get("GCE_METADATA_HOST") or "metadata.google.internal"
    request = urllib.request.Request(f"http://{host}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return str(answer.read().decode().strip())


class WorkloadIdentity:
    def __init__(self, spec: Mapping[str, Any], ctx: StoreContext, *, project_id: str = "",
                 on_call: Told | None = None) -> None:
        self.spec = spec
        self.ctx = ctx
        self.on_call = on_call
        self.credentials = _credentials_class()()
        self._lock = asyncio.Lock()
        self.fetched = 0  # token flows run (a test's view of reuse)

    def _told(self, call: str, ok: bool) -> None:
        if self.on_call is not None:
            self.on_call(call, ok)

    def _fresh(self) -> bool:
        expiry = self.credentials.expiry
        return bool(self.credentials.token) and expiry is not None and \
            (expiry - _utcnow()).total_seconds() > MARGIN_SECONDS

    async def ensure_token(self) -> None:
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():
                return
            token, lifetime = await self._flow()
            self.credentials.token = token
            self.credentials.expiry = _utcnow() + dt.timedelta(seconds=lifetime)
            self.fetched += 1

    async def _identity(self) -> tuple[str, str]:
        """ESO's gcpWorkloadIdentity: (identity pool, identity provider)."""
        def lookup(field: str, path: str, what: str) -> str:
            value = str(self.spec.get(field) or "")
            if value:
                return value
            try:
                return _metadata(path)
            except (OSError, urllib.error.URLError) as exc:
                raise ProviderError(f"{ERR_LOOKUP}unable to determine {what}: {type(exc).__name__}",
                                    where=self.ctx.where, hint=f"set workloadIdentity.{field}") from None

        def both() -> tuple[str, str]:
            project = lookup("clusterProjectID", "project/project-id", "project id")
            location = lookup("clusterLocation", "instance/attributes/cluster-location", "cluster location")
            name = lookup("clusterName", "instance/attributes/cluster-name", "cluster name")
            return (f"{project}.svc.id.goog",
                    f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}")

        return await asyncio.to_thread(both)

    async def _flow(self) -> tuple[str, float]:
        where = self.ctx.where
        field = "auth.workloadIdentity.serviceAccountRef"
        sa_ref = self.spec.get("serviceAccountRef") or {}
        annotations = await self.ctx.service_account_annotations(sa_ref, field)
        pool, provider = await self._identity()
        audiences = [pool, *(str(a) for a in (sa_ref.get("audiences") or []))]
        try:
            k8s_token = await self.ctx.service_account_token(sa_ref, field, audiences, TOKEN_REQUEST_SECONDS)
        except SecretsKitError as err:
            self._told("GenerateServiceAccountToken", False)
            raise ProviderError(ERR_POD_TOKEN + err.message, where=where, reason="credentials") from None
        self._told("GenerateServiceAccountToken", True)
        body = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": k8s_token,
            "audience": f"identitynamespace:{pool}:{provider}",
            "scope": SCOPE,
        }
        status, answer = await self._post("GenerateIDBindToken", ERR_IB_TOKEN, IDBINDTOKEN_URL, body)
        ok = status == 200 and isinstance(answer, Mapping) and bool(answer.get("access_token"))
        self._told("GenerateIDBindToken", ok)
        if not ok:
            raise ProviderError(ERR_IB_TOKEN + f"could not get idbindtoken token, status: {status}", where=where,
                                reason="credentials", hint="check the cluster's workload identity pool and provider")
        bind_token = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or UNKNOWN_LIFETIME)
        gcp_sa = str(annotations.get(GCP_SA_ANNOTATION) or "")
        if not gcp_sa:
            return bind_token, lifetime  # IAM bindings on serviceAccount:<pool>[<namespace>/<sa>]
        url = f"{IAM_CREDENTIALS_URL}/projects/-/serviceAccounts/{gcp_sa}:generateAccessToken"
        status, answer = await self._post("GenerateAccessToken", ERR_ACCESS_TOKEN, url, {"scope": [SCOPE]},
                                          bearer=bind_token)
        ok = status == 200 and isinstance(answer, Mapping) and bool(answer.get("accessToken"))
        self._told("GenerateAccessToken", ok)
        if not ok:
            raise ProviderError(ERR_ACCESS_TOKEN + f"IAM Credentials answered status {status}", where=where,
                                reason="credentials",
                                hint=f"grant the Kubernetes service account roles/iam.workloadIdentityUser on {gcp_sa}")
        return str(answer["accessToken"]), _lifetime(answer.get("expireTime"))

    async def _post(self, call: str, prefix: str, url: str, body: Mapping[str, Any],
                    bearer: str | None = None) -> tuple[int, Any]:
        try:
            status, answer = await asyncio.to_thread(_post_json, url, body, bearer=bearer)
        except (OSError, urllib.error.URLError) as exc:
            self._told(call, False)
            raise ProviderError(prefix + type(exc).__name__, where=self.ctx.where,
                                hint="check the network path to Google") from None
        return status, answer


def _lifetime(expire_time: Any) -> float:
    """Seconds until an RFC 3339 `expireTime`; UNKNOWN_LIFETIME when absent or unreadable."""
    try:
        when = dt.datetime.fromisoformat(str(expire_time).replace("Z", "+00:00"))
    except ValueError:
        return UNKNOWN_LIFETIME
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
