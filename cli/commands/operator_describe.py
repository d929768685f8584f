"""`secrets-kit operator describe`: why each SealedSecret / ExternalSecret is or is not synced."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from secrets_kit.errors import EXIT_USAGE

from .operator_keys import context_namespace, fail, kubeconfig_option, on_cluster

EXIT_NOT_SYNCED = 3
SCHEMA = "secrets-kit.io/v1"


def _kinds(kind: str, every_namespace: bool, named: bool) -> list[str]:
    if kind != "all":
        return [kind]
    base = ["sealedsecret", "externalsecret"]
    # cluster-scoped: part of "everything" when every namespace is asked for, or a name is
    return [*base, "clusterexternalsecret"] if every_namespace or named else base


def _where(report: dict[str, Any]) -> str:
    return f"{report['namespace']}/{report['name']}" if report.get("namespace") else str(report["name"])


def _cond(cond: dict[str, Any] | None) -> str:
    if not cond:
        return "none"
    text = f"{cond.get('type')}={cond.get('status')}"
    if cond.get("reason"):
        text += f" {cond['reason']}"
    if cond.get("message"):
        text += f": {cond['message']}"
    return text


def _table(reports: list[dict[str, Any]]) -> list[str]:
    rows = [("KIND", "NAMESPACE", "NAME", "SYNCED", "REASON")]
    for r in reports:
        rows.append((r["kind"], r.get("namespace") or "-", r["name"], "yes" if r["synced"] else "no",
                     ",".join(x["code"] for x in r["reasons"]) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
            for row in rows]


def _store_line(store: dict[str, Any]) -> str:
    name = f"{store['kind']}/{store['name']}"
    if not store["found"]:
        return f"{name}: NOT FOUND"
    provider = f" ({store['provider']})" if store.get("provider") else ""
    controller = f" controller class {store['controller']}" if store.get("controller") else ""
    return f"{name}{provider}{controller}: {_cond(store.get('ready'))}"


def _secret_lines(secret: dict[str, Any]) -> list[str]:
    if not secret.get("exists"):
        return [f"{secret['name']}: does not exist"]
    out = [f"{secret['name']}: {secret.get('type')}, keys: {', '.join(secret.get('keys') or []) or '(none)'}"
           + (", immutable" if secret.get("immutable") else "")]
    owner = secret.get("owner")
    out.append("owner: " + (f"{owner['kind']}/{owner['name']}" + (" (this one)" if owner["isThis"] else
                                                                  " (ANOTHER object)") if owner else "none"))
    if "managed" in secret:  # an ExternalSecret's target
        out.append(f"managed label: {'yes' if secret['managed'] else 'no'}; created-by: "
                   + ("matches" if secret["createdBy"]["match"] else
                      f"{secret['createdBy']['value'] or 'absent'} (expected {secret['createdBy']['expected']})")
                   + "; data-hash: " + ("matches the data" if secret["dataHash"]["match"] else
                                        "MISMATCH (the data is not what was last synced)" if secret["dataHash"]["present"]
                                        else "absent"))
    else:
        marks = [a for a, on in (("managed", secret.get("managedAnnotation")), ("patch", secret.get("patchAnnotation")))
                 if on]
        if marks:
            out.append("annotations: " + ", ".join(f"sealedsecrets.bitnami.com/{m}" for m in marks))
    return out


def _detail(report: dict[str, Any]) -> list[str]:
    state = "synced" if report["synced"] else "NOT SYNCED"
    lines = [f"{report['kind']} {_where(report)}: {state}"]

    def add(label: str, text: str) -> None:
        lines.append(f"  {label + ':' if label else '':<13}{text}")

    for reason in report["reasons"]:
        add("reason", f"{reason['code']}: {reason['message']}")
    add("condition", _cond(report.get("condition")))
    if report.get("lastError") and report["lastError"] != (report.get("condition") or {}).get("message"):
        add("last error", str(report["lastError"]))
    for store in report.get("stores") or []:
        add("store", _store_line(store))
    if report["kind"] == "SealedSecret":
        add("scope", str(report["scope"]))
        keys = report["keys"]
        if keys["readable"]:
            available = ", ".join(f"{k['name']} {k['fingerprint']}" + (" (newest)" if k["fingerprint"] == keys["newest"]
                                                                       else f" ({k['state']})" if k["state"] != "active"
                                                                       else "") for k in keys["available"])
            add("keys", f"{keys['controllerNamespace']}: {available or 'none'}")
            for item, row in keys["items"].items():
                if row["key"]:
                    opened = f"opens with {row['keySource'] or row['key']} {row['key']}, sealed {row['binding']}"
                    add("item", f"{item}: {opened}" + ("" if row["matchesOwn"] else " (NOT this SealedSecret's scope)"))
                else:
                    add("item", f"{item}: {row['problem']}")
        else:
            add("keys", f"not readable in {keys['controllerNamespace']}")
    if report["kind"] == "ExternalSecret":
        refresh = report["refresh"]
        text = f"every {refresh['interval']} ({refresh['policy']}), last {refresh['lastRefresh'] or 'never'}, " \
               f"next {refresh['next']}"
        if refresh.get("forceSync"):
            text += f"; force-sync annotation: {refresh['forceSync']}"
        add("refresh", text)
    if report["kind"] in ("SecretStore", "ClusterSecretStore"):
        add("provider", str(report.get("provider")) + (f" (controller class {report['controller']})"
                                                       if report.get("controller") else ""))
    if report["kind"] == "ClusterExternalSecret":
        add("provisioned", ", ".join(report["provisionedNamespaces"]) or "none")
        for failed in report["failedNamespaces"]:
            add("failed", f"{failed['namespace']}: {failed['reason']}")
    if "secret" in report:
        first, *rest = _secret_lines(report["secret"])
        add("secret", first)
        for line in rest:
            add("", line)
    for event in report.get("warnings") or []:
        add("warning", f"{event['lastTimestamp']} {event['reason']} (x{event['count']}): {event['message']}")
    for note in report.get("notes") or []:
        add("note", note)
    return lines


@click.command(name="describe", context_settings={"max_content_width": 110})
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None, help="The objects' namespace [default: the kubeconfig context's namespace, else default].")
@click.option("-A", "--all-namespaces", "every_namespace", is_flag=True, help="Every namespace.")
@click.option("--kind", type=click.Choice(["sealedsecret", "externalsecret", "clusterexternalsecret", "secretstore",
                                         "clustersecretstore", "all"]),
              default="all", show_default=True,
              help="Which objects. `all`: SealedSecrets and ExternalSecrets, plus ClusterExternalSecrets with "
                   "-A or NAMES. Stores (their health) only when asked for.")
@click.option("--controller-namespace", default="kube-system", show_default=True,
              help="The sealed-secrets controller's namespace: its key Secrets tell which key opens each item.")
@kubeconfig_option
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def describe(names: tuple[str, ...], namespace: str | None, every_namespace: bool, kind: str,
             controller_namespace: str, kubeconfig: str | None, output: str) -> None:
    """Why each SealedSecret and ExternalSecret is or is not synced, without printing a value.

    \b
    secrets-kit operator describe -n team-a
    secrets-kit operator describe app-db -n team-a -o json
    secrets-kit operator describe -A --kind externalsecret

    For each object: the reasons it is not synced (a stable code and a sentence), its condition,
    the latest Warning events, and the Secret it produces (exists, key names, owner). ExternalSecrets
    add each store (found, provider, Ready = its health), the next refresh (status.refreshTime +
    refreshInterval; never for 0) and the force-sync annotation, and ESO's created-by label,
    managed label and data-hash check of the Secret. SealedSecrets add the scope, the controller's
    keys (from --controller-namespace, when readable) and which key opens each item under which
    scope. The table lists every object, then details those not synced (all, when NAMES are
    given). `-o json` prints {apiVersion, kind: DescribeReport, synced, items[], notFound[],
    notInstalled[]}, each item with kind, namespace, name, synced, reasons[{code, message}],
    notes[], condition, lastError, warnings[], secret{...} and per kind stores[] + refresh{...}
    or scope + keys{...}.

    Reason codes: never-synced, store-not-found, store-not-ready, store-denied, store-unmanaged,
    provider-error, template-error, secret-missing, secret-owned-by-other, secret-drifted,
    secret-immutable, secret-write-failed, sync-error, namespaces-failed (ExternalSecrets);
    never-synced, unknown-key, wrong-scope, malformed, unseal-failed, secret-not-owned,
    secret-immutable, secret-missing (SealedSecrets); never-synced, store-not-ready (stores).

    Exit codes: 0 every object described is synced, 3 some is not, 2 usage or a NAME not found,
    6 the API server unreachable or refusing.
    """
    if namespace and every_namespace:
        fail("give -n NAMESPACE or -A, not both", EXIT_USAGE)
    from secrets_kit_operator.describe import describe as run_describe

    scope = None if every_namespace else (namespace or context_namespace(kubeconfig))
    result = on_cluster(run_describe(kubeconfig, namespace=scope, names=list(names),
                                     kinds=_kinds(kind, every_namespace, bool(names)),
                                     controller_namespace=controller_namespace, now=dt.datetime.now(dt.UTC)))
    synced = all(r["synced"] for r in result.reports)
    if output == "json":
        click.echo(json.dumps({"apiVersion": SCHEMA, "kind": "DescribeReport", "synced": synced,
                               "items": result.reports, "notFound": result.missing,
                               "notInstalled": result.not_installed}, indent=2))
    else:
        if result.reports:
            for line in _table(result.reports):
                click.echo(line)
            for report in result.reports:
                if names or not report["synced"]:
                    click.echo("")
                    for line in _detail(report):
                        click.echo(line)
        elif not names:
            where = "any namespace" if scope is None else f"namespace {scope}"
            what = "SealedSecrets or ExternalSecrets" if kind == "all" else f"{kind} objects"
            click.echo(f"no {what} in {where}")
        for kind_name in result.not_installed:
            if kind != "all":
                click.echo(f"secrets-kit: warning: the API server serves no {kind_name} (CRD not installed)", err=True)
    for name in result.missing:
        where = "any namespace" if scope is None else f"namespace {scope}"
        click.echo(f"secrets-kit: error: {name}: not found in {where}", err=True)
    if result.missing:
        raise SystemExit(EXIT_USAGE)
    if not synced:
        raise SystemExit(EXIT_NOT_SYNCED)
