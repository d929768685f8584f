"""`secrets-kit render`: the render step for Argo CD (CMP v2) and kustomize/kpt (KRM function)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--seal-to", "seal_to", type=click.Path(dir_okay=False, path_type=Path), metavar="CERT",
              help="Zero-plaintext mode: re-seal every decrypted Secret to this sealing certificate.")
@click.option("--cluster", metavar="NAME", help="Zero-plaintext mode with $SECRETS_KIT_CERTS_DIR/NAME.pem.")
@click.option("-n", "--namespace", metavar="NS", help="Destination namespace [default: $ARGOCD_APP_NAMESPACE].")
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="yaml: a --- stream; json: one v1 List.")
@click.option("--release", metavar="NAME", help="Helm release name [default: $ARGOCD_APP_NAME or the folder].")
@click.option("-f", "--values", "values", multiple=True, metavar="FILE",
              help="Helm values file, relative to the chart (repeatable; SOPS-encrypted ones are decrypted).")
@click.option("--recurse/--no-recurse", default=None, help="Plain folders: include subfolders.")
@click.option("--provider", metavar="KIND",
              help="Secret provider for placeholders: vault, aws-secretsmanager, aws-ssm, gcp-secretmanager, "
                   "fake. Connection settings come from the environment (VAULT_ADDR, AVP_AUTH_TYPE, ...).")
@click.option("--provider-config", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Provider settings (YAML), e.g. kind: fake, file: store.yaml.")
@click.option("--reseal-key", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Key that makes re-sealing stable [default: $SECRETS_KIT_RESEAL_KEY_FILE or a state file].")
@click.option("--verify-keys", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
              help="Private sealing keys: open every SealedSecret to prove it is sealed for them.")
@click.option("--allow-expired-cert", is_flag=True, help="Seal to an expired certificate anyway.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Repository root: no file outside it is read [default: found from PATH].")
@click.option("--krm", is_flag=True, help="KRM function mode: a ResourceList on stdin and stdout.")
def render(path: Path, seal_to: Path | None, cluster: str | None, namespace: str | None, fmt: str,
           release: str | None, values: tuple[str, ...], recurse: bool | None, provider: str | None,
           provider_config: Path | None, reseal_key: Path | None, verify_keys: tuple[Path, ...],
           allow_expired_cert: bool, root: Path | None, krm: bool) -> None:
    """Render PATH (a kustomization, a Helm chart or a folder of manifests) for sync.

    SOPS-encrypted resources and secretGenerator files are decrypted in memory,
    SealedSecrets are validated, and argocd-vault-plugin placeholders are resolved
    through a provider. With --seal-to (or --cluster), every decrypted Secret is
    re-sealed, so the output holds no plaintext. The manifests go to stdout in a
    stable order; on any error nothing is printed there and the exit code is non-zero.

    Under Argo CD (a CMP v2 sidecar), ARGOCD_APP_NAMESPACE, ARGOCD_APP_NAME,
    ARGOCD_APP_SOURCE_PATH, KUBE_VERSION, and the parameters PARAM_CLUSTER,
    PARAM_SEAL_TO, PARAM_ZERO_PLAINTEXT, PARAM_VALUES_FILES_<i>, PARAM_RELEASE_NAME,
    PARAM_RECURSE, PARAM_PROVIDER (or the same names as ARGOCD_ENV_*) are read.
    """
    if krm:
        from secrets_kit.render.krm import process

        outcome = process(sys.stdin.buffer.read(), os.environ, Path.cwd())
        if outcome.message:
            click.echo(f"secrets-kit: error: {outcome.message}", err=True)
        sys.stdout.write(outcome.stdout)
        sys.stdout.flush()
        sys.exit(outcome.exit_code)

    from secrets_kit.render.config import CliSettings, options_from
    from secrets_kit.render.pipeline import render as run_render

    cli = CliSettings(seal_to=seal_to, cluster=cluster, namespace=namespace, release=release, values=list(values),
                      recurse=recurse, provider=provider, provider_config=provider_config, reseal_key=reseal_key,
                      verify_keys=list(verify_keys), allow_expired_cert=allow_expired_cert, root=root)
    options = options_from(path, os.environ, cli)
    result = run_render(options)
    text = result.text(fmt)  # built completely before anything is written: fail closed
    for warning in result.context.warnings:
        click.echo(f"secrets-kit: warning: {warning}", err=True)
    sys.stdout.write(text)
    sys.stdout.flush()


def krm_main() -> None:
    """Console entry point `secrets-kit-krm`: kustomize runs an exec function's path with no arguments."""
    from secrets_kit_cli.main import main

    main(["render", "--krm", *sys.argv[1:]])
