"""Plaintext samples for the compatibility tests (clearly fake values)."""

from __future__ import annotations

YAML = """\
# top comment: demo values only
app:
    name: demo   # inline comment
    password: not-a-real-password
    port: 5432
    ratio: 2.5
    enabled: true
    since: 2024-01-01
    tags:
        - one
        - 2
        - nested: value
    empty: ""
    nothing: null
    note: |
        line one
        line two
    unicode: "héllo wörld"
    api_unencrypted: visible
# trailing comment
---
second: document
list:
    # comment in a list
    - a
    - b
"""

JSON = """\
{
\t"name": "demo",
\t"password": "not-a-real-password",
\t"port": 5432,
\t"ratio": 2.5,
\t"big": 12345678901234567890,
\t"flags": [
\t\ttrue,
\t\tfalse,
\t\tnull
\t],
\t"nested": {
\t\t"html": "\\u003cb\\u003e \\u0026 co",
\t\t"unicode": "héllo",
\t\t"empty": "",
\t\t"list": [
\t\t\t{
\t\t\t\t"k": "v"
\t\t\t},
\t\t\t[
\t\t\t\t1,
\t\t\t\t2
\t\t\t]
\t\t]
\t},
\t"token_unencrypted": "visible"
}
"""

DOTENV = """\
# demo environment (fake values)
DATABASE_URL=postgres://demo:not-a-real-password@db:5432/app
API_KEY=fake-api-key-123
QUOTED="kept with quotes"
SPACED=value with spaces
MULTILINE=first\\nsecond
EMPTY=
PUBLIC_unencrypted=visible
"""

INI = """\
; demo settings (fake values)
[database]
; the user
user = demo
password = not-a-real-password

[api]
key = fake-api-key-123
url = https://example.invalid/path
"""

BINARY = bytes(range(256)) + b"\x00\xff plain tail\n"

SAMPLES: dict[str, bytes] = {
    "yaml": YAML.encode(),
    "json": JSON.encode(),
    "dotenv": DOTENV.encode(),
    "ini": INI.encode(),
    "binary": BINARY,
}
EXTENSIONS = {"yaml": "yaml", "json": "json", "dotenv": "env", "ini": "ini", "binary": "bin"}
SECRETS = ["not-a-real-password", "fake-api-key-123"]
