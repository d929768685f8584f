"""Not yet available: see the open issues."""

from ._pending import pending

render = pending("render", "render")
