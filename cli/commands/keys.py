"""Not yet available: see the open issues."""

from ._pending import pending

keys = pending("keys", "keys")
