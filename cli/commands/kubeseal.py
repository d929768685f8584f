"""`secrets-kit kubeseal`: a drop-in for kubeseal v0.36.6's command line.

Same flags (with pflag's `--flag=value` and `--bool=true|false` forms, comma lists for
--from-file and --recovery-private-key), the same SEALED_SECRETS_<FLAG> environment
variables (the command line wins), the same stdin/stdout behaviour and output shape.
Every failure exits 1, as kubeseal does; a bad flag exits 2.

A command line of known flags is parsed here without click (importing click costs more than a
seal); click builds the help and reports bad flags, so it is imported only for those.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

# kubeseal's flags: name -> (takes a value, is a comma-separated list).
_FLAGS: dict[str, tuple[bool, bool]] = {
    "cert": (True, False), "controller-namespace": (True, False), "controller-name": (True, False),
    "format": (True, False), "sealed-secret-file": (True, False), "secret-file": (True, False),
    "fetch-cert": (False, False), "allow-empty-data": (False, False), "validate": (False, False),
    "merge-into": (True, False), "raw": (False, False), "name": (True, False), "from-file": (True, True),
    "kubeconfig": (True, False), "scope": (True, False), "rotate": (False, False), "re-encrypt": (False, False),
    "recovery-unseal": (False, False), "recovery-private-key": (True, True), "version": (False, False),
    # kubectl's override flags
    "namespace": (True, False), "context": (True, False), "cluster": (True, False), "user": (True, False),
    "server": (True, False), "token": (True, False), "insecure-skip-tls-verify": (False, False),
    "certificate-authority": (True, False), "client-certificate": (True, False), "client-key": (True, False),
    "tls-server-name": (True, False), "username": (True, False), "password": (True, False), "as": (True, False),
    "as-group": (True, False), "as-uid": (True, False), "request-timeout": (True, False),
    "disable-compression": (False, False), "proxy-url": (True, False),
}
# klog's flags, which kubeseal registers: accepted and ignored (the drop-in writes no log).
KLOG_FLAGS: dict[str, bool] = {  # name -> takes a value
    "add_dir_header": False, "alsologtostderr": False, "alsologtostderrthreshold": True,
    "legacy_stderr_threshold_behavior": False, "log_backtrace_at": True, "log_dir": True, "log_file": True,
    "log_file_max_size": True, "logtostderr": False, "one_output": False, "skip_headers": False,
    "skip_log_headers": False, "stderrthreshold": True, "v": True, "vmodule": True,
}
_FLAGS.update({name: (takes_value, False) for name, takes_value in KLOG_FLAGS.items()})
_SHORT = {"-o": "format", "-w": "sealed-secret-file", "-f": "secret-file", "-n": "namespace", "-s": "server",
          "-v": "v"}
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}
# The click parameter each flag sets (its name with _ for -, but for these), and what it holds when
# not given (tests/sealed/test_kubeseal_cli.py checks this against the click command's own defaults).
_DEST = {"format": "output_format", "sealed-secret-file": "output_file", "secret-file": "input_file",
         "rotate": "re_encrypt", "as": "impersonate"}
_MULTIPLE = ("from-file", "recovery-private-key", "as-group")
DEFAULTS: dict[str, Any] = {
    "cert": "", "controller_namespace": "kube-system", "controller_name": None, "output_format": "json",
    "output_file": "", "input_file": "", "fetch_cert": False, "allow_empty_data": False, "validate": False,
    "merge_into": "", "raw": False, "name": "", "from_file": (), "kubeconfig": None, "scope": "strict",
    "re_encrypt": False, "recovery_unseal": False, "recovery_private_key": (), "version": False,
    "namespace": None, "context": None, "cluster": None, "user": None, "server": None, "token": None,
    "insecure_skip_tls_verify": None, "certificate_authority": None, "client_certificate": None,
    "client_key": None, "tls_server_name": None, "username": None, "password": None, "impersonate": None,
    "as_group": (), "as_uid": None, "request_timeout": "0", "disable_compression": False, "proxy_url": None,
}
_SCOPES = ("", "strict", "namespace-wide", "cluster-wide")


class _FlagError(Exception):
    """A flag value pflag would refuse; click reports it (exit 2)."""


def normalize(args: list[str], environ: dict[str, str]) -> list[str]:
    """pflag spellings to click's: `--bool=false` dropped, `--bool=true` kept bare, lists split,
    and SEALED_SECRETS_<FLAG> variables for flags not on the command line."""
    out: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            out.extend(args[index - 1:])
            break
        name, value = None, None
        if arg.startswith("--"):
            name, _, rest = arg[2:].partition("=")
            value = rest if "=" in arg else None
        elif arg in _SHORT:
            name = _SHORT[arg]
        if name not in _FLAGS:
            out.append(arg)
            continue
        seen.add(name)
        takes_value, is_list = _FLAGS[name]
        if not takes_value:
            if value is None or value.lower() in _TRUE:
                out.append(f"--{name}")
            elif value.lower() not in _FALSE:
                raise _FlagError(f'invalid argument "{value}" for "--{name}" flag')
            continue
        if value is None:
            if index >= len(args):
                out.append(arg)  # click reports the missing value
                continue
            value = args[index]
            index += 1
        for part in (value.split(",") if is_list else [value]):
            if part or not is_list:
                out.extend([f"--{name}", part])
    prefix = []
    for name, (takes_value, is_list) in _FLAGS.items():
        env = environ.get("SEALED_SECRETS_" + name.upper().replace("-", "_"))
        if env is None or name in seen or name == "version":
            continue
        if not takes_value:
            if env.lower() in _TRUE:
                prefix.append(f"--{name}")
            continue
        for part in (env.split(",") if is_list else [env]):
            if part:
                prefix.extend([f"--{name}", part])
    return prefix + out


def _click_command() -> click.Command:
    """The click command: for --help, for reporting bad flags, and for the `secrets-kit` group."""
    import click

    class _KubesealCommand(click.Command):
        def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
            if not any(a in ("-h", "--help") for a in args):
                try:
                    args = normalize(args, dict(os.environ))
                except _FlagError as ex:
                    raise click.UsageError(str(ex), ctx) from None
            return super().parse_args(ctx, args)

    def _opt(*decls: str, **kwargs: Any) -> Any:
        return click.option(*decls, **kwargs)

    def _klog_options(command: Any) -> Any:
        for name, takes_value in KLOG_FLAGS.items():
            decls = ["-v", "--v"] if name == "v" else [f"--{name}"]
            command = click.option(*decls, f"klog_{name}", is_flag=not takes_value, default=None, hidden=True,
                                   expose_value=False)(command)
        return command

    @click.command(cls=_KubesealCommand, context_settings={"help_option_names": ["-h", "--help"],
                                                           "max_content_width": 110})
    @_opt("--cert", default="", metavar="FILE|URL",
          help="Certificate / public key file/URL to use for encryption. Overrides --controller-*")
    @_opt("--controller-namespace", default="kube-system", show_default=True,
          help="Namespace of sealed-secrets controller.")
    @_opt("--controller-name", default=None, help="Name of sealed-secrets controller. [default: sealed-secrets-controller]")
    @_opt("-o", "--format", "output_format", default="json", show_default=True,
          help="Output format for sealed secret. Either json or yaml")
    @_opt("-w", "--sealed-secret-file", "output_file", default="", help="Sealed-secret (output) file")
    @_opt("-f", "--secret-file", "input_file", default="", help="Secret (input) file")
    @_opt("--fetch-cert", is_flag=True, help="Write certificate to stdout. Useful for later use with --cert")
    @_opt("--allow-empty-data", is_flag=True, help="Allow empty data in the secret object")
    @_opt("--validate", is_flag=True, help="Validate that the sealed secret can be decrypted")
    @_opt("--merge-into", default="", help="Merge items from secret into an existing sealed secret file, updating "
                                            "the file in-place instead of writing to stdout.")
    @_opt("--raw", is_flag=True, help="Encrypt a raw value passed via the --from-* flags instead of the whole "
                                       "secret object")
    @_opt("--name", default="", help="Name of the sealed secret (required with --raw and default (strict) scope)")
    @_opt("--from-file", multiple=True, help="(only with --raw) Secret items can be sourced from files.")
    @_opt("--kubeconfig", default=None, help="Path to a kube config. Only required if out-of-cluster")
    @_opt("--scope", default="strict", show_default=True,
          help="Set the scope of the sealed secret: strict, namespace-wide, cluster-wide.")
    @_opt("--re-encrypt", "--rotate", "re_encrypt", is_flag=True,
          help="Re-encrypt the given sealed secret to use the latest cluster key.")
    @_opt("--recovery-unseal", is_flag=True, help="Decrypt a sealed secrets file obtained from stdin, using the "
                                                  "private key passed with --recovery-private-key.")
    @_opt("--recovery-private-key", multiple=True, help="Private key filename used by --recovery-unseal (repeatable "
                                                         "or comma separated; PEM or key Secret backups).")
    @_opt("--version", is_flag=True, help="Print version information and exit")
    @_opt("-n", "--namespace", default=None, help="If present, the namespace scope for this CLI request")
    @_opt("--context", default=None, help="The name of the kubeconfig context to use")
    @_opt("--cluster", default=None, help="The name of the kubeconfig cluster to use")
    @_opt("--user", default=None, help="The name of the kubeconfig user to use")
    @_opt("-s", "--server", default=None, help="The address and port of the Kubernetes API server")
    @_opt("--token", default=None, help="Bearer token for authentication to the API server")
    @_opt("--insecure-skip-tls-verify", is_flag=True, default=None, help="Do not check the server's certificate")
    @_opt("--certificate-authority", default=None, help="Path to a cert file for the certificate authority")
    @_opt("--client-certificate", default=None, help="Path to a client certificate file for TLS")
    @_opt("--client-key", default=None, help="Path to a client key file for TLS")
    @_opt("--tls-server-name", default=None, hidden=True)
    @_opt("--username", default=None, help="Username for basic authentication to the API server")
    @_opt("--password", default=None, help="Password for basic authentication to the API server")
    @_opt("--as", "impersonate", default=None, help="Username to impersonate for the operation")
    @_opt("--as-group", multiple=True, hidden=True)
    @_opt("--as-uid", default=None, hidden=True)
    @_opt("--request-timeout", default="0", hidden=True)
    @_opt("--disable-compression", is_flag=True, hidden=True)
    @_opt("--proxy-url", default=None, hidden=True)
    @_klog_options
    def kubeseal(**kw: Any) -> None:
        """Drop-in for kubeseal v0.36.6: seal Secrets into SealedSecrets (same flags, input and output).

        \b
        kubeseal --cert cert.pem -o yaml < secret.yaml > sealed.yaml
        kubeseal --raw --cert cert.pem -n NS --name NAME --from-file value.txt
        kubeseal --recovery-unseal --recovery-private-key backup.yaml < sealed.yaml
        Also reads SEALED_SECRETS_<FLAG> environment variables (e.g. SEALED_SECRETS_CERT).
        """
        if kw["scope"] not in _SCOPES:
            raise click.BadParameter("must be one of: strict, namespace-wide, cluster-wide",
                                     param_hint=f'"{kw["scope"]}" for "--scope"')
        try:
            _timeout(kw["request_timeout"])
        except _FlagError as ex:
            raise click.BadParameter(str(ex), param_hint="--request-timeout") from None
        run_kubeseal(kw)

    return kubeseal


def __getattr__(name: str) -> Any:
    if name == "kubeseal":  # built on first use: `secrets-kit kubeseal ...` itself runs without click
        command = globals()["kubeseal"] = _click_command()
        return command
    raise AttributeError(name)


def fast_parse(args: list[str], environ: dict[str, str]) -> dict[str, Any] | None:
    """The click parameters of a command line made only of known, valid flags; None for anything
    else (help, a positional argument, an unknown flag or a bad value), which click then handles."""
    from secrets_kit_cli.fastargs import parse

    if any(a in ("-h", "--help") for a in args):
        return None
    try:
        tokens = normalize(args, environ)
    except _FlagError:
        return None
    kw = parse(tokens, _fast_options(), DEFAULTS)
    if kw is None or kw["scope"] not in _SCOPES:
        return None
    try:
        _timeout(str(kw["request_timeout"]))
    except _FlagError:
        return None
    return kw


def _fast_options() -> dict[str, Any]:
    """`normalize`'s output spellings (`--flag`, `--flag value`) for secrets_kit_cli.fastargs."""
    from secrets_kit_cli.fastargs import Opt

    return {f"--{name}": Opt(None if name in KLOG_FLAGS else _DEST.get(name, name.replace("-", "_")),
                             takes_value, multiple=name in _MULTIPLE)
            for name, (takes_value, _) in _FLAGS.items()}


