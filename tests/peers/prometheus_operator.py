"""The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, as its release ships them
(example/prometheus-operator-crd/ in the Go module), so the chart's monitoring objects are validated by the
kube-apiserver peer against the real schemas. Only the module is downloaded (`go mod download`); nothing
is built or run: the operator itself is not a peer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import versions
from .cache import log

MODULE = "github.com/prometheus-operator/prometheus-operator"
CRD_DIR = "example/prometheus-operator-crd"
KINDS = ("servicemonitors", "prometheusrules")
INSTALL_HINT = "run `python -m tests.peers.install prometheus-operator-crds`"


def module_dir(download: bool, version: str = versions.PROMETHEUS_OPERATOR) -> Path | None:
    """The release's tree in the Go module cache; None when absent and not downloading."""
    if shutil.which("go") is None:
        return None
    args = ["go", "mod", "download", "-json", f"{MODULE}@{version}"]
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    if not download:
        env["GOPROXY"] = "off"  # only what the cache already holds
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        if download:
            raise RuntimeError(f"go mod download {MODULE}@{version} failed: {done.stdout}{done.stderr}")
        return None
    return Path(json.loads(done.stdout)["Dir"])


def build_prometheus_operator_crds() -> Path:
    """The peer installer's step: download the module (about 25 MB, once)."""
    folder = module_dir(download=True)
    assert folder is not None
    log(f"prometheus-operator CRDs: {folder / CRD_DIR}")
    return folder / CRD_DIR


def crds() -> list[dict[str, Any]] | None:
    """The ServiceMonitor and PrometheusRule CRDs, or None when the module is not in the cache."""
    import yaml

    folder = module_dir(download=False)
    if folder is None:
        return None
    return [yaml.safe_load((folder / CRD_DIR / f"monitoring.coreos.com_{kind}.yaml").read_text()) for kind in KINDS]
