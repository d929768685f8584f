"""The in-cluster operator (import name: secrets_kit_operator): kopf handlers over the core."""
