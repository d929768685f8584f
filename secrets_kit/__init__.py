"""secrets-kit core: sealing, SOPS files, secret providers and the render step.

The core knows no front door: it never imports click, rich or kopf.
"""

# A literal, not importlib.metadata: reading package metadata costs ~20 ms of start-up.
__version__ = "0.1.0"