def run_kubeseal(kw: dict[str, Any]) -> None:
    """One kubeseal invocation from its parsed flags."""
    from secrets_kit_cli.dropins.kubeseal import KubesealFlags, Streams, run

    from secrets_kit import __version__
    from secrets_kit.k8s.kubeconfig import Overrides
    from secrets_kit.sealed.scopes import Scope

    if kw["version"]:
        sys.stdout.write(f"kubeseal version: v0.36.6-compatible (secrets-kit {__version__})\n")
        return
    overrides = Overrides(
        kubeconfig=kw["kubeconfig"], context=kw["context"], cluster=kw["cluster"], user=kw["user"],
        server=kw["server"], token=kw["token"], namespace=kw["namespace"],
        insecure_skip_tls_verify=kw["insecure_skip_tls_verify"], certificate_authority=kw["certificate_authority"],
        client_certificate=kw["client_certificate"], client_key=kw["client_key"],
        tls_server_name=kw["tls_server_name"], username=kw["username"], password=kw["password"],
        impersonate=kw["impersonate"], impersonate_groups=list(kw["as_group"]),
        timeout=_timeout(kw["request_timeout"]))
    flags = KubesealFlags(
        cert=kw["cert"], controller_namespace=kw["controller_namespace"],
        controller_name=kw["controller_name"] or "sealed-secrets-controller",
        controller_name_given=kw["controller_name"] is not None, output_format=kw["output_format"],
        output_file=kw["output_file"], input_file=kw["input_file"], fetch_cert=kw["fetch_cert"],
        allow_empty_data=kw["allow_empty_data"], validate=kw["validate"], merge_into=kw["merge_into"],
        raw=kw["raw"], name=kw["name"], from_file=list(kw["from_file"]), scope=Scope.parse(kw["scope"]),
        re_encrypt=kw["re_encrypt"], recovery_unseal=kw["recovery_unseal"],
        private_keys=list(kw["recovery_private_key"]), overrides=overrides)
    streams = Streams(stdin=sys.stdin.buffer, stdout=sys.stdout.buffer,
                      warn=lambda msg: print(msg, file=sys.stderr, flush=True),
                      stdin_is_tty=sys.stdin.isatty(),
                      stderr_is_tty=sys.stderr.isatty())
    run(flags, streams)
    sys.stdout.flush()


