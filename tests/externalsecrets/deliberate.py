"""Where ours differs from the real ESO v0.16.2 on purpose: (case id, field) → why.

A field is a key of the harness's comparison (harness.compare): "secret.type", "secret.data.<key>",
"secret.labels.<key>", "secret.annotations.<key>", "secret.ownerReferences", "secret.immutable",
"secret.exists", "status.ready.status", "status.ready.reason", "status.ready.message",
"status.refreshTime.set", "status.syncedResourceVersion.hash", "status.binding", ...
The case id "*" applies to every case. The README and the operator docs show this same table
(`markdown_table()`), so a difference is documented where it is allowed.
"""

from __future__ import annotations

# (case id or "*", field) -> reason. Empty until a deliberate difference is decided.
DELIBERATE: dict[tuple[str, str], str] = {}


def reason_for(case_id: str, field: str) -> str | None:
    """Why this difference is deliberate, or None (then it fails the test)."""
    for key in ((case_id, field), ("*", field)):
        if key in DELIBERATE:
            return DELIBERATE[key]
    # a field prefix also matches: ("*", "status.ready.message") covers nothing else, but
    # ("case", "secret.data") covers every key of that case's data
    for (cid, prefix), reason in DELIBERATE.items():
        if cid in (case_id, "*") and field.startswith(prefix + "."):
            return reason
    return None


def markdown_table() -> str:
    """The table for README/docs: case | field | reason."""
    rows = ["| case | field | why ours differs from ESO v0.16.2 |", "|---|---|---|"]
    for (case_id, field), reason in sorted(DELIBERATE.items()):
        rows.append(f"| {'every case' if case_id == '*' else f'`{case_id}`'} | `{field}` | {reason} |")
    if len(rows) == 2:
        rows.append("| — | — | none: ours matches ESO on every compared field |")
    return "\n".join(rows)
