"""ESO's AWS provider (pkg/provider/aws, v0.16.2): Secrets Manager and Parameter Store, on the shared
`clients.aws.AwsSession` (session, credential refresh, error map).

Store spec `spec.provider.aws`: `service: SecretsManager | ParameterStore`, `region` (required),
`prefix` (prepended to every key), `role` (sts:AssumeRole on top of the credentials, with
`externalID` and `sessionTags`), `auth.secretRef{accessKeyIDSecretRef, secretAccessKeySecretRef,
sessionTokenSecretRef}` read through the store's Kubernetes reads (a ClusterSecretStore's ref
without a namespace is read in the ExternalSecret's: referent auth); `auth.jwt.serviceAccountRef`
(ESO's IRSA-style web identity: the ServiceAccount's `eks.amazonaws.com/role-arn` annotation is the
role, a TokenRequest with the audience of its `eks.amazonaws.com/audience` annotation, default
`sts.amazonaws.com`, plus the ref's `audiences`, then sts:AssumeRoleWithWebIdentity; a fresh token
at every credential refresh; secretRef wins when both are set, as in ESO); without `auth`, boto3's
own chain. Endpoints: boto3's standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables.

Facts kept from ESO:
- Secrets Manager: GetSecretValue{SecretId: prefix+key, VersionStage: version|AWSCURRENT}, a
  version `uuid/<id>` is sent as VersionId; ResourceNotFoundException (and "marked for deletion")
  is NoSecretError; the value is SecretString, else SecretBinary; a property is a gjson path into
  it, the escaped `a\\.b` form tried first when it holds a dot; a missing property is "key %s does
  not exist in secret %s"; extract unquotes JSON-string members and keeps the others raw;
  find by name: paged ListSecrets (name filter = find.path), RE2 on the name; find by tags:
  ListSecrets with tag-key/tag-value filters, then the exact tags; the values of the matches come
  from BatchGetSecretValue, 20 names a call (ESO: a GetSecretValue per match without a path).
- Parameter Store: GetParameter{Name: prefix+key[:version], WithDecryption}; ParameterNotFound
  is NoSecretError (a missing version is not); find by name: paged GetParametersByPath{Path:
  find.path or "/", Recursive, WithDecryption}, then RE2 on the name; find by tags:
  DescribeParameters with `tag:<k>` Equals filters, then a GetParameter per parameter.

Differences on purpose: the client (and its credentials) is kept across reconciles (when AWS
refuses the keys, the credential Secret is read again and a rotated key replaces the session); every read is
single-flight and answers again from memory for `cache_seconds` (the provider read window), so
concurrent reconciles reading one remote key cost one request; errors never quote a value.
The ServiceAccount of `auth.jwt` is read when the client is built and again when AWS refuses the
credentials (ESO: every reconcile). Not supported yet (refused with a clear error):
CertificateManager, `additionalRoles`, metadataPolicy Fetch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...clients import aws as shared
from ...errors import KeyMaterialError, ProviderError, SecretsKitError
from ..refs import METADATA_FETCH, FindRef, NoSecretError, RemoteRef, Validation
from . import _gojson
from ._context import NAMESPACE_NOT_ALLOWED, ProviderThreads, StoreContext, compile_regexp, on_loop
from ._reads import SharedReads

NAME = "aws"
SECRETS_MANAGER, PARAMETER_STORE = "SecretsManager", "ParameterStore"
SERVICES = {SECRETS_MANAGER: "secretsmanager", PARAMETER_STORE: "ssm"}
PROVIDER_LABELS = {SECRETS_MANAGER: "AWS/SecretsManager", PARAMETER_STORE: "AWS/ParameterStore"}
CACHE_SECONDS = 1.0
FIND_CONCURRENCY = 8
AWS_THREADS = 16
# Throttling and 5xx answers are retried this many times with botocore's standard backoff (jittered,
# exponential), as aws-sdk-go's default retryer in ESO; then the read fails and the ExternalSecret's
# own backoff takes over
API_RETRIES = 3
BATCH_SIZE = 20  # BatchGetSecretValue's limit of names per call
ROLE_ANNOTATION, AUDIENCE_ANNOTATION = "eks.amazonaws.com/role-arn", "eks.amazonaws.com/audience"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
TOKEN_SECONDS = 3600  # the API server's default TokenRequest lifetime (ESO sends none)

_T = TypeVar("_T")
OnCall = Callable[[str, str, bool], None]  # (provider label, call, ok): one per API call

# ESO's NoSecretErr codes; a missing parameter *version* (ParameterVersionNotFound) stays an error
# there, so deletionPolicy Delete/Merge does not skip it
_NOT_FOUND = {"ResourceNotFoundException", "ParameterNotFound"}
_REF_FIELDS = ("accessKeyIDSecretRef", "secretAccessKeySecretRef", "sessionTokenSecretRef")


# ---------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class AwsStoreSpec:
    service: str
    region: str
    prefix: str
    role: str
    external_id: str
    session_tags: Mapping[str, str]
    secret_ref: Mapping[str, Any] | None
    jwt_ref: Mapping[str, Any] | None = None  # auth.jwt.serviceAccountRef


def parse_spec(spec: Mapping[str, Any], where: str) -> AwsStoreSpec:
    service = spec.get("service")
    if service not in SERVICES:
        if service == "CertificateManager":
            raise ProviderError("AWS service CertificateManager is not supported by secrets-kit", where=where,
                                hint="use SecretsManager or ParameterStore")
        raise ProviderError(f"spec.provider.aws.service must be SecretsManager or ParameterStore, not {service!r}",
                            where=where)
    region = spec.get("region")
    if not isinstance(region, str) or not region:
        raise ProviderError("spec.provider.aws.region is required", where=where)
    auth = spec.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ProviderError("spec.provider.aws.auth must be an object", where=where)
    jwt = auth.get("jwt")
    jwt_ref = None
    if jwt is not None:
        jwt_ref = jwt.get("serviceAccountRef") if isinstance(jwt, Mapping) else None
        if not isinstance(jwt_ref, Mapping) or not jwt_ref.get("name"):
            raise ProviderError("spec.provider.aws.auth.jwt.serviceAccountRef needs a name", where=where)
    if spec.get("additionalRoles"):
        raise ProviderError("spec.provider.aws.additionalRoles is not supported by secrets-kit yet", where=where)
    secret_ref = auth.get("secretRef")
    if secret_ref is not None and not isinstance(secret_ref, Mapping):
        raise ProviderError("spec.provider.aws.auth.secretRef must be an object", where=where)
    tags: dict[str, str] = {}
    for pos, tag in enumerate(spec.get("sessionTags") or []):
        if not isinstance(tag, Mapping) or not tag.get("key"):
            raise ProviderError(f"spec.provider.aws.sessionTags[{pos}] needs a key", where=where)
        tags[str(tag["key"])] = str(tag.get("value") or "")
    return AwsStoreSpec(service=str(service), region=region, prefix=str(spec.get("prefix") or ""),
                        role=str(spec.get("role") or ""), external_id=str(spec.get("externalID") or ""),
                        session_tags=tags, secret_ref=secret_ref, jwt_ref=jwt_ref)


def check_spec(spec: Mapping[str, Any], ctx: StoreContext) -> None:
    """ESO's ValidateStore for aws (region, the secretRef and jwt serviceAccountRef selectors), plus what we support."""
    s = parse_spec(spec, ctx.where)
    if s.jwt_ref is not None:
        ns = s.jwt_ref.get("namespace")
        if not ctx.cluster and ns and ns != ctx.namespace:
            raise ProviderError(f"invalid Auth.JWT.ServiceAccountRef: {NAMESPACE_NOT_ALLOWED}", where=ctx.where)
    if s.secret_ref is None:
        return
    for name in _REF_FIELDS:
        ref = s.secret_ref.get(name)
        if ref is None:
            if name != "sessionTokenSecretRef":
                raise ProviderError(f"auth.secretRef.{name} is required", where=ctx.where)
            continue
        if not isinstance(ref, Mapping) or not ref.get("name"):
            raise ProviderError(f"invalid Auth.SecretRef.{name}: a secret name is required", where=ctx.where)
        if not ctx.cluster and ref.get("namespace") and ref["namespace"] != ctx.namespace:
            raise ProviderError(f"invalid Auth.SecretRef.{name}: {NAMESPACE_NOT_ALLOWED}", where=ctx.where)


