"""Not yet available: see the open issues."""

from ._pending import pending

kubeseal = pending("kubeseal", "kubeseal")
