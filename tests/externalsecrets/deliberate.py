"""Where ours differs from the real ESO v0.16.2 on purpose: (case id, field) → why.

A field is a key of the harness's comparison (harness.compare): "secret.type", "secret.data.<key>",
"secret.labels.<key>", "secret.annotations.<key>", "secret.ownerReferences", "secret.immutable",
"secret.exists", "status.ready.status", "status.ready.reason", "status.ready.message",
"status.refreshTime.set", "status.syncedResourceVersion.hash", "status.binding", ...
The case id "*" applies to every case.

`BEHAVIOUR` lists the differences no single case field shows (timing, events, API calls): where,
ESO v0.16.2, ours, why. operator/deploy/README.md shows `markdown_table()` (both tables) under
"Deliberate differences from ESO v0.16.2", between the two `deliberate.py` markers;
tests/externalsecrets/test_deliberate.py fails when the README differs, and
`python -m tests.externalsecrets.deliberate --write` rewrites that part of the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "operator" / "deploy" / "README.md"
BEGIN = "<!-- BEGIN deliberate.py markdown_table(): python -m tests.externalsecrets.deliberate --write -->"
END = "<!-- END deliberate.py markdown_table() -->"

# (case id or "*", field) -> reason. Empty until a deliberate difference is decided.
DELIBERATE: dict[tuple[str, str], str] = {}


# Behaviour that differs on purpose but is no compared field: (where, ESO v0.16.2, ours, why).
BEHAVIOUR: list[tuple[str, str, str, str]] = [
    ("refresh timing", "exactly `refreshInterval` after the last refresh",
     "up to 10 % later (at most 5 min), random per ExternalSecret",
     "refreshes created together do not stay aligned (ESO #4231)"),
    ("error backoff", "per-item exponential 1 s → 7 min",
     "the same, full jitter, never longer than the ExternalSecret's refreshInterval",
     "no retry storms after an outage; a provider that returns is synced within one refresh"),
    ("store never validated yet (start-up, new store)", "every ExternalSecret fails the flood gate: a Ready=False "
     "write, an UpdateFailed event and a backoff each", "the ExternalSecret waits for the store's first "
     "validation, writing nothing", "a first sync of 1,000 ExternalSecrets without 1,000 failed writes"),
    ("provider client", "a new client per reconcile: Vault login, reads, revoke-self each time (#5853, #4032)",
     "one client per store version, its token kept and renewed", "one login per store, not per ExternalSecret"),
    ("provider reads", "every reconcile reads each data entry", "ExternalSecrets reading the same remote key "
     "within `--provider-read-window` (30 s; 0 = as ESO) share one read", "1,000 ExternalSecrets on 100 Vault "
     "paths cost 100 reads, not 2,000"),
    ("AWS Secrets Manager `find`", "by name without a path: ListSecrets, then a GetSecretValue per match; with a "
     "path or tags: BatchGetSecretValue with name / tag-key / tag-value filters (a tag key and a tag value may "
     "match on different tags)", "ListSecrets with the same filters, the name prefix and each tag as a key=value "
     "pair checked, then BatchGetSecretValue by name, 20 a call", "N matches cost 1 + N/20 calls, not N + 1; "
     "`tags: {team: blue}` never matches a secret tagged team=red, env=blue"),
    ("template function `getHostByName`", "available", "not available (a template error, as an unknown "
     "function)", "a template must not make the controller resolve names"),
    ("store became Ready", "flood-gated ExternalSecrets wait for their backoff", "re-queued at once",
     "faster recovery"),
    ("store `Valid` event", "on every re-validation", "when the condition changes", "no event churn"),
    ("orphaned target Secrets (target.name changed)", "a LIST by label on every sync",
     "from the managed-Secret watch", "no LIST per reconcile"),
    ("work queue order", "one FIFO queue: a new ExternalSecret waits behind every due refresh (#4180)",
     "two lanes: never-synced ExternalSecrets, deleted or edited Secrets and stores go first",
     "first syncs are not delayed by thousands of routine refreshes"),
    ("refreshes overdue at start-up (after an outage or a restart)", "all reconciled at once",
     "spread at random over the refresh jitter window (`--refresh-jitter`)", "no refresh storm on restart (#4231)"),
    ("Events", "client-go's broadcaster behind the reconcile: a queue of 1,000, dropped when full",
     "a queue of 20,000 behind the reconcile, dropped (and logged) when full",
     "a first sync of 10,000 ExternalSecrets keeps its events without making a worker wait for them"),
]


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


def behaviour_table() -> str:
    rows = ["| Where | ESO v0.16.2 | secrets-kit | Why |", "|---|---|---|---|"]
    rows += [f"| {where} | {eso} | {ours} | {why} |" for where, eso, ours, why in BEHAVIOUR]
    return "\n".join(rows)


def fields_table() -> str:
    """The differences the differential test allows: case | field | reason."""
    rows = ["| case | field | why ours differs from ESO v0.16.2 |", "|---|---|---|"]
    for (case_id, field), reason in sorted(DELIBERATE.items()):
        rows.append(f"| {'every case' if case_id == '*' else f'`{case_id}`'} | `{field}` | {reason} |")
    if len(rows) == 2:
        rows.append("| — | — | none: ours matches ESO on every compared field |")
    return "\n".join(rows)


def markdown_table() -> str:
    """What operator/deploy/README.md shows under "Deliberate differences from ESO v0.16.2"."""
    return (behaviour_table() + "\n\nFields of the differential test (`tests/externalsecrets/test_differential.py`) "
            "where ours may differ from ESO:\n\n" + fields_table())


def readme_section(text: str) -> str:
    """The README text between the markers (stripped); ValueError when a marker is missing."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[start:text.index(END, start)].strip()


def with_table(text: str) -> str:
    """The README text with the part between the markers replaced by `markdown_table()`."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[:start] + "\n" + markdown_table() + "\n" + text[text.index(END, start):]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        README.write_text(with_table(README.read_text()))
    else:
        print(markdown_table())
