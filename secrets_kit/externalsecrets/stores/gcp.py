"""ESO's GCP Secret Manager provider (pkg/provider/gcp/secretmanager, v0.16.2) on the shared
`clients.gcp.GcpSession` (REST transport).

Store spec `spec.provider.gcpsm`: `projectID`, `location` (regional secrets: the regional endpoint
`secretmanager.<location>.rep.googleapis.com` and `projects/P/locations/L/...` names), and `auth`:
- `secretRef.secretAccessKeySecretRef`: a service-account key JSON read through the store's
  Kubernetes reads (a ClusterSecretStore's ref without a namespace is read in the ExternalSecret's:
  referent auth);
- `workloadIdentity{serviceAccountRef, clusterLocation, clusterName, clusterProjectID}`: GKE workload
  identity (`_workload.py`);
- neither: Application Default Credentials.
The Secret Manager endpoint can be overridden with SECRETS_KIT_GCP_SM_ENDPOINT in the controller's
environment (as for the render step): `http://host:port` is an emulator (plain HTTP; anonymous unless
the store gives credentials).

Facts kept from ESO:
- a read is AccessSecretVersion{projects/P/secrets/KEY/versions/VERSION|latest}; NotFound is
  NoSecretError; an empty payload is "invalid secret received. no secret string for key: K";
- property: a gjson path into the payload, the escaped `a\\.b` form tried first when the property holds
  a dot after its first character; missing: "key %s does not exist in secret %s";
- extract: the value as a JSON object, members that are JSON strings unquoted, others kept raw;
- metadataPolicy Fetch: GetSecret, `{"annotations": ..., "labels": ...}`, or `labels`, `annotations`,
  `labels.<k>`, `annotations.<k>`;
- find by name: ListSecrets{parent, filter "name:<path>"}, RE2 on the secret id and a prefix check on the
  path, a read per match; find by tags: ListSecrets{filter "labels.k=v ..." [+ " name:<path>"]}, a read
  per match; keys are the secret ids (ConvertKeys is the engine's);
- ValidateStore: the ref namespaces; NewClient without projectID (nor clusterProjectID) fails with
  "unable to find ProjectID in storeSpec"; validation fetches a token ("unable to get credentials").
- provider-call metric: provider "GCP/SecretManager", calls AccessSecretVersion, ListSecrets,
  GetSecret (and GenerateServiceAccountToken, GenerateIDBindToken, GenerateAccessToken for workload
  identity), status success/error.

Differences on purpose: one client per store kept across reconciles (ESO builds one per reconcile and
serializes all GCP reconciles behind a process-wide mutex); reads are single-flight and answered again
for `cache_seconds` (stores/_reads.py); a remote key may also be a full `projects/P/secrets/S` name and a
version may be written `versions/N` (ESO would build an invalid name from either); find by tags uses the
regional parent when `location` is set (ESO lists global secrets there); a match deleted between the
listing and its read is skipped; errors never quote a value and carry a `reason` (credentials,
permission-denied, throttled: retried with backoff by the controller).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...clients import gcp as shared
from ...clients.failure import Kind
from ...errors import KeyMaterialError, ProviderError, SecretsKitError
from ..refs import METADATA_FETCH, FindRef, NoSecretError, RemoteRef, Validation
from . import _gojson, _workload
from ._context import NAMESPACE_NOT_ALLOWED, ProviderThreads, StoreContext, compile_regexp
from ._reads import SharedReads
from .aws import _decode_map  # the same json.Unmarshal into map[string]json.RawMessage

NAME = "gcpsm"
PROVIDER = "GCP/SecretManager"  # ESO's provider label in externalsecret_provider_api_calls_count
CACHE_SECONDS = 1.0
FIND_CONCURRENCY = 8
GCP_THREADS = 16
TIMEOUT = 20.0  # seconds per call, the library's retries of throttled/unavailable answers included
ENDPOINT_ENV = "SECRETS_KIT_GCP_SM_ENDPOINT"
SERVICE = "Secret Manager"

ERR_NO_PROJECT = "unable to find ProjectID in storeSpec"
ERR_NOT_INITIALIZED = "provider GCP is not initialized"
ERR_FIND = "unexpected find operator"

_T = TypeVar("_T")
OnCall = Callable[[str, str, bool], None]  # (provider label, call, ok): one per API call
_FULL = re.compile(r"projects/[^/]+/(?:locations/[^/]+/)?secrets/[^/]+\Z")


# ---------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class GcpStoreSpec:
    project_id: str
    location: str
    secret_ref: Mapping[str, Any] | None  # auth.secretRef.secretAccessKeySecretRef
    workload_identity: Mapping[str, Any] | None

    @property
    def parent(self) -> str:
        base = f"projects/{self.project_id}"
        return f"{base}/locations/{self.location}" if self.location else base


def parse_spec(spec: Mapping[str, Any], where: str) -> GcpStoreSpec:
    auth = spec.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ProviderError("spec.provider.gcpsm.auth must be an object", where=where)
    secret_ref = auth.get("secretRef")
    if secret_ref is not None:
        if not isinstance(secret_ref, Mapping):
            raise ProviderError("spec.provider.gcpsm.auth.secretRef must be an object", where=where)
        secret_ref = secret_ref.get("secretAccessKeySecretRef") or {}
        if not isinstance(secret_ref, Mapping):
            raise ProviderError("auth.secretRef.secretAccessKeySecretRef must be an object", where=where)
    wi = auth.get("workloadIdentity")
    if wi is not None and not isinstance(wi, Mapping):
        raise ProviderError("spec.provider.gcpsm.auth.workloadIdentity must be an object", where=where)
    return GcpStoreSpec(project_id=str(spec.get("projectID") or ""), location=str(spec.get("location") or ""),
                        secret_ref=secret_ref, workload_identity=wi)


def check_spec(spec: Mapping[str, Any], ctx: StoreContext) -> None:
    """ESO's ValidateStore for gcpsm: a SecretStore's refs name no other namespace."""
    s = parse_spec(spec, ctx.where)
    if ctx.cluster:
        return
    if s.secret_ref is not None and s.secret_ref.get("namespace") not in (None, ctx.namespace):
        raise ProviderError(f"invalid auth secret data: {NAMESPACE_NOT_ALLOWED}", where=ctx.where)
    if s.workload_identity is not None:
        sa = s.workload_identity.get("serviceAccountRef") or {}
        if isinstance(sa, Mapping) and sa.get("namespace") not in (None, ctx.namespace):
            raise ProviderError(f"invalid workload identity service account reference: {NAMESPACE_NOT_ALLOWED}",
                                where=ctx.where)


def is_referent(spec: Mapping[str, Any]) -> bool:
    """ESO's isReferentSpec: the key secretRef or the workload identity SA ref without a namespace."""
    auth = spec.get("auth") or {}
    ref = auth.get("secretRef")
    if isinstance(ref, Mapping):
        sel = ref.get("secretAccessKeySecretRef") or {}
        if isinstance(sel, Mapping) and not sel.get("namespace"):
            return True
    wi = auth.get("workloadIdentity")
    if isinstance(wi, Mapping):
        sa = wi.get("serviceAccountRef") or {}
        if isinstance(sa, Mapping) and not sa.get("namespace"):
            return True
    return False


