"""Command lines of known flags, parsed without click (importing click costs more than a seal).

The hot commands (`secrets-kit kubeseal`, `secrets-kit seal`) declare the options they take here
as a table and parse a plain command line themselves; anything else (help, an unknown flag, a bad
value, a form this parser does not take, such as `-nNS`) returns None, and the command runs
through click, which prints the help or the error exactly as before. A test per command checks its
table against the click command's own parameters.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py.

import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


class Opt(NamedTuple):
    """One spelling of an option: the parameter it sets and how."""

    dest: str | None  # the click parameter; None: accepted and ignored
    takes_value: bool = False
    multiple: bool = False
    const: Any = True  # what a flag sets
    choices: tuple[str, ...] = ()  # click.Choice
    path: str = ""  # click.Path: "file" (dir_okay=False) or "dir" (file_okay=False)


def parse(args: Sequence[str], options: Mapping[str, Opt], defaults: Mapping[str, Any],
          positional: str | None = None) -> dict[str, Any] | None:
    """The parameters of `args` (multiple options as tuples, as click passes them), or None when
    click must handle the command line. `positional` names the parameter that takes arguments."""
    kw = {dest: list(value) if isinstance(value, tuple) else value for dest, value in defaults.items()}
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            rest.extend(args[index:])
            break
        if not arg.startswith("-") or arg == "-":
            rest.append(arg)
            continue
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        opt = options.get(name)
        if opt is None or arg in ("-h", "--help"):
            return None
        if not opt.takes_value:
            if eq:
                return None  # `--flag=value`: click's error
            if opt.dest is not None:
                kw[opt.dest] = opt.const
            continue
        if eq:
            value = inline
        elif index < len(args):
            value, index = args[index], index + 1
        else:
            return None  # a value is missing
        if (opt.choices and value not in opt.choices) or (opt.path and not _path_ok(value, opt.path)):
            return None
        if opt.dest is None:
            continue
        if opt.multiple:
            kw[opt.dest].append(value)
        else:
            kw[opt.dest] = value
    if rest:
        if positional is None:
            return None
        kw[positional] = rest
    return {dest: tuple(value) if isinstance(value, list) else value for dest, value in kw.items()}


def _path_ok(value: str, kind: str) -> bool:
    """What click.Path (exists=False) accepts: a missing path, or one of the right kind, readable."""
    try:
        mode = os.stat(value).st_mode
    except OSError:
        return True
    if (kind == "file" and stat.S_ISDIR(mode)) or (kind == "dir" and stat.S_ISREG(mode)):
        return False
    return os.access(value, os.R_OK)
