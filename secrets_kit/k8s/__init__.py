"""Kubernetes manifests: multi-document YAML/JSON loading and dumping, Secret helpers, kubeconfig.

Small and generic on purpose: sealing, the render step and the operator all read and
write manifests through these helpers.
"""
