"""Entry point of `secrets-kit`: the lazy command tree and the error-to-exit-code mapping.

click is imported only when the group runs: the drop-ins (`secrets-kit kubeseal`, `secrets-kit
sops`) parse their own command lines and start without it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from secrets_kit import __version__
from secrets_kit.errors import EXIT_ERROR, SecretsKitError

if TYPE_CHECKING:
    import click

# name -> (module, attribute, one-line help). Modules load only when their command runs.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "quickstart": ("secrets_kit_cli.commands.quickstart", "quickstart",
                   "Run the whole toolkit on the bundled examples/ repo with local keys."),
    "seal": ("secrets_kit_cli.commands.seal", "seal", "Seal Secret manifests (files or folders) into SealedSecrets."),
    "unseal": ("secrets_kit_cli.commands.seal", "unseal", "Recover Secrets from SealedSecrets with local keys."),
    "keys": ("secrets_kit_cli.commands.keys", "keys", "Create, list, rotate and export sealing key pairs."),
    "kubeseal": ("secrets_kit_cli.commands.kubeseal", "kubeseal", "Drop-in for the kubeseal command line."),
    "sops": ("secrets_kit_cli.dropins.sops.main", "sops", "Drop-in for the sops command line (SOPS file encryption)."),
    "render": ("secrets_kit_cli.commands.render", "render",
               "Render manifests for sync: decrypt, validate, optionally re-seal (Argo CD CMP, KRM)."),
    "operator": ("secrets_kit_cli.commands.operator", "operator",
                 "Run the in-cluster controllers (sealed secrets, external secrets)."),
    "hook": ("secrets_kit_cli.commands.hook", "hook", "Git hooks: refuse plaintext Secrets before commit."),
}

EXIT_CODES_HELP = """\b
Exit codes:
  0 success            4 decryption failed (key, scope, tampering)
  1 unexpected error   5 keys missing, unreadable or refused
  2 bad command line   6 provider or remote service failed
  3 malformed input    7 invalid configuration   8 render failed
The `sops` and `kubeseal` drop-ins use their upstream tool's exit codes."""


def _group() -> click.Group:
    import click

    from .lazy import LazyGroup

    @click.group(
        cls=LazyGroup,
        lazy=COMMANDS,
        help=GROUP_HELP,
        epilog=EXIT_CODES_HELP,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(__version__, "--version", "-V", prog_name="secrets-kit")
    @click.option("--debug", is_flag=True, envvar="SECRETS_KIT_DEBUG", help="Show tracebacks on errors.")
    @click.pass_context
    def cli(ctx: click.Context, debug: bool) -> None:
        ctx.ensure_object(dict)
        ctx.obj["debug"] = debug

    return cli


_GROUP: list[click.Group] = []


def group() -> click.Group:
    """The `secrets-kit` click group, built once, on first use."""
    if not _GROUP:
        _GROUP.append(_group())
    return _GROUP[0]


def __getattr__(name: str) -> Any:
    if name == "cli":  # `secrets_kit_cli.main.cli`, as before the group was built lazily
        return group()
    raise AttributeError(name)


GROUP_HELP = """secrets-kit: keep every secret of a GitOps repository safe in Git.

Seal before commit, decrypt at render time, or sync from secret managers
in-cluster: one core, three front doors."""
GROUP_OPTIONS = (("-V, --version", "Show the version and exit."), ("--debug", "Show tracebacks on errors."),
                 ("-h, --help", "Show this message and exit."))


def static_help(width: int = 80) -> str:
    """`secrets-kit --help` as click prints it (at most 80 columns), without importing click: the
    most-run help costs no more than the interpreter. tests/test_cli.py compares it with click's."""
    import textwrap

    def paragraphs(text: str) -> list[str]:
        return [textwrap.fill(" ".join(p.split()), width - 2, initial_indent="  ", subsequent_indent="  ")
                for p in text.split("\n\n")]

    def rows(pairs: list[tuple[str, str]]) -> list[str]:
        first = max(len(name) for name, _ in pairs)
        lines = []
        for name, text in pairs:
            wrapped = textwrap.wrap(text, width - first - 6) or [""]  # click: 2 margin, 2 gap, 2 spare
            lines.append(f"  {name.ljust(first)}  {wrapped[0]}".rstrip())
            lines += [" " * (first + 4) + more for more in wrapped[1:]]
        return lines

    epilog = ["  " + line if line else "" for line in EXIT_CODES_HELP.removeprefix("\b\n").splitlines()]
    out = ["Usage: secrets-kit [OPTIONS] COMMAND [ARGS]...", "", *"\n\n".join(paragraphs(GROUP_HELP)).split("\n"),
           "", "Options:", *rows(list(GROUP_OPTIONS)), "", "Commands:",
           *rows([(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]), "", *epilog]
    return "\n".join(out) + "\n"


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("SECRETS_KIT_DEBUG", "") not in ("", "0", "false")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map errors to one line on stderr and a documented exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["sops"]:
        # The sops drop-in parses sops's own command line and exits with sops's codes
        # (before click loads: the module imports nothing heavy at the top).
        from secrets_kit_cli.dropins.sops.main import main as sops_main

        sops_main(args[1:])
        return
    if args[:1] == ["kubeseal"]:
        # The kubeseal drop-in prints kubeseal's `error: ...` lines; the group adds nothing to it.
        from secrets_kit_cli.commands.kubeseal import main as kubeseal_main

        kubeseal_main(args[1:])
        return
    if args in (["--help"], ["-h"]):  # the help most run: printed without importing click
        sys.stdout.write(static_help())
        sys.exit(0)
    try:
        # `secrets-kit seal` with its common flags runs without click; the rest goes through the group.
        if not (args[:1] == ["seal"] and _seal_fast(args[1:])):
            _run_group(args)
    except SecretsKitError as err:
        if _debug_requested(args):
            raise
        # One line, whatever a wrapped tool's message held.
        _stderr("secrets-kit: error: " + " ".join(str(err).split()))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        _stderr("secrets-kit: interrupted")
        sys.exit(130)
    except BrokenPipeError:
        # stdout closed by a pager or `head`: not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    except Exception as ex:  # an unexpected bug: short line unless --debug
        if _debug_requested(args):
            raise
        _stderr(f"secrets-kit: internal error: {type(ex).__name__} (rerun with --debug for a traceback)")
        sys.exit(EXIT_ERROR)
    sys.exit(0)


# Commands run often enough (per file, per sync) that the interpreter's teardown shows: they end
# through leave() when run as the console script (main() itself only raises SystemExit, for callers
# in-process such as tests).
QUICK_EXIT = frozenset({"seal", "kubeseal", "sops", "--help", "-h"})


def console() -> None:
    """The `secrets-kit` console script (and `python -m secrets_kit_cli`)."""
    if sys.argv[1:2] and sys.argv[1] in QUICK_EXIT:
        from .leave import run_then_leave

        run_then_leave(main)
    main()


def _seal_fast(args: list[str]) -> bool:
    from secrets_kit_cli.commands.seal_run import fast_main

    return fast_main(args)


def _run_group(args: list[str]) -> None:
    run_click(group(), args, "secrets-kit")


def run_click(command: Any, args: list[str], prog_name: str) -> None:
    """Run a click command; click's own exceptions become its messages and exit codes."""
    import click

    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as ex:
        sys.exit(ex.exit_code)
    except click.ClickException as ex:
        ex.show()
        sys.exit(ex.exit_code)
    except click.Abort:
        _stderr("secrets-kit: aborted")
        sys.exit(130)


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()

if __name__ == "__main__":
    main()
