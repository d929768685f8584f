"""The drop-in's command line: pflag spellings, SEALED_SECRETS_* variables, -w files, raw-mode errors."""

from __future__ import annotations

import json
import re

import pytest

from secrets_kit.k8s.manifests import dump_json

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of

pytestmark = pytest.mark.peer("kubeseal")
SRC = yaml_of(secret(string_data={"a": "b"}))


def test_pflag_spellings_and_env(kubeseal_bin, cert_file, key_file):
    for args, env in ((["--cert=" + str(cert_file), "--format=yaml", "--allow-empty-data=false"], {}),
                      (["-oyaml"], {"SEALED_SECRETS_CERT": str(cert_file)}),
                      (["--format", "yaml", "--raw=false"], {"SEALED_SECRETS_CERT": str(cert_file)})):
        theirs = kubeseal(kubeseal_bin, *args, input=SRC, env=env)
        ours = run_cli("kubeseal", *args, input=SRC, env=env)
        assert theirs.returncode == 0 and ours.code == 0, (args, theirs.stderr, ours.err)
        assert docs_of(ours.out)[0]["kind"] == "SealedSecret" and ours.text.startswith("---\n")
    # the command line wins over the environment
    wins = run_cli("kubeseal", "--cert", cert_file, input=SRC, env={"SEALED_SECRETS_CERT": "/nonexistent"})
    assert wins.code == 0
    assert run_cli("kubeseal", "--raw=maybe", "--cert", cert_file).code == 2


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--raw", "--name", "n"], b"v", "invalid configuration: no configuration has been provided"),
    (["--raw", "-n", "ns"], b"v", "must provide the --name flag with --raw and --scope strict"),
    (["--raw", "-n", "ns", "--name", "n", "--from-file", "a,b"], b"", "must provide only one --from-file"),
    (["--from-file", "x"], b"", "--from-file requires --raw"),
    (["-o", "xml"], SRC.encode(), "unsupported output format: xml"),
])
def test_raw_and_flag_errors_match(kubeseal_bin, cert_file, args, stdin, message):
    theirs = kubeseal(kubeseal_bin, "--cert", cert_file, *args, input=stdin)
    ours = run_cli("kubeseal", "--cert", cert_file, *args, input=stdin)
    assert theirs.returncode == 1 and message.encode() in theirs.stderr
    assert ours.code == 1 and message in ours.err and ours.out == b""


def test_raw_namespace_from_kubeconfig_context(kubeseal_bin, cert_file, key_file, tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "fromctx"}}]}))
    env = {"KUBECONFIG": str(config)}
    for tool in ("ours", "kubeseal"):
        if tool == "ours":
            ciphertext = run_cli("kubeseal", "--cert", cert_file, "--raw", "--name", "n", input=b"v", env=env).text
        else:
            ciphertext = kubeseal(kubeseal_bin, "--cert", cert_file, "--raw", "--name", "n", input=b"v",
                                  env=env).stdout.decode()
        doc = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
               "metadata": {"name": "n", "namespace": "fromctx"}, "spec": {"encryptedData": {"k": ciphertext}}}
        opened = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", key_file, input=dump_json(doc))
        assert opened.returncode == 0, (tool, opened.stderr)
    sealed = run_cli("kubeseal", "--cert", cert_file, input=yaml_of(secret(namespace=None, string_data={"a": "b"})),
                     env=env)
    theirs = kubeseal(kubeseal_bin, "--cert", cert_file, input=yaml_of(secret(namespace=None, string_data={"a": "b"})),
                      env=env)
    assert json.loads(sealed.out)["metadata"] == json.loads(theirs.stdout)["metadata"] == {
        "name": "mysecret", "namespace": "fromctx"}


def test_output_file_extension_and_atomicity(cert_file, key_file, tmp_path):
    out = tmp_path / "sealed.yaml"
    done = run_cli("kubeseal", "--cert", cert_file, "-w", out, input=SRC)
    assert done.code == 0 and done.out == b"" and out.read_text().startswith("---\n")
    failed = run_cli("kubeseal", "--cert", cert_file, "-w", tmp_path / "never.json", input="kind: Secret\n")
    assert failed.code == 1 and not (tmp_path / "never.json").exists()
    plain = tmp_path / "plain.json"
    opened = run_cli("kubeseal", "--recovery-unseal", "--recovery-private-key", key_file, "-f", out, "-w", plain)
    assert opened.code == 0 and oct(plain.stat().st_mode & 0o777) == "0o600"
    assert json.loads(plain.read_text())["data"] == {"a": "Yg=="}
    missing = run_cli("kubeseal", "--cert", cert_file, "-f", tmp_path / "nope.yaml")
    assert missing.code == 1 and "Could not read file specified with --secret-file" in missing.err


def test_every_kubeseal_flag_is_known_to_the_dropin(kubeseal_bin):
    """The flag table is checked against the real binary's --help, not against a list of our own."""
    from secrets_kit_cli.commands.kubeseal import _FLAGS, _SHORT

    helptext = kubeseal(kubeseal_bin, "--help").stdout.decode() + kubeseal(kubeseal_bin, "--help").stderr.decode()
    flags = re.findall(r"^\s+(?:(-[a-z]), )?--([a-z0-9_-]+)", helptext, re.MULTILINE)
    assert len(flags) > 40, helptext
    theirs = {name for _, name in flags} - {"help"}
    assert theirs - set(_FLAGS) == set()
    assert {short: name for short, name in flags if short}.items() <= _SHORT.items()
    for name in theirs:  # boolean or valued, as kubeseal's help says
        line = next(line for line in helptext.splitlines() if re.match(rf"\s+(?:-[a-z], )?--{name}\b", line))
        takes_value = bool(re.search(rf"--{name} [a-zA-Z]+\b", line))  # a type name: string, uint, Level, ...
        assert _FLAGS[name][0] is takes_value, (name, line)


