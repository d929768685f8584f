"""Entry points: `secrets-kit-sops` (a standalone `sops`), `secrets-kit sops` (the same, reached
before click loads) and the click command that `secrets-kit --help` lists."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from secrets_kit import __version__
from secrets_kit.errors import SecretsKitError

from . import SOPS_COMPAT_VERSION, codes
from .args import parse_argv
from .codes import SopsError, exit_code_for, message_for
from .context import Context
from .help import command_help
from .streams import echo

# subcommand -> (module of this package, function); a module loads only when its command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "encrypt": ("commands", "cmd_encrypt"), "decrypt": ("commands", "cmd_decrypt"), "set": ("commands", "cmd_set"),
    "unset": ("commands", "cmd_unset"), "filestatus": ("commands", "cmd_filestatus"),
    "exec-env": ("commands", "cmd_exec_env"), "exec-file": ("commands", "cmd_exec_file"),
    "legacy": ("commands", "cmd_legacy"), "edit": ("edit", "cmd_edit"), "rotate": ("keycommands", "cmd_rotate"),
    "updatekeys": ("keycommands", "cmd_updatekeys"), "groups": ("keycommands", "cmd_groups"),
}
UNSUPPORTED = ("keyservice", "publish", "completion")


def run(argv: list[str]) -> None:
    args = parse_argv(argv)
    if args.command == "help":  # `sops help [COMMAND]`
        echo(command_help(args.positional[0] if args.positional else ""), nl=False)
        return
    if args.on("help"):
        echo(command_help(args.command), nl=False)
        return
    if args.on("version") and args.command == "legacy":
        echo(f"sops {SOPS_COMPAT_VERSION} (secrets-kit {__version__})")
        return
    if args.command in UNSUPPORTED:
        raise SopsError(f"`sops {args.command}` is not supported by secrets-kit")
    module, function = COMMANDS[args.command]
    getattr(importlib.import_module(f"{__package__}.{module}"), function)(Context(args))


def main(argv: list[str] | None = None) -> None:
    """Run as sops does: errors as one line of sops's text on stderr, sops's exit codes."""
    try:
        run(sys.argv[1:] if argv is None else argv)
    except SecretsKitError as err:
        echo(message_for(err), err=True)
        sys.exit(exit_code_for(err))
    except KeyboardInterrupt:
        sys.exit(codes.KEYBOARD_INTERRUPT)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as ex:  # a bug: its message may hold anything, so show only the type
        if os.environ.get("SECRETS_KIT_DEBUG", "") not in ("", "0", "false"):
            raise
        echo(f"secrets-kit: internal error: {type(ex).__name__} (set SECRETS_KIT_DEBUG=1 for a traceback)",
             err=True)
        sys.exit(1)


def console() -> None:
    """The `secrets-kit-sops` console script: main(), then an exit without the interpreter's teardown
    (cli/leave.py), as `secrets-kit sops` ends."""
    from secrets_kit_cli.leave import run_then_leave

    run_then_leave(main)


def click_command() -> Any:
    """The `sops` command of the click group: hands its raw arguments to `main`."""
    import click

    @click.command(name="sops", add_help_option=False, help="Drop-in for the sops command line.",
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                     "allow_interspersed_args": False})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def sops(argv: tuple[str, ...]) -> None:
        """Drop-in for the sops command line (SOPS file encryption)."""
        main(list(argv))

    return sops


def __getattr__(name: str) -> Any:
    # The click group asks for `sops`; the entry points never do, so click stays unloaded.
    if name == "sops":
        command = click_command()
        globals()["sops"] = command
        return command
    raise AttributeError(name)


if __name__ == "__main__":
    main()
