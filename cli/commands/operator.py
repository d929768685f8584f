"""`secrets-kit operator run`: the in-cluster controllers — a drop-in for Bitnami's sealed-secrets
controller, and (`--external-secrets`) an External-Secrets-Operator-compatible ExternalSecret controller.
The sealed flags are upstream's and, like upstream, also read from SEALED_SECRETS_<FLAG> variables; the
ExternalSecret flags take ESO's names. kopf and the async Kubernetes client load only when the operator runs."""

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


@click.group(name="operator", help="Run the in-cluster controllers (sealed secrets; external secrets).")
def operator() -> None:
    pass


@operator.command(name="run", context_settings={"max_content_width": 110})
@click.option("--sealed-secrets/--no-sealed-secrets", default=True, show_default=True,
              help="Run the SealedSecret controller (drop-in for Bitnami's).")
@click.option("--external-secrets/--no-external-secrets", default=False,
              help="Run the ExternalSecret controller (ESO-compatible: external-secrets.io v1/v1beta1 "
                   "ExternalSecret, SecretStore, ClusterSecretStore, ClusterExternalSecret). With "
                   "--no-sealed-secrets, only it.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Run out of cluster with this kubeconfig (default: $KUBECONFIG, else in-cluster config).")
@click.option("--namespace", "namespace", default=None,
              help="Sealed secrets: the controller's namespace (its key Secrets). Default: $POD_NAMESPACE, "
                   "the service account's namespace, else `default`. With --external-secrets it is ESO's "
                   "--namespace instead: watch ExternalSecrets and SecretStores in this namespace only "
                   "(default: all); the sealed controller then keeps its keys in $POD_NAMESPACE / the "
                   "service account's namespace.")
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
@click.option("--controller-class", default="default", show_default=True,
              help="[external-secrets] Handle only stores whose spec.controller is empty or this class.")
@click.option("--concurrent", type=click.IntRange(1, 1024), default=64, show_default=True,
              help="[external-secrets] Concurrent reconciles (ESO's default is 1; 64 keeps the API server busy).")
@click.option("--client-qps", type=float, default=0.0, show_default=True,
              help="[external-secrets] Client-side request rate limit, requests/s (0: none, the API "
                   "server's priority and fairness applies; ESO's default is 50).")
@click.option("--client-burst", type=click.IntRange(1), default=400, show_default=True,
              help="[external-secrets] Burst above --client-qps (ESO's default is 100).")
@click.option("--metrics-addr", default=None,
              help="[external-secrets] Prometheus /metrics (plus /healthz, /readyz) address, e.g. :8080. "
                   "Default: :8080 when the sealed controller is off; else the ExternalSecret metrics are "
                   "served with the sealed ones on --listen-metrics-addr.")
@click.option("--enable-leader-election", type=click.BOOL, default=False, show_default=True,
              is_flag=False, flag_value=True,
              help="[external-secrets] Reconcile only while holding the coordination.k8s.io Lease "
                   "`external-secrets-controller` in the controller's namespace ($POD_NAMESPACE, the service "
                   "account's, else `default`); lease 15s, renew deadline 10s, retry 2s, as ESO. Needs "
                   "--no-sealed-secrets.")
@click.option("--shards", type=click.IntRange(1, 64), default=1, show_default=True,
              help="[external-secrets] Beyond ESO: split the work over replicas by namespace. Each object "
                   "belongs to shard sha256(namespace) mod N (cluster-scoped ones: by name); each shard is the "
                   "Lease `secrets-kit-external-shard-<i>-of-<N>` in the controller's namespace, and each replica "
                   "holds about N / live replicas of them (membership Leases "
                   "`secrets-kit-external-member-*`). A stopped replica's shards are taken over within one "
                   "lease period; no object is handled by two replicas at once. Every replica needs the same "
                   "N; a few shards per replica is plenty (each held shard is one Lease write per retry "
                   "period). 1: one replica does everything. Needs --no-sealed-secrets; not with "
                   "--enable-leader-election.")
