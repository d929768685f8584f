"""Peers' fixtures are plugins, one module per peer family."""

import importlib.util
import os

import pytest
from hypothesis import settings

# Property tests run the same examples on every run, so CI is reproducible; a failure found
# by exploring (HYPOTHESIS_PROFILE=explore) becomes a named case in its test, not a CI lottery.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))

pytest_plugins = [
    name
    for name in (
        "tests.peers.fixtures",
        "tests.peers.gcp_fixtures",
        "tests.peers.kube_fixtures",
        "tests.peers.vault_fixtures",
        "tests.peers.sealed_controller_fixtures",
        "tests.peers.eso_fixtures",
    )
    # Optional families appear as their modules land; a missing module is not an error.
    if importlib.util.find_spec(name) is not None
]


# In CI every peer and tool is provided, and the suite skips only when one is missing (or could
# not be built), so there every skip is a failure, whatever its message says.
REQUIRE_PEERS = os.environ.get("SECRETS_KIT_REQUIRE_PEERS", "") not in ("", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_PEERS and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"peer missing in a run that requires every peer: {report.longrepr}"
