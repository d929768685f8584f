# secrets-kit developer tasks. `make test` is the README's test command and what CI runs.
PYTHON ?= python3

.PHONY: setup peers test lint bench quickstart fuzz

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

# The fuzz suite's exploring profile (a few minutes; figures per parser at the end). CI runs the
# same tests derandomized and small as part of `make test`. Found inputs go to tests/fuzz/test_regressions.py.
fuzz:
	$(PYTHON) -m tests.fuzz.run
