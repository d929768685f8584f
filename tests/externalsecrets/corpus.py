"""The differential corpus: ExternalSecret cases given to the real ESO v0.16.2 and to ours.

Every case is data in the shape of `tests/externalsecrets/case.py`. Each `expect` was worked out
from ESO v0.16.2's Go source (module `github.com/external-secrets/external-secrets@v0.16.2`, paths
below are relative to it; `ctrl.go` = `pkg/controllers/externalsecret/externalsecret_controller.go`,
`secret.go` = `.../externalsecret_controller_secret.go`, `tpl.go` = `.../externalsecret_controller_template.go`,
`parser.go` = `pkg/controllers/templating/parser.go`, `tplv2` = `pkg/template/v2/template.go`,
`fake.go` = `pkg/provider/fake/fake.go`, `vault/get.go` = `pkg/provider/vault/client_get.go`,
`vault/all.go` = `pkg/provider/vault/client_get_all_secrets.go`, `utils.go` = `pkg/utils/utils.go`),
from ESO's e2e cases (`e2e/suites/provider/cases/{common,vault}/*.go` of the upstream repository,
tag "e2e:<Name>") and from its envtest cases (`pkg/controllers/externalsecret/externalsecret_controller_test.go`,
tag "envtest:<name>"). The comment above each case says where its expectation comes from.

AWS cases (section c) read the session's moto server with the keys of the Secret `aws-creds` the harness
creates; Secrets Manager names live under `corpus/<case id>/`, parameters under `/corpus/<case id>/`.

Conventions (see case.py): the SecretStore is `store`; the ExternalSecret is named after the case id,
so a Secret without `target.name` is named after the case id too. Vault cases use KV v2 at mount
`secret` and KV v1 at mount `secret_v1`, token auth through the Secret `vault-token`/`token` the
harness creates; every Vault path is under `<mount>/corpus/<case id>/` so cases never see each
other's data (find lists recursively).

Checked against the real ESO v0.16.2 on 2026-12-03 (`test_differential.py::test_eso_meets_case`,
ESO side only, fake and Vault groups): every case meets its expectation except
`store-other-controller-class`, where ESO (as expected) never writes a status: the harness cannot
yet express "no Ready condition" (ready="").

`expect` keys beyond case.py's documented ones (harnesses may ignore them): `immutable` (bool) and
`absent_labels` (label keys that must not be on the Secret).

Messages ESO sets with each reason (ctrl.go constants): SecretSynced "secret synced" (or "secret
retained due to DeletionPolicy=Retain" when the provider returned no data), SecretDeleted "secret
deleted due to DeletionPolicy=Delete", SecretMissing "secret will not be created due to
CreationPolicy=Merge", SecretSyncedError "could not get secret data from provider" (fetch errors),
"could not update secret" (template errors), "could not delete secret".
"""

from __future__ import annotations

import json
from typing import Any

from .case import Case

MANAGED = "reconcile.external-secrets.io/managed"
CREATED_BY = "reconcile.external-secrets.io/created-by"
MANAGED_LABELS = {MANAGED: "true"}

VAULT_TOKEN_AUTH = {"tokenSecretRef": {"name": "vault-token", "key": "token"}}
VAULT_V2: dict[str, Any] = {
    "vault": {"server": "{{VAULT_ADDR}}", "path": "secret", "version": "v2", "auth": VAULT_TOKEN_AUTH}
}
VAULT_V1: dict[str, Any] = {
    "vault": {"server": "{{VAULT_ADDR}}", "path": "secret_v1", "version": "v1", "auth": VAULT_TOKEN_AUTH}
}

# ESO e2e constants (common.go).
SECRET_VALUE_1 = '{"foo1":"foo1-val","bar1":"bar1-val"}'
SECRET_VALUE_2 = '{"foo2":"foo2-val","bar2":"bar2-val"}'
DOCKERCONFIG = '{"auths":{"https://index.docker.io/v1/": {"auth": "c3R...zE2"}}}'
SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn\n"
    "NhAAAAAwEAAQAAAYEAsARoZUqo6L5dd0WRjZ2QPq/kKlbjtUY1njzJ01UtdC1u1eSJFUnV\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
VAULT_JSON = {"foo": {"nested": {"bar": "mysecret", "baz": "bang"}}}  # vault.go jsonVal


def fake(*entries: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """A fake provider spec from (key, value[, version]) tuples."""
    data = []
    for e in entries:
        item = {"key": e[0], "value": e[1]}
        if len(e) == 3:
            item["version"] = e[2]
        data.append(item)
    return {"fake": {"data": data}}


def d(secret_key: str, key: str, **ref: Any) -> dict[str, Any]:
    """One spec.data[] entry."""
    return {"secretKey": secret_key, "remoteRef": {"key": key, **ref}}


def secret(data: dict[str, str], type_: str = "Opaque", labels: dict[str, str] | None = None,
           annotations: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    """An expected Secret; `labels` always includes ESO's managed label."""
    out: dict[str, Any] = {"type": type_, "data": data, "labels": {**MANAGED_LABELS, **(labels or {})}}
    if annotations:
        out["annotations"] = annotations
    out.update(more)
    return out


def vp(case_id: str, name: str, mount: str = "secret") -> str:
    """A case's own Vault path `<mount>/corpus/<case id>/<name>` (as `bao kv put` takes it)."""
    return f"{mount}/corpus/{case_id}/{name}"


def vk(case_id: str, name: str) -> str:
    """The remoteRef.key for vp(case_id, name) (relative to the store's mount)."""
    return f"corpus/{case_id}/{name}"


CASES: list[Case] = []
add = CASES.append

# ---------------------------------------------------------------------------------------------
# (a) ESO's e2e cases (e2e/suites/provider/cases/common/common.go), on the fake provider
# ---------------------------------------------------------------------------------------------

# e2e common.go SimpleDataSync; fake.go GetSecret returns the value verbatim.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-simple-data-sync",
    store=fake(("simple-one", "bar"), ("simple-other", "bar")),
    external_secret={"target": {"name": "e2e-simple-target"},
                     "data": [d("simple-one", "simple-one"), d("simple-other", "simple-other")]},
    expect=secret({"simple-one": "bar", "simple-other": "bar"}),
    tags=frozenset({"fake", "e2e:SimpleDataSync", "data"}),
))

# e2e common.go SyncWithoutTargetName; ctrl.go Reconcile: secretName defaults to the ES name.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-sync-without-target-name",
    store=fake(("nt-one", "bar")),
    external_secret={"data": [d("nt-one", "nt-one")]},
    expect=secret({"nt-one": "bar"}),
    tags=frozenset({"fake", "e2e:SyncWithoutTargetName", "data", "target:name-default"}),
))

# e2e common.go JSONDataWithProperty; fake.go GetSecret: gjson.Get(value, property).String().
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-json-data-with-property",
    store=fake(("prop-one", SECRET_VALUE_1), ("prop-two", SECRET_VALUE_2)),
    external_secret={"data": [d("prop-one", "prop-one", property="foo1"),
                              d("prop-two", "prop-two", property="bar2")]},
    expect=secret({"prop-one": "foo1-val", "prop-two": "bar2-val"}),
    tags=frozenset({"fake", "e2e:JSONDataWithProperty", "data", "property"}),
))

# e2e common.go JSONDataWithoutTargetName; ctrl.go (secretName default) + fake.go property.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-json-data-without-target-name",
    store=fake(("jnt-one", '{"foo":"foo-val","bar":"bar-val"}')),
    external_secret={"data": [d("jnt-one", "jnt-one", property="foo")]},
    expect=secret({"jnt-one": "foo-val"}),
    tags=frozenset({"fake", "e2e:JSONDataWithoutTargetName", "data", "property", "target:name-default"}),
))

# e2e common.go JSONDataWithTemplate; tpl.go applyTemplate: template metadata replaces the ES's own
# labels/annotations (setMetadata), template.data only (no provider keys: mergePolicy Replace).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-json-data-with-template",
    store=fake(("tpl-one", SECRET_VALUE_1), ("tpl-other", SECRET_VALUE_2)),
    external_secret={
        "metadata": {"labels": {"from-es": "not-copied"}},
        "target": {"template": {
            "metadata": {"annotations": {"example": "annotation"}, "labels": {"example": "label"}},
            "data": {"my-data": "executed: {{ .one }}|{{ .two }}"}}},
        "data": [d("one", "tpl-one", property="foo1"), d("two", "tpl-other", property="bar2")]},
    expect=secret({"my-data": "executed: foo1-val|bar2-val"}, labels={"example": "label"},
                  annotations={"example": "annotation"}, absent_labels=["from-es"]),
    tags=frozenset({"fake", "e2e:JSONDataWithTemplate", "template", "template:data", "template:metadata",
                    "mergePolicy:Replace"}),
))

# e2e common.go JSONDataWithTemplateFromLiteral (the upstream body was not readable in the source
# index; written from its name): parser.go MergeLiteral renders the literal as KeysAndValues, the
# output is YAML parsed into keys (tplv2 mapScopeApply), target defaults to Data.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-json-data-with-template-from-literal",
    store=fake(("lit-one", SECRET_VALUE_1), ("lit-two", SECRET_VALUE_2)),
    external_secret={
        "target": {"template": {"templateFrom": [
            {"literal": "{{ .one }}: {{ .two }}"},
            {"literal": "static-key: static-value"}]}},
        "data": [d("one", "lit-one", property="foo1"), d("two", "lit-two", property="bar2")]},
    expect=secret({"foo1-val": "bar2-val", "static-key": "static-value"}),
    tags=frozenset({"fake", "e2e:JSONDataWithTemplateFromLiteral", "template", "templateFrom:literal",
                    "templateFrom:target:Data"}),
))

# e2e common.go TemplateFromConfigmaps (upstream body not readable; written from its name and the
# envtest syncWithTemplatePrecedence): parser.go MergeConfigMap, templateAs default Values keeps the
# ConfigMap key as the Secret key; template.data is applied after templateFrom and wins on a clash.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-template-from-configmaps",
    store=fake(("tcm-one", SECRET_VALUE_1), ("tcm-two", SECRET_VALUE_2)),
    extra_objects=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tpl-cm"},
                    "data": {"config.yaml": "user: {{ .one }}\npass: {{ .two }}\n",
                             "clash": "from-configmap {{ .one }}"}}],
    external_secret={
        "target": {"template": {
            "templateFrom": [{"configMap": {"name": "tpl-cm", "items": [{"key": "config.yaml"},
                                                                        {"key": "clash"}]}}],
            "data": {"clash": "from-data {{ .two }}"}}},
        "data": [d("one", "tcm-one", property="foo1"), d("two", "tcm-two", property="bar2")]},
    expect=secret({"config.yaml": "user: foo1-val\npass: bar2-val\n", "clash": "from-data bar2-val"}),
    tags=frozenset({"fake", "e2e:TemplateFromConfigmaps", "template", "templateFrom:configMap",
                    "templateAs:Values", "template:precedence"}),
))