@click.option("--shard-lease-duration", default="15s", show_default=True,
              help="[external-secrets] The shard Leases' duration (a Go duration, at least 3s); renew "
                   "deadline 2/3 of it, retry every 2/15 of it (15s: 10s and 2s, as leader election).")
@click.option("--store-requeue-interval", default="5m", show_default=True,
              help="[external-secrets] Re-validate (Cluster)SecretStores this often unless the store sets "
                   "spec.refreshInterval (a Go duration).")
@click.option("--provider-read-window", default="30s", show_default=True,
              help="[external-secrets] Beyond ESO: ExternalSecrets reading the same remote key (store, key, "
                   "version) within this window share one provider read, so a first sync of 1,000 "
                   "ExternalSecrets on 100 Vault paths costs 100 reads. A value changed in the provider "
                   "inside the window reaches Secrets at their next refresh. 0 reads on every reconcile, as ESO.")
@click.option("--refresh-jitter", type=click.FloatRange(0.0, 1.0), default=0.1, show_default=True,
              help="[external-secrets] Beyond ESO: each periodic refresh comes up to this fraction of its "
                   "refreshInterval late (capped by --refresh-jitter-max), so ExternalSecrets created or "
                   "restored together do not refresh together; refreshes found overdue at start-up are spread "
                   "over the same window.")
@click.option("--refresh-jitter-max", default="5m", show_default=True,
              help="[external-secrets] The most a refresh is delayed by --refresh-jitter (a Go duration).")
@click.option("--enable-flood-gate", type=click.BOOL, default=True, show_default=True,
              is_flag=False, flag_value=True,
              help="[external-secrets] Sync an ExternalSecret only while its store is Ready.")
@click.option("--template-left-delimiter", default="{{", show_default=True,
              help="[external-secrets] Left delimiter of target.template (engine v2).")
@click.option("--template-right-delimiter", default="}}", show_default=True,
              help="[external-secrets] Right delimiter of target.template (engine v2).")
