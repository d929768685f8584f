# secrets-kit developer tasks. `make test` is the README's test command and what CI runs.
PYTHON ?= python3

.PHONY: setup peers test lint bench quickstart demo demo-down fuzz

setup:
	$(PYTHON) -m pip install -q -e '.[all,dev]'

# Build or reuse every upstream test peer (cached in ~/.cache/secrets-kit-peers).
peers:
	$(PYTHON) -m tests.peers.install

test: peers
	SECRETS_KIT_REQUIRE_PEERS=1 $(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

bench: peers
	$(PYTHON) bench/run_all.py

quickstart:
	secrets-kit quickstart

# The example GitOps repository on a local cluster (the test peers), synced by our operator; prints a
# table of each object and the Secret it produced. DEMO_ARGS: e.g. `--keep` (then `make demo-down`), `-o json`.
demo: peers
	$(PYTHON) -m tests.peers.demo $(DEMO_ARGS)

demo-down:
	$(PYTHON) -m tests.peers.demo down

# The fuzz suite's exploring profile (a few minutes; figures per parser at the end). CI runs the
# same tests derandomized and small as part of `make test`. Found inputs go to tests/fuzz/test_regressions.py.
fuzz:
	$(PYTHON) -m tests.fuzz.run
