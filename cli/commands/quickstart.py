"""`secrets-kit quickstart`: the README's first command."""

from __future__ import annotations

import json
from pathlib import Path

import click

from secrets_kit.quickstart import next_steps, run_quickstart


@click.command()
@click.option("--examples", type=click.Path(file_okay=False, path_type=Path), default=Path("examples"),
              show_default=True, help="The example GitOps repository to work on.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("quickstart-out"),
              show_default=True, help="Where generated keys and outputs go (git-ignored).")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def quickstart(examples: Path, workdir: Path, output: str) -> None:
    """Generate local keys, seal and encrypt the example secrets, render each environment.

    Needs no cluster and no cloud account: everything happens in WORKDIR.
    """
    results = run_quickstart(examples, workdir)
    if output == "json":
        click.echo(json.dumps([r.__dict__ for r in results], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"secrets-kit quickstart (work folder: {workdir})")
    table.add_column("step")
    table.add_column("what it did")
    for r in results:
        table.add_row(r.step, r.outcome)
    Console().print(table)
    click.echo(next_steps(workdir))  # one line, never wrapped: the last thing a new user reads
