"""The peer-backed data fixtures of tests/providers/fixtures.py, for every provider test."""

from tests.providers.fixtures import gcp_data, ssm_data, vault_data

__all__ = ["gcp_data", "ssm_data", "vault_data"]