def main(args: list[str]) -> None:
    """`secrets-kit kubeseal ARGS` without the group: kubeseal's `error: ` lines and exit codes."""
    from secrets_kit.errors import SecretsKitError

    debug = os.environ.get("SECRETS_KIT_DEBUG", "") not in ("", "0", "false")
    try:
        kw = fast_parse(args, dict(os.environ))
        if kw is not None:
            run_kubeseal(kw)
        else:
            _run_click(args)
    except SecretsKitError as err:
        if debug:
            raise
        # kubeseal's line is `error: <message>`; where and what to do follow it.
        extra = " ".join("; ".join(part for part in (err.where, err.hint) if part).split())
        print("error: " + " ".join(err.message.split()) + (f" ({extra})" if extra else ""), file=sys.stderr,
              flush=True)
        sys.exit(err.exit_code)
    except BrokenPipeError:  # stdout closed by `head` or a pager: not an error
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as ex:  # a bug of ours: one line unless debugging
        if debug:
            raise
        print(f"error: secrets-kit internal error: {type(ex).__name__} (set SECRETS_KIT_DEBUG=1 for a traceback)",
              file=sys.stderr, flush=True)
        sys.exit(1)
    sys.stdout.flush()
    sys.exit(0)


def _run_click(args: list[str]) -> None:
    """Help, or a command line with something click must report (exit 2)."""
    from ..main import run_click

    run_click(_click_command(), args, "secrets-kit kubeseal")


def _timeout(text: str) -> float:
    """kubectl's --request-timeout: 0 (none, we use 5 minutes), or a number with s/m/h."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text or 0)
    except ValueError:
        raise _FlagError(f"invalid timeout {text!r}") from None
    return value if value > 0 else 300.0
