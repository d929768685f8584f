"""The quickstart's Sealed Secrets steps on the bundled examples/ repository."""

from __future__ import annotations

import base64
from pathlib import Path

from secrets_kit.quickstart import QuickstartContext
from secrets_kit.quickstart.sealed_steps import seal_examples, sealing_keys
from secrets_kit.sealed.keys import KeyFolder
from secrets_kit.sealed.model import unseal

from .helpers import docs_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_keys_then_seal_then_rerun_changes_nothing(tmp_path):
    ctx = QuickstartContext(examples=EXAMPLES, workdir=tmp_path)
    first = sealing_keys(ctx)
    assert first.outcome.startswith("created sealing key")
    sealed = seal_examples(ctx)
    assert "sealed " in sealed.outcome and "checked" in sealed.outcome
    assert "sealed/demo-secret.yaml" in sealed.outputs
    out = tmp_path / "sealed" / "demo-secret.yaml"
    doc = docs_of(out.read_text())[0]
    assert doc["metadata"] == {"name": "demo-db-credentials", "namespace": "demo"}
    secret = unseal(doc, KeyFolder(tmp_path / "keys").keyring()).secret
    assert base64.b64decode(secret["data"]["username"]) == b"demo-user"
    assert "fake-demo-password" not in out.read_text() + sealed.outcome
    before = out.read_bytes()
    again = QuickstartContext(examples=EXAMPLES, workdir=tmp_path)
    assert sealing_keys(again).outcome.startswith("reused")
    rerun = seal_examples(again)
    assert f"sealed/ is up to date ({len(rerun.outputs)} file(s)" in rerun.outcome and "sealed " not in rerun.outcome
    assert out.read_bytes() == before
