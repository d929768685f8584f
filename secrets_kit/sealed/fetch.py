"""Where a sealing certificate comes from: a file, a URL, or the controller through the API server.

kubeseal's rules: a value without a URL scheme is a local path; `http(s)://` and
`file://` are fetched. From a cluster the certificate is read through the API server's
service proxy, `/api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy/v1/cert.pem`,
where `<port>` is the name of the Service's first port.

When the Service is not found under the default name, we look for the one the Helm
chart makes (label `app.kubernetes.io/name=sealed-secrets`): the chart names it after
the release, which is the most reported kubeseal failure.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .. import limits
from ..errors import ConfigError, KeyMaterialError, ProviderError

if TYPE_CHECKING:  # HTTP and kubeconfig code loads only when a certificate is fetched
    from ..k8s.kubeconfig import ClusterAccess, Overrides

DEFAULT_CONTROLLER_NAME = "sealed-secrets-controller"
DEFAULT_CONTROLLER_NAMESPACE = "kube-system"
CHART_SELECTOR = "app.kubernetes.io/name=sealed-secrets"


# Sealing from a file is the common case: it loads neither json nor urllib.parse (with ipaddress),
# which the URL and cluster paths below import when they run.
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_C0_OR_SPACE = "".join(map(chr, range(33)))


def url_scheme(spec: str) -> str:
    """The scheme urllib.parse.urlsplit finds in `spec` (lower case; "" for none), without importing it:
    leading C0 controls and spaces dropped, tabs and newlines removed, then letters, digits, `+-.`
    starting with a letter, before the first colon."""
    url = spec.lstrip(_C0_OR_SPACE).replace("\t", "").replace("\r", "").replace("\n", "")
    colon = url.find(":")
    if colon > 0 and url[0].isascii() and url[0].isalpha() and _SCHEME_CHARS.issuperset(url[:colon]):
        return url[:colon].lower()
    return ""


def is_local_path(spec: str) -> bool:
    scheme = url_scheme(spec)
    return scheme == "" or (len(scheme) == 1 and scheme.isalpha())  # a Windows drive letter


def shown_url(spec: str) -> str:
    """A URL as messages may show it: any user:password@ part replaced by ***@."""
    import urllib.parse

    parts = urllib.parse.urlsplit(spec)
    if parts.username is None and parts.password is None:
        return spec
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def read_cert_source(spec: str, *, timeout: float = 30.0) -> bytes:
    """The bytes at a cert path or URL (http, https, file)."""
    if is_local_path(spec):
        return _read_file(os.path.expanduser(spec), spec)
    import urllib.error
    import urllib.parse
    import urllib.request

    scheme = urllib.parse.urlsplit(spec).scheme.lower()
    if scheme == "file":
        return _read_file(urllib.request.url2pathname(urllib.parse.urlsplit(spec).path), spec)
    where = shown_url(spec)
    if scheme not in ("http", "https"):
        raise KeyMaterialError(f"unsupported protocol scheme {scheme!r}", where=where,
                               hint="use a path, file://, http:// or https://")
    req = urllib.request.Request(spec, headers={"Accept": "application/x-pem-file, */*",
                                                "User-Agent": "secrets-kit"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = bytes(resp.read(limits.BYTES.value + 1))  # a server that never stops sending is refused
        limits.check_size(body, where)
        return body
    except urllib.error.HTTPError as ex:
        raise ProviderError(f"cannot fetch certificate: {ex.code} {ex.reason}", where=where) from None
    except (urllib.error.URLError, OSError) as ex:
        raise ProviderError(f"cannot fetch certificate: {getattr(ex, 'reason', ex)}", where=where) from None


def _read_file(path: str, spec: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as ex:
        raise KeyMaterialError(f"cannot read certificate: {ex.strerror}", where=spec) from None


def proxy_path(namespace: str, name: str, port: str, suffix: str) -> str:
    import urllib.parse

    q = urllib.parse.quote
    return f"/api/v1/namespaces/{q(namespace, safe='')}/services/http:{q(name, safe='')}:{q(port, safe='')}" \
           f"/proxy{suffix}"


def status_message(status: int, body: bytes, *, text_fallback: bool = False) -> str:
    """The API server's (or controller's) `message`; else, when asked, the start of a plain-text body."""
    import json

    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip()[:200] if text_fallback else None
    return str(message or f"HTTP {status}")


def controller_port(access: ClusterAccess, namespace: str, name: str, *, discover: bool) -> tuple[str, str]:
    """(service name, first port name) of the controller's Service."""
    import urllib.parse

    from ..k8s.kubeconfig import request

    q = urllib.parse.quote
    status, body = request(access, f"/api/v1/namespaces/{q(namespace, safe='')}/services/{q(name, safe='')}")
    if status == 404 and discover:
        found = _discover(access, namespace)
        if found:
            return found
    if status != 200:
        raise ProviderError(
            f"cannot get sealed secret service: {status_message(status, body)}", where=f"{namespace}/{name}",
            hint="use the flags --controller-name and --controller-namespace to name the sealed secrets "
                 "controller's Service (the Helm chart names it after the release, e.g. sealed-secrets)")
    return name, _first_port(body)


