"""Not yet available: see the open issues."""

from ._pending import pending

hook = pending("hook", "hook")
