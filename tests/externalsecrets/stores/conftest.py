"""Fixtures shared by the AWS store tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.externalsecrets.stores.aws_proxy import AwsProxy


@pytest.fixture
def counting_proxy(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsProxy]:
    """A loopback HTTP proxy in front of moto that records each request's call (X-Amz-Target, or Action)
    and can inject faults; boto3 reaches it through AWS_ENDPOINT_URL."""
    proxy = AwsProxy(aws_env).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        yield proxy
    finally:
        proxy.stop()
