"""Not yet available: the operator's controllers have no issue landed yet."""

from ._pending import pending

operator = pending("operator", "Run the in-cluster controllers")
