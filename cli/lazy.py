"""A click group whose subcommands are imported only when they run.

`secrets-kit --help` must stay fast, so the group lists commands from a static
table (name -> module, attribute, one-line help) and imports a command's module,
with its heavy dependencies, only when that command is invoked or asked for help.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # name -> (module path, attribute, short help)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_path, attr, _ = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module_path), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_path}.{attr} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static help so listing commands imports nothing.
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name][2]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
