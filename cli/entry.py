"""The `secrets-kit` executable: `secrets-kit sops ...` goes straight to the sops drop-in, before
click (~40 ms of imports) loads; everything else to the click command tree in `main`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["sops"]:
        from secrets_kit_cli.dropins.sops.main import main as sops_main

        sops_main(args[1:])
        return
    from secrets_kit_cli.main import main as cli_main

    cli_main(args)


if __name__ == "__main__":
    main()
