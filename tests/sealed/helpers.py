"""Helpers for the Sealed Secrets tests: run our CLI in-process, run the real kubeseal."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from secrets_kit_cli.main import main

from secrets_kit.k8s.manifests import dump_yaml, load_documents


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")


def run_cli(*args: str | Path, input: bytes | str = b"", env: dict[str, str] | None = None) -> Result:
    """`secrets-kit ARGS` in this process, through the real `main` (its error-to-exit-code mapping)."""
    runner = CliRunner()
    data = input.encode() if isinstance(input, str) else input
    base_env = {"KUBECONFIG": "/dev/null", "SECRETS_KIT_DEBUG": "", **(env or {})}
    with runner.isolation(input=data, env=base_env) as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as ex:
            code = int(ex.code or 0)
        return Result(code, out.getvalue(), err.getvalue().decode("utf-8", "replace"))


def kubeseal(binary: Path, *args: str | Path, input: bytes | str = b"",
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real kubeseal, offline: an empty kubeconfig unless the test gives one."""
    data = input.encode() if isinstance(input, str) else input
    full_env = {**os.environ, "KUBECONFIG": "/dev/null", **(env or {})}
    return subprocess.run([str(binary), *map(str, args)], input=data, capture_output=True, env=full_env,
                          timeout=60, check=False)


def secret(name: str = "mysecret", namespace: str | None = "myns", *, string_data: dict[str, str] | None = None,
           data: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
           labels: dict[str, str] | None = None, secret_type: str | None = "Opaque") -> dict:
    meta: dict = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    doc: dict = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
    if secret_type:
        doc["type"] = secret_type
    if data:
        doc["data"] = data
    if string_data is not None:
        doc["stringData"] = string_data
    return doc


def yaml_of(*docs: dict) -> str:
    return "".join(dump_yaml(d) for d in docs)


def docs_of(text: bytes | str) -> list[dict]:
    return load_documents(text, source="test output")
