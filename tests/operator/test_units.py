"""The operator's pure runtime parts, without a cluster: the work queue, flags, selectors, the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import pytest
from secrets_kit_operator import logs
from secrets_kit_operator.options import (
    OptionError,
    Options,
    parse_address,
    parse_cutoff,
    parse_go_duration,
)
from secrets_kit_operator.selectors import compile_selector
from secrets_kit_operator.workqueue import WorkQueue

from tests.sealed.helpers import run_cli


def test_a_key_queued_many_times_is_processed_once() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue(maxsize=10)
        for _ in range(50):
            await queue.put("a")
        await queue.put("b")
        seen = []
        while not queue.idle():
            key = await queue.get()
            assert key is not None
            seen.append(key)
            await queue.done(key)
        return seen

    assert asyncio.run(scenario()) == ["a", "b"]


def test_a_key_added_while_held_runs_again_after_and_never_twice_at_once() -> None:
    async def scenario() -> tuple[list[str], int]:
        queue: WorkQueue[str] = WorkQueue()
        await queue.put("a")
        key = await queue.get()
        await queue.put("a")  # changed while a worker holds it
        await queue.put("a")
        assert len(queue) == 0  # not handed to a second worker
        assert key is not None
        await queue.done(key)
        again = await queue.get()
        assert again is not None
        await queue.done(again)
        return [key, again], len(queue)

    assert asyncio.run(scenario()) == (["a", "a"], 0)


def test_the_queue_is_bounded_and_close_releases_waiters() -> None:
    async def scenario() -> bool:
        queue: WorkQueue[int] = WorkQueue(maxsize=2)
        await queue.put(1)
        await queue.put(2)
        blocked = asyncio.create_task(queue.put(3))
        await asyncio.sleep(0.01)
        assert not blocked.done() and len(queue) == 2
        assert await queue.get() == 1
        await asyncio.wait_for(blocked, 1)
        await queue.close()
        return await queue.get() is None

    assert asyncio.run(scenario())


def test_retries_back_off_exponentially() -> None:
    async def scenario() -> list[float]:
        queue: WorkQueue[str] = WorkQueue(base_delay=0.001, max_delay=0.004)
        delays = [queue.retry_later("x") for _ in range(4)]
        await asyncio.sleep(0.05)
        assert len(queue) == 1 and queue.failures("x") == 4
        queue.forget("x")
        assert queue.failures("x") == 0
        return delays

    assert asyncio.run(scenario()) == [0.001, 0.002, 0.004, 0.004]


@pytest.mark.parametrize(("text", "seconds"), [("720h", 2592000), ("1h30m", 5400), ("0", 0), ("10s", 10),
                                                ("1.5h", 5400), ("250ms", 0.25)])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text, "--key-renew-period").total_seconds() == seconds


def test_bad_flag_values_name_the_flag() -> None:
    with pytest.raises(OptionError, match="--key-renew-period: bad duration '30d'"):
        parse_go_duration("30d", "--key-renew-period")
    with pytest.raises(OptionError, match="--key-cutoff-time"):
        parse_cutoff("2024-01-01")
    with pytest.raises(OptionError, match="--listen-addr"):
        parse_address("8080", "--listen-addr")


def test_cutoff_and_addresses_parse_like_upstream() -> None:
    assert parse_cutoff("Mon, 02 Jan 2006 15:04:05 -0700") == dt.datetime(
        2006, 1, 2, 22, 4, 5, tzinfo=dt.UTC)
    assert parse_address(":8080", "--listen-addr") == ("0.0.0.0", 8080)
    assert parse_address("10.1.2.3:9", "--listen-addr") == ("10.1.2.3", 9)


def test_watched_namespaces_follow_upstreams_rule() -> None:
    assert Options().watched_namespaces is None
    assert Options(namespace="ks", all_namespaces=False).watched_namespaces == ("ks",)
    # upstream: naming additional namespaces restricts the watch even with --all-namespaces=true
    assert Options(namespace="ks", additional_namespaces=("a", "ks", "b")).watched_namespaces == ("ks", "a", "b")


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("", {}, True),
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("tier", {"tier": "x"}, True),
    ("!tier", {"tier": "x"}, False),
    ("env in (prod, stage),app", {"env": "stage", "app": "a"}, True),
    ("env notin (prod)", {"env": "prod"}, False),
])
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert compile_selector(selector)(labels) is expected


def test_a_bad_selector_is_refused() -> None:
    with pytest.raises(OptionError, match="--label-selector: cannot parse"):
        compile_selector("a=b,=c")


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logs.setup("json", "INFO")
    try:
        logger.info("unsealed", extra={"fields": {"sealedsecret": "ns/name"}})
        line = capsys.readouterr().out.strip()
        record = json.loads(line)
        assert record["msg"] == "unsealed" and record["sealedsecret"] == "ns/name" and record["level"] == "INFO"
    finally:
        logging.getLogger().handlers.clear()


def test_cli_help_and_selectors() -> None:
    helped = run_cli("operator", "run", "--help")
    assert helped.code == 0
    for flag in ("--key-prefix", "--key-renew-period", "--key-cutoff-time", "--key-order-priority",
                 "--update-status", "--skip-recreate", "--all-namespaces", "--additional-namespaces",
                 "--listen-addr", "--listen-metrics-addr", "--log-format", "--log-level",
                 "--max-unseal-retries", "--label-selector", "--kubeconfig", "SEALED_SECRETS_KEY_PREFIX"):
        assert flag in helped.text, flag
    assert "not built yet" not in helped.text  # the ExternalSecret controller exists (issue 12)
    external = run_cli("operator", "run", "--external-secrets", "--store-requeue-interval", "soon")
    assert external.code == 2 and "--store-requeue-interval" in external.err
    bad = run_cli("operator", "run", "--key-renew-period", "monthly")
    assert bad.code == 2 and "--key-renew-period" in bad.err


def test_bad_key_labels_name_the_flag() -> None:
    bad = run_cli("operator", "run", "--privatekey-labels", "a=b,x")
    assert bad.code == 2 and "--privatekey-labels" in bad.err and "'x'" in bad.err


def test_flags_come_from_sealed_secrets_environment_variables() -> None:
    bad = run_cli("operator", "run", env={"SEALED_SECRETS_KEY_CUTOFF_TIME": "yesterday"})
    assert bad.code == 2 and "--key-cutoff-time" in bad.err


def test_lean_imports_leave_out_the_generated_models_and_the_sync_client() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom secrets_kit_operator import lean_imports\nassert lean_imports.install()\n"
            "import kopf\nfrom secrets_kit_operator import process, kube\n"
            "from kubernetes_asyncio import client, config\n"
            "assert client.ApiClient and client.Configuration and config.load_kube_config\n"
            "print(sum(1 for m in sys.modules if m.startswith('kubernetes_asyncio.client.models.')),"
            " 'kubernetes' in sys.modules and sys.modules['kubernetes'] is not None)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "False"]