# e2e common.go JSONDataFromSync; fake.go GetSecretMap json-decodes the value (strings unquoted).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-json-data-from-sync",
    store=fake(("dfs-one", '{ "name": "great-name", "surname": "great-surname" }')),
    external_secret={"dataFrom": [{"extract": {"key": "dfs-one"}}]},
    expect=secret({"name": "great-name", "surname": "great-surname"}),
    tags=frozenset({"fake", "e2e:JSONDataFromSync", "dataFrom:extract"}),
))

# e2e common.go JSONDataFromRewrite; utils.go RewriteRegexp: Go ReplaceAllString with $1.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-json-data-from-rewrite",
    store=fake(("dfr-one", '{ "username": "myuser.name", "address": "happy street" }')),
    external_secret={"dataFrom": [{"extract": {"key": "dfr-one"},
                                   "rewrite": [{"regexp": {"source": "(.*)", "target": "my_$1"}}]}]},
    expect=secret({"my_username": "myuser.name", "my_address": "happy street"}),
    tags=frozenset({"fake", "e2e:JSONDataFromRewrite", "dataFrom:extract", "rewrite:regexp"}),
))

# e2e common.go NestedJSONWithGJSON; fake.go property is a gjson path (name.first, friends.1.first).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-nested-json-gjson",
    store=fake(("nested-one", '{"name": {"first": "Tom", "last": "Anderson"}, "friends": ['
                              '{"first": "Dale", "last": "Murphy"}, {"first": "Roger", "last": "Craig"}, '
                              '{"first": "Jane", "last": "Murphy"}]}')),
    external_secret={"data": [d("firstname", "nested-one", property="name.first"),
                              d("first_friend", "nested-one", property="friends.1.first")]},
    expect=secret({"firstname": "Tom", "first_friend": "Roger"}),
    tags=frozenset({"fake", "e2e:NestedJSONWithGJSON", "data", "property:gjson"}),
))

# e2e common.go DockerJSONConfig; gjson String() of an object is its raw text (whitespace kept);
# tpl.go: no template.type keeps the type empty, the API server defaults it to Opaque.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-docker-json-config",
    store=fake(("docker-config-example", '{"dockerconfig": ' + DOCKERCONFIG + '}')),
    external_secret={"data": [d("mysecret", "docker-config-example", property="dockerconfig")],
                     "target": {"template": {"data": {".dockerconfigjson": "{{ .mysecret }}"}}}},
    expect=secret({".dockerconfigjson": DOCKERCONFIG}),
    tags=frozenset({"fake", "e2e:DockerJSONConfig", "template", "property:gjson"}),
))

# e2e common.go DataPropertyDockerconfigJSON; a JSON string member: gjson String() unquotes it;
# tpl.go sets secret.Type from template.type.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-data-property-dockerconfigjson",
    store=fake(("docker-config-str", json.dumps({"dockerconfig": DOCKERCONFIG}))),
    external_secret={"data": [d("mysecret", "docker-config-str", property="dockerconfig")],
                     "target": {"template": {"type": "kubernetes.io/dockerconfigjson",
                                             "data": {".dockerconfigjson": "{{ .mysecret }}"}}}},
    expect=secret({".dockerconfigjson": DOCKERCONFIG}, type_="kubernetes.io/dockerconfigjson"),
    tags=frozenset({"fake", "e2e:DataPropertyDockerconfigJSON", "template", "template:type", "property"}),
))

# e2e common.go SSHKeySync; tpl.go type from the template; value verbatim (fake.go GetSecret).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-ssh-key-sync",
    store=fake(("ssh-priv-key-example", SSH_KEY)),
    external_secret={"data": [d("mysecret", "ssh-priv-key-example")],
                     "target": {"template": {"type": "kubernetes.io/ssh-auth",
                                             "data": {"ssh-privatekey": "{{ .mysecret }}"}}}},
    expect=secret({"ssh-privatekey": SSH_KEY}, type_="kubernetes.io/ssh-auth"),
    tags=frozenset({"fake", "e2e:SSHKeySync", "template", "template:type"}),
))

# e2e common.go SSHKeySyncDataProperty; gjson unquotes the JSON string member (newlines restored).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-ssh-key-sync-data-property",
    store=fake(("ssh-json-example", json.dumps({"ssh-auth": SSH_KEY}))),
    external_secret={"data": [d("mysecret", "ssh-json-example", property="ssh-auth")],
                     "target": {"template": {"type": "kubernetes.io/ssh-auth",
                                             "data": {"ssh-privatekey": "{{ .mysecret }}"}}}},
    expect=secret({"ssh-privatekey": SSH_KEY}, type_="kubernetes.io/ssh-auth"),
    tags=frozenset({"fake", "e2e:SSHKeySyncDataProperty", "template", "template:type", "property"}),
))

# e2e common.go DeletionPolicyDelete, as a static state (the provider keys are already gone):
# secret.go skips NoSecretErr when deletionPolicy != Retain; ctrl.go Reconcile: empty dataMap +
# Delete + Owner -> nothing to delete, markAsDone(SecretDeleted, "secret deleted due to DeletionPolicy=Delete").
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-deletion-policy-delete",
    store=fake(("unrelated", "x")),
    external_secret={"target": {"deletionPolicy": "Delete"},
                     "data": [d("del-one", "del-one"), d("del-other", "del-other")]},
    expect=None, reason="SecretDeleted",
    tags=frozenset({"fake", "e2e:DeletionPolicyDelete", "deletionPolicy:Delete", "no-secret"}),
))

DECODING_VALUE = json.dumps({"name": "Z3JlYXQtbmFtZQ==", "surname": "Z3JlYXQtc3VybmFtZQ==",
                             "address": "happy calm street No. 1"})
# e2e common.go DecodingPolicySync; utils.go Decode: Auto tries std base64, then URL base64, else raw.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-decoding-policy-sync",
    store=fake(("dec-one", DECODING_VALUE)),
    external_secret={"dataFrom": [{"extract": {"key": "dec-one", "decodingStrategy": "Auto"}}],
                     "data": [d("base64", "dec-one", property="name", decodingStrategy="Base64"),
                              d("none", "dec-one", property="name", decodingStrategy="None")]},
    expect=secret({"name": "great-name", "surname": "great-surname", "address": "happy calm street No. 1",
                   "base64": "great-name", "none": "Z3JlYXQtbmFtZQ=="}),
    tags=frozenset({"fake", "e2e:DecodingPolicySync", "decoding:Auto", "decoding:Base64", "decoding:None",
                    "dataFrom:extract", "data"}),
))

# e2e find_by_name.go FindByName; fake.go GetAllSecrets: find.New(name).MatchName (unanchored RE2).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-find-by-name",
    store=fake(("e2e_find_name_one", '{"foo1":"foo1-val"}'), ("e2e_find_name_two", '{"foo1":"foo1-val"}'),
               ("e2e_find_name_three", '{"foo1":"foo1-val"}'), ("other_key", "nope")),
    external_secret={"dataFrom": [{"find": {"name": {"regexp": "e2e_find_name.+"}}}]},
    expect=secret({"e2e_find_name_one": '{"foo1":"foo1-val"}', "e2e_find_name_two": '{"foo1":"foo1-val"}',
                   "e2e_find_name_three": '{"foo1":"foo1-val"}'}),
    tags=frozenset({"fake", "e2e:FindByName", "find:name"}),
))

# e2e find_by_name.go FindByNameAndRewrite; secret.go handleFindAllSecrets then utils.go RewriteMap.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(Case(
    id="e2e-find-by-name-and-rewrite",
    store=fake(("e2e_find_and_rewrite_one", '{"foo1":"foo1-val"}'),
               ("e2e_find_and_rewrite_two", '{"foo1":"foo1-val"}')),
    external_secret={"dataFrom": [{"find": {"name": {"regexp": "e2e_find_and_rewrite.+"}},
                                   "rewrite": [{"regexp": {"source": "e2e_find_and_rewrite_(.*)",
                                                           "target": "$1"}}]}]},
    expect=secret({"one": '{"foo1":"foo1-val"}', "two": '{"foo1":"foo1-val"}'}),
    tags=frozenset({"fake", "e2e:FindByNameAndRewrite", "find:name", "rewrite:regexp"}),
))

# ---------------------------------------------------------------------------------------------
# (a') ESO's e2e cases on Vault (cases/vault/vault.go lists which common cases run on Vault)
# ---------------------------------------------------------------------------------------------


def vcase(case_id: str, remote: dict[str, dict[str, Any]], es: dict[str, Any], expect: dict[str, Any] | None,
          tags: set[str], store: dict[str, Any] = VAULT_V2, **kw: Any) -> Case:
    version_tag = "vault:v1" if store is VAULT_V1 else "vault:v2"
    return Case(id=case_id, store=store, external_secret=es, remote=remote, expect=expect,
                tags=frozenset(tags | {"vault", version_tag}), **kw)