def is_referent(spec: Mapping[str, Any]) -> bool:
    """ESO's isReferentSpec: a secretRef (or jwt serviceAccountRef) without a namespace."""
    auth = spec.get("auth") or {}
    ref = auth.get("secretRef")
    if isinstance(ref, Mapping):
        for name in ("accessKeyIDSecretRef", "secretAccessKeySecretRef"):
            sel = ref.get(name)
            if isinstance(sel, Mapping) and not sel.get("namespace"):
                return True
    jwt = auth.get("jwt")
    if isinstance(jwt, Mapping):
        sa = jwt.get("serviceAccountRef")
        if isinstance(sa, Mapping) and not sa.get("namespace"):
            return True
    return False


# ---------------------------------------------------------------------------------- threads

_THREADS = ProviderThreads(AWS_THREADS, "secrets-kit-aws")
in_aws_thread = _THREADS.run  # a blocking SDK call, off the loop


# ---------------------------------------------------------------------------------- values


def _property(payload: str, prop: str, *, key: str, where: str) -> bytes:
    """ESO's property lookup: the escaped-dot form first, then the gjson path."""
    try:
        document = _gojson.parse(payload)
    except _gojson.JSONSyntaxError:
        raise ProviderError(f"key {prop} does not exist in secret {key}: the secret's value is not JSON",
                            where=where) from None
    if "." in prop:
        found = _gojson.gjson_get(document, prop.replace(".", "\\."), raw=True)
        if found is not None:
            return found.encode()
    found = _gojson.gjson_get(document, prop, raw=True)
    if found is None:
        raise ProviderError(f"key {prop} does not exist in secret {key}", where=where)
    return found.encode()


