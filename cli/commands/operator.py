"""`secrets-kit operator run`: the in-cluster controllers (a drop-in for Bitnami's sealed-secrets
controller). Flags are upstream's and, like upstream, also read from SEALED_SECRETS_<FLAG> variables.
kopf and the async Kubernetes client load only when the operator runs."""

from __future__ import annotations

import os
from typing import Any

import click

from secrets_kit.errors import EXIT_USAGE

ENV = "SEALED_SECRETS_"


def _env(flag: str) -> str:
    return ENV + flag.upper().replace("-", "_")


def _opt(flag: str, **kwargs: Any) -> Any:
    """An upstream controller flag (`--flag=value`), with its SEALED_SECRETS_* variable."""
    name = flag.replace("-", "_")
    if kwargs.get("type") is click.BOOL:
        kwargs.setdefault("is_flag", False)
        kwargs.setdefault("flag_value", True)  # `--flag` alone means true, `--flag=false` works too
    return click.option(f"--{flag}", name, envvar=_env(flag), show_default=True, show_envvar=True, **kwargs)


def _own_namespace() -> str:
    """As upstream: $POD_NAMESPACE, else the service account's namespace file, else `default`."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"


@click.group(name="operator", help="Run the in-cluster controllers (sealed secrets; external secrets: not built yet).")
def operator() -> None:
    pass


@operator.command(name="run", context_settings={"max_content_width": 110})
@click.option("--sealed-secrets/--no-sealed-secrets", default=True, show_default=True,
              help="Run the SealedSecret controller (drop-in for Bitnami's).")
@click.option("--external-secrets/--no-external-secrets", default=False,
              help="Run the ExternalSecret controller (not built yet).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Run out of cluster with this kubeconfig (default: $KUBECONFIG, else in-cluster config).")
@click.option("--namespace", "namespace", default=None,
              help="The controller's namespace (its key Secrets). Default: $POD_NAMESPACE, the service "
                   "account's namespace, else `default`.")
@_opt("key-prefix", default="sealed-secrets-key", help="Prefix used to name keys.")
@_opt("key-size", type=int, default=4096, help="Size of encryption key.")
@_opt("key-ttl", default="87600h", help="Duration that certificate is valid for.")
@_opt("my-cn", default="", help="Common name to be used as issuer/subject DN in generated certificate.")
@_opt("key-renew-period", default="720h", help="New key generation period (automatic rotation off if 0).")
@_opt("key-cutoff-time", default="", help="Create a new key if the latest one is older than this (RFC1123, `date -R`).")
@_opt("key-order-priority", type=click.Choice(["CertNotBefore", "SecretCreationTimestamp"]),
      default="CertNotBefore", help="Which key is the newest: by certificate NotBefore or Secret creation time.")
@_opt("privatekey-labels", default="", help="Comma-separated k=v labels put on new sealing keys.")
@_opt("privatekey-annotations", default="", help="Comma-separated k=v annotations put on new sealing keys.")
@_opt("generate-key", type=click.BOOL, default=True,
      help="Create the first key when none exists; false refuses to start without one (bring your own keys).")
@_opt("update-status", type=click.BOOL, default=True, help="Write the SealedSecret status subresource.")
@_opt("skip-recreate", type=click.BOOL, default=False, help="Do not re-create deleted managed Secrets.")
@_opt("accept-deprecated-v1-data", type=click.BOOL, default=True, help="Accept the deprecated v1 data field.")
@_opt("all-namespaces", type=click.BOOL, default=True, help="Scan all namespaces, or only the controller's.")
@_opt("additional-namespaces", default="", help="Comma-separated additional namespaces to scan.")
@_opt("label-selector", default="", help="Only SealedSecrets matching this label selector.")
@_opt("listen-addr", default=":8080", help="HTTP API address (/healthz, /readyz, /v1/cert.pem, /v1/verify, /v1/rotate).")
@_opt("listen-metrics-addr", default=":8081", help="Prometheus /metrics address.")
@_opt("log-format", type=click.Choice(["text", "json"]), default="text", help="Log format.")
@_opt("log-level", type=click.Choice(["DEBUG", "INFO", "WARN", "ERROR"], case_sensitive=False), default="INFO",
      help="Log level.")
@_opt("max-unseal-retries", type=int, default=5, help="Max retries of a failed Secret write.")
@_opt("workers", type=click.IntRange(1, 256), default=4, help="Concurrent reconciles (beyond upstream).")
def run(sealed_secrets: bool, external_secrets: bool, kubeconfig: str | None, namespace: str | None,
        **flags: Any) -> None:
    """Run the operator until SIGTERM/SIGINT.

    \b
    Out of cluster:  secrets-kit operator run --kubeconfig ~/.kube/config --namespace kube-system
    In a Pod:        the Deployment in operator/deploy/ (in-cluster service account)
    """
    if external_secrets:
        click.echo("secrets-kit: error: --external-secrets: the ExternalSecret controller is not built yet", err=True)
        raise SystemExit(EXIT_USAGE)
    if not sealed_secrets:
        click.echo("secrets-kit: error: nothing to run: --no-sealed-secrets and no other controller", err=True)
        raise SystemExit(EXIT_USAGE)
    from secrets_kit_operator import lean_imports

    lean_imports.install()  # before kopf: ~60 MiB less resident memory
    from secrets_kit_operator import logs
    from secrets_kit_operator.options import Options, parse_address, parse_cutoff, parse_go_duration

    from secrets_kit.sealed.controller_keys import parse_key_map

    try:
        options = Options(
            namespace=namespace or _own_namespace(), kubeconfig=kubeconfig,
            key_prefix=flags["key_prefix"], key_size=flags["key_size"],
            key_ttl=parse_go_duration(flags["key_ttl"], "--key-ttl"), my_cn=flags["my_cn"],
            key_renew_period=parse_go_duration(flags["key_renew_period"], "--key-renew-period"),
            key_cutoff_time=parse_cutoff(flags["key_cutoff_time"]),
            key_order_priority=flags["key_order_priority"],
            privatekey_labels=parse_key_map(flags["privatekey_labels"], "--privatekey-labels"),
            privatekey_annotations=parse_key_map(flags["privatekey_annotations"], "--privatekey-annotations"),
            generate_first_key=flags["generate_key"], update_status=flags["update_status"],
            skip_recreate=flags["skip_recreate"], accept_v1_data=flags["accept_deprecated_v1_data"],
            all_namespaces=flags["all_namespaces"],
            additional_namespaces=tuple(n.strip() for n in flags["additional_namespaces"].split(",") if n.strip()),
            label_selector=flags["label_selector"],
            listen_addr=parse_address(flags["listen_addr"], "--listen-addr"),
            listen_metrics_addr=parse_address(flags["listen_metrics_addr"], "--listen-metrics-addr"),
            max_unseal_retries=flags["max_unseal_retries"], workers=flags["workers"],
        )
        from secrets_kit_operator.selectors import compile_selector

        compile_selector(options.label_selector)
    except ValueError as err:  # OptionError, or a bad k=v pair
        click.echo(f"secrets-kit: error: {err}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    logs.setup(flags["log_format"], flags["log_level"])
    from secrets_kit_operator.process import run as run_operator

    raise SystemExit(run_operator(options))