for _store, _mount, _sfx in ((VAULT_V2, "secret", "v2"), (VAULT_V1, "secret_v1", "v1")):
    # e2e common.go JSONDataWithProperty on vault.go (token auth and v1 provider); vault/get.go
    # getSecretValue: an exact top-level key wins (GetByteValueFromMap).
    # Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
    _id = f"vault-{_sfx}-json-data-with-property"
    add(vcase(_id, {vp(_id, "one", _mount): json.loads(SECRET_VALUE_1), vp(_id, "two", _mount): json.loads(SECRET_VALUE_2)},
              {"data": [d("one", vk(_id, "one"), property="foo1"), d("two", vk(_id, "two"), property="bar2")]},
              secret({"one": "foo1-val", "two": "bar2-val"}), {"e2e:JSONDataWithProperty", "data", "property"},
              store=_store))

    # e2e common.go JSONDataWithoutTargetName (vault.go); default target name + exact-key property.
    # Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
    _id = f"vault-{_sfx}-json-data-without-target-name"
    add(vcase(_id, {vp(_id, "one", _mount): {"foo": "foo-val", "bar": "bar-val"}},
              {"data": [d("jnt", vk(_id, "one"), property="foo")]},
              secret({"jnt": "foo-val"}), {"e2e:JSONDataWithoutTargetName", "data", "target:name-default"},
              store=_store))

    # e2e common.go JSONDataWithTemplate (vault.go); tpl.go template metadata + data.
    # Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
    _id = f"vault-{_sfx}-json-data-with-template"
    add(vcase(_id, {vp(_id, "one", _mount): json.loads(SECRET_VALUE_1), vp(_id, "two", _mount): json.loads(SECRET_VALUE_2)},
              {"target": {"template": {
                  "metadata": {"annotations": {"example": "annotation"}, "labels": {"example": "label"}},
                  "data": {"my-data": "executed: {{ .one }}|{{ .two }}"}}},
               "data": [d("one", vk(_id, "one"), property="foo1"), d("two", vk(_id, "two"), property="bar2")]},
              secret({"my-data": "executed: foo1-val|bar2-val"}, labels={"example": "label"},
                     annotations={"example": "annotation"}),
              {"e2e:JSONDataWithTemplate", "template", "template:metadata"}, store=_store))

    # e2e common.go JSONDataFromSync (vault.go); vault/get.go GetSecretMap: GetByteValueFromMap per key.
    # Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
    _id = f"vault-{_sfx}-json-data-from-sync"
    add(vcase(_id, {vp(_id, "one", _mount): {"name": "great-name", "surname": "great-surname"}},
              {"dataFrom": [{"extract": {"key": vk(_id, "one")}}]},
              secret({"name": "great-name", "surname": "great-surname"}), {"e2e:JSONDataFromSync", "dataFrom:extract"},
              store=_store))

    # e2e common.go JSONDataFromRewrite (vault.go); utils.go RewriteRegexp.
    # Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
    _id = f"vault-{_sfx}-json-data-from-rewrite"
    add(vcase(_id, {vp(_id, "one", _mount): {"username": "myuser.name", "address": "happy street"}},
              {"dataFrom": [{"extract": {"key": vk(_id, "one")},
                             "rewrite": [{"regexp": {"source": "(.*)", "target": "my_$1"}}]}]},
              secret({"my_username": "myuser.name", "my_address": "happy street"}),
              {"e2e:JSONDataFromRewrite", "dataFrom:extract", "rewrite:regexp"}, store=_store))

    # e2e common.go DataPropertyDockerconfigJSON (vault.go); the exact key holds a string.
    # Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
    _id = f"vault-{_sfx}-data-property-dockerconfigjson"
    add(vcase(_id, {vp(_id, "docker", _mount): {"dockerconfig": DOCKERCONFIG}},
              {"data": [d("mysecret", vk(_id, "docker"), property="dockerconfig")],
               "target": {"template": {"type": "kubernetes.io/dockerconfigjson",
                                       "data": {".dockerconfigjson": "{{ .mysecret }}"}}}},
              secret({".dockerconfigjson": DOCKERCONFIG}, type_="kubernetes.io/dockerconfigjson"),
              {"e2e:DataPropertyDockerconfigJSON", "template", "template:type"}, store=_store))

# e2e common.go DecodingPolicySync on vault.go (token auth); utils.go Decode.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-decoding-policy-sync"
add(vcase(_id, {vp(_id, "one"): json.loads(DECODING_VALUE)},
          {"dataFrom": [{"extract": {"key": vk(_id, "one"), "decodingStrategy": "Auto"}}],
           "data": [d("base64", vk(_id, "one"), property="name", decodingStrategy="Base64"),
                    d("none", vk(_id, "one"), property="name", decodingStrategy="None")]},
          secret({"name": "great-name", "surname": "great-surname", "address": "happy calm street No. 1",
                  "base64": "great-name", "none": "Z3JlYXQtbmFtZQ=="}),
          {"e2e:DecodingPolicySync", "decoding:Auto", "decoding:Base64", "decoding:None"}))

# e2e common.go SSHKeySyncDataProperty (listed for Vault in the e2e vault suites).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-ssh-key-sync-data-property"
add(vcase(_id, {vp(_id, "ssh"): {"ssh-auth": SSH_KEY}},
          {"data": [d("mysecret", vk(_id, "ssh"), property="ssh-auth")],
           "target": {"template": {"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": "{{ .mysecret }}"}}}},
          secret({"ssh-privatekey": SSH_KEY}, type_="kubernetes.io/ssh-auth"),
          {"e2e:SSHKeySyncDataProperty", "template", "template:type"}))

# e2e find_by_name.go FindByName on Vault; vault/all.go: LIST <mount>/metadata/<path>/ recursively,
# keys are the relative paths (corpus/<id>/...), ConvertKeys(Default) turns "/" into "_";
# values are json.Marshal of the KV map (vault/get.go getSecretValue, property "").
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-find-by-name"
add(vcase(_id, {vp(_id, "e2e_find_name_one"): {"foo1": "foo1-val"}, vp(_id, "e2e_find_name_two"): {"foo1": "foo1-val"},
                vp(_id, "other"): {"foo1": "x"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}", "name": {"regexp": "e2e_find_name.+"}}}]},
          secret({f"corpus_{_id}_e2e_find_name_one": '{"foo1":"foo1-val"}',
                  f"corpus_{_id}_e2e_find_name_two": '{"foo1":"foo1-val"}'}),
          {"e2e:FindByName", "find:name", "find:path", "conversion:Default"}))

# e2e find_by_name.go FindByNameAndRewrite on Vault; rewrite replaces the default conversion
# (secret.go handleFindAllSecrets: ConvertKeys only without rewrite), so "/" must be rewritten away.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-find-by-name-and-rewrite"
add(vcase(_id, {vp(_id, "e2e_find_and_rewrite_one"): {"foo1": "foo1-val"},
                vp(_id, "e2e_find_and_rewrite_two"): {"foo1": "foo1-val"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}", "name": {"regexp": "e2e_find_and_rewrite.+"}},
                         "rewrite": [{"regexp": {"source": ".*/e2e_find_and_rewrite_(.*)", "target": "$1"}}]}]},
          secret({"one": '{"foo1":"foo1-val"}', "two": '{"foo1":"foo1-val"}'}),
          {"e2e:FindByNameAndRewrite", "find:name", "find:path", "rewrite:regexp"}))

# e2e vault.go testJSONWithoutProperty: no property -> json.Marshal of the whole map (compact, keys sorted).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-json-without-property"
add(vcase(_id, {vp(_id, "json"): VAULT_JSON},
          {"data": [d("json", vk(_id, "json"))]},
          secret({"json": '{"foo":{"nested":{"bar":"mysecret","baz":"bang"}}}'}),
          {"e2e:vault:testJSONWithoutProperty", "data"}))

# e2e vault.go testJSONWithProperty: gjson path into the marshalled map gives the raw object.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-json-with-property"
add(vcase(_id, {vp(_id, "json"): VAULT_JSON},
          {"data": [d("json", vk(_id, "json"), property="foo.nested")]},
          secret({"json": '{"bar":"mysecret","baz":"bang"}'}),
          {"e2e:vault:testJSONWithProperty", "data", "property:gjson"}))

# e2e vault.go testDataFromJSONWithoutProperty: nested members are json.Marshal'ed (utils.go GetByteValue).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-datafrom-json-without-property"
add(vcase(_id, {vp(_id, "json"): VAULT_JSON},
          {"dataFrom": [{"extract": {"key": vk(_id, "json")}}]},
          secret({"foo": '{"nested":{"bar":"mysecret","baz":"bang"}}'}),
          {"e2e:vault:testDataFromJSONWithoutProperty", "dataFrom:extract"}))

# e2e vault.go testDataFromJSONWithProperty: extract with property decodes the object at the path.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-datafrom-json-with-property"
add(vcase(_id, {vp(_id, "json"): VAULT_JSON},
          {"dataFrom": [{"extract": {"key": vk(_id, "json"), "property": "foo.nested"}}]},
          secret({"bar": "mysecret", "baz": "bang"}),
          {"e2e:vault:testDataFromJSONWithProperty", "dataFrom:extract", "property:gjson"}))

# ---------------------------------------------------------------------------------------------
# Vault v1/v2 specifics (pkg/provider/vault)
# ---------------------------------------------------------------------------------------------

# vault/get.go getSecretValue + utils.go GetByteValue: exact keys; numbers via json.Number text,
# bools via FormatBool, arrays and maps via json.Marshal (compact).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-typed-values"
add(vcase(_id, {vp(_id, "typed"): {"n": 42, "f": 1.5, "b": True, "arr": [1, "a"], "obj": {"k": "v"}}},
          {"data": [d("n", vk(_id, "typed"), property="n"), d("f", vk(_id, "typed"), property="f"),
                    d("b", vk(_id, "typed"), property="b"), d("arr", vk(_id, "typed"), property="arr"),
                    d("obj", vk(_id, "typed"), property="obj")]},
          secret({"n": "42", "f": "1.5", "b": "true", "arr": '[1,"a"]', "obj": '{"k":"v"}'}),
          {"property"}))

# vault/get.go readSecret: GET <mount>/data/<key>?version=1 (remoteRef.version); the harness writes
# each path once per run, so version 1 is the value written.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-version"
add(vcase(_id, {vp(_id, "v"): {"pw": "first"}},
          {"data": [d("pw", vk(_id, "v"), property="pw", version="1")]},
          secret({"pw": "first"}), {"version"}))

# vault/get.go readSecret: a version that does not exist reads as nil/data:null -> NoSecretError;
# deletionPolicy Retain (default) -> secret.go returns the error -> ctrl.go markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-version-missing"
add(vcase(_id, {vp(_id, "v"): {"pw": "first"}},
          {"data": [d("pw", vk(_id, "v"), property="pw", version="99")]},
          None, {"version", "error", "deletionPolicy:Retain"}, ready="False", reason="SecretSyncedError"))

# vault/get.go getSecretValue: a missing property is errSecretKeyFmt, NOT NoSecretError, so even
# deletionPolicy Delete does not skip it (contrast fake-missing-property-delete).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-missing-property-delete"
add(vcase(_id, {vp(_id, "p"): {"present": "x"}},
          {"target": {"deletionPolicy": "Delete"},
           "data": [d("present", vk(_id, "p"), property="present"), d("absent", vk(_id, "p"), property="absent")]},
          None, {"property", "error", "deletionPolicy:Delete"}, ready="False", reason="SecretSyncedError"))

# vault/get.go readSecret: nil response -> NoSecretError; Retain -> error (ctrl.go markAsFailed).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-missing-key-retain"
add(vcase(_id, {vp(_id, "exists"): {"a": "b"}},
          {"data": [d("gone", vk(_id, "gone"))]},
          None, {"error", "deletionPolicy:Retain", "envtest:providerErrCondition"}, ready="False",
          reason="SecretSyncedError"))

# secret.go getProviderSecretData: NoSecretError skipped with deletionPolicy Merge -> the remaining keys.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-missing-key-merge"
add(vcase(_id, {vp(_id, "exists"): {"a": "b"}},
          {"target": {"deletionPolicy": "Merge"},
           "data": [d("a", vk(_id, "exists"), property="a"), d("gone", vk(_id, "gone"))]},
          secret({"a": "b"}), {"deletionPolicy:Merge"}))

# vault/get.go GetSecret: metadataPolicy Fetch on a KV v1 store -> errUnsupportedMetadataKvVersion.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v1-metadata-fetch-unsupported"
add(vcase(_id, {vp(_id, "m", "secret_v1"): {"a": "b"}},
          {"data": [d("meta", vk(_id, "m"), metadataPolicy="Fetch")]},
          None, {"metadataPolicy:Fetch", "error"}, store=VAULT_V1, ready="False", reason="SecretSyncedError"))

