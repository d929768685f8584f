"""Placeholder commands for front doors whose issue has not landed yet."""

from __future__ import annotations

import click

from secrets_kit.errors import SecretsKitError


def pending(name: str, what: str) -> click.Command:
    @click.command(name=name, help=f"{what} (not available in this build yet).",
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def command() -> None:
        raise SecretsKitError(f"`secrets-kit {name}` is not available in this build yet")

    return command