def run(sealed_secrets: bool, external_secrets: bool, kubeconfig: str | None, namespace: str | None,
        **flags: Any) -> None:
    """Run the operator until SIGTERM/SIGINT.

    \b
    Out of cluster:  secrets-kit operator run --kubeconfig ~/.kube/config --namespace kube-system
    In a Pod:        the Deployment in operator/deploy/ (in-cluster service account)
    ESO only:        secrets-kit operator run --external-secrets --no-sealed-secrets [--namespace NS]
    """
    if not sealed_secrets and not external_secrets:
        click.echo("secrets-kit: error: nothing to run: --no-sealed-secrets and no other controller", err=True)
        raise SystemExit(EXIT_USAGE)
    if flags["enable_leader_election"] and (sealed_secrets or not external_secrets):
        click.echo("secrets-kit: error: --enable-leader-election: only for the ExternalSecret controller alone "
                   "(--external-secrets --no-sealed-secrets); the sealed controller runs as a single replica",
                   err=True)
        raise SystemExit(EXIT_USAGE)
    if flags["shards"] > 1 and (sealed_secrets or not external_secrets or flags["enable_leader_election"]):
        click.echo("secrets-kit: error: --shards: only for the ExternalSecret controller alone "
                   "(--external-secrets --no-sealed-secrets), and not with --enable-leader-election (the "
                   "shard Leases already keep every object to one replica)", err=True)
        raise SystemExit(EXIT_USAGE)
    from secrets_kit_operator import lean_imports

    lean_imports.install()  # before kopf: ~60 MiB less resident memory
    from secrets_kit_operator import logs
    from secrets_kit_operator.options import Options, parse_address, parse_cutoff, parse_go_duration

    from secrets_kit.sealed.controller_keys import parse_key_map

    external = None
    try:
        if external_secrets:
            from secrets_kit_operator.external.options import ExternalOptions

            metrics_addr = flags["metrics_addr"]
            if metrics_addr is None and not sealed_secrets:
                metrics_addr = ":8080"
            external = ExternalOptions(
                namespace=namespace or None, kubeconfig=kubeconfig, controller_class=flags["controller_class"],
                concurrent=flags["concurrent"], client_qps=flags["client_qps"], client_burst=flags["client_burst"],
                metrics_addr=parse_address(metrics_addr, "--metrics-addr") if metrics_addr else None,
                store_requeue_interval=parse_go_duration(flags["store_requeue_interval"], "--store-requeue-interval"),
                enable_flood_gate=flags["enable_flood_gate"],
                provider_read_window=parse_go_duration(flags["provider_read_window"],
                                                       "--provider-read-window").total_seconds(),
                refresh_jitter=flags["refresh_jitter"],
                refresh_jitter_max=parse_go_duration(flags["refresh_jitter_max"], "--refresh-jitter-max"),
                enable_leader_election=flags["enable_leader_election"], leader_election_namespace=_own_namespace(),
                shards=flags["shards"],
                shard_lease_duration=parse_go_duration(flags["shard_lease_duration"],
                                                       "--shard-lease-duration").total_seconds(),
                template_left_delimiter=flags["template_left_delimiter"],
                template_right_delimiter=flags["template_right_delimiter"])
            if external.store_requeue_interval.total_seconds() <= 0:
                raise ValueError("--store-requeue-interval: must be positive")
            if external.shard_lease_duration < 3:
                raise ValueError("--shard-lease-duration: at least 3s")
            namespace = None  # ESO's meaning; the sealed keys live in the controller's own namespace
        options = None if not sealed_secrets else Options(
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

        if options is not None:
            compile_selector(options.label_selector)
    except ValueError as err:  # OptionError, or a bad k=v pair
        click.echo(f"secrets-kit: error: {err}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    logs.setup(flags["log_format"], flags["log_level"])
    from secrets_kit_operator.process import run as run_operator

    raise SystemExit(run_operator(options, external))


@operator.command(name="refresh")
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None,
              help="The ExternalSecrets' namespace [default: the kubeconfig context's namespace, else default].")
@click.option("--all", "every", is_flag=True, help="Every ExternalSecret of the namespace.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Kubeconfig file (default: $KUBECONFIG, else in-cluster).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def refresh(names: tuple[str, ...], namespace: str | None, every: bool, kubeconfig: str | None, output: str) -> None:
    """Sync ExternalSecrets now: set ESO's `force-sync` annotation (ours and ESO read the provider again).

    \b
    secrets-kit operator refresh app-db -n team-a
    secrets-kit operator refresh --all -n team-a -o json

    Exit codes: 0 every one refreshed, 1 one or more not found or refused, 2 usage.
    """
    import asyncio
    import json

    from secrets_kit.errors import EXIT_ERROR

    if bool(names) == every:
        click.echo("secrets-kit: error: name one or more ExternalSecrets, or give --all", err=True)
        raise SystemExit(EXIT_USAGE)
    from secrets_kit_operator.external.refresh import refresh as run_refresh

    from .operator_keys import context_namespace

    namespace = namespace or context_namespace(kubeconfig)

    try:
        rows = asyncio.run(run_refresh(kubeconfig, namespace, list(names), every))
    except OSError as err:  # connection refused, TLS, an unreadable kubeconfig
        click.echo(f"secrets-kit: error: cannot reach the API server: {type(err).__name__}: {err}", err=True)
        raise SystemExit(EXIT_ERROR) from None
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            where = f"ExternalSecret {row['namespace']}/{row['name']}"
            if row["refreshed"]:
                click.echo(f"{where}: refresh requested")
            else:
                click.echo(f"secrets-kit: error: {where}: {row['error']}", err=True)
    if any(not row["refreshed"] for row in rows):
        raise SystemExit(EXIT_ERROR)


def _admin_commands() -> None:
    """`describe` and `keys` live in their own modules (loaded with this group, which only loads when run)."""
    from .operator_describe import describe
    from .operator_keys import keys

    operator.add_command(describe)
    operator.add_command(keys)


_admin_commands()