def test_version_and_help():
    assert "kubeseal version:" in run_cli("kubeseal", "--version").text
    helptext = run_cli("kubeseal", "--help").text
    for flag in ("--cert", "--fetch-cert", "--controller-name", "--scope", "--raw", "--merge-into",
                 "--recovery-unseal", "--recovery-private-key", "--re-encrypt", "--validate", "--kubeconfig"):
        assert flag in helptext


def _klog_cases() -> list[list[str]]:
    from secrets_kit_cli.commands.kubeseal import KLOG_FLAGS

    values = {"v": "3", "vmodule": "kubeseal=2", "stderrthreshold": "1", "alsologtostderrthreshold": "1",
              "log_file_max_size": "10", "log_backtrace_at": "main.go:1"}
    cases = []
    for name, takes_value in sorted(KLOG_FLAGS.items()):
        if not takes_value:
            cases += [[f"--{name}"], [f"--{name}=false"]]
        else:
            cases.append([f"--{name}", values.get(name, "/tmp/klog-unused")])
    return [*cases, ["-v", "4"], ["-v=2"], ["--v=5"]]


@pytest.mark.parametrize("flag", _klog_cases(), ids=" ".join)
def test_klog_flags_are_accepted_as_kubeseal_does(kubeseal_bin, cert_file, flag, tmp_path):
    theirs = kubeseal(kubeseal_bin, "--cert", cert_file, *flag, input=SRC)
    ours = run_cli("kubeseal", "--cert", cert_file, *flag, input=SRC)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.code == 0, ours.err
    assert docs_of(ours.out)[0]["kind"] == json.loads(theirs.stdout)["kind"] == "SealedSecret"


@pytest.mark.parametrize(("args", "stdin"), [
    (["--cert", "/nonexistent/cert.pem"], SRC),
    (["--fetch-cert"], b""),
    (["-f", "/nonexistent/secret.yaml"], b""),
    ([], b""),
    (["--raw", "--name", "n"], b"v"),
    (["--from-file", "x"], b""),
    (["--recovery-unseal", "--recovery-private-key", "/nonexistent/key.pem"], b"{}"),
])
def test_errors_start_as_kubeseals(kubeseal_bin, cert_file, args, stdin):
    """The first line of stderr begins with kubeseal's whole line (`error: ...`); ours may add a hint."""
    full = args if "--cert" in args or "--fetch-cert" in args or "--recovery-unseal" in args else \
        ["--cert", str(cert_file), *args]
    theirs = kubeseal(kubeseal_bin, *full, input=stdin)
    ours = run_cli("kubeseal", *full, input=stdin)
    their_line = theirs.stderr.decode().strip().splitlines()[-1]
    assert theirs.returncode == ours.code == 1, (theirs.stderr, ours.err)
    assert their_line.startswith("error: ")
    assert ours.err.startswith(their_line), (their_line, ours.err)
    assert ours.out == b""


def test_fetch_cert_without_a_kubeconfig_says_how_to_point_at_a_cluster():
    done = run_cli("kubeseal", "--fetch-cert", env={"KUBECONFIG": "/dev/null"})
    assert done.code == 1 and done.out == b""
    assert "--kubeconfig FILE or KUBECONFIG=FILE" in done.err and "--cert FILE|URL" in done.err


def test_the_click_free_parser_agrees_with_click():
    """`secrets-kit kubeseal` parses known flags without click; click's own parse must give the same."""
    from secrets_kit_cli.commands.kubeseal import DEFAULTS, _click_command, fast_parse, normalize

    command = _click_command()
    assert command.make_context("kubeseal", []).params == DEFAULTS  # what click passes when nothing is given
    for args in (["--cert", "c.pem", "-o", "yaml", "-n", "ns", "--scope=cluster-wide"],
                 ["--raw", "--name", "x", "--from-file", "a,b", "--from-file=c", "--as", "me", "-v", "3"],
                 ["--recovery-unseal", "--recovery-private-key", "k1,k2", "--rotate", "--log_dir", "/tmp",
                  "--insecure-skip-tls-verify=true", "--allow-empty-data=false", "--request-timeout", "5s"],
                 ["-w", "out.json", "-f", "in.yaml", "--merge-into", "m.json", "--controller-name", "c"]):
        env = {"SEALED_SECRETS_CONTROLLER_NAMESPACE": "env-ns"}
        fast = fast_parse(args, env)
        parsed = command.make_context("kubeseal", normalize(args, env)).params
        assert fast == parsed, args
    for args in (["--help"], ["positional"], ["--nope"], ["--scope", "bogus"], ["--raw=maybe"], ["--cert"],
                 ["--request-timeout", "soon"], ["-oyaml"]):
        assert fast_parse(args, {}) is None, args  # left to click, which reports it (or prints help)