# vault/get.go readSecretMetadata: GET <mount>/metadata/<key>; custom_metadata is unset (null) ->
# an empty map -> GetSecret returns (nil, nil) -> the key is written with an empty value.
# (Inference from the code: a secret without custom_metadata; the harness cannot set custom metadata.)
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-metadata-fetch-empty"
add(vcase(_id, {vp(_id, "m"): {"a": "b"}},
          {"data": [d("plain", vk(_id, "m"), property="a"), d("meta", vk(_id, "m"), metadataPolicy="Fetch")]},
          secret({"plain": "b", "meta": ""}), {"metadataPolicy:Fetch", "inference"}))

# vault/all.go GetAllSecrets: find.tags on a KV v1 store -> errUnsupportedKvVersion.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v1-find-tags-unsupported"
add(vcase(_id, {vp(_id, "t", "secret_v1"): {"a": "b"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}", "tags": {"team": "x"}}}]},
          None, {"find:tags", "error"}, store=VAULT_V1, ready="False", reason="SecretSyncedError"))

# e2e find_by_tags.go FindByTag (Vault v2 only) without custom metadata on the candidates:
# vault/all.go findSecretsFromTags matches nothing -> empty map; ctrl.go: empty data + Retain ->
# markAsDone(SecretSynced, "secret retained due to DeletionPolicy=Retain"), no Secret created.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-find-tags-no-match"
add(vcase(_id, {vp(_id, "t1"): {"a": "b"}, vp(_id, "t2"): {"c": "d"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}", "tags": {"test": "corpus"}}}]},
          None, {"e2e:FindByTag", "find:tags", "find:path", "deletionPolicy:Retain", "no-secret"}))

# vault/all.go listSecrets: LIST of a path with no entries -> nil -> NoSecretError; Retain -> error.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-find-path-missing-retain"
add(vcase(_id, {vp(_id, "x"): {"a": "b"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}/nothing-here", "name": {"regexp": ".*"}}}]},
          None, {"find:path", "error", "deletionPolicy:Retain"}, ready="False", reason="SecretSyncedError"))

# Same with deletionPolicy Delete: the NoSecretError is skipped (event MissingProviderSecret), the
# data is empty -> ctrl.go markAsDone(SecretDeleted), no Secret.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-find-path-missing-delete"
add(vcase(_id, {vp(_id, "x"): {"a": "b"}},
          {"target": {"deletionPolicy": "Delete"},
           "dataFrom": [{"find": {"path": f"corpus/{_id}/nothing-here", "name": {"regexp": ".*"}}}]},
          None, {"find:path", "deletionPolicy:Delete", "no-secret"}, reason="SecretDeleted"))

# vault/all.go: find.path and name; nested paths are listed recursively; conversionStrategy Unicode
# turns "/" into "_U002f_" (utils.go convert, "%04x").
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-find-recursive-unicode"
add(vcase(_id, {vp(_id, "a"): {"k": "1"}, vp(_id, "sub/b"): {"k": "2"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}", "name": {"regexp": ".*"}, "conversionStrategy": "Unicode"}}]},
          secret({f"corpus_U002f_{_id}_U002f_a": '{"k":"1"}', f"corpus_U002f_{_id}_U002f_sub_U002f_b": '{"k":"2"}'}),
          {"find:name", "find:path", "conversion:Unicode"}))

# vault/get.go buildPath: a key that starts with the store's mount is not prefixed twice.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-key-with-mount-prefix"
add(vcase(_id, {vp(_id, "k"): {"u": "user1"}},
          {"data": [d("u", "secret/" + vk(_id, "k"), property="u")]},
          secret({"u": "user1"}), {"data"}))

# vault/get.go buildPath: "<mount>/data/" at the start of a v2 key is cut too, then re-added once.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-key-with-data-prefix"
add(vcase(_id, {vp(_id, "k"): {"u": "user3"}},
          {"data": [d("u", "secret/data/" + vk(_id, "k"), property="u")]},
          secret({"u": "user3"}), {"data"}))

# vault/get.go buildPath without store path: v2 inserts "data" after the first segment.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-no-store-path"
add(Case(id=_id, store={"vault": {"server": "{{VAULT_ADDR}}", "version": "v2", "auth": VAULT_TOKEN_AUTH}},
         remote={vp(_id, "k"): {"u": "user2"}},
         external_secret={"data": [d("u", "secret/" + vk(_id, "k"), property="u")]},
         expect=secret({"u": "user2"}), tags=frozenset({"vault", "vault:v2", "data"})))

# vault/get.go: a KV v1 secret without property is json.Marshal of the map (keys sorted, compact).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v1-json-without-property"
add(vcase(_id, {vp(_id, "k", "secret_v1"): {"z": "last", "a": "first"}},
          {"data": [d("all", vk(_id, "k"))]},
          secret({"all": '{"a":"first","z":"last"}'}), {"data"}, store=VAULT_V1))

# Store with a token Secret that does not exist: the provider client cannot be built
# (vault auth_token.go reads the Secret), the store is not Ready (flood gate) -> fetch error.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-store-missing-token-secret"
add(Case(id=_id, store={"vault": {"server": "{{VAULT_ADDR}}", "path": "secret", "version": "v2",
                                  "auth": {"tokenSecretRef": {"name": "no-such-token", "key": "token"}}}},
         remote={vp(_id, "k"): {"u": "x"}},
         external_secret={"data": [d("u", vk(_id, "k"), property="u")]},
         expect=None, ready="False", reason="SecretSyncedError",
         tags=frozenset({"vault", "vault:v2", "error", "store:invalid", "envtest:storeConstructErrCondition"})))

# ---------------------------------------------------------------------------------------------
# (b)+(c) envtest cases and option tables on the fake provider
# ---------------------------------------------------------------------------------------------

KV = fake(("kv", '{"user": "alice", "pass": "s3cret"}'), ("plain", "plain-value"))


def fcase(case_id: str, es: dict[str, Any], expect: dict[str, Any] | None, tags: set[str],
          store: dict[str, Any] | None = None, **kw: Any) -> Case:
    return Case(id=case_id, store=store or KV, external_secret=es, expect=expect,
                tags=frozenset(tags | {"fake"}), **kw)


# --- creationPolicy -----------------------------------------------------------------------------

# ctrl.go Reconcile case CreatePolicyOwner + mutationFunc: controller ownerRef, created-by label,
# and with no template the ES's own labels and annotations (tpl.go setMetadata). envtest syncLabelsAnnotations.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-owner-labels-annotations",
          {"metadata": {"labels": {"app": "web"}, "annotations": {"note": "copied"}},
           "target": {"creationPolicy": "Owner"}, "data": [d("plain", "plain")]},
          secret({"plain": "plain-value"}, labels={"app": "web"}, annotations={"note": "copied"}),
          {"creationPolicy:Owner", "envtest:syncLabelsAnnotations", "labels"}))

# ctrl.go CreatePolicyOrphan: created like Owner but no ownerReference and no created-by label.
# envtest createSecretPolicyOrphan.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-orphan",
          {"target": {"creationPolicy": "Orphan"}, "data": [d("plain", "plain")]},
          secret({"plain": "plain-value"}, absent_labels=[CREATED_BY]),
          {"creationPolicy:Orphan", "envtest:createSecretPolicyOrphan"}))

# ctrl.go CreatePolicyMerge with an existing Secret: tpl.go applyTemplate keeps existing data
# (secret.Data not cleared for Merge), existing labels stay; managed label + data-hash added,
# no created-by. envtest mergeWithSecret.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-merge-existing",
          {"target": {"name": "merge-target", "creationPolicy": "Merge"}, "data": [d("plain", "plain")]},
          secret({"existing": "keep-me", "plain": "plain-value"}, labels={"team": "a"}, absent_labels=[CREATED_BY]),
          {"creationPolicy:Merge", "envtest:mergeWithSecret"},
          extra_objects=[{"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "merge-target", "labels": {"team": "a"}},
                          "type": "Opaque", "stringData": {"existing": "keep-me"}}]))

# ctrl.go CreatePolicyMerge without the Secret: markAsDone(SecretMissing,
# "secret will not be created due to CreationPolicy=Merge"). envtest mergeWithSecretErr.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-merge-missing",
          {"target": {"name": "merge-missing-target", "creationPolicy": "Merge"}, "data": [d("plain", "plain")]},
          None, {"creationPolicy:Merge", "envtest:mergeWithSecretErr", "no-secret"}, reason="SecretMissing"))

# ctrl.go CreatePolicyNone: the provider is read, nothing is written, markAsDone(SecretSynced).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-none",
          {"target": {"creationPolicy": "None"}, "data": [d("plain", "plain")]},
          None, {"creationPolicy:None", "no-secret"}))

# ctrl.go CreatePolicyOwner over an existing unmanaged Secret: first the managed label is patched,
# then mutationFunc clears data (not Merge), keeps existing labels, sets owner + created-by.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-owner-adopts-existing",
          {"target": {"name": "adopt-target"}, "data": [d("plain", "plain")]},
          secret({"plain": "plain-value"}, labels={"keep": "me"}),
          {"creationPolicy:Owner"},
          extra_objects=[{"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "adopt-target", "labels": {"keep": "me"}},
                          "type": "Opaque", "stringData": {"old": "dropped"}}]))

# tpl.go applyTemplate with creationPolicy Merge and a template: existing keys are kept even with
# mergePolicy Replace (only the provider keys are left out).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("creation-merge-existing-with-template",
          {"target": {"name": "merge-tpl-target", "creationPolicy": "Merge",
                      "template": {"data": {"rendered": "{{ .plain }}!"}}},
           "data": [d("plain", "plain")]},
          secret({"existing": "keep-me", "rendered": "plain-value!"}),
          {"creationPolicy:Merge", "template", "mergePolicy:Replace"},
          extra_objects=[{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "merge-tpl-target"},
                          "type": "Opaque", "stringData": {"existing": "keep-me"}}]))

# --- deletionPolicy -----------------------------------------------------------------------------

# secret.go handleSecretData: fake NoSecretErr + Retain is returned -> markAsFailed
# ("could not get secret data from provider"). Observed on the peer (reference §10).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-retain-missing-key",
          {"data": [d("plain", "plain"), d("missing", "does-not-exist")]},
          None, {"deletionPolicy:Retain", "error", "envtest:deletionPolicyRetain"},
          ready="False", reason="SecretSyncedError"))

# secret.go: with Merge the missing entry is skipped; the rest is written.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-merge-partial",
          {"target": {"deletionPolicy": "Merge"}, "data": [d("plain", "plain"), d("missing", "does-not-exist")]},
          secret({"plain": "plain-value"}), {"deletionPolicy:Merge", "envtest:deletionPolicyMerge"}))

# secret.go: with Delete a missing entry is skipped too; data is not empty so the Secret is written.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-delete-partial",
          {"target": {"deletionPolicy": "Delete"}, "data": [d("plain", "plain"), d("missing", "does-not-exist")]},
          secret({"plain": "plain-value"}), {"deletionPolicy:Delete"}))

