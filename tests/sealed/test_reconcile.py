"""reconcile(): SealedSecret + existing Secret + keys -> the write, the status, the event.

Real keys (2048-bit), real sealing (`secrets_kit.sealed.model` and, where marked, the real kubeseal).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed import crypto
from secrets_kit.sealed import reconcile as rc
from secrets_kit.sealed.scopes import (
    CLUSTER_WIDE_ANNOTATION,
    MANAGED_ANNOTATION,
    NAMESPACE_WIDE_ANNOTATION,
    PATCH_ANNOTATION,
    SKIP_OWNER_REFERENCES_ANNOTATION,
)
from tests.sealed.controller_support import NOW, bump, created, key_secret, sealed_for, stored, with_status
from tests.sealed.helpers import kubeseal, secret, yaml_of

DAY = __import__("datetime").timedelta(days=1)
PLAIN = {"username": "admin-3f9c", "password": "hunter2-plaintext-7e1d"}
OWNER = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "app", "uid": "ss-uid-1",
         "controller": True}


@pytest.fixture(scope="module")
def keys() -> list[ck.ControllerKey]:
    """Three keys; index 0 is the oldest."""
    secrets = [key_secret(name=f"sealed-secrets-key{i}", created=NOW - (3 - i) * DAY) for i in range(3)]
    return ck.load_key_secrets(secrets).keys


@pytest.fixture
def ring(keys: list[ck.ControllerKey]) -> ck.ControllerKeyring:
    return ck.decryption_keyring(keys)


def decoded(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def no_plaintext(plan: rc.Plan) -> None:
    text = repr(plan.status) + repr(plan.event)
    for value in PLAIN.values():
        assert value not in text


def settle(sealed: dict, plan: rc.Plan) -> tuple[dict, dict | None]:
    """The cluster after the runtime carried out `plan`: (SealedSecret with its new status, the Secret)."""
    after = with_status(sealed, plan.status)
    return after, created(plan.secret) if plan.action == "create" and plan.secret else None


# ------------------------------------------------------------------------------------ happy paths


def test_create_then_steady_state_writes_nothing(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN, labels={"app": "shop"}, annotations={"team": "a"})
    plan = rc.reconcile(sealed, None, ring, now=NOW)
    assert plan.action == "create" and plan.synced and plan.error_reason is None
    body = plan.secret
    assert body is not None
    assert body["metadata"]["name"] == "app" and body["metadata"]["namespace"] == "prod"
    assert body["metadata"]["labels"] == {"app": "shop"} and body["metadata"]["annotations"] == {"team": "a"}
    assert body["metadata"]["ownerReferences"] == [OWNER]
    assert body["type"] == "Opaque" and decoded(body) == PLAIN
    assert plan.event == rc.Event("Normal", "Unsealed", "SealedSecret unsealed successfully")
    assert plan.status == {"observedGeneration": 1, "conditions": [
        {"type": "Synced", "status": "True", "lastUpdateTime": "2026-06-01T12:00:00Z",
         "lastTransitionTime": "2026-06-01T12:00:00Z"}]}
    sealed, existing = settle(sealed, plan)
    again = rc.reconcile(sealed, existing, ring, now=NOW + DAY)
    assert again == rc.Plan("none", None, None, None, None, True)


def test_untyped_template_does_not_rewrite_the_defaulted_opaque(keys: list[ck.ControllerKey],
                                                                 ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN, secret_type=None)
    plan = rc.reconcile(sealed, None, ring, now=NOW)
    assert plan.secret is not None and "type" not in plan.secret
    sealed, existing = settle(sealed, plan)
    assert existing is not None and existing["type"] == "Opaque"
    assert rc.reconcile(sealed, existing, ring, now=NOW).action == "none"


def test_changed_spec_updates_the_secret_keeping_its_resource_version(keys: list[ck.ControllerKey],
                                                                     ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    sealed, existing = settle(sealed, rc.reconcile(sealed, None, ring, now=NOW))
    assert existing is not None
    newer = sealed_for(keys[2], {**PLAIN, "password": "rotated-value-91ab"})
    newer["metadata"]["generation"] = 2
    newer["status"] = sealed["status"]
    plan = rc.reconcile(newer, existing, ring, now=NOW + DAY)
    assert plan.action == "update" and plan.secret is not None
    assert plan.secret["metadata"]["resourceVersion"] == existing["metadata"]["resourceVersion"]
    assert plan.secret["metadata"]["uid"] == "secret-uid"
    assert decoded(plan.secret)["password"] == "rotated-value-91ab"
    assert plan.event is not None and plan.event.reason == "Unsealed"
    # Synced stays True: only observedGeneration and lastUpdateTime move.
    assert plan.status is not None
    cond = plan.status["conditions"][0]
    assert plan.status["observedGeneration"] == 2
    assert cond["lastTransitionTime"] == "2026-06-01T12:00:00Z" and cond["lastUpdateTime"] == "2026-06-02T12:00:00Z"


def test_template_type_immutable_data_and_skip_owner_references(keys: list[ck.ControllerKey],
                                                               ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[1], PLAIN, secret_type="kubernetes.io/basic-auth")
    template = sealed["spec"]["template"]
    template["immutable"] = True
    template["data"] = {"dsn": "postgres://{{ .username }}:{{ .password }}@db/shop"}
    template["metadata"]["annotations"] = {SKIP_OWNER_REFERENCES_ANNOTATION: "true"}
    template["metadata"]["labels"] = {"port": 5432}  # an unquoted YAML number
    plan = rc.reconcile(sealed, None, ring, now=NOW)
    body = plan.secret
    assert body is not None and plan.action == "create"
    # Created, but not owned and not `managed`: upstream then reports it as not managed, and so do we.
    assert plan.error_reason == "unmanaged" and not plan.synced
    assert plan.event == rc.Event("Warning", "ErrUpdateFailed",
                                  'Resource "app" already exists and is not managed by SealedSecret')
    assert body["type"] == "kubernetes.io/basic-auth" and body["immutable"] is True
    assert "ownerReferences" not in body["metadata"] and body["metadata"]["labels"] == {"port": "5432"}
    assert decoded(body)["dsn"] == f"postgres://{PLAIN['username']}:{PLAIN['password']}@db/shop"


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_kubeseal_sealed_secret_unseals_in_every_scope(scope: str, kubeseal_bin: Path, tmp_path: Path,
                                                       keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(keys[0].certificate_pem)
    src = secret("app", "prod", string_data=PLAIN, labels={"tier": "db"})
    done = kubeseal(kubeseal_bin, "--cert", cert, "--scope", scope, "-o", "json", input=yaml_of(src))
    assert done.returncode == 0, done.stderr
    sealed = stored(json.loads(done.stdout))
    plan = rc.reconcile(sealed, None, ring, now=NOW)
    assert plan.action == "create" and plan.secret is not None, plan
    assert decoded(plan.secret) == PLAIN and plan.secret["metadata"]["labels"] == {"tier": "db"}
    assert plan.secret["metadata"]["ownerReferences"] == [OWNER]


def test_one_rsa_operation_per_item_after_the_first_success(keys: list[ck.ControllerKey],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    items = {f"item{i}": f"value-{i}" for i in range(10)}
    sealed = sealed_for(keys[0], items)  # the oldest key: tried last
    ring = ck.decryption_keyring(keys)
    assert list(ring)[-1].fingerprint == keys[0].fingerprint
    calls: list[str] = []
    real = crypto.single_decrypt

    def counting(key, ciphertext, label):  # type: ignore[no-untyped-def]
        calls.append("rsa")
        return real(key, ciphertext, label)

    monkeypatch.setattr(crypto, "single_decrypt", counting)
    assert rc.reconcile(sealed, None, ring, now=NOW).action == "create"
    assert len(calls) == 3 + 9
    calls.clear()
    rc.reconcile(sealed, None, ring, now=NOW)
    assert len(calls) == 10  # the ring remembers


# --------------------------------------------------------------------------- existing Secrets


def _existing(**meta: object) -> dict:
    doc = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "app", "namespace": "prod", "uid": "other-uid", "resourceVersion": "55", **meta},
           "data": {"legacy": base64.b64encode(b"keep-me").decode()}}
    return doc


def test_an_unowned_secret_is_never_overwritten(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    plan = rc.reconcile(sealed, _existing(labels={"x": "y"}), ring, now=NOW)
    text = 'Resource "app" already exists and is not managed by SealedSecret'
    assert plan.action == "none" and plan.secret is None and not plan.synced
    assert plan.event == rc.Event("Warning", "ErrUpdateFailed", text)
    assert plan.error_reason == "unmanaged"
    assert plan.status is not None and plan.status["conditions"][0]["message"] == f"failed update: {text}"
    assert plan.status["conditions"][0]["status"] == "False"
    # Reconciled again with that status in place: nothing new to say.
    again = rc.reconcile(with_status(sealed, plan.status), _existing(labels={"x": "y"}), ring, now=NOW + DAY)
    assert again == rc.Plan("none", None, None, None, "unmanaged", False)
    # Owned by another SealedSecret (another uid): still not ours.
    theirs = _existing(ownerReferences=[{**OWNER, "uid": "someone-else"}])
    assert rc.reconcile(sealed, theirs, ring, now=NOW).error_reason == "unmanaged"


def test_managed_secret_is_adopted_and_replaced(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN, labels={"app": "shop"})
    existing = _existing(annotations={MANAGED_ANNOTATION: "true", "old": "1"}, labels={"stale": "1"})
    plan = rc.reconcile(sealed, existing, ring, now=NOW)
    assert plan.action == "update" and plan.secret is not None
    meta = plan.secret["metadata"]
    assert decoded(plan.secret) == PLAIN  # "legacy" is gone: replaced, not merged
    assert meta["labels"] == {"app": "shop"} and "annotations" not in meta
    assert meta["ownerReferences"] == [OWNER] and meta["resourceVersion"] == "55"


@pytest.mark.parametrize("managed", [False, True])
def test_patch_merges_and_takes_ownership_only_when_managed(managed: bool, keys: list[ck.ControllerKey],
                                                            ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN, labels={"app": "shop"})
    annotations = {PATCH_ANNOTATION: "true", **({MANAGED_ANNOTATION: "true"} if managed else {})}
    existing = _existing(annotations=annotations, labels={"stale": "1"})
    plan = rc.reconcile(sealed, existing, ring, now=NOW)
    assert plan.action == "update" and plan.secret is not None
    meta = plan.secret["metadata"]
    assert decoded(plan.secret) == {"legacy": "keep-me", **PLAIN}
    assert meta["labels"] == {"stale": "1", "app": "shop"} and meta["annotations"] == annotations
    assert meta.get("ownerReferences") == ([OWNER] if managed else None)
    # Applied, the next reconcile finds nothing to do.
    sealed = with_status(sealed, plan.status)
    assert rc.reconcile(sealed, bump(plan.secret), ring, now=NOW).action == "none"


def test_deleted_secret_is_recreated(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    sealed, _ = settle(sealed, rc.reconcile(sealed, None, ring, now=NOW))
    plan = rc.reconcile(sealed, None, ring, now=NOW + DAY)
    assert plan.action == "create" and plan.status is None and plan.event is not None


def test_immutable_secret_is_not_sent_an_update_that_must_fail(keys: list[ck.ControllerKey],
                                                               ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    sealed, existing = settle(sealed, rc.reconcile(sealed, None, ring, now=NOW))
    assert existing is not None
    existing["immutable"] = True
    changed = sealed_for(keys[2], {**PLAIN, "password": "new-value-2a2a"})
    changed["metadata"]["generation"] = 2
    plan = rc.reconcile(changed, existing, ring, now=NOW)
    assert plan.action == "none" and plan.error_reason == "update" and not plan.synced
    assert plan.event is not None and plan.event.reason == "ErrUpdateFailed"
    assert plan.event.message.startswith("Error updating prod/app: the target Secret is immutable.")
    # Only metadata changes: allowed on an immutable Secret.
    relabelled = copy.deepcopy(sealed)
    relabelled["spec"]["template"]["metadata"]["labels"] = {"new": "label"}
    assert rc.reconcile(relabelled, existing, ring, now=NOW).action == "update"


def test_write_failed(keys: list[ck.ControllerKey]) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    api = 'Secret "app" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    assert rc.is_immutable_error(api) and not rc.is_immutable_error('secrets "app" is forbidden: no')
    plan = rc.write_failed(sealed, api, now=NOW, immutable=True)
    assert plan.event is not None and "the target Secret is immutable" in plan.event.message
    assert plan.status is not None and plan.status["conditions"][0]["status"] == "False"
    plan = rc.write_failed(sealed, 'secrets "app" is forbidden:\n  User "x" cannot update', now=NOW)
    assert plan.event == rc.Event("Warning", "ErrUpdateFailed", 'secrets "app" is forbidden: User "x" cannot update')
    assert (plan.action, plan.error_reason, plan.synced) == ("none", "update", False)


# --------------------------------------------------------------------------- failures say why


def _failure(plan: rc.Plan) -> str:
    assert plan.action == "none" and not plan.synced and plan.error_reason == "unseal"
    assert plan.status is not None and plan.event is not None
    message = plan.status["conditions"][0]["message"]
    assert plan.event == rc.Event("Warning", "ErrUnsealFailed", f"Failed to unseal: {message}")
    no_plaintext(plan)
    return str(message)


def test_wrong_key_names_the_keys_tried_and_the_newest(keys: list[ck.ControllerKey]) -> None:
    stranger = ck.load_key_secrets([key_secret(name="elsewhere", created=NOW)]).keys[0]
    sealed = sealed_for(stranger, PLAIN)
    ring = ck.decryption_keyring(keys)
    message = _failure(rc.reconcile(sealed, None, ring, now=NOW))
    assert message.startswith("no key could decrypt secret (password, username): none of the 3 keys opens it")
    for key in keys:
        assert key.fingerprint in message
    assert f"the newest key is {keys[2].fingerprint}" in message
    assert stranger.fingerprint not in message


def test_no_keys_at_all() -> None:
    stranger = ck.load_key_secrets([key_secret(name="elsewhere", created=NOW)]).keys[0]
    message = _failure(rc.reconcile(sealed_for(stranger, PLAIN), None, ck.decryption_keyring([]), now=NOW))
    assert "the controller has no keys loaded" in message


def test_renamed_or_moved_strict_secret_says_where_it_was_sealed_for(keys: list[ck.ControllerKey],
                                                                    ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[1], PLAIN)
    moved = copy.deepcopy(sealed)
    moved["metadata"]["namespace"] = "staging"  # template.metadata still says prod/app
    message = _failure(rc.reconcile(moved, None, ring, now=NOW))
    assert 'it was sealed strict, bound to "prod/app"' in message
    assert 'but this SealedSecret is strict, bound to "staging/app"' in message
    assert "cannot be moved or renamed" in message and keys[1].fingerprint in message


def test_scope_mismatch_names_the_scope_it_was_sealed_with(keys: list[ck.ControllerKey],
                                                           ring: crypto.Keyring) -> None:
    wide = sealed_for(keys[2], PLAIN, annotations={NAMESPACE_WIDE_ANNOTATION: "true"})
    wide["metadata"].pop("annotations")  # someone dropped the scope annotation
    message = _failure(rc.reconcile(wide, None, ring, now=NOW))
    assert 'it was sealed namespace-wide, namespace "prod"' in message
    assert f'add the annotation {NAMESPACE_WIDE_ANNOTATION}: "true"' in message
    strict = sealed_for(keys[2], PLAIN)
    strict["metadata"]["annotations"] = {CLUSTER_WIDE_ANNOTATION: "true"}
    message = _failure(rc.reconcile(strict, None, ring, now=NOW))
    assert 'it was sealed strict, bound to "prod/app"' in message
    assert "but this SealedSecret is cluster-wide" in message


def test_malformed_items_are_named(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    data = sealed["spec"]["encryptedData"]
    data["broken"] = "not*base64!"
    data["short"] = base64.b64encode(b"\x02\x00abc").decode()
    message = _failure(rc.reconcile(sealed, None, ring, now=NOW))
    assert message == ("encryptedData.broken is not valid base64; "
                       "encryptedData.short: SealedSecret data is too short (cut off or not sealed data)")


def test_other_bad_input_is_a_status_not_a_crash(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    v1 = copy.deepcopy(sealed)
    v1["spec"]["data"] = base64.b64encode(b"\x00\x01x").decode()
    assert "cannot use the field 'encryptedData' and the deprecated field 'data'" in _failure(
        rc.reconcile(v1, None, ring, now=NOW))
    v1["spec"].pop("encryptedData")
    refused = rc.reconcile(v1, None, ring, now=NOW, options=rc.ReconcileOptions(accept_v1_data=False))
    assert "using deprecated 'data' field" in _failure(refused)
    bad_template = copy.deepcopy(sealed)
    bad_template["spec"]["template"]["data"] = {"x": "{{ .username "}
    assert "x" in _failure(rc.reconcile(bad_template, None, ring, now=NOW))
    nested = copy.deepcopy(sealed)
    nested["spec"]["template"]["metadata"]["labels"] = {"a": {"b": "c"}}
    assert "spec.template.metadata.labels.a is a mapping" in _failure(rc.reconcile(nested, None, ring, now=NOW))


def test_failure_status_flips_back_on_success_and_message_changes_are_written(
        keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    good = sealed_for(keys[2], PLAIN)
    broken = copy.deepcopy(good)
    broken["spec"]["encryptedData"]["password"] = "###"
    failed = rc.reconcile(broken, None, ring, now=NOW)
    broken = with_status(broken, failed.status)
    worse = copy.deepcopy(broken)
    worse["spec"]["encryptedData"]["username"] = "%%%"
    plan = rc.reconcile(worse, None, ring, now=NOW + DAY)
    assert plan.status is not None and plan.event is not None  # same Synced=False, new message
    cond = plan.status["conditions"][0]
    assert "encryptedData.username" in cond["message"] and cond["lastTransitionTime"] == "2026-06-01T12:00:00Z"
    fixed = with_status(good, plan.status)
    ok = rc.reconcile(fixed, None, ring, now=NOW + 2 * DAY)
    assert ok.status is not None
    cond = ok.status["conditions"][0]
    assert cond["status"] == "True" and "message" not in cond
    assert cond["lastTransitionTime"] == "2026-06-03T12:00:00Z"


def test_without_status_updates(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    options = rc.ReconcileOptions(update_status=False)
    sealed = sealed_for(keys[2], PLAIN)
    plan = rc.reconcile(sealed, None, ring, now=NOW, options=options)
    assert plan.action == "create" and plan.status is None and plan.event is not None
    _, existing = settle(sealed, plan)
    assert rc.reconcile(sealed, existing, ring, now=NOW, options=options) == rc.Plan(
        "none", None, None, None, None, True)


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("metadata",), [], "metadata is not a mapping"),
    (("metadata", "annotations"), ["x"], "metadata.annotations is not a mapping"),
    (("spec",), [], "spec is missing or not a mapping"),
    (("spec", "encryptedData"), ["x"], "spec.encryptedData must map item names to base64 strings"),
    (("spec", "encryptedData"), {"password": 5}, "encryptedData.password is not a string"),
    (("spec", "template"), ["x"], "spec.template is not a mapping"),
    (("spec", "template", "metadata"), ["x"], "spec.template.metadata is not a mapping"),
    (("spec", "template", "metadata", "annotations"), ["x"], "spec.template.metadata.annotations is not a mapping"),
    (("spec", "template", "data"), ["x"], "spec.template.data is not a mapping"),
])
def test_malformed_shapes_are_a_status_naming_the_field(path: tuple[str, ...], value: object, expected: str,
                                                        keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    target = sealed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    plan = rc.reconcile(sealed, None, ring, now=NOW)
    assert plan.action == "none" and plan.error_reason == "unseal" and plan.event is not None
    assert expected in plan.event.message
    no_plaintext(plan)


@pytest.mark.parametrize("template", ["{{ index .password 99 }}", "{{ .password.field }}",
                                      "{{ .password | nosuchfunction }}", "{{ .username "])
def test_template_errors_never_quote_a_value(template: str, keys: list[ck.ControllerKey],
                                             ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    sealed["spec"]["template"]["data"] = {"dsn": template}
    message = _failure(rc.reconcile(sealed, None, ring, now=NOW))
    assert message.startswith("template: dsn:")


def test_kubeseal_sealed_secret_moved_or_unscoped_says_how_it_was_sealed(
        kubeseal_bin: Path, tmp_path: Path, keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(keys[1].certificate_pem)
    src = yaml_of(secret("app", "prod", string_data=PLAIN))
    strict = kubeseal(kubeseal_bin, "--cert", cert, "-o", "json", input=src)
    wide = kubeseal(kubeseal_bin, "--cert", cert, "--scope", "namespace-wide", "-o", "json", input=src)
    assert strict.returncode == 0 and wide.returncode == 0, (strict.stderr, wide.stderr)
    moved = stored(json.loads(strict.stdout))
    moved["metadata"]["namespace"] = "staging"
    message = _failure(rc.reconcile(moved, None, ring, now=NOW))
    assert 'it was sealed strict, bound to "prod/app"' in message and keys[1].fingerprint in message
    unscoped = stored(json.loads(wide.stdout))
    del unscoped["metadata"]["annotations"]
    message = _failure(rc.reconcile(unscoped, None, ring, now=NOW))
    assert 'it was sealed namespace-wide, namespace "prod"' in message


def test_skip_owner_references_with_managed_stays_synced(keys: list[ck.ControllerKey], ring: crypto.Keyring) -> None:
    sealed = sealed_for(keys[2], PLAIN)
    sealed["spec"]["template"]["metadata"]["annotations"] = {SKIP_OWNER_REFERENCES_ANNOTATION: "true",
                                                             MANAGED_ANNOTATION: "true"}
    plan = rc.reconcile(sealed, None, ring, now=NOW)
    assert plan.action == "create" and plan.synced and plan.secret is not None
    assert "ownerReferences" not in plan.secret["metadata"]
    sealed, existing = settle(sealed, plan)
    assert rc.reconcile(sealed, existing, ring, now=NOW) == rc.Plan("none", None, None, None, None, True)