# ---------------------------------------------------------------------------------- threads

_THREADS = ProviderThreads(GCP_THREADS, "secrets-kit-gcp")
in_gcp_thread = _THREADS.run  # a blocking SDK call, off the loop


# ---------------------------------------------------------------------------------- values


def _property(payload: bytes, prop: str, *, key: str, where: str) -> bytes:
    """ESO's getDataByProperty + `val.String()`: the escaped-dot form first, then the gjson path."""
    missing = ProviderError(f"key {prop} does not exist in secret {key}", where=where)
    try:
        document = _gojson.parse(payload.decode("utf-8", "replace"))
    except _gojson.JSONSyntaxError:
        raise missing from None
    if prop.find(".") > 0:
        found = _gojson.gjson_get(document, prop.replace(".", "\\."), raw=True)
        if found is not None:
            return found.encode()
    found = _gojson.gjson_get(document, prop, raw=True)
    if found is None:
        raise missing
    return found.encode()


def _metadata(labels: Mapping[str, str], annotations: Mapping[str, str], prop: str, *, key: str,
              where: str) -> bytes:
    """ESO's getSecretMetadata; Go marshals an empty proto map (nil) as null."""
    for field, values in (("annotations", annotations), ("labels", labels)):
        name = prop[len(field) + 1:] if prop.startswith(field + ".") else ""
        if name:
            if name not in values:
                raise ProviderError(f"{field[:-1]} with key {name} does not exist in secret {key}", where=where)
            return values[name].encode()
    for field, values in (("annotations", annotations), ("labels", labels)):
        if prop == field:
            return _gojson.marshal(dict(values) or None).encode()
    if prop:
        raise ProviderError(f"invalid property {prop}: metadata property should start with either annotations "
                            "or labels", where=where)
    return _gojson.marshal({"annotations": dict(annotations) or None, "labels": dict(labels) or None}).encode()