# ctrl.go: empty data + Delete + creationPolicy Merge -> errDeleteCreatePolicy, markAsFailed
# ("could not delete secret"). No webhook in the test cluster, so the ES is accepted.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-delete-with-merge-creation",
          {"target": {"name": "del-merge-target", "deletionPolicy": "Delete", "creationPolicy": "Merge"},
           "data": [d("missing", "does-not-exist")]},
          None, {"deletionPolicy:Delete", "creationPolicy:Merge", "error"}, ready="False", reason="SecretSyncedError",
          extra_objects=[{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "del-merge-target"},
                          "type": "Opaque", "stringData": {"existing": "untouched"}}]))

# ctrl.go: find matching nothing -> empty data; Retain -> markAsDone(SecretSynced,
# "secret retained due to DeletionPolicy=Retain"), nothing created. envtest deletionPolicyRetainEmptyData.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-retain-empty-find",
          {"dataFrom": [{"find": {"name": {"regexp": "^matches-nothing$"}}}]},
          None, {"deletionPolicy:Retain", "find:name", "envtest:deletionPolicyRetainEmptyData", "no-secret"}))

# fake.go GetSecret: a missing property is NoSecretErr (unlike Vault) -> skipped under Delete;
# all entries skipped -> empty -> SecretDeleted.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-missing-property-delete",
          {"target": {"deletionPolicy": "Delete"}, "data": [d("nope", "kv", property="nope")]},
          None, {"deletionPolicy:Delete", "property", "no-secret"}, reason="SecretDeleted"))

# --- immutable, type, refresh ---------------------------------------------------------------------

# ctrl.go mutationFunc: target.immutable sets secret.Immutable = true.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("target-immutable",
          {"target": {"immutable": True}, "data": [d("plain", "plain")]},
          secret({"plain": "plain-value"}, immutable=True), {"immutable"}))

# tpl.go: a template with only type/metadata (noTemplate) still copies the provider data.
# envtest onlyMetadataFromTemplate.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-type-and-metadata-only",
          {"target": {"template": {"type": "kubernetes.io/basic-auth",
                                   "metadata": {"labels": {"foo": "bar"}, "annotations": {"foo": "bar"}}}},
           "dataFrom": [{"extract": {"key": "kv"}}], "data": [d("username", "kv", property="user")]},
          secret({"user": "alice", "pass": "s3cret", "username": "alice"}, type_="kubernetes.io/basic-auth",
                 labels={"foo": "bar"}, annotations={"foo": "bar"}),
          {"template", "template:type", "template:metadata", "envtest:onlyMetadataFromTemplate"}))

# refreshInterval 0 = sync once: the first sync is the same as any other (ctrl.go getRequeueResult).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("refresh-interval-zero",
          {"refreshInterval": "0s", "data": [d("plain", "plain")]},
          secret({"plain": "plain-value"}), {"refreshInterval:0"}))

# refreshPolicy CreatedOnce / OnChange / Periodic: the first sync writes the same Secret
# (ctrl.go shouldRefresh only differs on later reconciles).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
for _pol in ("CreatedOnce", "OnChange", "Periodic"):
    add(fcase(f"refresh-policy-{_pol.lower()}",
              {"refreshPolicy": _pol, "refreshInterval": "1h", "data": [d("plain", "plain")]},
              secret({"plain": "plain-value"}), {f"refreshPolicy:{_pol}"}))

# --- templates -----------------------------------------------------------------------------------

# tplv2 execute: Sprig functions (upper, b64enc), `index` for keys with '-', missingkey=error.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-functions",
          {"target": {"template": {"engineVersion": "v2", "data": {
              "upper": "{{ .user | upper }}", "b64": "{{ .pass | b64enc }}",
              "dash": "{{ index . \"db-pass\" }}", "json-host": "{{ (.cfg | fromJson).host }}"}}},
           "data": [d("user", "kv", property="user"), d("pass", "kv", property="pass"),
                    d("db-pass", "kv", property="pass"), d("cfg", "cfg")]},
          secret({"upper": "ALICE", "b64": "czNjcmV0", "dash": "s3cret", "json-host": "db.local"}),
          {"template", "template:data", "template:engineVersion"},
          store=fake(("kv", '{"user": "alice", "pass": "s3cret"}'), ("cfg", '{"host": "db.local", "port": 5432}'))))

# tplv2 execute with missingkey=error -> applyTemplate error -> markAsFailed("could not update secret").
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-missing-key-error",
          {"target": {"template": {"data": {"x": "{{ .doesNotExist }}"}}}, "data": [d("plain", "plain")]},
          None, {"template", "template:missingkey", "error"}, ready="False", reason="SecretSyncedError"))

# tpl.go applyTemplate: mergePolicy Merge keeps the provider keys next to the templated ones.
# envtest templateShouldMerge.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-merge-policy-merge",
          {"target": {"template": {"mergePolicy": "Merge", "data": {"key": "{{ .plain }}-foo"}}},
           "data": [d("plain", "plain")]},
          secret({"plain": "plain-value", "key": "plain-value-foo"}),
          {"template", "mergePolicy:Merge", "envtest:templateShouldMerge"}))

# tpl.go applyTemplate: mergePolicy Replace (explicit) drops the provider keys.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-merge-policy-replace",
          {"target": {"template": {"mergePolicy": "Replace", "data": {"key": "{{ .plain }}-foo"}}},
           "data": [d("plain", "plain")]},
          secret({"key": "plain-value-foo"}), {"template", "mergePolicy:Replace"}))

# tpl.go: template metadata labels/annotations values are templates (MergeMap on Labels/Annotations);
# the ES's own labels are not copied when there is a template.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-metadata-templated",
          {"metadata": {"labels": {"es-label": "not-copied"}, "annotations": {"es-note": "not-copied"}},
           "target": {"template": {"metadata": {"labels": {"owner": "{{ .user }}"},
                                                "annotations": {"checksum": "{{ .pass | sha256sum | trunc 8 }}"}},
                                   "data": {"user": "{{ .user }}"}}},
           "data": [d("user", "kv", property="user"), d("pass", "kv", property="pass")]},
          secret({"user": "alice"}, labels={"owner": "alice"},
                 annotations={"checksum": "1ec1c26b"}, absent_labels=["es-label"]),
          {"template", "template:metadata"}))

# parser.go MergeConfigMap with templateAs KeysAndValues: the rendered value is YAML giving keys.
# envtest syncTemplateFromKeysAndValues.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-from-configmap-keys-and-values",
          {"target": {"template": {"templateFrom": [{"configMap": {"name": "kav-cm", "items": [
              {"key": "tpl", "templateAs": "KeysAndValues"}]}}]}},
           "data": [d("targetKey", "kv", property="user"), d("targetValue", "kv", property="pass")]},
          secret({"alice-cm": "s3cret"}), {"template", "templateFrom:configMap", "templateAs:KeysAndValues",
                                           "envtest:syncTemplateFromKeysAndValues"},
          extra_objects=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kav-cm"},
                          "data": {"tpl": "{{ .targetKey }}-cm: {{ .targetValue }}"}}]))

# parser.go MergeSecret: Values and KeysAndValues from a Secret's data.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-from-secret",
          {"target": {"template": {"templateFrom": [{"secret": {"name": "tpl-secret", "items": [
              {"key": "conn", "templateAs": "Values"}, {"key": "kav", "templateAs": "KeysAndValues"}]}}]}},
           "data": [d("user", "kv", property="user"), d("pass", "kv", property="pass")]},
          secret({"conn": "postgres://alice:s3cret@db", "alice-sec": "s3cret"}),
          {"template", "templateFrom:secret", "templateAs:Values", "templateAs:KeysAndValues"},
          extra_objects=[{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tpl-secret"}, "type": "Opaque",
                          "stringData": {"conn": "postgres://{{ .user }}:{{ .pass }}@db",
                                         "kav": "{{ .user }}-sec: {{ .pass }}"}}]))

# parser.go MergeLiteral with target Data/Annotations/Labels (tplv2 applyToTarget).
# envtest syncTemplateFromLiteral (incl. the fromJson range).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-from-literal-targets",
          {"target": {"template": {"templateFrom": [
              {"literal": "{{ .targetKey }}-literal: {{ .targetValue }}"},
              {"literal": "{{- range $k, $v := ( .complex | fromJson )}}\n{{ $k }}: {{ $v }}\n{{- end }}\n"},
              {"target": "Annotations", "literal": "{{ .targetKey }}-annotations: {{ .targetValue }}"},
              {"target": "Labels", "literal": "{{ .targetKey }}-labels: {{ .targetValue }}"}]}},
           "data": [d("targetKey", "lit", property="targetKey"), d("targetValue", "lit", property="targetValue"),
                    d("complex", "lit", property="complex")]},
          secret({"map-foo-value-literal": "map-bar-value", "nested": "json", "can": "be", "templated": "successfully"},
                 labels={"map-foo-value-labels": "map-bar-value"},
                 annotations={"map-foo-value-annotations": "map-bar-value"}),
          {"template", "templateFrom:literal", "templateFrom:target:Data", "templateFrom:target:Annotations",
           "templateFrom:target:Labels", "envtest:syncTemplateFromLiteral"},
          store=fake(("lit", json.dumps({"targetKey": "map-foo-value", "targetValue": "map-bar-value",
                                         "complex": '{"nested":"json","can":"be","templated":"successfully"}'})))))

# parser.go MergeConfigMap with target Labels: ConfigMap templates rendered into Secret labels.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-from-configmap-target-labels",
          {"target": {"template": {"templateFrom": [{"target": "Labels", "configMap": {"name": "lbl-cm", "items": [
              {"key": "tier", "templateAs": "Values"}]}}], "data": {"u": "{{ .user }}"}}},
           "data": [d("user", "kv", property="user")]},
          secret({"u": "alice"}, labels={"tier": "gold-alice"}),
          {"template", "templateFrom:configMap", "templateFrom:target:Labels"},
          extra_objects=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "lbl-cm"},
                          "data": {"tier": "gold-{{ .user }}"}}]))

# envtest syncWithTemplatePrecedence: template.data > templateFrom (cm, then secret) > provider data
# (provider keys dropped because there is a template and mergePolicy is Replace).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-precedence",
          {"target": {"template": {"type": "Opaque",
                                   "templateFrom": [{"configMap": {"name": "prec-cm", "items": [{"key": "tpl-from-key"}]}},
                                                    {"secret": {"name": "prec-secret", "items": [{"key": "tpl-from-sec-key"}]}}],
                                   "data": {"targetProperty": "{{ .targetProperty }}-from-data",
                                            "bar": "value from map: {{ .bar | toString }}",
                                            "tplstatickey": "tplstaticvalue"}}},
           "dataFrom": [{"extract": {"key": "datamap"}}]},
          secret({"targetProperty": "map-foo-value-from-data", "bar": "value from map: map-bar-value",
                  "tplstatickey": "tplstaticvalue",
                  "tpl-from-key": "tpl-from-value: map-foo-value // map-bar-value",
                  "tpl-from-sec-key": "tpl-from-sec-value: map-foo-value // map-bar-value"}),
          {"template", "template:precedence", "templateFrom:configMap", "templateFrom:secret",
           "envtest:syncWithTemplatePrecedence"},
          store=fake(("datamap", '{"targetProperty": "map-foo-value", "bar": "map-bar-value"}')),
          extra_objects=[
              {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prec-cm"},
               "data": {"tpl-from-key": "tpl-from-value: {{ .targetProperty | toString }} // {{ .bar | toString }}"}},
              {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "prec-secret"}, "type": "Opaque",
               "stringData": {"tpl-from-sec-key": "tpl-from-sec-value: {{ .targetProperty | toString }} // {{ .bar | toString }}"}}]))

