"""`secrets-kit operator keys backup|restore|rotate`: the cluster side (list, create key Secrets).

What a key Secret is, what a backup holds and what a restore may do are the core's
(secrets_kit.sealed.key_backup, controller_keys); this module only talks to the API server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed import key_backup as kb

from .kube import Kube, KubeError, load_credentials


async def _kube(kubeconfig: str | None) -> Kube:
    configuration, _ = await load_credentials(kubeconfig)
    return Kube(configuration)


async def key_secrets(kube: Kube, namespace: str, prefix: str) -> list[dict[str, Any]]:
    """Every Secret labelled sealed-secrets-key (any value), plus the legacy `<prefix>` one."""
    found = await kube.list_secrets(namespace, kb.KEY_LABEL)
    if not any(s["metadata"]["name"] == prefix for s in found):
        legacy = await kube.get_secret(namespace, prefix)
        if legacy is not None:
            found.append(legacy)
    return found


async def backup(kubeconfig: str | None, namespace: str, prefix: str) -> dict[str, Any]:
    kube = await _kube(kubeconfig)
    try:
        return kb.backup_list(await key_secrets(kube, namespace, prefix), prefix=prefix)
    finally:
        await kube.close()


async def restore(kubeconfig: str | None, namespace: str, items: list[dict[str, Any]], prefix: str,
                  *, dry_run: bool = False) -> list[kb.RestoreStep]:
    """Create the missing key Secrets; none at all when any one conflicts (all or nothing)."""
    kube = await _kube(kubeconfig)
    try:
        existing = await kube.list_secrets(namespace)
        steps = kb.plan_restore(items, existing, namespace, prefix=prefix)
        if dry_run or any(step.action == "conflict" for step in steps):
            return steps
        done = []
        for step in steps:
            if step.action == "create":
                assert step.body is not None
                try:
                    await kube.create_secret(namespace, step.body)
                except KubeError as err:
                    if err.status != 409:
                        raise
                    # created meanwhile (a second restore racing this one): decide again on what is there
                    current = await kube.get_secret(namespace, step.name)
                    step = kb.plan_restore([step.body], [current] if current else [], namespace, prefix=prefix)[0]
            done.append(step)
        return done
    finally:
        await kube.close()


async def rotate(kubeconfig: str | None, namespace: str, *, prefix: str, bits: int, ttl: dt.timedelta,
                 common_name: str, now: dt.datetime) -> kb.KeyInfo:
    """A new active key Secret, as the controller's renewal makes it; it seals from now on."""
    kube = await _kube(kubeconfig)
    try:
        # NotBefore has whole seconds: start strictly after the newest key's, or the two tie for "newest"
        loaded = ck.load_key_secrets(await key_secrets(kube, namespace, prefix), prefix=prefix)
        latest = max((k.not_before for k in loaded.keys), default=None)
        if latest is not None and now.replace(microsecond=0) <= latest:
            now = latest + dt.timedelta(seconds=1)
        body = ck.new_key_secret(namespace=namespace, prefix=prefix, bits=bits, ttl=ttl, common_name=common_name,
                                 now=now)
        created = await kube.create_secret(namespace, body)
        infos, _ = kb.summarize([created], prefix=prefix)
        return infos[0]
    finally:
        await kube.close()


async def list_keys(kubeconfig: str | None, namespace: str, prefix: str) -> tuple[list[kb.KeyInfo], list[str]]:
    kube = await _kube(kubeconfig)
    try:
        return kb.summarize(await key_secrets(kube, namespace, prefix), prefix=prefix)
    finally:
        await kube.close()