def _refine(failure: Any) -> SecretsKitError | None:
    """Reasons the controller can act on; the messages name the call and the item, never a value."""
    detail = failure.detail
    if failure.kind is Kind.DENIED:
        return ProviderError(f"{SERVICE} permission denied ({detail})", reason="permission-denied",
                             hint="grant the store's identity roles/secretmanager.secretAccessor")
    if failure.kind is Kind.CREDENTIALS_REFUSED:
        return ProviderError(f"{SERVICE} refused the credentials ({detail})", reason="credentials",
                             hint="check the service-account key or the workload identity binding")
    return None


def _throttled(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.RetryError) and isinstance(exc.cause, Exception):
        exc = exc.cause
    return isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted)


# ---------------------------------------------------------------------------------- client


class GcpStoreClient:
    """ESO's GCP SecretsClient, kept across reconciles (one per store)."""

    def __init__(self, spec: GcpStoreSpec, session: shared.GcpSession, *, where: str,
                 cache_seconds: float = CACHE_SECONDS, on_call: OnCall | None = None,
                 workload: _workload.WorkloadIdentity | None = None,
                 settings_source: Callable[[], Awaitable[shared.GcpSettings]] | None = None) -> None:
        self.spec = spec
        self.session = session
        self.where = where
        self.cache_seconds = cache_seconds
        self.on_call = on_call
        self.workload = workload
        self.settings_source = settings_source  # re-reads the key Secret (rotation)
        self._renew_lock = asyncio.Lock()
        self._generation = 0
        self._shared = SharedReads(cache_seconds)

    @property
    def reads(self) -> int:
        """API calls started (after sharing)."""
        return self._shared.reads

    def _told(self, call: str, ok: bool) -> None:
        if self.on_call is not None:
            self.on_call(PROVIDER, call, ok)

    def _call(self, call: str, method: str, where: str, **kwargs: Any) -> Any:
        """One Secret Manager call in a worker thread; NotFound becomes NoSecretError; no value in errors."""
        def once() -> Any:
            from google.api_core import exceptions as gexc

            client = self.session.secret_manager()
            try:
                answer = getattr(client, method)(**kwargs, **self.session.call_options())
                if method == "list_secrets":
                    answer = list(answer)  # the later pages are fetched here: same error map
            except gexc.NotFound:
                self._told(call, False)  # ESO's metric: any error is status "error"
                raise NoSecretError("Secret does not exist", where=where) from None
            except Exception as exc:
                self._told(call, False)
                if _throttled(exc):
                    raise ProviderError(f"{SERVICE} {call} failed: throttled ({type(exc).__name__})",
                                        where=where, reason="throttled",
                                        hint="retried with backoff; raise the project's quota if it persists"
                                        ) from None
                raise
            self._told(call, True)
            return answer

        try:
            return shared.call(once, service=SERVICE, what=call, where=where, refine=_refine)
        except KeyMaterialError as err:  # google.auth's own refusals (a key the token endpoint refuses)
            raise ProviderError(err.message, where=err.where, hint=err.hint, reason="credentials") from None

    async def _flight(self, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        async def start() -> Any:
            if self.workload is not None:
                await self.workload.ensure_token()
            return await in_gcp_thread(fn)

        return await self._shared.read(key, start)

    async def _renewing(self, make: Callable[[], Awaitable[_T]]) -> _T:
        """When Google refuses the credentials, re-read the key Secret once; a rotated key replaces the session."""
        generation = self._generation
        try:
            return await make()
        except ProviderError as err:
            if err.reason != "credentials" or self.settings_source is None or not await self._renew(generation):
                raise
        return await make()

    async def _renew(self, generation: int) -> bool:
        async with self._renew_lock:
            if self._generation != generation:
                return True
            assert self.settings_source is not None
            settings = await self.settings_source()
            if settings == self.session.settings:
                return False
            old, self.session = self.session, shared.GcpSession(settings)
            self._generation += 1
            reads, self._shared = self._shared.reads, SharedReads(self.cache_seconds)  # the old key's answers go
            self._shared.reads = reads
        await in_gcp_thread(old.close)
        return True

    # ------------------------------------------------------------------------------ names

    def _secret_name(self, key: str) -> str:
        if _FULL.match(key):
            return key
        return f"{self.spec.parent}/secrets/{key}"

    def _where(self, key: str) -> str:
        return f"{self.where}: {key}"

    # ------------------------------------------------------------------------------ reads

    async def _access(self, key: str, version: str) -> bytes:
        version = version.removeprefix("versions/") or "latest"
        name = f"{self._secret_name(key)}/versions/{version}"
        where = self._where(key)

        def access() -> bytes:
            answer = self._call("AccessSecretVersion", "access_secret_version", where, name=name)
            data = bytes(answer.payload.data)
            if not data:  # Go's proto leaves an empty bytes field nil
                raise ProviderError(f"invalid secret received. no secret string for key: {key}", where=where)
            return data

        value: bytes = await self._renewing(lambda: self._flight(("AccessSecretVersion", name), access))
        return value

    async def _metadata_of(self, key: str) -> tuple[dict[str, str], dict[str, str]]:
        name = self._secret_name(key)

        def get() -> tuple[dict[str, str], dict[str, str]]:
            secret = self._call("GetSecret", "get_secret", self._where(key), name=name)
            return dict(secret.labels), dict(secret.annotations)

        found: tuple[dict[str, str], dict[str, str]] = await self._renewing(
            lambda: self._flight(("GetSecret", name), get))
        return found

    def _ready(self, key: str) -> None:
        if not self.spec.project_id:
            raise ProviderError(ERR_NOT_INITIALIZED, where=self._where(key),
                                hint="set spec.provider.gcpsm.projectID")

    async def get_secret(self, ref: RemoteRef) -> bytes:
        self._ready(ref.key)
        where = self._where(ref.key)
        if ref.metadata_policy == METADATA_FETCH:
            labels, annotations = await self._metadata_of(ref.key)
            return _metadata(labels, annotations, ref.property, key=ref.key, where=where)
        value = await self._access(ref.key, ref.version)
        if not ref.property:
            return value
        return _property(value, ref.property, key=ref.key, where=where)

    async def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        raw = await self.get_secret(ref)
        return _decode_map(raw, key=ref.key, where=self._where(ref.key))

    async def get_all_secrets(self, find: FindRef) -> dict[str, bytes]:
        self._ready("find")
        if find.name_regexp:
            matcher = compile_regexp(find.name_regexp, where=self.where)
            request: dict[str, str] = {"parent": self.spec.parent}
            if find.path:
                request["filter"] = f"name:{find.path}"
        elif find.tags:
            matcher = None
            tag_filter = " ".join(f"labels.{k}={v}" for k, v in sorted(find.tags.items()))
            if find.path:
                tag_filter += f" name:{find.path}"
            request = {"parent": self.spec.parent, "filter": tag_filter}
        else:
            raise ProviderError(ERR_FIND, where=self.where, hint="use find.name.regexp or find.tags")

        def listing() -> list[tuple[str, dict[str, str]]]:
            found = self._call("ListSecrets", "list_secrets", self.where, request=request)
            return [(str(s.name), dict(s.labels)) for s in found]

        listed: list[tuple[str, dict[str, str]]] = await self._renewing(
            lambda: self._flight(("ListSecrets", *sorted(request.items())), listing))
        chosen: list[str] = []
        for full, labels in listed:
            key = self._trim(full)
            if matcher is not None and not matcher.search(key):
                continue
            if find.path and not key.startswith(find.path):
                continue
            # the server applied the label filter; checked again so a server that ignores filters
            # (an emulator) cannot widen the result
            if matcher is None and any(labels.get(k) != v for k, v in find.tags.items()):
                continue
            chosen.append(key)
        gate = asyncio.Semaphore(FIND_CONCURRENCY)

        async def one(key: str) -> tuple[str, bytes | None]:
            async with gate:
                try:
                    return key, await self._access(key, "")
                except NoSecretError:
                    return key, None  # deleted since the listing

        results = await asyncio.gather(*(one(k) for k in chosen))
        return {key: value for key, value in results if value is not None}

    def _trim(self, full: str) -> str:
        """ESO's trimName: the secret id (the API names projects by number, so the project part is taken
        from the name itself)."""
        parts = full.split("/")
        if len(parts) < 2:
            return full
        prefix = f"projects/{parts[1]}/locations/{self.spec.location}/secrets/" if self.spec.location \
            else f"projects/{parts[1]}/secrets/"
        return full.removeprefix(prefix)

    async def validate(self) -> Validation:
        """ESO's NewClient token check (`ts.Token()`), then Valid."""
        try:
            if self.workload is not None:
                await self.workload.ensure_token()
            elif not self.session.settings.anonymous:
                await in_gcp_thread(lambda: shared.call(self.session.refresh, service=SERVICE,
                                                        what="credential check (access token)", where=self.where))
        except SecretsKitError as exc:
            return Validation("Error", f"unable to get credentials: {exc.message}")
        return Validation("Valid")

    async def close(self) -> None:
        await in_gcp_thread(self.session.close)


# ---------------------------------------------------------------------------------- building


def endpoint_override() -> str | None:
    """SECRETS_KIT_GCP_SM_ENDPOINT: a URL (a bare host:port is taken as http://, an emulator)."""
    value = os.environ.get(ENDPOINT_ENV, "").strip()
    if not value:
        return None
    return value if "://" in value else f"http://{value}"


async def new_client(spec: Mapping[str, Any], ctx: StoreContext, *, cache_seconds: float = CACHE_SECONDS,
                     on_call: OnCall | None = None) -> GcpStoreClient:
    """The store's client: the key Secret is read now, no Google request until the first read or check."""
    s = parse_spec(spec, ctx.where)
    check_spec(spec, ctx)
    wi_project = str((s.workload_identity or {}).get("clusterProjectID") or "")
    if not s.project_id and not wi_project:
        raise ProviderError(ERR_NO_PROJECT, where=ctx.where, hint="set spec.provider.gcpsm.projectID")
    override = endpoint_override()
    endpoint = override or (f"https://secretmanager.{s.location}.rep.googleapis.com" if s.location else None)
    plain = bool(override and override.startswith("http://"))
    base = shared.GcpSettings(transport="rest", endpoint=endpoint, timeout=TIMEOUT)
    secret_ref = s.secret_ref
    workload: _workload.WorkloadIdentity | None = None

    async def settings() -> shared.GcpSettings:
        assert secret_ref is not None
        key_json = await ctx.secret_ref(secret_ref, "auth.secretRef.secretAccessKeySecretRef")
        return _with(base, credentials_json=key_json,
                     credentials_source="the service-account key in auth.secretRef.secretAccessKeySecretRef")

    if secret_ref is not None:
        first = await settings()
    elif s.workload_identity is not None:
        workload = _workload.WorkloadIdentity(s.workload_identity, ctx, project_id=wi_project or s.project_id,
                                              on_call=lambda call, ok: on_call(PROVIDER, call, ok) if on_call
                                              else None)
        first = _with(base, credentials=workload.credentials)
    else:
        first = _with(base, anonymous=plain)  # an emulator takes no credentials; else ADC
    return GcpStoreClient(s, shared.GcpSession(first), where=ctx.where, cache_seconds=cache_seconds,
                          on_call=on_call, workload=workload,
                          settings_source=settings if secret_ref is not None else None)


def _with(base: shared.GcpSettings, **changes: Any) -> shared.GcpSettings:
    import dataclasses

    return dataclasses.replace(base, **changes)