# parser.go MergeConfigMap: an item key missing from the ConfigMap -> errTplCMMissingKey -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-from-configmap-missing-key",
          {"target": {"template": {"templateFrom": [{"configMap": {"name": "mk-cm", "items": [{"key": "absent"}]}}]}},
           "data": [d("plain", "plain")]},
          None, {"template", "templateFrom:configMap", "error"}, ready="False", reason="SecretSyncedError",
          extra_objects=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mk-cm"},
                          "data": {"present": "x"}}]))

# parser.go MergeConfigMap: the ConfigMap does not exist -> Get error -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-from-configmap-not-found",
          {"target": {"template": {"templateFrom": [{"configMap": {"name": "no-such-cm", "items": [{"key": "k"}]}}]}},
           "data": [d("plain", "plain")]},
          None, {"template", "templateFrom:configMap", "error"}, ready="False", reason="SecretSyncedError"))

# --- conversion and decoding strategies ------------------------------------------------------------

ODD_KEYS = fake(("odd", '{"a/b": "1", "c d": "2", "ok.key_-1": "3"}'))

# secret.go handleExtractSecrets -> utils.go ConvertKeys(Default): every rune that is not a letter,
# digit, '-', '.', '_' becomes '_'.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("conversion-default",
          {"dataFrom": [{"extract": {"key": "odd", "conversionStrategy": "Default"}}]},
          secret({"a_b": "1", "c_d": "2", "ok.key_-1": "3"}), {"conversion:Default", "dataFrom:extract"},
          store=ODD_KEYS))

# utils.go convert(Unicode): "_U%04x_" (lower-case hex).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("conversion-unicode",
          {"dataFrom": [{"extract": {"key": "odd", "conversionStrategy": "Unicode"}}]},
          secret({"a_U002f_b": "1", "c_U0020_d": "2", "ok.key_-1": "3"}), {"conversion:Unicode", "dataFrom:extract"},
          store=ODD_KEYS))

# fake.go GetAllSecrets (ConvertKeys with find.conversionStrategy) + secret.go handleFindAllSecrets.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("conversion-unicode-find",
          {"dataFrom": [{"find": {"name": {"regexp": "^app/"}, "conversionStrategy": "Unicode"}}]},
          secret({"app_U002f_db": "x", "app_U002f_cache": "y"}), {"conversion:Unicode", "find:name"},
          store=fake(("app/db", "x"), ("app/cache", "y"), ("other/db", "z"))))

B64_VALUES = fake(("enc", json.dumps({"std": "aGVsbG8=", "url": "PDw_Pz4-", "raw": "not base64!"})))

# utils.go Decode(Auto): std base64 first, then URL base64, else the raw value.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("decoding-auto",
          {"dataFrom": [{"extract": {"key": "enc", "decodingStrategy": "Auto"}}]},
          secret({"std": "hello", "url": "<<??>>", "raw": "not base64!"}), {"decoding:Auto"}, store=B64_VALUES))

# utils.go Decode(Base64URL) on a data entry.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("decoding-base64url",
          {"data": [d("url", "enc", property="url", decodingStrategy="Base64URL")]},
          secret({"url": "<<??>>"}), {"decoding:Base64URL"}, store=B64_VALUES))

# utils.go Decode(Base64) on a value that is not std base64 -> errDecode -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("decoding-base64-invalid",
          {"data": [d("raw", "enc", property="raw", decodingStrategy="Base64")]},
          None, {"decoding:Base64", "error"}, store=B64_VALUES, ready="False", reason="SecretSyncedError"))

# utils.go Decode(None) keeps the encoded text; secret.go DecodeMap on find results.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("decoding-none-and-find-base64",
          {"dataFrom": [{"find": {"name": {"regexp": "^b64-"}, "decodingStrategy": "Base64"}}],
           "data": [d("kept", "b64-one", decodingStrategy="None")]},
          secret({"b64-one": "hello", "b64-two": "world", "kept": "aGVsbG8="}),
          {"decoding:None", "decoding:Base64", "find:name"},
          store=fake(("b64-one", "aGVsbG8="), ("b64-two", "d29ybGQ="))))

# --- rewrite -----------------------------------------------------------------------------------------

# utils.go RewriteMap: operations applied in order; regexp with ${1}, then transform (.value = key).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("rewrite-regexp-then-transform",
          {"dataFrom": [{"extract": {"key": "kv"},
                         "rewrite": [{"regexp": {"source": "^(.*)$", "target": "db_${1}"}},
                                     {"transform": {"template": "{{ .value | upper }}"}}]}]},
          secret({"DB_USER": "alice", "DB_PASS": "s3cret"}), {"rewrite:regexp", "rewrite:transform"}))

# utils.go RewriteRegexp is unanchored ReplaceAllString: every match in the key is replaced.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("rewrite-regexp-all-matches",
          {"dataFrom": [{"find": {"name": {"regexp": "^svc-"}},
                         "rewrite": [{"regexp": {"source": "-", "target": "_"}}]}]},
          secret({"svc_a_b": "1", "svc_c": "2"}), {"rewrite:regexp", "find:name"},
          store=fake(("svc-a-b", "1"), ("svc-c", "2"))))

# envtest invalidExtractKeysErrCondition: with a rewrite, ConvertKeys is skipped (secret.go), so a
# key with '/' fails utils.go ValidateKeys -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("rewrite-skips-conversion-error",
          {"dataFrom": [{"extract": {"key": "slashy"},
                         "rewrite": [{"regexp": {"source": "(.*)", "target": "$1"}}]}]},
          None, {"rewrite:regexp", "error", "envtest:invalidExtractKeysErrCondition"},
          store=fake(("slashy", '{"foo/bar": "x", "bar/foo": "y"}')), ready="False", reason="SecretSyncedError"))

# envtest invalidFindKeysErrCondition has no twin on the real fake provider: fake.go GetAllSecrets
# already applies ConvertKeys(find.conversionStrategy, CRD default "Default") inside the provider, so
# the rewrite sees "dir_a", not "dir/a", and the sync succeeds (contrast the Vault find cases).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-find-converts-before-rewrite",
          {"dataFrom": [{"find": {"name": {"regexp": "^dir/"}},
                         "rewrite": [{"transform": {"template": "{{ .value | upper }}"}}]}]},
          secret({"DIR_A": "x"}), {"rewrite:transform", "find:name", "conversion:Default"},
          store=fake(("dir/a", "x"))))

# --- find ---------------------------------------------------------------------------------------------

# pkg/find/find.go MatchName: regexp.MatchString, unanchored.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("find-name-unanchored",
          {"dataFrom": [{"find": {"name": {"regexp": "db"}}}]},
          secret({"prod-db-pass": "p1", "db-user": "u1"}), {"find:name"},
          store=fake(("prod-db-pass", "p1"), ("db-user", "u1"), ("cache", "c1"))))

# fake.go GetAllSecrets ignores find.path (only Name is used).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-find-path-ignored",
          {"dataFrom": [{"find": {"path": "some/where", "name": {"regexp": "^token"}}}]},
          secret({"token-a": "1"}), {"find:name", "find:path"},
          store=fake(("token-a", "1"), ("other", "2"))))

# fake.go GetAllSecrets: tags are not supported -> "unsupported find operator" -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-find-tags-unsupported",
          {"dataFrom": [{"find": {"tags": {"team": "x"}}}]},
          None, {"find:tags", "error"}, ready="False", reason="SecretSyncedError"))

# fake.go GetAllSecrets keeps the latest version per key (string comparison of versions).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-find-latest-version",
          {"dataFrom": [{"find": {"name": {"regexp": "^versioned$"}}}]},
          secret({"versioned": "new"}), {"find:name", "version"},
          store=fake(("versioned", "old", "v1"), ("versioned", "new", "v2"))))

# --- fake provider specifics, data/dataFrom order ------------------------------------------------------

VERSIONED = fake(("vkey", "old", "v1"), ("vkey", "new", "v2"))

# fake.go GetSecret: mapKey(key, version) must exist and match the entry's version.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-version",
          {"data": [d("v1", "vkey", version="v1"), d("v2", "vkey", version="v2")]},
          secret({"v1": "old", "v2": "new"}), {"version"}, store=VERSIONED))

# fake.go GetSecret: a key stored only with versions cannot be read without one -> NoSecretErr -> Retain error.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-version-required",
          {"data": [d("latest", "vkey")]},
          None, {"version", "error"}, store=VERSIONED, ready="False", reason="SecretSyncedError"))

# fake.go GetSecretMap: non-string JSON members stay raw JSON text (json.RawMessage, spacing kept).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-extract-raw-json-members",
          {"dataFrom": [{"extract": {"key": "mixed"}}]},
          secret({"s": "str", "n": "1", "b": "true", "obj": '{"a": 1}', "arr": "[1, 2]"}), {"dataFrom:extract"},
          store=fake(("mixed", '{"s": "str", "n": 1, "b": true, "obj": {"a": 1}, "arr": [1, 2]}'))))

# fake.go GetSecretMap with a property: the JSON object at the gjson path is decoded.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-extract-with-property",
          {"dataFrom": [{"extract": {"key": "deep", "property": "inner"}}]},
          secret({"x": "1", "y": "2"}), {"dataFrom:extract", "property:gjson"},
          store=fake(("deep", '{"inner": {"x": "1", "y": "2"}, "other": "z"}'))))

# fake.go GetSecretMap: a value that is not a JSON object -> "unable to unmarshal secret" -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("fake-extract-not-json",
          {"dataFrom": [{"extract": {"key": "plain"}}]},
          None, {"dataFrom:extract", "error"}, ready="False", reason="SecretSyncedError"))

# secret.go getProviderSecretData: dataFrom entries merge in order (later wins), then data[] overwrites.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("precedence-datafrom-then-data",
          {"dataFrom": [{"extract": {"key": "first"}}, {"extract": {"key": "second"}}],
           "data": [d("user", "plain")]},
          secret({"user": "plain-value", "shared": "from-second", "only-first": "1", "only-second": "2"}),
          {"dataFrom:extract", "data", "precedence"},
          store=fake(("first", '{"user": "u1", "shared": "from-first", "only-first": "1"}'),
                     ("second", '{"user": "u2", "shared": "from-second", "only-second": "2"}'),
                     ("plain", "plain-value"))))