def _decode_map(raw: bytes, *, key: str, where: str) -> dict[str, bytes]:
    """json.Unmarshal into map[string]json.RawMessage; members that are JSON strings are unquoted."""
    try:
        document = _gojson.parse(raw.decode("utf-8", "replace"))
    except _gojson.JSONSyntaxError:
        raise ProviderError(f"unable to unmarshal secret {key}: the value is not valid JSON", where=where) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ProviderError(f"unable to unmarshal secret {key}: the value is not a JSON object", where=where)
    out: dict[str, bytes] = {}
    for name, value in document.items():
        if value is None:
            out[name] = b""
        elif isinstance(value, str):
            out[name] = value.encode()
        else:
            out[name] = _gojson.marshal(value, raw=True).encode()
    return out


def _error_code(exc: BaseException) -> tuple[str, str]:
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return "", ""
    error = response.get("Error") or {}
    return str(error.get("Code") or ""), str(error.get("Message") or "")


# ---------------------------------------------------------------------------------- client


class AwsStoreClient:
    """ESO's AWS SecretsClient (SM or PS), kept across reconciles (one per store)."""

    def __init__(self, spec: AwsStoreSpec, session: shared.AwsSession, *, where: str,
                 cache_seconds: float = CACHE_SECONDS, on_call: OnCall | None = None,
                 settings_source: Callable[[], Awaitable[shared.AwsSettings]] | None = None) -> None:
        self.spec = spec
        self.session = session
        self.settings_source = settings_source  # re-reads the credential Secret (rotation)
        self._generation = 0
        self._renew_lock = asyncio.Lock()
        self._last_check: tuple[int, float] = (-1, 0.0)
        self.where = where
        self.cache_seconds = cache_seconds
        self.on_call = on_call
        self.service = SERVICES[spec.service]
        self.provider = PROVIDER_LABELS[spec.service]
        self._shared = SharedReads(cache_seconds)
        self.requests = 0  # HTTP requests sent (retries included)
        self._count_lock = threading.Lock()

    # ------------------------------------------------------------------------------ calls

    def _client(self) -> Any:
        client = self.session.client(self.service)
        # unique_id: registering again (every call does) is a no-op
        client.meta.events.register("before-send", self._count, unique_id=f"secrets-kit-count-{id(self)}")
        return client

    def _count(self, **_: Any) -> None:
        with self._count_lock:
            self.requests += 1

    def _call(self, call: str, key: str, **kwargs: Any) -> Any:
        """One API call in a worker thread; NotFound codes become NoSecretError; no value in errors."""
        where = f"{self.where}: {key}" if key else self.where

        def once() -> Any:
            from botocore.exceptions import ClientError

            method = getattr(self._client(), _snake(call))
            try:
                answer = method(**kwargs)
            except ClientError as exc:
                code, message = _error_code(exc)
                if code in _NOT_FOUND or (code == "InvalidRequestException" and "marked for deletion" in message):
                    self._told(call, False)  # ESO's metric: any error is status "error"
                    raise NoSecretError("Secret does not exist", where=where) from None
                self._told(call, False)
                raise
            except Exception:
                self._told(call, False)
                raise
            self._told(call, True)
            return answer

        return shared.call(once, service=self.spec.service, what=call, where=where)

    def _told(self, call: str, ok: bool) -> None:
        if self.on_call is not None:
            self.on_call(self.provider, call, ok)

    async def _renewing(self, make: Callable[[], Awaitable[_T]]) -> _T:
        """Run a read; when AWS refuses the credentials, re-read the credential Secret once and, if
        it changed (rotated), retry with a new session."""
        generation = self._generation
        try:
            return await make()
        except KeyMaterialError:
            if self.settings_source is None or not await self._renew(generation):
                raise
        return await make()

    async def _renew(self, generation: int) -> bool:
        async with self._renew_lock:
            if self._generation != generation:
                return True  # another read renewed the session meanwhile
            now = asyncio.get_running_loop().time()
            if self._last_check[0] == generation and now - self._last_check[1] < max(self.cache_seconds, 1.0):
                return False  # checked just now: the Secret holds the refused keys
            self._last_check = (generation, now)
            assert self.settings_source is not None
            settings = await self.settings_source()
            if settings == self.session.settings:
                return False
            old, self.session = self.session, shared.AwsSession(settings)
            self._generation += 1
            reads, self._shared = self._shared.reads, SharedReads(self.cache_seconds)  # drop the old keys' answers
            self._shared.reads = reads
        await in_aws_thread(old.close)
        return True

    @property
    def reads(self) -> int:
        """API calls started (after sharing)."""
        return self._shared.reads

    async def _flight(self, flight_key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        """Shared with concurrent and recent reconciles (stores/_reads.py); failures are not kept."""
        return await self._shared.read(flight_key, lambda: in_aws_thread(fn))

    # ------------------------------------------------------------------------------ reads

    async def _read(self, key: str, version: str) -> str | bytes:
        """The raw value of one remote key (str: SecretString / parameter value; bytes: SecretBinary)."""
        return await self._renewing(lambda: self._read_full(self.spec.prefix + key, version))

    async def _read_full(self, name: str, version: str) -> str | bytes:
        if self.spec.service == SECRETS_MANAGER:
            kwargs: dict[str, Any] = {"SecretId": name}
            if version.startswith("uuid/"):
                kwargs["VersionId"] = version[len("uuid/"):]
            else:
                kwargs["VersionStage"] = version or "AWSCURRENT"

            def sm() -> str | bytes:
                answer = self._call("GetSecretValue", name, **kwargs)
                if answer.get("SecretString") is not None:
                    return str(answer["SecretString"])
                if answer.get("SecretBinary") is not None:
                    return bytes(answer["SecretBinary"])
                raise ProviderError(f"invalid secret received. no secret string nor binary for key: {name}",
                                    where=f"{self.where}: {name}")

            value: str | bytes = await self._flight(("GetSecretValue", *sorted(kwargs.items())), sm)
            return value
        full = f"{name}:{version}" if version else name

        def ps() -> str:
            answer = self._call("GetParameter", full, Name=full, WithDecryption=True)
            return str((answer.get("Parameter") or {}).get("Value") or "")

        text: str = await self._flight(("GetParameter", full), ps)
        return text

    async def get_secret(self, ref: RemoteRef) -> bytes:
        if ref.metadata_policy == METADATA_FETCH:
            raise ProviderError("metadataPolicy Fetch is not supported by secrets-kit's AWS provider yet",
                                where=f"{self.where}: {ref.key}")
        value = await self._read(ref.key, ref.version)
        raw = value if isinstance(value, bytes) else value.encode()
        if not ref.property:
            return raw
        payload = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        name = self.spec.prefix + ref.key
        return _property(payload, ref.property, key=name, where=f"{self.where}: {name}")

    async def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        raw = await self.get_secret(ref)
        name = self.spec.prefix + ref.key
        return _decode_map(raw, key=name, where=f"{self.where}: {name}")

    async def get_all_secrets(self, find: FindRef) -> dict[str, bytes]:
        matcher = compile_regexp(find.name_regexp, where=self.where) if find.name_regexp else None
        if matcher is None and not find.tags:
            raise ProviderError("find needs name.regexp or tags", where=self.where)
        if self.spec.service == SECRETS_MANAGER:
            names = await self._renewing(lambda: self._flight(("ListSecrets", find.read_key()),
                                                              lambda: self._list_secrets(find)))
        elif find.tags:
            names = await self._renewing(lambda: self._flight(("DescribeParameters", find.read_key()),
                                                              lambda: self._describe(find)))
        else:
            found: dict[str, str] = await self._renewing(lambda: self._flight(
                ("GetParametersByPath", find.path), lambda: self._by_path(find.path or "/")))
            return {n: v.encode() for n, v in found.items() if matcher is None or matcher.search(n)}
        chosen = [n for n in names if matcher is None or matcher.search(n)]
        gate = asyncio.Semaphore(FIND_CONCURRENCY)
        if self.spec.service == SECRETS_MANAGER:
            return await self._batch_values(chosen, gate)

        async def one(name: str) -> tuple[str, bytes | None]:
            async with gate:
                try:
                    value = await self._renewing(lambda: self._read_full(name, ""))  # read as named
                except NoSecretError:
                    return name, None
                return name, value if isinstance(value, bytes) else value.encode()

        results = await asyncio.gather(*(one(n) for n in chosen))
        return {name: value for name, value in results if value is not None}

    async def _batch_values(self, names: list[str], gate: asyncio.Semaphore) -> dict[str, bytes]:
        """The current values of `names`, BATCH_SIZE a BatchGetSecretValue call (each chunk one shared read)."""
        chunks = [tuple(names[i:i + BATCH_SIZE]) for i in range(0, len(names), BATCH_SIZE)]

        async def one(chunk: tuple[str, ...]) -> dict[str, bytes]:
            async with gate:
                got: dict[str, bytes] = await self._renewing(lambda: self._flight(
                    ("BatchGetSecretValue", chunk), lambda: self._batch(chunk)))
                return got

        out: dict[str, bytes] = {}
        for part in await asyncio.gather(*(one(c) for c in chunks)):
            out.update(part)
        return out

    def _batch(self, names: tuple[str, ...]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"SecretIdList": list(names)}
            if token:
                kwargs["NextToken"] = token
            page = self._call("BatchGetSecretValue", "", **kwargs)
            for item in page.get("SecretValues") or []:
                name = str(item.get("Name") or "")
                if item.get("SecretString") is not None:
                    out[name] = str(item["SecretString"]).encode()
                elif item.get("SecretBinary") is not None:
                    out[name] = bytes(item["SecretBinary"])
            for error in page.get("Errors") or []:
                code = str(error.get("ErrorCode") or "")
                gone = code in _NOT_FOUND or (code == "InvalidRequestException"
                                              and "marked for deletion" in str(error.get("Message") or ""))
                if not gone:  # deleted since the listing: skipped, as a NotFound read is
                    raise ProviderError(f"BatchGetSecretValue refused secret {error.get('SecretId')}: {code}",
                                        where=self.where)
            token = page.get("NextToken")
            if not token:
                return out

    def _list_secrets(self, find: FindRef) -> list[str]:
        filters: list[dict[str, Any]] = []
        if find.path:
            filters.append({"Key": "name", "Values": [find.path]})
        for k, v in sorted(find.tags.items()):
            filters.append({"Key": "tag-key", "Values": [k]})
            filters.append({"Key": "tag-value", "Values": [v]})
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MaxResults": 100}
            if filters:
                kwargs["Filters"] = filters
            if token:
                kwargs["NextToken"] = token
            page = self._call("ListSecrets", "", **kwargs)
            for item in page.get("SecretList") or []:
                name = str(item.get("Name") or "")
                if find.path and not name.startswith(find.path):
                    continue
                tags = {str(t.get("Key")): str(t.get("Value")) for t in item.get("Tags") or []}
                if any(tags.get(k) != v for k, v in find.tags.items()):
                    continue
                names.append(name)
            token = page.get("NextToken")
            if not token:
                return names

    def _by_path(self, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Path": path, "Recursive": True, "WithDecryption": True, "MaxResults": 10}
            if token:
                kwargs["NextToken"] = token
            page = self._call("GetParametersByPath", path, **kwargs)
            for item in page.get("Parameters") or []:
                out[str(item.get("Name") or "")] = str(item.get("Value") or "")
            token = page.get("NextToken")
            if not token:
                return out

    def _describe(self, find: FindRef) -> list[str]:
        filters: list[dict[str, Any]] = [{"Key": f"tag:{k}", "Option": "Equals", "Values": [v]}
                                         for k, v in sorted(find.tags.items())]
        if find.path:
            filters.append({"Key": "Path", "Option": "Recursive", "Values": [find.path]})
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ParameterFilters": filters, "MaxResults": 50}
            if token:
                kwargs["NextToken"] = token
            page = self._call("DescribeParameters", "", **kwargs)
            names.extend(str(p.get("Name") or "") for p in page.get("Parameters") or [])
            token = page.get("NextToken")
            if not token:
                return names

    async def validate(self) -> Validation:
        """ESO's Validate: Credentials.Retrieve (an STS call when a role is set)."""
        def retrieve() -> None:
            def get() -> None:
                creds = self.session._boto3_session().get_credentials()
                if creds is None:
                    from botocore.exceptions import NoCredentialsError

                    raise NoCredentialsError()
                creds.get_frozen_credentials()

            shared.call(get, service="STS" if self.spec.role else self.spec.service, what="retrieve credentials",
                        where=self.where)

        try:
            await in_aws_thread(retrieve)
        except SecretsKitError as exc:
            return Validation("Error", f"unable to validate store: {exc.message}")
        return Validation("Valid")

    async def close(self) -> None:
        await in_aws_thread(self.session.close)


def _snake(call: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in call).lstrip("_")


# ---------------------------------------------------------------------------------- building


async def new_client(spec: Mapping[str, Any], ctx: StoreContext, *, cache_seconds: float = CACHE_SECONDS,
                     on_call: OnCall | None = None) -> AwsStoreClient:
    """The store's client: credentials read from Kubernetes now, no AWS request until the first read."""
    s = parse_spec(spec, ctx.where)
    check_spec(spec, ctx)
    role = shared.AssumeRole(s.role, external_id=s.external_id or None, session_tags=s.session_tags) if s.role \
        else None
    secret_ref = s.secret_ref
    jwt_ref = s.jwt_ref if secret_ref is None else None  # ESO: secretRef's keys replace the jwt credentials
    loop = asyncio.get_running_loop()

    async def settings() -> shared.AwsSettings:
        keys: dict[str, str | None] = {}
        if secret_ref is not None:
            for name in _REF_FIELDS:
                ref = secret_ref.get(name)
                keys[name] = None if ref is None else await ctx.secret_ref(ref, f"auth.secretRef.{name}")
        web = await web_identity(jwt_ref, ctx, loop) if jwt_ref is not None else None
        return shared.AwsSettings(region=s.region, access_key_id=keys.get("accessKeyIDSecretRef"),
                                  secret_access_key=keys.get("secretAccessKeySecretRef"),
                                  session_token=keys.get("sessionTokenSecretRef") or None, web_identity=web,
                                  assume_role=role, retries=API_RETRIES)

    renewable = secret_ref is not None or jwt_ref is not None
    return AwsStoreClient(s, shared.AwsSession(await settings()), where=ctx.where, cache_seconds=cache_seconds,
                          on_call=on_call, settings_source=settings if renewable else None)


async def web_identity(ref: Mapping[str, Any], ctx: StoreContext,
                       loop: asyncio.AbstractEventLoop) -> shared.WebIdentity:
    """ESO's credsFromServiceAccount: the role and audience from the ServiceAccount's annotations; the
    token is requested from Kubernetes at each STS refresh (from boto3's worker thread, on `loop`)."""
    field = "auth.jwt.serviceAccountRef"
    ns, account = await ctx.service_account(ref, field)
    annotations = (account.get("metadata") or {}).get("annotations") or {}
    role_arn = str(annotations.get(ROLE_ANNOTATION) or "")
    if not role_arn:
        raise ProviderError(f"an IAM role must be associated with service account {ref['name']} (namespace: {ns})",
                            where=ctx.where, hint=f"annotate the ServiceAccount with {ROLE_ANNOTATION}")
    audiences = [str(annotations.get(AUDIENCE_ANNOTATION) or DEFAULT_AUDIENCE)]
    audiences += [str(a) for a in ref.get("audiences") or []]

    def token() -> str:
        value = on_loop(loop, lambda: ctx.service_account_token(ref, field, audiences, TOKEN_SECONDS))
        if not value:
            raise KeyMaterialError("the TokenRequest returned no token", where=f"ServiceAccount {ns}/{ref['name']}")
        return value

    return shared.WebIdentity(role_arn, token_source=token)
