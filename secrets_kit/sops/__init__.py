"""SOPS-format file encryption, compatible with getsops/sops.

formats (stores) -> tree -> cipher -> key sources; every format goes through the same tree.
"""