# --- stores ------------------------------------------------------------------------------------------

# ctrl.go shouldSkipUnmanagedStore skips missing stores; secret.go mgr.Get then fails -> markAsFailed.
# envtest storeMissingErrCondition.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("store-missing",
          {"secretStoreRef": {"name": "no-such-store", "kind": "SecretStore"}, "data": [d("plain", "plain")]},
          None, {"store:invalid", "error", "envtest:storeMissingErrCondition"},
          ready="False", reason="SecretSyncedError"))

# ctrl.go shouldSkipUnmanagedStore: a store of another controller class -> the ES is skipped,
# no status is ever written. envtest ignoreMismatchController. The harness must not wait for Ready.
# Checked against ESO v0.16.2: no status and no Secret ever appear (the harness must accept ready='').
add(fcase("store-other-controller-class",
          {"secretStoreRef": {"name": "store-other-class", "kind": "SecretStore"}, "data": [d("plain", "plain")]},
          None, {"store:controller-class", "no-status", "no-secret", "solo", "envtest:ignoreMismatchController"},
          ready="", reason="",
          extra_objects=[{"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
                          "metadata": {"name": "store-other-class"},
                          "spec": {"controller": "not-ours", "provider": fake(("plain", "x"))}}]))

# --- API versions and store kinds ------------------------------------------------------------------

# v0.16.2 still serves v1beta1 (CRD served: true, storage v1, no conversion webhook: same schema);
# the harness creates the ES as v1beta1 for the tag "v1beta1". Same result as e2e-simple-data-sync.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("v1beta1-external-secret",
          {"data": [d("plain", "plain")], "dataFrom": [{"extract": {"key": "kv"}}]},
          secret({"plain": "plain-value", "user": "alice", "pass": "s3cret"}),
          {"v1beta1", "data", "dataFrom:extract"}))

# A ClusterSecretStore (the harness adds a condition allowing the case's namespace):
# ctrl.go shouldSkipUnmanagedStore/mgr.Get with kind ClusterSecretStore; fake store as above.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("cluster-store-fake",
          {"data": [d("plain", "plain")]},
          secret({"plain": "plain-value"}), {"cluster-store", "data"}))

# e2e vault.go withReferentAuth + JSONDataFromSync: a ClusterSecretStore whose tokenSecretRef has
# no namespace reads the token Secret in the ExternalSecret's namespace (referent auth).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-referent-auth-json-data-from-sync"
add(vcase(_id, {vp(_id, "one"): {"name": "great-name", "surname": "great-surname"}},
          {"dataFrom": [{"extract": {"key": vk(_id, "one")}}]},
          secret({"name": "great-name", "surname": "great-surname"}),
          {"e2e:JSONDataFromSync", "e2e:vault:withReferentAuth", "cluster-store", "dataFrom:extract"}))

# --- more option tables -----------------------------------------------------------------------------

# ctrl.go: empty data + Delete + creationPolicy Orphan -> errDeleteCreatePolicy -> markAsFailed
# ("could not delete secret"); only Owner may delete.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-delete-with-orphan-creation",
          {"target": {"deletionPolicy": "Delete", "creationPolicy": "Orphan"}, "data": [d("missing", "does-not-exist")]},
          None, {"deletionPolicy:Delete", "creationPolicy:Orphan", "error"}, ready="False", reason="SecretSyncedError"))

# ctrl.go: find matching nothing + Delete + Owner -> empty -> markAsDone(SecretDeleted), no Secret.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("deletion-delete-empty-find",
          {"target": {"deletionPolicy": "Delete"}, "dataFrom": [{"find": {"name": {"regexp": "^matches-nothing$"}}}]},
          None, {"deletionPolicy:Delete", "find:name", "no-secret"}, reason="SecretDeleted"))

# secret.go handleSecretData applies only the decoding strategy: a conversionStrategy on a data[]
# remoteRef is ignored (the secretKey is used as written).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("conversion-ignored-on-data",
          {"data": [d("plain.key", "plain", conversionStrategy="Unicode")]},
          secret({"plain.key": "plain-value"}), {"conversion:Unicode", "data"}))

# utils.go Decode(Auto) on a data[] entry: std base64 fails on '-'/'_', URL base64 succeeds.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("decoding-auto-on-data-url",
          {"data": [d("url", "enc", property="url", decodingStrategy="Auto"),
                    d("std", "enc", property="std", decodingStrategy="Auto")]},
          secret({"url": "<<??>>", "std": "hello"}), {"decoding:Auto", "data"}, store=B64_VALUES))

# tplv2 tplFuncs: ESO's toYaml/fromYaml extras (pkg/template/v2/yaml.go: toYAML is sigs.k8s.io/yaml
# Marshal with the trailing newline trimmed) and Sprig's b64dec in template.data.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("template-yaml-functions",
          {"target": {"template": {"data": {
              "yaml": "{{ .cfg | fromJson | toYaml }}", "port": "{{ (.doc | fromYaml).port }}",
              "decoded": "{{ .enc | b64dec }}"}}},
           "data": [d("cfg", "cfg"), d("doc", "doc"), d("enc", "enc")]},
          secret({"yaml": "host: db.local\nport: 5432", "port": "5432", "decoded": "hello"}),
          {"template", "template:data"},
          store=fake(("cfg", '{"host": "db.local", "port": 5432}'), ("doc", "port: 5432\nhost: x\n"),
                     ("enc", "aGVsbG8="))))

# pkg/find/find.go: an invalid RE2 regexp in find.name -> error -> markAsFailed.
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
add(fcase("find-name-invalid-regexp",
          {"dataFrom": [{"find": {"name": {"regexp": "(unclosed"}}}]},
          None, {"find:name", "error"}, ready="False", reason="SecretSyncedError"))

# vault/get.go GetSecretMap: extract of typed members through utils.go GetByteValue (numbers as
# their JSON text, bools, nested maps as compact JSON).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v2-extract-typed-values"
add(vcase(_id, {vp(_id, "typed"): {"n": 7, "b": False, "obj": {"z": 1, "a": "x"}}},
          {"dataFrom": [{"extract": {"key": vk(_id, "typed")}}]},
          secret({"n": "7", "b": "false", "obj": '{"a":"x","z":1}'}), {"dataFrom:extract"}))

# vault/all.go on KV v1: find.name lists <mount>/<path>/ (no metadata endpoint on v1).
# Checked against ESO v0.16.2 (test_differential.py::test_eso_meets_case, 2026-12-03).
_id = "vault-v1-find-by-name"
add(vcase(_id, {vp(_id, "app-one", "secret_v1"): {"k": "1"}, vp(_id, "app-two", "secret_v1"): {"k": "2"},
                vp(_id, "other", "secret_v1"): {"k": "3"}},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}", "name": {"regexp": "app-"}}}]},
          secret({f"corpus_{_id}_app-one": '{"k":"1"}', f"corpus_{_id}_app-two": '{"k":"2"}'}),
          {"find:name", "find:path", "conversion:Default"}, store=VAULT_V1))

# ---------------------------------------------------------------------------------------------
# (c) AWS Secrets Manager and Parameter Store, read at moto by both controllers
# (`aws/sm.go` = pkg/provider/aws/secretsmanager/secretsmanager.go, `aws/ps.go` =
# pkg/provider/aws/parameterstore/parameterstore.go, `aws/auth.go` = pkg/provider/aws/auth/auth.go)
# ---------------------------------------------------------------------------------------------

AWS_AUTH = {"secretRef": {"accessKeyIDSecretRef": {"name": "aws-creds", "key": "access-key"},
                          "secretAccessKeySecretRef": {"name": "aws-creds", "key": "secret-key"}}}
AWS_SM: dict[str, Any] = {"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": AWS_AUTH}}
AWS_PS: dict[str, Any] = {"aws": {"service": "ParameterStore", "region": "us-east-1", "auth": AWS_AUTH}}
AWS_DB = json.dumps({"user": "aws-admin", "password": "aws-pw-1", "a.b": "dotted-member",
                     "a": {"b": "nested-member"}, "port": 5432, "nil": None})
UUID_V1, UUID_V2 = "6b0b1a6c-3c36-4a0b-9d0e-000000000001", "6b0b1a6c-3c36-4a0b-9d0e-000000000002"


def sm_name(case_id: str, name: str) -> str:
    return f"corpus/{case_id}/{name}"


def ps_name(case_id: str, name: str) -> str:
    return f"/corpus/{case_id}/{name}"