def _first_port(body: bytes) -> str:
    import json

    try:
        ports = json.loads(body)["spec"]["ports"]
        return str(ports[0].get("name") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ProviderError("the controller's Service has no ports") from None


def _discover(access: ClusterAccess, namespace: str) -> tuple[str, str] | None:
    import json
    import urllib.parse

    from ..k8s.kubeconfig import request

    q = urllib.parse.quote
    status, body = request(access, f"/api/v1/namespaces/{q(namespace, safe='')}/services"
                                   f"?labelSelector={q(CHART_SELECTOR, safe='')}")
    if status != 200:
        return None
    try:
        items = json.loads(body).get("items") or []
    except (ValueError, AttributeError):
        return None
    services = [i for i in items if isinstance(i, dict) and (i.get("spec") or {}).get("ports")]
    if len(services) != 1:
        return None  # none, or ambiguous: better to ask for --controller-name
    svc = services[0]
    return str(svc["metadata"]["name"]), str(svc["spec"]["ports"][0].get("name") or "")


POINT_AT_A_CLUSTER = ("point at a cluster with --kubeconfig FILE or KUBECONFIG=FILE, whose current context "
                      "reaches its API server; or seal offline with --cert FILE|URL")


class NoClusterConfigured(ConfigError):
    """No kubeconfig (or --server) says which cluster to talk to."""


def cluster_access(overrides: Overrides) -> ClusterAccess:
    from ..k8s.kubeconfig import resolve

    access = resolve(overrides)
    if access is None:
        raise NoClusterConfigured("no kubeconfig found to reach the cluster", hint=POINT_AT_A_CLUSTER)
    return access


def fetch_cluster_cert(overrides: Overrides, *, namespace: str = DEFAULT_CONTROLLER_NAMESPACE,
                       name: str = DEFAULT_CONTROLLER_NAME, discover: bool = True) -> bytes:
    """The controller's current certificate, read through the API server's service proxy."""
    from ..k8s.kubeconfig import request

    access = cluster_access(overrides)
    service, port = controller_port(access, namespace, name, discover=discover)
    status, body = request(access, proxy_path(namespace, service, port, "/v1/cert.pem"),
                           accept="application/x-pem-file, */*")
    if status != 200:
        raise ProviderError(f"cannot fetch certificate: {status_message(status, body)}",
                            where=f"{namespace}/{service}")
    return body


def controller_post(overrides: Overrides, suffix: str, body: bytes, *, namespace: str, name: str,
                    discover: bool = True) -> tuple[int, bytes]:
    """POST to the controller's /v1/verify or /v1/rotate through the service proxy."""
    from ..k8s.kubeconfig import request

    access = cluster_access(overrides)
    service, port = controller_port(access, namespace, name, discover=discover)
    return request(access, proxy_path(namespace, service, port, suffix), method="POST", body=body,
                   content_type="application/json")
