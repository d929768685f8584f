"""Drop-ins: upstream tools' command lines (sops, kubeseal) emulated over the core.

Each drop-in parses its tool's flags, calls the core, and maps the core's errors (their
`reason`) to the tool's own messages and exit codes. The core knows nothing of them.
"""