def sm_remote(case_id: str, name: str, *values: str, tags: dict[str, str] | None = None,
              ids: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    versions = [{"value": v, **({"id": ids[i]} if i < len(ids) else {})} for i, v in enumerate(values)]
    return {f"secretsmanager:{sm_name(case_id, name)}": {"versions": versions, "tags": tags or {}}}


def ps_remote(case_id: str, name: str, *values: str) -> dict[str, dict[str, Any]]:
    return {f"ssm:{ps_name(case_id, name)}": {"versions": list(values)}}


def acase(case_id: str, remote: dict[str, dict[str, Any]], es: dict[str, Any], expect: dict[str, Any] | None,
          tags: set[str], *, store: dict[str, Any] = AWS_SM, **kw: Any) -> Case:
    service = store["aws"]["service"]
    return Case(id=case_id, store=store, external_secret=es, remote=remote, expect=expect,
                tags=frozenset(tags | {"aws", f"aws:{service}"}), **kw)


# aws/sm.go GetSecret: GetSecretValue{VersionStage: AWSCURRENT}; no property -> SecretString as is.
_id = "aws-sm-plain"
add(acase(_id, sm_remote(_id, "token", "aws-plain-token-1"),
          {"data": [d("token", sm_name(_id, "token"))]},
          secret({"token": "aws-plain-token-1"}), {"data"}))

# aws/sm.go GetSecret + mapSecretToGjson: gjson path, the escaped `a\.b` form first when it exists,
# numbers and objects via gjson Result.String().
_id = "aws-sm-property"
add(acase(_id, sm_remote(_id, "db", AWS_DB),
          {"data": [d("user", sm_name(_id, "db"), property="user"), d("dotted", sm_name(_id, "db"), property="a.b"),
                    d("port", sm_name(_id, "db"), property="port"), d("a", sm_name(_id, "db"), property="a")]},
          secret({"user": "aws-admin", "dotted": "dotted-member", "port": "5432", "a": '{"b": "nested-member"}'}),
          {"data", "property", "property:gjson"}))

# aws/sm.go constructSecretValue: remoteRef.version is the VersionStage; the version before the
# current one carries AWSPREVIOUS.
_id = "aws-sm-version-stage"
add(acase(_id, sm_remote(_id, "rotated", "aws-stage-old", "aws-stage-new"),
          {"data": [d("current", sm_name(_id, "rotated")),
                    d("previous", sm_name(_id, "rotated"), version="AWSPREVIOUS")]},
          secret({"current": "aws-stage-new", "previous": "aws-stage-old"}), {"data", "version"}))

# aws/sm.go constructSecretValue: a version `uuid/<id>` is sent as VersionId.
_id = "aws-sm-version-uuid"
add(acase(_id, sm_remote(_id, "pinned", "aws-uuid-first", "aws-uuid-second", ids=(UUID_V1, UUID_V2)),
          {"data": [d("first", sm_name(_id, "pinned"), version=f"uuid/{UUID_V1}"),
                    d("second", sm_name(_id, "pinned"), version=f"uuid/{UUID_V2}")]},
          secret({"first": "aws-uuid-first", "second": "aws-uuid-second"}), {"data", "version"}))

# aws/sm.go GetSecretMap: json.Unmarshal into map[string]json.RawMessage; JSON strings unquoted,
# other members raw (objects keep their own spacing), null -> "".
_id = "aws-sm-extract"
add(acase(_id, sm_remote(_id, "db", AWS_DB),
          {"dataFrom": [{"extract": {"key": sm_name(_id, "db")}}]},
          secret({"user": "aws-admin", "password": "aws-pw-1", "a.b": "dotted-member",
                  "a": '{"b": "nested-member"}', "port": "5432", "nil": ""}), {"dataFrom:extract"}))

# aws/sm.go findByName without a path: paged ListSecrets, the regexp on each name, a read per match;
# utils.go ConvertKeys (Default) turns "/" into "_".
_id = "aws-sm-find-by-name"
add(acase(_id, {**sm_remote(_id, "app-one", "aws-find-one"), **sm_remote(_id, "app-two", "aws-find-two"),
                **sm_remote(_id, "other", "aws-find-other")},
          {"dataFrom": [{"find": {"name": {"regexp": f"^corpus/{_id}/app-"}}}]},
          secret({f"corpus_{_id}_app-one": "aws-find-one", f"corpus_{_id}_app-two": "aws-find-two"}),
          {"find:name", "conversion:Default"}))

# aws/sm.go findByName with a path: BatchGetSecretValue with the name filter (a prefix), then the regexp.
_id = "aws-sm-find-by-name-and-path"
add(acase(_id, {**sm_remote(_id, "team/a", "aws-path-a"), **sm_remote(_id, "team/b", "aws-path-b"),
                **sm_remote(_id, "elsewhere/a", "aws-path-elsewhere")},
          {"dataFrom": [{"find": {"path": f"corpus/{_id}/team/", "name": {"regexp": ".*"}}}]},
          secret({f"corpus_{_id}_team_a": "aws-path-a", f"corpus_{_id}_team_b": "aws-path-b"}),
          {"find:name", "find:path"}))

# aws/sm.go findByTags: BatchGetSecretValue with tag-key/tag-value (and name) filters.
_id = "aws-sm-find-by-tags"
add(acase(_id, {**sm_remote(_id, "tagged-one", "aws-tag-one", tags={"corpus-case": _id}),
                **sm_remote(_id, "tagged-two", "aws-tag-two", tags={"corpus-case": _id}),
                **sm_remote(_id, "untagged", "aws-tag-none")},
          {"dataFrom": [{"find": {"tags": {"corpus-case": _id}}}]},
          secret({f"corpus_{_id}_tagged-one": "aws-tag-one", f"corpus_{_id}_tagged-two": "aws-tag-two"}),
          {"find:tags"}))

# aws/sm.go constructSecretValue: ResourceNotFoundException -> NoSecretErr; Retain -> markAsFailed.
_id = "aws-sm-not-found-retain"
add(acase(_id, sm_remote(_id, "present", "aws-nf-present"),
          {"data": [d("present", sm_name(_id, "present")), d("absent", sm_name(_id, "absent"))]},
          None, {"data", "error"}, ready="False", reason="SecretSyncedError"))

# aws/sm.go NoSecretErr + secret.go getProviderSecretData: with deletionPolicy Delete the missing
# entry is skipped (MissingProviderSecret) and the rest is synced.
_id = "aws-sm-not-found-delete"
add(acase(_id, sm_remote(_id, "present", "aws-nfd-present"),
          {"target": {"deletionPolicy": "Delete"},
           "data": [d("present", sm_name(_id, "present")), d("absent", sm_name(_id, "absent"))]},
          secret({"present": "aws-nfd-present"}), {"data", "deletionPolicy:Delete"}))

# aws/sm.go: a missing property is errors "key %s does not exist in secret %s", not NoSecretErr,
# so deletionPolicy Delete does not skip it.
_id = "aws-sm-missing-property-delete"
add(acase(_id, sm_remote(_id, "db", AWS_DB),
          {"target": {"deletionPolicy": "Delete"}, "data": [d("x", sm_name(_id, "db"), property="nope")]},
          None, {"data", "property", "deletionPolicy:Delete", "error"}, ready="False", reason="SecretSyncedError"))

# aws/auth.go New: `role` is assumed with sts:AssumeRole (at AWS_STS_ENDPOINT) on top of the keys.
_id = "aws-sm-assume-role"
add(acase(_id, sm_remote(_id, "token", "aws-role-token"),
          {"data": [d("token", sm_name(_id, "token"))]},
          secret({"token": "aws-role-token"}), {"data"},
          store={"aws": {**AWS_SM["aws"], "role": "arn:aws:iam::123456789012:role/corpus-reader"}}))

# aws/ps.go GetSecret: GetParameter{Name, WithDecryption: true}; the value as is.
_id = "aws-ps-plain"
add(acase(_id, ps_remote(_id, "token", "aws-ps-token-1"),
          {"data": [d("token", ps_name(_id, "token"))]},
          secret({"token": "aws-ps-token-1"}), {"data"}, store=AWS_PS))

# aws/ps.go GetSecret: property as in SM (escaped dots first, then the gjson path).
_id = "aws-ps-property"
add(acase(_id, ps_remote(_id, "db", AWS_DB),
          {"data": [d("password", ps_name(_id, "db"), property="password"),
                    d("dotted", ps_name(_id, "db"), property="a.b"), d("nested", ps_name(_id, "db"), property="a")]},
          secret({"password": "aws-pw-1", "dotted": "dotted-member", "nested": '{"b": "nested-member"}'}),
          {"data", "property", "property:gjson"}, store=AWS_PS))

# aws/ps.go parameterNameWithVersion: `<name>:<version>` selects a parameter version.
_id = "aws-ps-version"
add(acase(_id, ps_remote(_id, "rotated", "aws-ps-v1", "aws-ps-v2"),
          {"data": [d("v1", ps_name(_id, "rotated"), version="1"), d("latest", ps_name(_id, "rotated"))]},
          secret({"v1": "aws-ps-v1", "latest": "aws-ps-v2"}), {"data", "version"}, store=AWS_PS))

# aws/ps.go GetSecret: only ParameterNotFound is NoSecretErr; a missing version
# (ParameterVersionNotFound) stays an error, so deletionPolicy Delete does not skip it.
_id = "aws-ps-version-missing-delete"
add(acase(_id, ps_remote(_id, "rotated", "aws-ps-only-v1"),
          {"target": {"deletionPolicy": "Delete"}, "data": [d("v9", ps_name(_id, "rotated"), version="9")]},
          None, {"data", "version", "deletionPolicy:Delete", "error"}, store=AWS_PS, ready="False",
          reason="SecretSyncedError"))

# aws/ps.go GetSecretMap: the JSON object of a parameter, strings unquoted, the rest raw.
_id = "aws-ps-extract"
add(acase(_id, ps_remote(_id, "db", AWS_DB),
          {"dataFrom": [{"extract": {"key": ps_name(_id, "db")}}]},
          secret({"user": "aws-admin", "password": "aws-pw-1", "a.b": "dotted-member",
                  "a": '{"b": "nested-member"}', "port": "5432", "nil": ""}), {"dataFrom:extract"}, store=AWS_PS))

# aws/ps.go findByName: GetParametersByPath{Path, Recursive, WithDecryption}, then the regexp on the
# full name; ConvertKeys turns the slashes into "_".
_id = "aws-ps-find-by-path"
add(acase(_id, {**ps_remote(_id, "svc/a", "aws-ps-path-a"), **ps_remote(_id, "svc/deep/b", "aws-ps-path-b"),
                **ps_remote(_id, "other/c", "aws-ps-path-c")},
          {"dataFrom": [{"find": {"path": f"/corpus/{_id}/svc", "name": {"regexp": ".*"}}}]},
          secret({f"_corpus_{_id}_svc_a": "aws-ps-path-a", f"_corpus_{_id}_svc_deep_b": "aws-ps-path-b"}),
          {"find:name", "find:path"}, store=AWS_PS))

# aws/ps.go GetSecret: ParameterNotFound -> NoSecretErr; Retain -> markAsFailed.
_id = "aws-ps-not-found-retain"
add(acase(_id, ps_remote(_id, "present", "aws-ps-nf-present"),
          {"data": [d("absent", ps_name(_id, "absent"))]},
          None, {"data", "error"}, store=AWS_PS, ready="False", reason="SecretSyncedError"))

# aws/auth.go credsFromServiceAccount + DefaultJWTProvider: the ServiceAccount's
# eks.amazonaws.com/role-arn annotation, a TokenRequest (audience sts.amazonaws.com plus the ref's
# audiences), AssumeRoleWithWebIdentity at AWS_STS_ENDPOINT; then `role` assumed on top (auth.go New).
_id = "aws-sm-jwt-web-identity"
add(acase(_id, sm_remote(_id, "token", "aws-irsa-token"),
          {"data": [d("token", sm_name(_id, "token"))]},
          secret({"token": "aws-irsa-token"}), {"data"},
          extra_objects=[{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
              "name": "irsa-reader", "annotations": {"eks.amazonaws.com/role-arn":
                                                     "arn:aws:iam::123456789012:role/corpus-irsa"}}}],
          store={"aws": {"service": "SecretsManager", "region": "us-east-1",
                         "role": "arn:aws:iam::123456789012:role/corpus-on-top",
                         "auth": {"jwt": {"serviceAccountRef": {"name": "irsa-reader", "audiences": ["corpus"]}}}}}))

# aws/sm.go fetch: the store's `prefix` is prepended to every remoteRef.key.
_id = "aws-sm-prefix"
add(acase(_id, sm_remote(_id, "token", "aws-prefixed-token"),
          {"data": [d("token", "token")]},
          secret({"token": "aws-prefixed-token"}), {"data"},
          store={"aws": {**AWS_SM["aws"], "prefix": f"corpus/{_id}/"}}))

# aws/auth.go credsFromSecretRef + resolvers.SecretKeyRef: a ClusterSecretStore's secretRef without a
# namespace is read in the ExternalSecret's namespace (referent auth; the store validates as Unknown).
_id = "aws-ps-cluster-store-referent"
add(acase(_id, ps_remote(_id, "token", "aws-referent-token"),
          {"data": [d("token", ps_name(_id, "token"))]},
          secret({"token": "aws-referent-token"}), {"data", "cluster-store"}, store=AWS_PS))
