"""Settings of one render, gathered from the command line, Argo CD's environment, the app's
`.secrets-kit.yaml` and the operator's own environment.

Precedence, highest first: command-line flags, Argo CD parameters (`PARAM_*`), Argo CD
plugin env (`ARGOCD_ENV_*`), the app's `.secrets-kit.yaml`, then the sidecar's
`SECRETS_KIT_*` defaults. `PARAM_*`, `ARGOCD_ENV_*` and the config file are written by
application authors, so they are treated as untrusted:
- a certificate path they give must stay inside the repository and is used only when the
  operator set no `SECRETS_KIT_SEAL_TO`; a cluster name only selects `<name>.pem` from the
  operator's `SECRETS_KIT_CERTS_DIR`;
- they can turn zero-plaintext mode on, never off when the operator requires it
  (`SECRETS_KIT_REQUIRE_SEAL=1`);
- they choose a provider by name; its connection settings come from the sidecar's
  environment (a fake store file must be inside the repository).

Argo CD variables read: ARGOCD_APP_NAME (helm release), ARGOCD_APP_NAMESPACE (destination
namespace), ARGOCD_APP_SOURCE_PATH (finds the repository root), KUBE_VERSION and
KUBE_API_VERSIONS (helm capabilities).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, KeyMaterialError
from ..k8s.manifests import load_documents
from .paths import find_root, relative, resolve_in_root
from .pipeline import RenderOptions, SealTarget
from .source import HelmSettings

CONFIG_FILE = ".secrets-kit.yaml"
CONFIG_KIND = "RenderConfig"
CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


@dataclass
class CliSettings:
    """What the command line asked for; None means "not given"."""

    seal_to: Path | None = None
    cluster: str | None = None
    namespace: str | None = None
    release: str | None = None
    values: list[str] = field(default_factory=list)
    recurse: bool | None = None
    provider: str | None = None
    provider_config: Path | None = None
    reseal_key: Path | None = None
    verify_keys: list[Path] = field(default_factory=list)
    allow_expired_cert: bool = False
    root: Path | None = None


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _param(env: Mapping[str, str], name: str) -> str | None:
    """A plugin setting from PARAM_<NAME> or else ARGOCD_ENV_<NAME> (either may be absent)."""
    for key in (f"PARAM_{name}", f"ARGOCD_ENV_{name}"):
        if env.get(key, "") != "":
            return env[key]
    return None


def _param_list(env: Mapping[str, str], name: str) -> list[str]:
    """An array parameter: PARAM_<NAME>_0, _1, ... (Argo CD's form), else a comma list in PARAM_<NAME>."""
    items = []
    index = 0
    while f"PARAM_{name}_{index}" in env:
        items.append(env[f"PARAM_{name}_{index}"])
        index += 1
    if items:
        return items
    single = _param(env, name)
    return [part.strip() for part in single.split(",") if part.strip()] if single else []


def read_app_config(app: Path, root: Path) -> dict[str, Any]:
    path = app / CONFIG_FILE
    if not path.is_file():
        return {}
    label = relative(root, path)
    docs = load_documents(path.read_bytes(), source=label)
    if len(docs) != 1 or docs[0].get("kind") != CONFIG_KIND:
        raise ConfigError(f"expected one {CONFIG_KIND} document", where=label)
    known = {"apiVersion", "kind", "metadata", "cluster", "sealTo", "zeroPlaintext", "recurse", "helm", "provider"}
    unknown = sorted(set(docs[0]) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}", where=label)
    return docs[0]


def _cert_for_cluster(name: str, env: Mapping[str, str]) -> Path:
    if not CLUSTER_NAME.match(name):
        raise ConfigError(f"invalid cluster name {name!r}")
    folder = env.get("SECRETS_KIT_CERTS_DIR")
    if not folder:
        raise ConfigError(f"cluster {name!r} requested but SECRETS_KIT_CERTS_DIR is not set",
                          hint="the operator mounts one <cluster>.pem per destination cluster there")
    for suffix in (".pem", ".crt"):
        candidate = Path(folder) / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise KeyMaterialError(f"no sealing certificate for cluster {name!r}", where=folder)


def load_seal_target(cert_path: Path, *, reseal_key: Path | None, allow_expired: bool) -> SealTarget:
    from ..sealed.certs import load_cert
    from .reseal import load_reseal_key

    try:
        data = cert_path.read_bytes()
    except OSError as ex:
        raise KeyMaterialError(f"cannot read the sealing certificate: {ex.strerror}", where=str(cert_path)) from None
    cert = load_cert(data, str(cert_path))
    cert.check_usable(allow_expired=allow_expired)
    key, _ = load_reseal_key(reseal_key)
    return SealTarget(cert.public_key, cert.fingerprint, key, str(cert_path))


def provider_factory(kind: str | None, config: Mapping[str, Any], root: Path, app: Path) -> Any:
    if not kind:
        return None
    settings = dict(config)
    if kind == "fake":
        file = settings.get("file")
        if not isinstance(file, str):
            raise ConfigError("the fake provider needs file: <path of a FakeSecretStore>")
        settings["file"] = str(resolve_in_root(root, app, file, what="fake store", where=CONFIG_FILE))
    else:
        # Connection settings of real stores come from the sidecar's environment only.
        settings = {k: v for k, v in settings.items() if k in ("region",)}
    return _trusted_factory(kind, settings)


def options_from(app: Path, env: Mapping[str, str], cli: CliSettings | None = None) -> RenderOptions:
    """The RenderOptions for rendering `app` under `env` (os.environ in production)."""
    cli = cli or CliSettings()
    app = app.resolve()
    root = (cli.root or find_root(app, source_path=env.get("ARGOCD_APP_SOURCE_PATH"))).resolve()
    config = read_app_config(app, root)

    # --- where to seal (zero-plaintext mode)
    cert: Path | None = cli.seal_to
    cluster = cli.cluster or _param(env, "CLUSTER") or config.get("cluster")
    app_seal_to = _param(env, "SEAL_TO") or config.get("sealTo")
    if cert is None and cluster:
        cert = _cert_for_cluster(str(cluster), env)
    # The operator's certificate beats one named by the app: an app author must not be able
    # to redirect re-sealed Secrets to a key they hold.
    if cert is None and env.get("SECRETS_KIT_SEAL_TO"):
        cert = Path(env["SECRETS_KIT_SEAL_TO"])
    if cert is None and app_seal_to:
        cert = resolve_in_root(root, app, str(app_seal_to), what="sealTo certificate", where=CONFIG_FILE)
    wanted = _param(env, "ZERO_PLAINTEXT")
    zero = _bool(wanted if wanted is not None else config.get("zeroPlaintext", False), "zeroPlaintext")
    required = _bool(env.get("SECRETS_KIT_REQUIRE_SEAL", "false"), "SECRETS_KIT_REQUIRE_SEAL")
    if (zero or required) and cert is None:
        raise ConfigError("zero-plaintext mode is required but no sealing certificate is configured",
                          hint="pass --seal-to CERT, a cluster name, or set SECRETS_KIT_SEAL_TO")
    target = None
    if cert is not None:
        target = load_seal_target(cert, reseal_key=cli.reseal_key, allow_expired=cli.allow_expired_cert)

    # --- helm
    helm_config = config.get("helm") or {}
    if not isinstance(helm_config, dict):
        raise ConfigError("helm must be a mapping", where=CONFIG_FILE)
    values = cli.values or _param_list(env, "VALUES_FILES") or list(helm_config.get("valuesFiles") or [])
    release = (cli.release or _param(env, "RELEASE_NAME") or helm_config.get("releaseName")
               or env.get("ARGOCD_APP_NAME") or None)
    api_versions = [v for v in (env.get("KUBE_API_VERSIONS") or "").split(",") if v]
    helm = HelmSettings(release=release, values_files=[str(v) for v in values],
                        kube_version=env.get("KUBE_VERSION") or None, api_versions=api_versions)

    # --- provider for placeholders
    provider_config: dict[str, Any] = {}
    kind = cli.provider or _param(env, "PROVIDER")
    if cli.provider_config is not None:
        docs = load_documents(cli.provider_config.read_bytes(), source=str(cli.provider_config))
        provider_config = docs[0] if docs else {}
        kind = kind or provider_config.pop("kind", None)
    elif isinstance(config.get("provider"), dict):
        provider_config = dict(config["provider"])
        kind = kind or provider_config.pop("kind", None)
    provider_config.pop("kind", None)
    if cli.provider_config is not None and kind == "fake" and "file" in provider_config:
        # A file given on the command line is trusted: resolve it next to that file, no root check.
        provider_config["file"] = str((cli.provider_config.parent / provider_config["file"]).resolve())
        factory = _trusted_factory(kind, provider_config)
    else:
        factory = provider_factory(kind, provider_config, root, app)

    recurse = cli.recurse
    if recurse is None:
        param = _param(env, "RECURSE")
        recurse = _bool(param if param is not None else config.get("recurse", False), "recurse")

    verify = None
    if cli.verify_keys:
        from ..sealed.keyfiles import read_private_keys

        verify = read_private_keys(cli.verify_keys)

    return RenderOptions(app=app, root=root, namespace=cli.namespace or env.get("ARGOCD_APP_NAMESPACE") or None,
                         recurse=recurse, helm=helm, seal_to=target, verify_keys=verify, provider_factory=factory)


def _trusted_factory(kind: str, settings: dict[str, Any]) -> Any:
    """Opens (and validates) the provider on first use, with settings already checked."""

    def factory() -> Any:
        from ..providers import open_provider

        provider = open_provider(kind, settings)
        provider.validate()
        return provider

    return factory
